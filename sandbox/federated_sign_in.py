"""Workload identity federation at the local Entra's token endpoint: a client assertion (an
external issuer's JWT) checked against an application's federated identity credentials and the
issuer's published keys, which are read over loopback only, from the sandbox's stand-in for the
issuer (`sandbox.workload_issuer`)."""

from __future__ import annotations

import ssl
import threading
import time
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit

import httpx
import jwt

from sandbox.entra_store import EntraStore


class IssuerResolver(Protocol):
    """Where the sandbox serves the OIDC metadata of an external issuer (a federated identity
    credential's `issuer`): `sandbox.workload_issuer.WorkloadIssuer` is one."""

    def resolve(self, issuer: str) -> str | None:
        """The loopback URL standing in for `issuer` (its discovery document is at
        `<url>/.well-known/openid-configuration`), or None for an issuer the sandbox does not
        stand in for."""
        ...


class TokenRefusalError(Exception):
    """The token endpoint's refusal: an HTTP status and Entra's error body (`_aad_error`)."""

    def __init__(self, status: HTTPStatus, error: str, code: int, description: str) -> None:
        super().__init__(f"AADSTS{code}: {description}")
        self.status = status
        self.body = aad_error(error, code, description)


class AssertionCheck:
    """Checks client assertions for the applications of `store`, reading issuers' keys from the
    loopback stand-ins `issuers` names, trusting only the sandbox's CA (`ca_file`)."""

    def __init__(self, store: EntraStore, issuers: IssuerResolver | None, ca_file: Path) -> None:
        self.store = store
        self.issuers = issuers
        self._ca_file = ca_file
        self._fetcher: httpx.Client | None = None
        self._fetcher_lock = threading.Lock()

    def close(self) -> None:
        with self._fetcher_lock:
            if self._fetcher is not None:
                self._fetcher.close()
                self._fetcher = None

    def issuer_keys(self, issuer: str) -> list[dict[str, Any]]:
        """The signing keys `issuer` publishes, read as OIDC discovery reads them: the issuer's
        `/.well-known/openid-configuration`, whose `issuer` must be exactly `issuer`, then its
        `jwks_uri` (openid.net/specs/openid-connect-discovery-1_0.html, sections 4 and 4.3).

        Real Entra fetches them from the issuer on the internet. The sandbox sends nothing
        anywhere but loopback: it reads them from the local stand-in the resolver names, and
        refuses an issuer it has none for (a TokenRefusalError saying so)."""
        local = self.issuers.resolve(issuer) if self.issuers is not None else None
        if local is None:
            raise _unreachable_issuer(issuer, "the sandbox stands in for no such issuer")
        metadata = self._fetch_json(issuer, f"{local.rstrip('/')}/.well-known/openid-configuration")
        if not isinstance(metadata, dict) or metadata.get("issuer") != issuer:
            found = metadata.get("issuer") if isinstance(metadata, dict) else None
            raise _unreachable_issuer(issuer, f"its discovery document names issuer {found!r}")
        keys = self._fetch_json(issuer, str(metadata.get("jwks_uri") or ""))
        listed = keys.get("keys") if isinstance(keys, dict) else None
        if not isinstance(listed, list):
            raise _unreachable_issuer(issuer, "its jwks_uri holds no JWKS")
        return [key for key in listed if isinstance(key, dict)]

    def check(self, client_id: str, assertion: str) -> dict[str, Any]:
        """The federated identity credential of application `client_id` that `assertion` (an
        external issuer's JWT) satisfies, checked as workload identity federation describes
        (learn.microsoft.com/entra/workload-id/workload-identity-federation): the token's `iss`,
        `sub` and `aud` match one credential's issuer, subject and one of its audiences, exactly
        and case-sensitively ("These values must match exactly", learn.microsoft.com/graph/api/
        resources/federatedidentitycredentials-overview); its RS256 signature verifies with a key
        the issuer publishes (workload-identity-federation-considerations: "Only issuers that
        provide tokens signed using the RS256 algorithm are supported"); and now is within
        [nbf, exp). Raises TokenRefusalError with Entra's code otherwise.

        The order of the checks is the emulator's (Entra's is not documented; it matters only
        for a token with several faults). The AADSTS codes and wording come from Entra's
        answers as published: 70025, 700211, 700213 and 700024 in Azure DevOps'
        troubleshooting table (learn.microsoft.com/azure/devops/pipelines/release/troubleshoot-
        workload-identity), with `invalid_client` and HTTP 401 for 700211 as reported in
        Azure/azure-workload-identity#1350; 700212's wording as reported by users; 7000272 for
        a key the issuer's metadata does not list (Azure/azure-workload-identity#1232);
        700027 and 50027 from learn.microsoft.com/entra/identity-platform/reference-error-codes.
        HTTP statuses other than 700211's are not documented: invalid_client gets 401 as
        700211 does, invalid_request 400."""
        try:
            header = jwt.get_unverified_header(assertion)
            claims: dict[str, Any] = jwt.decode(assertion, options={"verify_signature": False})
        except jwt.PyJWTError as exc:
            raise _invalid_jwt(f"the assertion is not a JWT ({exc})") from exc
        issuer, subject, audience = claims.get("iss"), claims.get("sub"), claims.get("aud")
        audiences = [audience] if isinstance(audience, str) else audience
        if not isinstance(issuer, str) or not isinstance(subject, str):
            raise _invalid_jwt("the assertion has no iss or no sub claim")
        if not isinstance(audiences, list) or not all(isinstance(a, str) for a in audiences):
            raise _invalid_jwt("the assertion has no aud claim")
        credentials = self.store.federated_credentials_of_client(client_id) or []
        if not credentials:
            raise TokenRefusalError(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                70025,
                f"The client '{client_id}' has no configured federated identity credentials.",
            )
        # "If the issuer claim has leading or trailing whitespace in the value, the token
        # exchange is blocked." (workload-identity-federation-considerations)
        same_issuer = [c for c in credentials if c["issuer"] == issuer == issuer.strip()]
        if not same_issuer:
            raise _no_federated_record("issuer", issuer)
        same_subject = [c for c in same_issuer if c["subject"] == subject]
        if not same_subject:
            # A subject that differs only in case gets AADSTS7002138 since matching became
            # case-sensitive (reference-breaking-changes, "Federated identity credentials now
            # use case-sensitive matching"; the code as reported in Azure/login#517, with the
            # same wording as 700213).
            folded = any(c["subject"].lower() == subject.lower() for c in same_issuer)
            raise _no_federated_record("subject", subject, 7002138 if folded else None)
        (credential,) = same_subject  # issuer and subject are unique together on the app
        if not set(audiences) & set(credential["audiences"]):
            raise _no_federated_record("audience", ", ".join(audiences))
        kid = header.get("kid")
        key = next((k for k in self.issuer_keys(issuer) if k.get("kid") == kid), None)
        if key is None:
            raise TokenRefusalError(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                7000272,
                f"The certificate with identifier {kid} used to sign the federated credential "
                f"could not be found in the metadata of identity provider {issuer}. Please "
                "validate that your Identity Provider's metadata exposes the key used to sign "
                "the incoming token.",
            )
        try:
            jwt.decode(
                assertion,
                jwt.PyJWK(key, algorithm="RS256").key,
                algorithms=["RS256"],
                options={
                    "verify_aud": False,
                    "verify_iss": False,
                    "verify_exp": False,
                    "verify_nbf": False,
                    "verify_iat": False,
                },
            )
        except jwt.PyJWTError as exc:
            raise TokenRefusalError(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                700027,
                f"Client assertion failed signature validation. ({type(exc).__name__})",
            ) from exc
        now, expires, not_before = time.time(), claims.get("exp"), claims.get("nbf", 0)
        if not isinstance(expires, int | float) or not isinstance(not_before, int | float):
            raise _invalid_jwt("the assertion has no numeric exp or nbf claim")
        # No clock skew is allowed here; what Entra allows is not documented.
        if not not_before <= now < expires:
            raise TokenRefusalError(
                HTTPStatus.UNAUTHORIZED,
                "invalid_client",
                700024,
                f"Client assertion is not within its valid time range. Current time: "
                f"{_stamp(now)}, assertion valid from {_stamp(not_before)}, expiry time of "
                f"assertion {_stamp(expires)}.",
            )
        return credential

    def _fetch_json(self, issuer: str, url: str) -> Any:
        """GET of a JSON document on loopback, trusting only the sandbox's CA; any other host is
        refused before a connection is made."""
        parts = urlsplit(url)
        if parts.scheme != "https" or parts.hostname not in ("127.0.0.1", "localhost", "::1"):
            raise _unreachable_issuer(issuer, f"{url!r} is not on this machine")
        with self._fetcher_lock:
            if self._fetcher is None:
                trust = ssl.create_default_context(cafile=str(self._ca_file))
                # No proxy from the environment, no redirects: loopback, this URL, only.
                self._fetcher = httpx.Client(
                    verify=trust, trust_env=False, follow_redirects=False, timeout=10.0
                )
            fetcher = self._fetcher
        try:
            answer = fetcher.get(url)
            answer.raise_for_status()
            return answer.json()
        except (httpx.HTTPError, ValueError) as exc:
            raise _unreachable_issuer(issuer, f"GET {url} failed: {exc}") from exc


