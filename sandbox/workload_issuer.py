"""A local stand-in for the external OIDC issuers that federated identity credentials trust
(GitHub Actions' `https://token.actions.githubusercontent.com`, an AKS cluster's
`https://<region>.oic.prod-aks.azure.com/<tenant>/<guid>/`, ...), served over HTTPS on 127.0.0.1
with the sandbox's certificate (`sandbox.tls`).

For each issuer it stands in for, it serves what the Microsoft identity platform reads from a
real one (learn.microsoft.com/entra/workload-id/workload-identity-federation): an OpenID
Connect discovery document whose `issuer` is exactly the stood-in issuer URL and whose
`jwks_uri` points to this server, and that JWKS (openid.net/specs/openid-connect-discovery-1_0,
sections 3 and 4). `mint` signs the tokens a workload would get from that issuer: RS256 JWTs
with `iss`, `sub`, `aud`, `iat`, `nbf`, `exp` and `jti`, as GitHub's OIDC tokens carry them
(docs.github.com/actions/security-for-github-actions/security-hardening-your-deployments/
about-security-hardening-with-openid-connect), with the audience Entra expects by default,
`api://AzureADTokenExchange` (learn.microsoft.com/graph/api/resources/
federatedidentitycredential, `audiences`).

Each stood-in issuer signs with its own RSA key, made on first use and kept in memory only: a
token minted by an earlier run of the sandbox no longer verifies, and one issuer's token never
passes for another's. The Entra emulator reaches an issuer through `resolve` (an
`sandbox.entra.IssuerResolver`), so nothing is fetched from the real issuer.
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import urlsplit

import jwt
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from sandbox.loopback import LoopbackHandler, LoopbackServer, bound_handler
from sandbox.tls import SandboxCertificate

ALGORITHM: Final = "RS256"
# The audience Entra expects in an external token ("should be set to api://AzureADTokenExchange
# for Microsoft Entra ID", learn.microsoft.com/graph/api/resources/federatedidentitycredential).
TOKEN_EXCHANGE_AUDIENCE: Final = "api://AzureADTokenExchange"
DISCOVERY: Final = "/.well-known/openid-configuration"
KEYS: Final = "/keys"


@dataclass
class _Issuer:
    """One stood-in issuer: its URL, its path on this server and its signing key (made once)."""

    url: str
    slug: str
    key: rsa.RSAPrivateKey | None = None
    key_id: str = ""


class WorkloadIssuer(LoopbackServer):
    """Serves the OIDC discovery and JWKS of every issuer it stands in for, on 127.0.0.1 over
    TLS, until `stop()`; use as a context manager.

    `issuers` are stood in for from the start; `stand_in` adds one later. Issuer URLs are kept
    exactly as given: an issuer with and without a trailing slash are two issuers, as they are
    to Entra, which compares `iss` with a credential's issuer exactly.
    """

    def __init__(
        self, certificate: SandboxCertificate, issuers: Iterable[str] = (), port: int = 0
    ) -> None:
        self._lock = threading.Lock()
        self._issuers: dict[str, _Issuer] = {}
        self._by_slug: dict[str, _Issuer] = {}
        super().__init__(bound_handler(_Handler, self), port, certificate.server_context())
        for issuer in issuers:
            self.stand_in(issuer)

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def issuers(self) -> tuple[str, ...]:
        """The issuer URLs stood in for, in the order they were added."""
        with self._lock:
            return tuple(self._issuers)

    def stand_in(self, issuer: str) -> str:
        """Stands in for `issuer` (an https URL) from now on; its local base URL (the same on
        every call)."""
        if not isinstance(issuer, str) or urlsplit(issuer).scheme != "https":
            raise ValueError(f"an OIDC issuer is an https URL, not {issuer!r}")
        with self._lock:
            known = self._issuers.get(issuer)
            if known is None:
                slug = hashlib.sha256(issuer.encode()).hexdigest()[:16]
                known = _Issuer(issuer, slug)
                self._issuers[issuer] = known
                self._by_slug[slug] = known
            return f"{self.url}/{known.slug}"

    def resolve(self, issuer: str) -> str | None:
        """The local base URL serving `issuer`'s discovery document (`<url>` +
        `/.well-known/openid-configuration`), or None when this server does not stand in for it
        (`sandbox.entra.IssuerResolver`)."""
        with self._lock:
            known = self._issuers.get(issuer)
        return None if known is None else f"{self.url}/{known.slug}"

    def discovery(self, issuer: str) -> dict[str, Any]:
        """The OIDC discovery document of `issuer`: its `issuer` is exactly the stood-in URL and
        its `jwks_uri` is on this server."""
        known = self._known(issuer)
        return {
            "issuer": known.url,
            "jwks_uri": f"{self.url}/{known.slug}{KEYS}",
            "response_types_supported": ["id_token"],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": [ALGORITHM],
            "claims_supported": ["sub", "aud", "exp", "iat", "iss", "jti", "nbf"],
        }

    def jwks(self, issuer: str) -> dict[str, Any]:
        """The public signing key of `issuer` as a JWKS, with its `kid`."""
        key, key_id = self._signing_key(self._known(issuer))
        public = RSAAlgorithm.to_jwk(key.public_key(), as_dict=True)
        return {"keys": [{**public, "kid": key_id, "use": "sig", "alg": ALGORITHM}]}

    def key_id(self, issuer: str) -> str:
        """The `kid` of `issuer`'s signing key (what a token signed by it names)."""
        return self._signing_key(self._known(issuer))[1]

    def mint(
        self,
        issuer: str,
        subject: str,
        audience: str = TOKEN_EXCHANGE_AUDIENCE,
        lifetime_seconds: int = 600,
        *,
        issued_at: int | None = None,
        claims: Mapping[str, Any] | None = None,
    ) -> str:
        """A token of `issuer` for `subject` and `audience`, signed with RS256 by the issuer's
        key (its `kid` in the header, the key in its JWKS): valid from `issued_at` (now unless
        given) for `lifetime_seconds`. `claims` adds or overrides claims. `issuer` must be
        stood in for (`stand_in`)."""
        known = self._known(issuer)
        key, key_id = self._signing_key(known)
        now = int(time.time()) if issued_at is None else issued_at
        payload: dict[str, Any] = {
            "iss": known.url,
            "sub": subject,
            "aud": audience,
            "iat": now,
            "nbf": now,
            "exp": now + lifetime_seconds,
            "jti": secrets.token_urlsafe(16),
            **(claims or {}),
        }
        return jwt.encode(
            payload,
            key,
            algorithm=ALGORITHM,
            headers={"kid": key_id, "typ": "JWT"},
        )

    def _known(self, issuer: str) -> _Issuer:
        with self._lock:
            known = self._issuers.get(issuer)
        if known is None:
            raise KeyError(f"the workload issuer does not stand in for {issuer!r}")
        return known

    def _signing_key(self, known: _Issuer) -> tuple[rsa.RSAPrivateKey, str]:
        """`known`'s signing key and its `kid`, made the first time they are needed (a 2048-bit
        RSA key takes tens of milliseconds: a sandbox whose issuers are never used does not pay
        for them)."""
        with self._lock:
            if known.key is None:
                known.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
                known.key_id = base64.urlsafe_b64encode(secrets.token_bytes(15)).decode()
            return known.key, known.key_id

    def document(self, path: str) -> dict[str, Any] | None:
        """The document at `path` (`/<slug>/.well-known/openid-configuration` or
        `/<slug>/keys`), or None."""
        slug, _, rest = path.lstrip("/").partition("/")
        with self._lock:
            known = self._by_slug.get(slug)
        if known is None:
            return None
        if f"/{rest}" == DISCOVERY:
            return self.discovery(known.url)
        if f"/{rest}" == KEYS:
            return self.jwks(known.url)
        return None


class _Handler(LoopbackHandler):
    emulator: WorkloadIssuer
    server_version = "SandboxWorkloadIssuer/1.0"

    def do_GET(self) -> None:
        document = self.emulator.document(urlsplit(self.path).path)
        if document is None:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "not_found"})
        else:
            self.send_json(HTTPStatus.OK, document)
