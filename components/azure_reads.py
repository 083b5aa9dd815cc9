"""Read-only access to the live systems: Microsoft Graph, the Key Vault data plane, ARM's
permissions and Entra's token endpoint, with tokens from azure-identity.

Key Vault is read with azure-keyvault-secrets' `SecretClient` (its challenge authentication,
paging and retries) and the client credentials flow is asked of Entra with msal, the library
azure-identity itself uses. Graph and ARM are a few GET requests over httpx: msgraph-sdk would add
some 400 MB of request builders for them. Endpoints are configurable so that the same code reads
Azure or the sandbox.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Final
from urllib.parse import quote

import httpx
import jwt
import msal
import requests
from azure.core.credentials import TokenCredential
from azure.core.exceptions import AzureError, HttpResponseError, ResourceNotFoundError
from azure.keyvault.secrets import SecretClient

from lkps import rules, switches
from lkps.rights import MICROSOFT_GRAPH_APP_ID

GRAPH_SCOPE: Final = "https://graph.microsoft.com/.default"
ARM_SCOPE: Final = "https://management.azure.com/.default"
VAULT_SCOPE: Final = "https://vault.azure.net/.default"


@dataclass(frozen=True)
class Endpoints:
    """Where Graph, the vault's data plane and Entra's token endpoint answer."""

    graph: str = "https://graph.microsoft.com/v1.0"
    vault: str = "https://{vault}.vault.azure.net"
    login: str = "https://login.microsoftonline.com"
    arm: str = "https://management.azure.com"

    def vault_url(self, vault_name: str) -> str:
        return self.vault.format(vault=vault_name)


def endpoints_from_environment() -> Endpoints:
    """Azure's endpoints, or the sandbox's local Entra (`switches.SANDBOX_ENTRA_URL`)."""
    base = switches.sandbox_url(switches.SANDBOX_ENTRA_URL)
    return sandbox_endpoints(base) if base else Endpoints()


def sandbox_endpoints(base: str) -> Endpoints:
    """The sandbox's local Entra ID, Graph, Key Vault and ARM at `base`."""
    return Endpoints(
        graph=f"{base}/graph/v1.0",
        vault=f"{base}/keyvault/{{vault}}",
        login=base,
        arm=f"{base}/arm",
    )


@dataclass(frozen=True)
class VaultSecret:
    """The current version of a vault secret: its attributes, and its value when it was read."""

    enabled: bool
    expires_on: float | None
    content_type: str | None
    tags: dict[str, str] = field(default_factory=dict)
    value: str | None = field(default=None, repr=False)


def _timestamp(moment: datetime | None) -> float | None:
    return moment.timestamp() if moment else None


class RefusedError(Exception):
    """A 401 or 403: the running identity lacks a right, which `right` names."""

    def __init__(self, service: str, status: int, right: str, message: str) -> None:
        super().__init__(f"{service} answered {status}: {message}; the identity needs {right}")
        self.service, self.status, self.right = service, status, right


class UnreachableError(Exception):
    """Any other failure to read a service."""