def _stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


def _invalid_jwt(reason: str) -> TokenRefusalError:
    """AADSTS50027 InvalidJwtToken: "doesn't contain ... sub claim", "token format isn't
    proper" (learn.microsoft.com/entra/identity-platform/reference-error-codes)."""
    return TokenRefusalError(
        HTTPStatus.BAD_REQUEST, "invalid_request", 50027, f"Invalid JWT token: {reason}."
    )


def _no_federated_record(claim: str, value: str, code: int | None = None) -> TokenRefusalError:
    """AADSTS700211 (issuer), 700213 (subject), 700212 (audience), in Entra's wording (see
    `EntraEmulator.check_client_assertion`), or `code` instead."""
    code = code or {"issuer": 700211, "audience": 700212, "subject": 700213}[claim]
    return TokenRefusalError(
        HTTPStatus.UNAUTHORIZED,
        "invalid_client",
        code,
        f"No matching federated identity record found for presented assertion {claim} "
        f"'{value}'. Please check your federated identity credential Subject, Audience and "
        "Issuer against the presented assertion. "
        "https://learn.microsoft.com/entra/workload-id/workload-identity-federation",
    )


def _unreachable_issuer(issuer: str, reason: str) -> TokenRefusalError:
    """The sandbox cannot read `issuer`'s metadata. Real Entra fetches it from the issuer; its
    answer when that fails is not documented. The code is the nearest documented one, 7000272
    (the signing key "could not be found in the metadata of identity provider", seen in
    Azure/azure-workload-identity#1232), and the description says what the sandbox could not
    do."""
    return TokenRefusalError(
        HTTPStatus.UNAUTHORIZED,
        "invalid_client",
        7000272,
        f"The sandbox cannot reach issuer '{issuer}' ({reason}). It serves, on 127.0.0.1, the "
        "OIDC metadata of the issuers of the stack's federated credentials only; real Entra "
        "would fetch this issuer's /.well-known/openid-configuration and jwks_uri.",
    )


def aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
    }