class LiveSources:
    """The read-only calls the checks make; one keep-alive client, tokens cached per scope.

    Every list is read to its last page. A next page is fetched only from the origin (scheme,
    host and port) of the list's first page, so that a token is never sent elsewhere.
    `transport` replaces httpx's network transport (tests pass an `httpx.MockTransport`).
    """

    def __init__(
        self,
        credential: TokenCredential,
        endpoints: Endpoints,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self._credential = credential
        self.endpoints = endpoints
        self._http = httpx.Client(timeout=30.0, follow_redirects=False, transport=transport)
        self._tokens: dict[str, str] = {}
        self._vaults: dict[str, SecretClient] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self._http.close()
        for client in self._vaults.values():
            client.close()

    def _vault(self, vault_name: str) -> SecretClient:
        """One `SecretClient` per vault. Its challenge authentication checks that the vault's
        host is under the resource the challenge names (`*.vault.azure.net`); a loopback
        sandbox vault is not, so that check is left out for it alone."""
        with self._lock:
            if vault_name not in self._vaults:
                url = self.endpoints.vault_url(vault_name)
                self._vaults[vault_name] = SecretClient(
                    url,
                    self._credential,
                    verify_challenge_resource=not rules.is_loopback_url(url),
                    retry_total=3,
                )
            return self._vaults[vault_name]

    def _token(self, scope: str) -> str:
        with self._lock:
            if scope not in self._tokens:
                self._tokens[scope] = self._credential.get_token(scope).token
            return self._tokens[scope]

    def _get(self, service: str, url: str, scope: str, right: str) -> Any | None:
        try:
            answer = self._http.get(url, headers={"Authorization": f"Bearer {self._token(scope)}"})
        except httpx.HTTPError as exc:
            raise UnreachableError(
                f"{service} could not be reached ({type(exc).__name__})"
            ) from None
        if answer.status_code == httpx.codes.NOT_FOUND:
            return None
        if answer.status_code in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
            raise RefusedError(service, answer.status_code, right, _message(answer))
        if answer.is_error:
            raise UnreachableError(f"{service} answered {answer.status_code}: {_message(answer)}")
        return answer.json()

    def _items(
        self, service: str, url: str, scope: str, right: str, next_field: str
    ) -> Iterator[dict[str, Any]]:
        """The items of every page of a list, following each page's `next_field` (Graph's
        `@odata.nextLink`, learn.microsoft.com/graph/paging; Key Vault's `nextLink`,
        learn.microsoft.com/rest/api/keyvault/secrets/get-secret-versions): an absolute URL,
        followed as given, and only at the origin of `url`, so that the token goes nowhere else.

        A 404 on the first page is an empty list, as before paging. A 404 on a later page, a next
        page at another origin or one already read is `UnreachableError`: a list read in part
        would be read wrong."""
        origin = _origin(url)
        seen = {url}
        page: Any | None = self._get(service, url, scope, right)
        while page is not None:
            yield from page.get("value") or []
            link = page.get(next_field)
            if not link:
                return
            elsewhere = _origin(link) if isinstance(link, str) else None
            if elsewhere != origin:
                raise UnreachableError(
                    f"{service} gave a next page at another origin "
                    f"({_shown(elsewhere)}, not {_shown(origin)}); it was not followed"
                )
            if link in seen:
                raise UnreachableError(f"{service} gave as the next page one it had given before")
            seen.add(link)
            page = self._get(service, link, scope, right)
            if page is None:
                raise UnreachableError(f"{service} answered 404 for the next page of a list")

    def _graph_items(self, path: str, right: str) -> list[dict[str, Any]]:
        return list(
            self._items(
                "Microsoft Graph",
                f"{self.endpoints.graph}/{path}",
                GRAPH_SCOPE,
                right,
                "@odata.nextLink",
            )
        )

    def application(self, object_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self._get(
            "Microsoft Graph",
            f"{self.endpoints.graph}/applications/{object_id}",
            GRAPH_SCOPE,
            "Application.Read.All (or ownership of the app)",
        )
        return found

    def application_named(self, display_name: str) -> dict[str, Any] | None:
        """The registration of that display name, if exactly one exists."""
        matches = self._graph_items(
            "applications?$filter="
            + quote(f"displayName eq '{display_name.replace(chr(39), chr(39) * 2)}'"),
            "Application.Read.All (or ownership of the app)",
        )
        return matches[0] if len(matches) == 1 else None

    def app_roles_granted(self, object_id: str) -> set[str]:
        """The Microsoft Graph application permissions granted to a service principal, by name
        (its appRoleAssignments, named through Graph's own appRoles)."""
        right = "Application.Read.All (or ownership) to read app role assignments"
        graph = self._graph_items(
            "servicePrincipals?$filter=" + quote(f"appId eq '{MICROSOFT_GRAPH_APP_ID}'"), right
        )
        roles = {
            role["id"]: role["value"]
            for principal in graph
            for role in principal.get("appRoles", [])
        }
        assigned = self._graph_items(f"servicePrincipals/{object_id}/appRoleAssignments", right)
        return {
            roles[assignment["appRoleId"]]
            for assignment in assigned
            if assignment.get("appRoleId") in roles
        }

    def vault_permissions(
        self, subscription_id: str, resource_group_name: str, vault_name: str
    ) -> list[dict[str, list[str]]]:
        """The caller's effective Azure RBAC permissions on the vault (Permissions - List For
        Resource: actions, notActions, dataActions, notDataActions)."""
        scope = (
            f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}/providers/"
            f"Microsoft.KeyVault/vaults/{vault_name}"
        )
        found = self._get(
            "Azure Resource Manager",
            f"{self.endpoints.arm}{scope}/providers/Microsoft.Authorization/permissions"
            "?api-version=2022-04-01",
            ARM_SCOPE,
            "Reader (Microsoft.Authorization/permissions/read) on the vault",
        )
        return list((found or {}).get("value", []))

    def running_object_id(self) -> str:
        """The object ID of the identity the credential signs in as (the token's `oid`)."""
        claims = jwt.decode(self._token(GRAPH_SCOPE), options={"verify_signature": False})
        if "oid" not in claims:
            raise UnreachableError("the access token carries no object ID (oid) claim")
        return str(claims["oid"])

    def owners(self, object_id: str) -> list[str]:
        found = self._graph_items(
            f"applications/{object_id}/owners", "Application.Read.All (or ownership of the app)"
        )
        return [str(owner["id"]).lower() for owner in found]

    def service_principal(self, client_id: str) -> dict[str, Any] | None:
        matches = self._graph_items(
            "servicePrincipals?$filter=" + quote(f"appId eq '{client_id}'"), "Application.Read.All"
        )
        return matches[0] if matches else None

    def vault_secret(self, vault_name: str, name: str, with_value: bool) -> VaultSecret | None:
        """The current version of a secret; its value only when asked. A disabled secret's
        value cannot be read: its versions list still shows its attributes, and the newest
        version there is the current one."""
        client = self._vault(vault_name)
        try:
            if with_value:
                secret = client.get_secret(name)
                properties, value = secret.properties, secret.value
            else:
                versions = list(client.list_properties_of_secret_versions(name))
                if not versions:
                    return None
                properties = max(
                    enumerate(versions),
                    key=lambda pair: (_timestamp(pair[1].created_on) or 0, pair[0]),
                )[1]
                value = None
        except ResourceNotFoundError:
            return None
        except HttpResponseError as exc:
            status = exc.status_code or 0
            if status in (httpx.codes.UNAUTHORIZED, httpx.codes.FORBIDDEN):
                right = "Key Vault Secrets User on the vault (get, list)"
                raise RefusedError("Key Vault", status, right, exc.reason or "refused") from None
            raise UnreachableError(f"Key Vault answered {status}: {exc.reason}") from None
        except AzureError as exc:
            raise UnreachableError(
                f"Key Vault could not be reached ({type(exc).__name__})"
            ) from None
        return VaultSecret(
            enabled=properties.enabled is not False,
            expires_on=_timestamp(properties.expires_on),
            content_type=properties.content_type,
            tags=dict(properties.tags or {}),
            value=value,
        )

    def federated_credentials(self, object_id: str) -> list[dict[str, Any]]:
        """The application's federated identity credentials (Graph's navigation property; an
        application read does not return them)."""
        return self._graph_items(
            f"applications/{object_id}/federatedIdentityCredentials",
            "Application.Read.All (or ownership of the app)",
        )

    def service_principal_object(self, object_id: str) -> dict[str, Any] | None:
        """A service principal by its object ID, with its `@odata.type`: an agent identity
        (`#microsoft.graph.agentIdentity`) or a blueprint principal
        (`#microsoft.graph.agentIdentityBlueprintPrincipal`) among them."""
        found: dict[str, Any] | None = self._get(
            "Microsoft Graph",
            f"{self.endpoints.graph}/servicePrincipals/{object_id}",
            GRAPH_SCOPE,
            "Application.Read.All (AgentIdentity.Read.All for an agent identity)",
        )
        return found

    def blueprint_sponsors(self, object_id: str) -> list[str]:
        """The object IDs of an agent identity blueprint's sponsors, lowercased
        (learn.microsoft.com/graph/api/agentidentityblueprint-list-sponsors: Application.Read.All
        is its application permission)."""
        found = self._graph_items(
            f"applications/{object_id}/microsoft.graph.agentIdentityBlueprint/sponsors",
            "Application.Read.All (to list a blueprint's sponsors)",
        )
        return [str(sponsor["id"]).lower() for sponsor in found]

    def agent_identity_sponsors(self, object_id: str) -> list[str]:
        """The object IDs of an agent identity's sponsors, lowercased
        (learn.microsoft.com/graph/api/agentidentity-list-sponsors: AgentIdentity.ReadWrite.All
        is the one application permission it names)."""
        found = self._graph_items(
            f"servicePrincipals/{object_id}/microsoft.graph.agentIdentity/sponsors",
            "AgentIdentity.ReadWrite.All (to list an agent identity's sponsors)",
        )
        return [str(sponsor["id"]).lower() for sponsor in found]

    def app_role_assignments(self, object_id: str) -> list[dict[str, Any]]:
        """The app roles assigned to a service principal (principalId, resourceId, appRoleId;
        learn.microsoft.com/graph/api/serviceprincipal-list-approleassignments)."""
        return self._graph_items(
            f"servicePrincipals/{object_id}/appRoleAssignments",
            "Application.Read.All (to read app role assignments)",
        )

    def client_credentials_token(
        self, tenant_id: str, client_id: str, secret: str, scope: str
    ) -> tuple[bool, str]:
        """Entra's answer to the client credentials flow with a client secret."""
        return self._client_token(tenant_id, client_id, secret, scope)

    def federated_token(
        self, tenant_id: str, client_id: str, assertion: Callable[[], str], scope: str
    ) -> tuple[bool, str]:
        """Entra's answer to the client credentials flow with a workload's token as the client
        assertion (workload identity federation); msal calls `assertion` for a fresh one."""
        return self._client_token(tenant_id, client_id, {"client_assertion": assertion}, scope)

    def _client_token(
        self,
        tenant_id: str,
        client_id: str,
        credential: str | dict[str, Callable[[], str]],
        scope: str,
    ) -> tuple[bool, str]:
        """Entra's answer to the client credentials flow, asked through msal: success, or its
        AADSTS error. The sandbox's authority is not one msal knows, so instance discovery
        (a call to login.microsoftonline.com) is left out for a loopback authority."""
        authority = f"{self.endpoints.login}/{tenant_id}"
        try:
            app = msal.ConfidentialClientApplication(
                client_id,
                client_credential=credential,
                authority=authority,
                instance_discovery=not rules.is_loopback_url(authority),
            )
            answer = app.acquire_token_for_client(scopes=[scope])
        except (ValueError, requests.RequestException) as exc:
            return False, f"Entra could not be reached ({type(exc).__name__})"
        if "access_token" in answer:
            return True, "Entra issued a token"
        codes = answer.get("error_codes") or []
        reason = f"{answer.get('error')}: AADSTS{codes[0]}" if codes else str(answer.get("error"))
        return False, f"Entra refused the client's credential ({reason})"


_DEFAULT_PORTS: Final = {"http": 80, "https": 443}


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port of an absolute URL (None for anything else), with case and a
    scheme's default port taken out: `HTTPS://X:443/a` and `https://x/b` share one origin."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    if not parsed.scheme or not parsed.host:
        return None
    port = None if parsed.port == _DEFAULT_PORTS.get(parsed.scheme) else parsed.port
    return parsed.scheme, parsed.host, port


def _shown(origin: tuple[str, str, int | None] | None) -> str:
    if origin is None:
        return "no absolute URL"
    scheme, host, port = origin
    return f"{scheme}://{host}" + (f":{port}" if port is not None else "")


def _message(answer: httpx.Response) -> str:
    try:
        error = answer.json().get("error", {})
        return str(error.get("message") or error.get("code") or answer.reason_phrase)
    except ValueError:
        return answer.reason_phrase or str(answer.status_code)
