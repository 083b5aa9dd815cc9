"""A local Entra ID, Key Vault and ARM: the subset the stack and its tools use, over real HTTP.

Paths (all on 127.0.0.1, over TLS with the sandbox's certificate, see `sandbox.tls`):
- `/graph/v1.0/...`: Microsoft Graph v1.0 applications and service principals (by ID, or by the
  alternate key `(appId='…')`), their owners, `addPassword` and `removePassword`
  (learn.microsoft.com/graph/api/resources/application), an application's
  `federatedIdentityCredentials` (list, create, get/update/delete by ID or name; also through
  `$expand`), with `$filter` (`eq`, `startswith`), `$select`, `$top` and `$count`
  (learn.microsoft.com/graph/query-parameters);
- `/keyvault/<vault>/...`: Key Vault secrets data plane 7.x: set, get (an empty version is the
  latest), versions, list, update, delete with soft delete, deleted secrets and their list,
  recover and purge (learn.microsoft.com/rest/api/keyvault/secrets), behind Key Vault's
  challenge authentication;
- `/arm/subscriptions/...`: ARM `Microsoft.KeyVault/vaults/secrets` PUT and GET, which is how
  azure-native writes vault secrets (learn.microsoft.com/rest/api/keyvault/keyvault/secrets);
- `/msi/token`: an App Service style managed-identity endpoint (`IDENTITY_ENDPOINT`,
  `IDENTITY_HEADER`), which azure-identity's `DefaultAzureCredential` uses;
- `/<tenant>/oauth2/v2.0/token`: the client credentials flow, which accepts an application's
  client ID and one of its live client secrets, or a JWT from an external issuer one of its
  federated identity credentials trusts (workload identity federation; the issuer's OIDC
  metadata and keys are read from the sandbox's local stand-in, `sandbox.workload_issuer`,
  never from the internet), for a resource the tenant knows;
- `/<tenant>/v2.0/.well-known/openid-configuration` and `/<tenant>/discovery/v2.0/keys`: the
  public OIDC metadata and signing keys that MSAL and resource servers read without a token.

Tokens are JWTs signed by the emulator's key (`sandbox.tokens`); each area accepts only tokens
for its own resource.

Lists come in pages, as Graph's and Key Vault's do: at most `$top` (Graph) or `maxresults` (Key
Vault) items, with an absolute URL to the next page (`@odata.nextLink`, `nextLink`).

The state is a SQLite file (`sandbox.entra_file`), each change saved in one transaction, so it
outlives the process.
Every Graph, Key Vault and ARM call needs a bearer token issued by this emulator. Error bodies
follow the documented shapes (`{"error": {"code", "message"}}`, with Graph's `innerError`);
codes the documentation does not give are marked as this emulator's own.
"""

from __future__ import annotations

import base64
import binascii
import json
import logging
import re
import secrets
import ssl
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final, Protocol
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

import httpx
import jwt

from lkps import rights
from sandbox import graph_objects
from sandbox.entra_file import EntraFile
from sandbox.loopback import LoopbackHandler, LoopbackServer, bound_handler
from sandbox.tls import SandboxCertificate
from sandbox.tokens import TokenSigner

log = logging.getLogger(__name__)

GRAPH_PREFIX: Final = "/graph/v1.0"
VAULT_PREFIX: Final = "/keyvault"
ARM_PREFIX: Final = "/arm"
TOKEN_PATH: Final = "/msi/token"
IDENTITY_HEADER: Final = "X-IDENTITY-HEADER"
TOKEN_LIFETIME_SECONDS: Final = 3600
SOFT_DELETE_RETENTION_DAYS: Final = 90
SKIPTOKEN: Final = "$skiptoken"
GRAPH_RESOURCE: Final = "https://graph.microsoft.com"
VAULT_RESOURCE: Final = "https://vault.azure.net"
ARM_RESOURCE: Final = "https://management.azure.com"
# The audiences each area accepts: the resource URI, and for ARM its classic one, as Azure's
# services accept the forms their resource principal lists.
AUDIENCES: Final = {
    "graph": (GRAPH_RESOURCE, f"{GRAPH_RESOURCE}/", rights.MICROSOFT_GRAPH_APP_ID),
    "keyvault": (VAULT_RESOURCE, f"{VAULT_RESOURCE}/"),
    "arm": (ARM_RESOURCE, f"{ARM_RESOURCE}/", "https://management.core.windows.net/"),
}
# Key Vault's first answer to a request without a valid token: 401 with the challenge that
# tells the client where to get one and for which resource
# (learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses).
VAULT_CHALLENGE: Final = (
    'Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="{resource}"'
)
_ALTERNATE_KEY: Final = re.compile(r"^(applications|servicePrincipals)\(appId='([^']*)'\)$")
# Where an application's federated identity credentials are kept in its row, and how many it
# may have (learn.microsoft.com/graph/api/application-post-federatedidentitycredentials).
FEDERATED: Final = "federatedIdentityCredentials"
MAX_FEDERATED_CREDENTIALS: Final = 20
# The client assertion type of a certificate or federated credential (learn.microsoft.com/entra/
# identity-platform/v2-oauth2-client-creds-grant-flow, second and third cases).
JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class Paging:
    """How a service pages a list: the query parameter that sets the page size, its default and
    maximum, the field holding the next page's URL, whether the last page says `null` there, and
    the service's error code for a bad paging parameter."""

    size_parameter: str
    default_size: int
    max_size: int
    next_field: str
    null_on_last_page: bool
    error_code: str


# Graph: server-side pages of 100 directory objects unless `$top` (1 to 999) says otherwise, and an
# `@odata.nextLink` holding an opaque `$skiptoken` while more remain; the last page has no
# `@odata.nextLink` (learn.microsoft.com/graph/paging, learn.microsoft.com/graph/query-parameters).
# How Graph answers a `$top` out of range is not documented: this emulator refuses it. Its error
# code is the emulator's own, as is the one for an invalid skip token (a report of Graph's answer,
# microsoftgraph/microsoft-graph-docs#8612, shows the message "Invalid Skip Token" and no code).
GRAPH_PAGING: Final = Paging("$top", 100, 999, "@odata.nextLink", False, "Request_BadRequest")
# Key Vault: `maxresults` from 1 to 25, 25 when not given; `nextLink` is the next page's URL and
# null on the last page (learn.microsoft.com/rest/api/keyvault/secrets/get-secret-versions). The
# answer to a bad `maxresults` or `$skiptoken` is not documented; the code is the emulator's own.
VAULT_PAGING: Final = Paging("maxresults", 25, 25, "nextLink", True, "BadParameter")
_ARM_SECRET_PATH: Final = (
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}"
    "/secrets/{name}"
)


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def _parse_time(value: str) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp()


def entra_secret_text() -> str:
    """A client secret in Entra's shape: 3 characters, '8Q~', then 34 more (40 in all)."""
    alphabet = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.~"
    return (
        "".join(secrets.choice(alphabet) for _ in range(3))
        + "8Q~"
        + "".join(secrets.choice(alphabet) for _ in range(34))
    )


@dataclass(frozen=True)
class Principal:
    """Who a token was issued to: the deploying identity, or an application's client ID."""

    object_id: str
    client_id: str
    tenant_id: str


class ApiError(Exception):
    """An answer other than success, with the documented error code where there is one."""

    def __init__(
        self,
        status: HTTPStatus,
        code: str,
        message: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message
        self.headers = headers or {}


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
        self.body = _aad_error(error, code, description)


class EntraStore:
    """Directory objects, vaults and their secrets, persisted to `path` after every change
    (`sandbox.entra_file`)."""

    def __init__(
        self,
        path: Path,
        secret_text: Callable[[], str] = entra_secret_text,
    ) -> None:
        self.path = path
        self._secret_text = secret_text
        self._lock = threading.RLock()
        self._file = EntraFile(path)
        self.data: dict[str, Any] = self._file.load()

    def save(self) -> None:
        """Writes the change just made (the rows it touched, in one transaction)."""
        with self._lock:
            self._file.save(self.data)

    def close(self) -> None:
        """Closes the file (a later change opens it again)."""
        with self._lock:
            self._file.close()

    # -- the sandbox's own audit log --------------------------------------------------------------

    def _record(self, operation: str, **facts: Any) -> None:
        """Appends to the journal: what happened, in order, with the facts a test checks
        afterwards (Entra's audit log has no such view; it is the sandbox's own)."""
        self.data.setdefault("journal", []).append({"op": operation, "at": now_iso(), **facts})

    def _published_in(self, secret: str) -> list[str]:
        """The vault secrets whose current version holds `secret`."""
        return sorted(
            f"{vault_name}/{name}"
            for vault_name, vault in self.data["vaults"].items()
            for name, versions in vault["secrets"].items()
            if versions and versions[-1]["value"] == secret
        )

    def _key_of(self, secret: str) -> str | None:
        """The key ID of the password whose value is `secret`, if one exists now."""
        for app in self._collection("applications").values():
            for password in app["passwordCredentials"]:
                if password["sandboxSecret"] == secret:
                    return str(password["keyId"])
        return None

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.data.get("journal", []))

    # -- rights: what the deploying identity was granted ------------------------------------------

    def grant(
        self,
        object_id: str,
        app_roles: Iterable[str] = (),
        actions: Iterable[str] = (),
        data_actions: Iterable[str] = (),
    ) -> None:
        """Records Graph application permissions and vault RBAC actions of an identity (what an
        administrator grants; the emulator reports them, it does not enforce them)."""
        with self._lock:
            granted = self.data.setdefault("grants", {}).setdefault(
                object_id.lower(), {"appRoles": [], "actions": [], "dataActions": []}
            )
            for key, values in (
                ("appRoles", app_roles),
                ("actions", actions),
                ("dataActions", data_actions),
            ):
                granted[key] = sorted({*granted[key], *values})
            self.save()

    def revoke(self, object_id: str, name: str) -> None:
        with self._lock:
            granted = self.data.get("grants", {}).get(object_id.lower(), {})
            for values in granted.values():
                if name in values:
                    values.remove(name)
            self.save()

    def has_grants(self, object_id: str) -> bool:
        return object_id.lower() in self.data.get("grants", {})

    def app_roles(self, object_id: str) -> list[str]:
        return list(self.data.get("grants", {}).get(object_id.lower(), {}).get("appRoles", []))

    def permissions(self, object_id: str) -> dict[str, list[str]]:
        granted = self.data.get("grants", {}).get(object_id.lower(), {})
        return {
            "actions": list(granted.get("actions", [])),
            "notActions": [],
            "dataActions": list(granted.get("dataActions", [])),
            "notDataActions": [],
        }

    # -- setup: what exists before the stack runs -------------------------------------------------

    def ensure_deployer(self, tenant_id: str, object_id: str | None = None) -> Principal:
        """The identity the sandbox deploys as: `object_id` (the stack's pinned deployer, or
        another identity a test runs as), else one made once and kept."""
        with self._lock:
            if self.data["deployer"] is None:
                self.data["deployer"] = {
                    "objectId": (object_id or str(uuid.uuid4())).lower(),
                    "clientId": str(uuid.uuid4()),
                    "tenantId": tenant_id,
                }
                self.save()
            deployer = self.data["deployer"]
            if object_id is None or object_id.lower() == deployer["objectId"]:
                return Principal(deployer["objectId"], deployer["clientId"], deployer["tenantId"])
            client_id = str(uuid.uuid5(uuid.NAMESPACE_OID, object_id.lower()))
            return Principal(object_id.lower(), client_id, tenant_id)

    def ensure_vault(self, subscription_id: str, resource_group: str, vault: str) -> None:
        """The team's existing vault (the stack never creates it)."""
        with self._lock:
            if vault not in self.data["vaults"]:
                self.data["vaults"][vault] = {
                    "subscriptionId": subscription_id,
                    "resourceGroupName": resource_group,
                    "secrets": {},
                    "deleted": {},
                }
                self.save()

    # -- Graph: applications and service principals ------------------------------------------------

    def _collection(self, kind: str) -> dict[str, dict[str, Any]]:
        collection: dict[str, dict[str, Any]] = self.data[kind]
        return collection

    def get_object(self, kind: str, object_id: str) -> dict[str, Any]:
        with self._lock:
            found = self._collection(kind).get(object_id.lower())
            if found is None:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{object_id}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            return found

    def list_objects(
        self, kind: str, field: str | None, value: str | None, prefix: bool = False
    ) -> list[dict[str, Any]]:
        """The objects whose `field` equals `value` (starts with it, when `prefix`), ignoring
        case as Graph's string comparisons do; all of them without a field."""
        wanted = str(value).lower()
        with self._lock:
            return [
                obj
                for obj in self._collection(kind).values()
                if field is None
                or (
                    str(obj.get(field) or "").lower().startswith(wanted)
                    if prefix
                    else str(obj.get(field) or "").lower() == wanted
                )
            ]

    def object_type(self, object_id: str) -> str:
        """The OData type of a directory object: the deploying identity and any service
        principal are `servicePrincipal`; any other owner is taken to be a user."""
        deployer = self.data.get("deployer") or {}
        known = self._collection("servicePrincipals")
        if object_id.lower() in known or object_id.lower() == deployer.get("objectId"):
            return "#microsoft.graph.servicePrincipal"
        return "#microsoft.graph.user"

    def create_application(self, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        if not body.get("displayName"):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                "Property displayName is required.",
            )
        with self._lock:
            object_id = str(uuid.uuid4())
            app = {
                **_shaped(graph_objects.new_application, body),
                "id": object_id,
                "appId": str(uuid.uuid4()),
                "createdDateTime": now_iso(),
                "publisherDomain": "sandbox.onmicrosoft.com",
                "passwordCredentials": [],
                "owners": _bound_owners(body, caller),
            }
            self._collection("applications")[object_id] = app
            self._record("createApplication", appId=app["appId"], displayName=app["displayName"])
            self.save()
            return app

    def register_in_portal(
        self, display_name: str, person: Principal, **properties: Any
    ) -> dict[str, Any]:
        """What the portal's "New registration" leaves: an application with delegated User.Read
        on Microsoft Graph (plus `properties`, edits made in the portal afterwards) and its
        service principal (learn.microsoft.com/entra/identity-platform/quickstart-register-app)."""
        body = {
            "displayName": display_name,
            "requiredResourceAccess": graph_objects.PORTAL_REQUIRED_RESOURCE_ACCESS,
            **properties,
        }
        app = self.create_application(body, person)
        self.create_service_principal({"appId": app["appId"]}, person)
        return app

    def create_service_principal(self, body: dict[str, Any], caller: Principal) -> dict[str, Any]:
        app_id = str(body.get("appId", "")).lower()
        with self._lock:
            apps = [a for a in self._collection("applications").values() if a["appId"] == app_id]
            if not apps:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "The appId of the service principal does not reference a valid application "
                    "object.",
                )
            if any(sp["appId"] == app_id for sp in self._collection("servicePrincipals").values()):
                # Graph refuses a second service principal for one application; the exact code
                # is this emulator's own (the documentation does not give it).
                raise ApiError(
                    HTTPStatus.CONFLICT,
                    "Request_MultipleObjectsWithSameKeyValue",
                    "The service principal cannot be created, updated, or restored because the "
                    "service principal name is already in use.",
                )
            object_id = str(uuid.uuid4())
            sp = {
                **_shaped(graph_objects.new_service_principal, body),
                "id": object_id,
                "appId": app_id,
                "appOwnerOrganizationId": self.data["deployer"]["tenantId"]
                if self.data["deployer"]
                else "",
                "displayName": apps[0]["displayName"],
                "servicePrincipalNames": [app_id],
                "servicePrincipalType": "Application",
                "signInAudience": apps[0].get("signInAudience", "AzureADMyOrg"),
                "owners": _bound_owners(body, caller),
            }
            self._collection("servicePrincipals")[object_id] = sp
            self.save()
            return sp

    def update_object(self, kind: str, object_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            obj = self.get_object(kind, object_id)
            writable = (
                graph_objects.APPLICATION_WRITABLE
                if kind == "applications"
                else graph_objects.SERVICE_PRINCIPAL_WRITABLE - {"appId"}
            )
            _shaped(lambda b: graph_objects.refuse_unknown(b, writable), body)
            if kind == "applications":
                self._check_application_patch(obj, body)
            graph_objects.patch(obj, body, writable)
            if kind == "applications" and "displayName" in body:
                for sp in self._collection("servicePrincipals").values():
                    if sp["appId"] == obj["appId"]:
                        sp["displayName"] = body["displayName"]
            self.save()

    def _check_application_patch(self, app: dict[str, Any], body: dict[str, Any]) -> None:
        """Graph's rules for an application's API settings (the application, apiApplication and
        permissionScope resource types of Graph v1.0); the error codes are this emulator's where
        the reference gives none."""
        for uri in body.get("identifierUris") or []:
            if not str(uri).startswith(("api://", "https://")):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "Values of identifierUris property must use a verified domain or 'api://': "
                    f"{uri}",
                )
            for other in self._collection("applications").values():
                if other["id"] != app["id"] and uri in (other.get("identifierUris") or []):
                    raise ApiError(
                        HTTPStatus.BAD_REQUEST,
                        "Request_BadRequest",
                        "Another object with the same value for property identifierUris already "
                        "exists.",
                    )
        api = body.get("api")
        if not isinstance(api, dict):
            return
        api = {**(app.get("api") or {}), **api}  # merged one level down, as the PATCH will be
        old_scopes = {s["id"]: s for s in (app.get("api") or {}).get("oauth2PermissionScopes", [])}
        new_scopes = {s["id"]: s for s in api.get("oauth2PermissionScopes") or []}
        for scope_id, scope in old_scopes.items():
            if scope.get("isEnabled") and scope_id not in new_scopes:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "CannotDeleteOrUpdateEnabledEntitlement",
                    "Permission (scope or role) cannot be deleted or updated unless disabled "
                    "first.",
                )
        for pre in api.get("preAuthorizedApplications") or []:
            unknown = set(pre.get("delegatedPermissionIds") or []) - set(new_scopes)
            if unknown:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    f"preAuthorizedApplications of {pre.get('appId')} names permission(s) "
                    f"{', '.join(sorted(unknown))} that the application does not expose.",
                )

    def delete_object(self, kind: str, object_id: str) -> None:
        """Deleting an application also deletes its service principal in its home tenant
        (learn.microsoft.com/entra/identity-platform/howto-remove-app). Graph keeps deleted
        applications for 30 days as deleted items; the emulator does not keep them."""
        with self._lock:
            obj = self.get_object(kind, object_id)
            del self._collection(kind)[obj["id"]]
            if kind == "applications":
                sps = self._collection("servicePrincipals")
                for sp_id in [k for k, sp in sps.items() if sp["appId"] == obj["appId"]]:
                    del sps[sp_id]
            self.save()

    def add_owner(self, kind: str, object_id: str, owner_id: str) -> None:
        with self._lock:
            obj = self.get_object(kind, object_id)
            if owner_id.lower() in obj["owners"]:
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "One or more added object references already exist for the following "
                    "modified properties: 'owners'.",
                )
            obj["owners"].append(owner_id.lower())
            self.save()

    def remove_owner(self, kind: str, object_id: str, owner_id: str) -> None:
        with self._lock:
            obj = self.get_object(kind, object_id)
            if owner_id.lower() not in obj["owners"]:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{owner_id}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            obj["owners"].remove(owner_id.lower())
            self.save()

    def add_password(self, object_id: str, credential: dict[str, Any]) -> dict[str, Any]:
        """addPassword: Entra generates the secret and returns it once, in this answer only."""
        with self._lock:
            app = self.get_object("applications", object_id)
            text = self._secret_text()
            # Graph's defaults: valid from now, for two years (passwordCredential resource).
            start = credential.get("startDateTime") or now_iso()
            end = credential.get("endDateTime") or datetime.fromtimestamp(
                _parse_time(start) + 2 * 365 * 86400, UTC
            ).isoformat(timespec="seconds").replace("+00:00", "Z")
            stored = {
                "keyId": str(uuid.uuid4()),
                "displayName": credential.get("displayName"),
                "startDateTime": start,
                "endDateTime": end,
                "hint": text[:3],
                "secretText": None,
                "customKeyIdentifier": None,
            }
            app["passwordCredentials"].append({**stored, "sandboxSecret": text})
            self._record(
                "addPassword",
                appId=app["appId"],
                keyId=stored["keyId"],
                passwords=len(app["passwordCredentials"]),
            )
            self.save()
            return {**stored, "secretText": text}

    def remove_password(self, object_id: str, key_id: str) -> None:
        with self._lock:
            app = self.get_object("applications", object_id)
            before = len(app["passwordCredentials"])
            removed = [p for p in app["passwordCredentials"] if p["keyId"] == key_id.lower()]
            app["passwordCredentials"] = [
                p for p in app["passwordCredentials"] if p["keyId"] != key_id.lower()
            ]
            if len(app["passwordCredentials"]) == before:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"No password credential found with keyId {key_id}.",
                )
            self._record(
                "removePassword",
                appId=app["appId"],
                keyId=key_id.lower(),
                passwords=len(app["passwordCredentials"]),
                publishedIn=self._published_in(removed[0]["sandboxSecret"]),
            )
            self.save()

    def live_credential(self, client_id: str, secret: str) -> str | None:
        """The key ID of the application's unexpired password whose value is `secret`."""
        key_id, _ = self.credential_standing(client_id, secret)
        return key_id

    def credential_standing(self, client_id: str, secret: str) -> tuple[str | None, str]:
        """Whether `secret` is one of the application's passwords, and when it is valid: the key ID
        and "live" for a password valid now, else None and "expired" (a matching password whose
        endDateTime has passed), "not yet valid" (one whose startDateTime is still to come) or
        "unknown" (no password of the application has that value)."""
        now = time.time()
        standing = "unknown"
        with self._lock:
            for app in self._collection("applications").values():
                if app["appId"] != client_id.lower():
                    continue
                for password in app["passwordCredentials"]:
                    if password["sandboxSecret"] != secret:
                        continue
                    if now >= _parse_time(password["endDateTime"]):
                        standing = "expired"
                    elif now < _parse_time(password["startDateTime"]):
                        standing = "not yet valid" if standing == "unknown" else standing
                    else:
                        return str(password["keyId"]), "live"
            return None, standing

    # -- Graph: federated identity credentials -----------------------------------------------------
    #
    # An application's federatedIdentityCredentials (learn.microsoft.com/graph/api/resources/
    # federatedidentitycredential), kept in the application's row under FEDERATED and returned
    # only through the navigation property or `$expand`, never with the application itself.

    def _federated(self, object_id: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
        """The application and its credentials, the list kept in its row (made on the first
        change: a read leaves an application without credentials as it was)."""
        app = self.get_object("applications", object_id)
        credentials: list[dict[str, Any]] = app.setdefault(FEDERATED, [])
        return app, credentials

    def _federated_read(self, object_id: str) -> list[dict[str, Any]]:
        found: list[dict[str, Any]] = self.get_object("applications", object_id).get(FEDERATED, [])
        return found

    def federated_credentials(self, object_id: str) -> list[dict[str, Any]]:
        """List federatedIdentityCredentials: the application's credentials, oldest first."""
        with self._lock:
            return [dict(c) for c in self._federated_read(object_id)]

    def get_federated_credential(self, object_id: str, key: str) -> dict[str, Any]:
        """Get federatedIdentityCredential: addressed by its `id` or by its `name`, "You can also
        address the federated identity credential with either its id or name"
        (learn.microsoft.com/graph/api/federatedidentitycredential-get)."""
        with self._lock:
            return dict(_find_federated(self._federated_read(object_id), key))

    def add_federated_credential(self, object_id: str, body: dict[str, Any]) -> dict[str, Any]:
        """Create federatedIdentityCredential (learn.microsoft.com/graph/api/application-post-
        federatedidentitycredentials): "Maximum of 20 objects can be added to an application."
        """
        with self._lock:
            app, credentials = self._federated(object_id)
            given = _federated_body(body)
            if len(credentials) >= MAX_FEDERATED_CREDENTIALS:
                # "A maximum of 20 federated identity credentials can be added to an application
                # or user-assigned managed identity." (learn.microsoft.com/entra/workload-id/
                # workload-identity-federation-considerations). Graph's wording for the 21st is
                # not documented; the message is this emulator's own.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    f"A maximum of {MAX_FEDERATED_CREDENTIALS} federated identity credentials can "
                    "be added to an application.",
                )
            credential = {
                "id": str(uuid.uuid4()),
                "name": given["name"],
                "issuer": given["issuer"],
                "subject": given["subject"],
                "audiences": list(given["audiences"]),
                "description": given.get("description"),
            }
            _check_federated_unique(credentials, credential)
            credentials.append(credential)
            self._record(
                "addFederatedIdentityCredential",
                appId=app["appId"],
                credentialId=credential["id"],
                name=credential["name"],
                issuer=credential["issuer"],
                subject=credential["subject"],
                credentials=len(credentials),
            )
            self.save()
            return dict(credential)

    def update_federated_credential(self, object_id: str, key: str, body: dict[str, Any]) -> None:
        """Update federatedIdentityCredential (learn.microsoft.com/graph/api/federatedidentity
        credential-update): 204; the name "is immutable once created" (application-post-
        federatedidentitycredentials), so a body may repeat it, as the documented example does,
        but not change it."""
        with self._lock:
            app, credentials = self._federated(object_id)
            current = _find_federated(credentials, key)
            given = _federated_body(body, current["id"])
            if "name" in given and given["name"] != current["name"]:
                # Graph's answer to a changed name is not documented: Graph's usual refusal of
                # a read-only property.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "Property 'name' is read-only and cannot be set.",
                )
            updated = {**current, **{k: v for k, v in given.items() if k != "name"}}
            _check_federated_unique([c for c in credentials if c is not current], updated)
            current.update(updated)
            self._record(
                "updateFederatedIdentityCredential",
                appId=app["appId"],
                credentialId=current["id"],
                name=current["name"],
                changed=sorted(k for k in given if k != "name"),
            )
            self.save()

    def remove_federated_credential(self, object_id: str, key: str) -> None:
        """Delete federatedIdentityCredential: 204, or 404 when it is gone."""
        with self._lock:
            app, credentials = self._federated(object_id)
            found = _find_federated(credentials, key)
            credentials.remove(found)
            self._record(
                "removeFederatedIdentityCredential",
                appId=app["appId"],
                credentialId=found["id"],
                name=found["name"],
                credentials=len(credentials),
            )
            self.save()

    def federated_credentials_of_client(self, client_id: str) -> list[dict[str, Any]] | None:
        """The federated credentials of the application whose appId is `client_id` (None when
        no application has it), for the token endpoint."""
        with self._lock:
            for app in self._collection("applications").values():
                if app["appId"] == client_id.lower():
                    return [dict(c) for c in app.get(FEDERATED, [])]
            return None

    # -- Key Vault --------------------------------------------------------------------------------

    def vault(self, name: str) -> dict[str, Any]:
        found = self.data["vaults"].get(name.lower())
        if found is None:
            raise ApiError(HTTPStatus.NOT_FOUND, "VaultNotFound", f"Vault '{name}' not found.")
        vault: dict[str, Any] = found
        return vault

    def set_secret(self, vault_name: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Set Secret: every call is a new version, which becomes the current one."""
        with self._lock:
            vault = self.vault(vault_name)
            if name in vault["deleted"]:
                raise ApiError(
                    HTTPStatus.CONFLICT,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its "
                    "name cannot be reused; in this state, the secret can only be recovered or "
                    "purged.",
                )
            if not isinstance(body.get("value"), str):
                raise ApiError(HTTPStatus.BAD_REQUEST, "BadParameter", "value is required.")
            stamp = int(time.time())
            attributes = body.get("attributes") or {}
            version = {
                "version": uuid.uuid4().hex,
                "value": body["value"],
                "contentType": body.get("contentType"),
                "tags": body.get("tags") or {},
                "attributes": {
                    "enabled": attributes.get("enabled", True),
                    "nbf": attributes.get("nbf"),
                    "exp": attributes.get("exp"),
                    "created": stamp,
                    "updated": stamp,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": SOFT_DELETE_RETENTION_DAYS,
                },
            }
            vault["secrets"].setdefault(name, []).append(version)
            self._record(
                "setSecret",
                secret=f"{vault_name.lower()}/{name}",
                keyId=self._key_of(body["value"]),
            )
            self.save()
            return _bundle(vault_name, name, version, with_value=True)

    def get_secret(
        self, vault_name: str, name: str, version: str | None = None, with_value: bool = True
    ) -> dict[str, Any]:
        with self._lock:
            found = self._version(vault_name, name, version)
            if with_value and not found["attributes"]["enabled"]:
                raise ApiError(
                    HTTPStatus.FORBIDDEN,
                    "Forbidden",
                    "Operation get is not allowed on a disabled secret.",
                )
            return _bundle(vault_name, name, found, with_value=with_value)

    def secret_versions(self, vault_name: str, name: str) -> list[dict[str, Any]]:
        with self._lock:
            versions = self.vault(vault_name)["secrets"].get(name)
            if not versions:
                raise _secret_not_found(vault_name, name)
            return [_bundle(vault_name, name, v, with_value=False) for v in versions]

    def list_secrets(self, vault_name: str) -> list[dict[str, Any]]:
        """Get Secrets: each secret's current version as a SecretItem (no value, the ID without
        a version; learn.microsoft.com/rest/api/keyvault/secrets/get-secrets)."""
        with self._lock:
            return [
                {
                    **_bundle(vault_name, name, versions[-1], with_value=False),
                    "id": secret_uri(vault_name, name),
                }
                for name, versions in self.vault(vault_name)["secrets"].items()
                if versions
            ]

    def list_deleted_secrets(self, vault_name: str) -> list[dict[str, Any]]:
        """Get Deleted Secrets: DeletedSecretItems
        (learn.microsoft.com/rest/api/keyvault/secrets/get-deleted-secrets)."""
        with self._lock:
            return [
                {**_deleted_bundle(vault_name, name, deleted), "id": secret_uri(vault_name, name)}
                for name, deleted in self.vault(vault_name)["deleted"].items()
            ]

    def update_secret(
        self, vault_name: str, name: str, version: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            found = self._version(vault_name, name, version)
            for key in ("contentType", "tags"):
                if key in body:
                    found[key] = body[key]
            for key, value in (body.get("attributes") or {}).items():
                if key in ("enabled", "nbf", "exp"):
                    found["attributes"][key] = value
            found["attributes"]["updated"] = int(time.time())
            self.save()
            return _bundle(vault_name, name, found, with_value=False)

    def delete_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        """Soft delete: the secret and all its versions wait for recovery or purge."""
        with self._lock:
            vault = self.vault(vault_name)
            versions = vault["secrets"].pop(name, None)
            if not versions:
                raise _secret_not_found(vault_name, name)
            deleted_at = int(time.time())
            vault["deleted"][name] = {"versions": versions, "deletedDate": deleted_at}
            self._record("deleteSecret", secret=f"{vault_name.lower()}/{name}")
            self.save()
            return _deleted_bundle(vault_name, name, vault["deleted"][name])

    def get_deleted_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        with self._lock:
            deleted = self.vault(vault_name)["deleted"].get(name)
            if deleted is None:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "SecretNotFound",
                    f"Deleted Secret not found: {name}",
                )
            return _deleted_bundle(vault_name, name, deleted)

    def recover_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        with self._lock:
            vault = self.vault(vault_name)
            self.get_deleted_secret(vault_name, name)
            vault["secrets"][name] = vault["deleted"].pop(name)["versions"]
            self.save()
            return _bundle(vault_name, name, vault["secrets"][name][-1], with_value=False)

    def purge_secret(self, vault_name: str, name: str) -> None:
        with self._lock:
            self.get_deleted_secret(vault_name, name)
            del self.vault(vault_name)["deleted"][name]
            self.save()

    def _version(self, vault_name: str, name: str, version: str | None) -> dict[str, Any]:
        versions = self.vault(vault_name)["secrets"].get(name)
        if not versions:
            raise _secret_not_found(vault_name, name)
        if version is None:
            found: dict[str, Any] = versions[-1]
            return found
        for candidate in versions:
            if candidate["version"] == version:
                found = candidate
                return found
        raise _secret_not_found(vault_name, f"{name}/{version}")

    # -- ARM --------------------------------------------------------------------------------------

    def arm_vault(self, subscription: str, resource_group: str, vault_name: str) -> None:
        vault = self.data["vaults"].get(vault_name.lower())
        if (
            vault is None
            or vault["subscriptionId"].lower() != subscription.lower()
            or vault["resourceGroupName"].lower() != resource_group.lower()
        ):
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "ResourceNotFound",
                f"The Resource 'Microsoft.KeyVault/vaults/{vault_name}' under resource group "
                f"'{resource_group}' was not found.",
            )

    def arm_put_secret(
        self, subscription: str, resource_group: str, vault_name: str, name: str, body: Any
    ) -> tuple[bool, dict[str, Any]]:
        """PUT of Microsoft.KeyVault/vaults/secrets: writes a new version; True when created."""
        with self._lock:
            self.arm_vault(subscription, resource_group, vault_name)
            props = (body or {}).get("properties") or {}
            attributes = props.get("attributes") or {}
            created = name not in self.vault(vault_name)["secrets"]
            self.set_secret(
                vault_name,
                name,
                {
                    "value": props.get("value"),
                    "contentType": props.get("contentType"),
                    "tags": (body or {}).get("tags") or {},
                    "attributes": {
                        "enabled": attributes.get("enabled", True),
                        "nbf": attributes.get("nbf"),
                        "exp": attributes.get("exp"),
                    },
                },
            )
            return created, self.arm_get_secret(subscription, resource_group, vault_name, name)

    def arm_get_secret(
        self, subscription: str, resource_group: str, vault_name: str, name: str
    ) -> dict[str, Any]:
        with self._lock:
            self.arm_vault(subscription, resource_group, vault_name)
            versions = self.vault(vault_name)["secrets"].get(name)
            if not versions:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/vaults/{vault_name}/secrets/{name}' "
                    f"under resource group '{resource_group}' was not found.",
                )
            current = versions[-1]
            attributes = current["attributes"]
            return {
                "id": "/"
                + _ARM_SECRET_PATH.format(
                    sub=subscription, rg=resource_group, vault=vault_name, name=name
                ),
                "name": name,
                "type": "Microsoft.KeyVault/vaults/secrets",
                # ARM answers with the vault's region; the sandbox's vaults are in this one.
                "location": "westeurope",
                "tags": current["tags"],
                "properties": {
                    "contentType": current["contentType"],
                    "attributes": {
                        key: attributes[key]
                        for key in ("enabled", "nbf", "exp", "created", "updated")
                        if attributes.get(key) is not None
                    },
                    "secretUri": secret_uri(vault_name, name),
                    "secretUriWithVersion": secret_uri(vault_name, name, current["version"]),
                },
            }


def secret_uri(vault_name: str, name: str, version: str | None = None) -> str:
    base = f"https://{vault_name}.vault.azure.net/secrets/{name}"
    return f"{base}/{version}" if version else base


def _bundle(
    vault_name: str, name: str, version: dict[str, Any], with_value: bool
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "id": secret_uri(vault_name, name, version["version"]),
        "attributes": {k: v for k, v in version["attributes"].items() if v is not None},
        "tags": version["tags"],
    }
    if version.get("contentType") is not None:
        bundle["contentType"] = version["contentType"]
    if with_value:
        bundle["value"] = version["value"]
    return bundle


def _deleted_bundle(vault_name: str, name: str, deleted: dict[str, Any]) -> dict[str, Any]:
    current = deleted["versions"][-1]
    return {
        **_bundle(vault_name, name, current, with_value=False),
        "recoveryId": f"https://{vault_name}.vault.azure.net/deletedsecrets/{name}",
        "deletedDate": deleted["deletedDate"],
        "scheduledPurgeDate": deleted["deletedDate"] + SOFT_DELETE_RETENTION_DAYS * 86400,
    }


def _secret_not_found(vault_name: str, name: str) -> ApiError:
    return ApiError(
        HTTPStatus.NOT_FOUND,
        "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault ({vault_name}).",
    )


def _shaped(make: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    """`make(body)`, with Graph's refusal of an unknown or read-only property as an API error."""
    try:
        return make(body)
    except graph_objects.GraphShapeError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def _bound_owners(body: dict[str, Any], caller: Principal) -> list[str]:
    """`owners@odata.bind` on create; without it Graph makes the calling identity the owner
    (learn.microsoft.com/graph/api/application-post-applications, for delegated and app calls)."""
    bound = body.get("owners@odata.bind")
    if not bound:
        return [caller.object_id]
    return [str(ref).rsplit("/", 1)[-1].lower() for ref in bound]


# Federated identity credentials: the rules of Graph's federatedIdentityCredential resource
# (learn.microsoft.com/graph/api/resources/federatedidentitycredential) and of the workload
# identity federation considerations (learn.microsoft.com/entra/workload-id/workload-identity-
# federation-considerations). The name: "This field has a character limit of 3-120 characters
# and must be URL friendly. Alphanumeric, dash, or underscore characters are supported, the first
# character must be alphanumeric only. It's immutable once created." (considerations page).
_FEDERATED_NAME: Final = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{2,119}$")
# "issuer ... has a limit of 600 characters", "subject ... has a limit of 600 characters",
# audiences: "This field can only accept a single value and has a limit of 600 characters",
# description: "It has a limit of 600 characters" (federatedidentitycredential resource).
_FEDERATED_LIMIT: Final = 600
_FEDERATED_WRITABLE: Final = frozenset({"name", "issuer", "subject", "audiences", "description"})


def _find_federated(credentials: list[dict[str, Any]], key: str) -> dict[str, Any]:
    """The credential whose id, else whose name, is `key` (compared ignoring case, as Graph
    compares keys); 404 when there is none."""
    wanted = key.lower()
    for field in ("id", "name"):
        for credential in credentials:
            if str(credential[field]).lower() == wanted:
                return credential
    raise ApiError(
        HTTPStatus.NOT_FOUND,
        "Request_ResourceNotFound",
        f"Resource '{key}' does not exist or one of its queried reference-property objects are "
        "not present.",
    )


def _federated_refusal(message: str) -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, "Request_BadRequest", message)


def _federated_body(body: Any, current_id: str | None = None) -> dict[str, Any]:
    """The writable properties of a POST body, or of a PATCH body for the credential
    `current_id`, checked against Graph's documented rules. A PATCH may repeat the credential's
    own `id`, as terraform-provider-azuread's Update sends it (application_federated_identity_
    credential_resource.go: `ID: utils.String(id.KeyId)` in the PATCH body); another `id` is
    refused as read-only. Where the considerations page's error table gives the wording ("Federated
    identity credentials must have exactly one audience.", "Federated Identity Credential name
    '{ficName}' is invalid.") it is used; the other messages are this emulator's own, with
    Graph's `Request_BadRequest` (Graph's answers to them are not documented)."""
    if not isinstance(body, dict):
        raise _federated_refusal("The request body must be a federatedIdentityCredential object.")
    given: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@odata."):
            continue
        if key == "id":
            if value is None or (
                current_id is not None and str(value).lower() == current_id.lower()
            ):
                continue
            raise _federated_refusal("Property 'id' is read-only and cannot be set.")
        if key not in _FEDERATED_WRITABLE:
            raise _federated_refusal(
                f"Property '{key}' does not exist as a declared property or extension property."
            )
        given[key] = value
    if current_id is None:
        missing = [k for k in ("name", "issuer", "subject", "audiences") if not given.get(k)]
        if missing:
            # name, issuer, subject and audiences are each "Required" (application-post-
            # federatedidentitycredentials, request body table).
            raise _federated_refusal(
                f"Property '{missing[0]}' is required to create a federated identity credential."
            )
    if "name" in given:
        name = given["name"]
        if not isinstance(name, str) or not _FEDERATED_NAME.match(name):
            raise _federated_refusal(f"Federated Identity Credential name '{name}' is invalid.")
    for key in ("issuer", "subject"):
        if key in given:
            value = given[key]
            if not isinstance(value, str) or not value:
                raise _federated_refusal(f"Property '{key}' must be a non-empty string.")
            if len(value) > _FEDERATED_LIMIT:
                raise _federated_refusal(
                    f"Property '{key}' exceeds the limit of {_FEDERATED_LIMIT} characters."
                )
    if "audiences" in given:
        audiences = given["audiences"]
        if (
            not isinstance(audiences, list)
            or len(audiences) != 1
            or not isinstance(audiences[0], str)
            or not audiences[0]
        ):
            raise _federated_refusal(
                "Federated identity credentials must have exactly one audience."
            )
        if len(audiences[0]) > _FEDERATED_LIMIT:
            raise _federated_refusal(
                f"Property 'audiences' exceeds the limit of {_FEDERATED_LIMIT} characters."
            )
    if "description" in given:
        description = given["description"]
        if description is not None and not isinstance(description, str):
            raise _federated_refusal("Property 'description' must be a string.")
        if description is not None and len(description) > _FEDERATED_LIMIT:
            raise _federated_refusal(
                f"Property 'description' exceeds the limit of {_FEDERATED_LIMIT} characters."
            )
    return given


def _check_federated_unique(others: list[dict[str, Any]], credential: dict[str, Any]) -> None:
    """A name is "the unique identifier for the federated identity credential" and "The
    combination of the values of issuer and subject must be unique within the app"
    (federatedidentitycredential resource). The wording for a duplicate pair is the
    considerations page's (written there for a managed identity); for a duplicate name it is this
    emulator's. Names compare ignoring case, as Graph's keys do; issuer and subject compare
    exactly, as the token exchange matches them (case-sensitive: learn.microsoft.com/entra/
    identity-platform/reference-breaking-changes)."""
    for other in others:
        if other["name"].lower() == credential["name"].lower():
            raise _federated_refusal(
                f"A federated identity credential named '{credential['name']}' already exists "
                "on this application."
            )
        if (other["issuer"], other["subject"]) == (credential["issuer"], credential["subject"]):
            raise _federated_refusal(
                "Issuer and subject combination already exists for this application."
            )


class EntraEmulator(LoopbackServer):
    """Serves an `EntraStore` on 127.0.0.1 over TLS until `stop()`; use as a context manager.

    `apis` are the resource URIs of APIs registered in the tenant outside the stack (LKPS,
    Ocelot), for which a token may be asked; Graph, Key Vault and ARM are always known, and so
    is the identifier URI of any application with a service principal. Tokens are JWTs signed
    by a key made at start (`sandbox.tokens`), so each run of the sandbox asks for new ones.

    `issuers` tells where the external issuers of federated identity credentials are served on
    this machine (`sandbox.workload_issuer`): the token endpoint reads an issuer's OIDC metadata
    and keys there, over HTTPS on loopback with the sandbox's CA, and nowhere else.
    """

    def __init__(
        self,
        store: EntraStore,
        tenant_id: str,
        certificate: SandboxCertificate,
        apis: Iterable[str] = (),
        port: int = 0,
        identity: str | None = None,
        issuers: IssuerResolver | None = None,
    ) -> None:
        self.store = store
        self.issuers = issuers
        self._ca_file = certificate.ca_file
        self._fetcher: httpx.Client | None = None
        self._fetcher_lock = threading.Lock()
        self.tenant_id = tenant_id
        self.deployer = store.ensure_deployer(tenant_id, identity)
        self.identity_header = secrets.token_hex(16)
        self.signer = TokenSigner(tenant_id)
        self.apis = frozenset(api.rstrip("/").lower() for api in apis)
        self.forbidden: set[str] = set()
        super().__init__(bound_handler(_Handler, self), port, certificate.server_context())

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def knows_resource(self, resource: str) -> bool:
        wanted = resource.rstrip("/").lower()
        if wanted in self.apis or any(
            wanted == audience.rstrip("/").lower()
            for audiences in AUDIENCES.values()
            for audience in audiences
        ):
            return True
        return any(
            wanted == str(uri).rstrip("/").lower()
            and self.store.list_objects("servicePrincipals", "appId", app["appId"])
            for app in self.store.list_objects("applications", None, None)
            for uri in app.get("identifierUris") or []
        )

    def issue_token(self, principal: Principal, resource: str) -> tuple[str, int]:
        """A token for `resource`; Graph tokens carry the Graph app roles granted."""
        roles: tuple[str, ...] = ()
        if resource.rstrip("/") in {a.rstrip("/") for a in AUDIENCES["graph"]}:
            roles = tuple(self.store.app_roles(principal.object_id))
        return self.signer.issue(
            principal.object_id, principal.client_id, resource, TOKEN_LIFETIME_SECONDS, roles
        )

    def claims(self, authorization: str | None, *audiences: str) -> dict[str, Any] | None:
        """The claims of a valid bearer token for one of `audiences`, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.signer.claims(authorization.removeprefix("Bearer "), audiences)

    def holder(self, authorization: str | None, *audiences: str) -> Principal | None:
        """Who holds a valid bearer token for one of `audiences`, or None."""
        claims = self.claims(authorization, *audiences)
        if claims is None:
            return None
        return Principal(str(claims["oid"]), str(claims["appid"]), str(claims["tid"]))

    def stop(self) -> None:
        super().stop()
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

    def check_client_assertion(self, client_id: str, assertion: str) -> dict[str, Any]:
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


class _Handler(LoopbackHandler):
    emulator: EntraEmulator
    server_version = "SandboxEntra/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = parse_qs(raw.decode())
        headers: dict[str, str] = {}
        try:
            query = parse_qs(url.query, keep_blank_values=True)
            status, payload = self._route(method, url.path, query, body)
        except ApiError as exc:
            status, headers = exc.status, exc.headers
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if url.path.startswith(GRAPH_PREFIX + "/"):
                # Graph's error resource (learn.microsoft.com/graph/errors).
                error["innerError"] = {
                    "date": now_iso(),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": self.headers.get("client-request-id") or str(uuid.uuid4()),
                }
            payload = {"error": error}
        self.send_json(status, payload, headers)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[HTTPStatus, Any]:
        emulator = self.emulator
        if path == TOKEN_PATH:
            return self._managed_identity_token(query)
        login = self._login(method, path, body)
        if login is not None:
            return login
        area = path.split("/")[1] if path.count("/") >= 1 else ""
        if area not in AUDIENCES:
            raise ApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {path}")
        caller = emulator.holder(self.headers.get("Authorization"), *AUDIENCES[area])
        if caller is None:
            raise _unauthenticated(area, emulator.tenant_id)
        if area in emulator.forbidden:
            raise ApiError(
                HTTPStatus.FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if path.startswith(GRAPH_PREFIX + "/"):
            return self._graph(method, path.removeprefix(GRAPH_PREFIX + "/"), query, body, caller)
        if path.startswith(VAULT_PREFIX + "/"):
            return self._vault(method, path.removeprefix(VAULT_PREFIX + "/"), query, body)
        if path.startswith(ARM_PREFIX + "/"):
            return self._arm(method, path.removeprefix(ARM_PREFIX + "/"), body, caller)
        raise ApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {path}")

    def _login(self, method: str, path: str, body: Any) -> tuple[HTTPStatus, Any] | None:
        """The public endpoints of the tenant's authority, which need no token: the OIDC
        metadata (learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-
        openid-configuration-document-uri), its signing keys and the token endpoint. None for
        any other path."""
        parts = path.strip("/").split("/")
        endpoint = "/".join(parts[1:])
        if endpoint not in (
            "v2.0/.well-known/openid-configuration",
            "discovery/v2.0/keys",
            "oauth2/v2.0/token",
        ):
            return None
        tenant = self.emulator.tenant_id
        if parts[0].lower() != tenant.lower():
            # AADSTS90002 InvalidTenantName (learn.microsoft.com/entra/identity-platform/
            # reference-error-codes); only the sandbox's own tenant is served.
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "invalid_tenant",
                90002,
                f"Tenant '{parts[0]}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        if endpoint == "oauth2/v2.0/token" and method == "POST":
            return self._client_credentials(body)
        if method != "GET":
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", method)
        if endpoint == "discovery/v2.0/keys":
            return HTTPStatus.OK, self.emulator.signer.jwks()
        authority = f"{self.emulator.url}/{tenant}"
        return HTTPStatus.OK, {
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "ver"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    def _unknown_resource(self, resource: str) -> tuple[HTTPStatus, Any]:
        # AADSTS500011 InvalidResourceServicePrincipalNotFound, invalid_resource
        # (learn.microsoft.com/entra/identity-platform/reference-error-codes).
        return HTTPStatus.BAD_REQUEST, _aad_error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.emulator.tenant_id}. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You might have sent your authentication request to the wrong tenant.",
        )

    def _managed_identity_token(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        emulator = self.emulator
        if self.headers.get(IDENTITY_HEADER) != emulator.identity_header:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized", "invalid identity header")
        resource = query.get("resource", [""])[0]
        if not emulator.knows_resource(resource):
            # What App Service answers for an unknown resource is not documented; the emulator
            # gives Entra's own answer.
            return self._unknown_resource(resource)
        token, expires_on = emulator.issue_token(emulator.deployer, resource)
        return HTTPStatus.OK, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": emulator.deployer.client_id,
        }

    def _client_credentials(self, form: Any) -> tuple[HTTPStatus, Any]:
        def field(name: str) -> str:
            values = form.get(name) if isinstance(form, dict) else None
            return str(values[0]) if isinstance(values, list) and values else ""

        if field("grant_type") != "client_credentials":
            # AADSTS70003 UnsupportedGrantType: only the client credentials flow is served.
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            )
        client_id, secret, scope = field("client_id"), field("client_secret"), field("scope")
        assertion_type, assertion = field("client_assertion_type"), field("client_assertion")
        apps = self.emulator.store.list_objects("applications", "appId", client_id)
        if not apps:
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if secret and (assertion or assertion_type):
            # A secret and an assertion together: Entra's answer is not documented. The
            # emulator refuses with AADSTS90023 InvalidRequest ("The authentication service
            # request isn't valid", reference-error-codes) rather than pick one credential.
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "invalid_request",
                90023,
                "The request carries both 'client_secret' and 'client_assertion'; send one "
                "client credential.",
            )
        if not (secret or assertion):
            # AADSTS7000218 (reference-error-codes); its HTTP status is not documented.
            return HTTPStatus.UNAUTHORIZED, _aad_error(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        refused = (
            self._client_assertion(client_id, assertion_type, assertion)
            if assertion
            else self._client_secret(client_id, secret)
        )
        if refused is not None:
            return refused
        return self._app_only_token(client_id, apps[0], scope)

    def _client_assertion(
        self, client_id: str, assertion_type: str, assertion: str
    ) -> tuple[HTTPStatus, Any] | None:
        """Workload identity federation: `client_assertion` is a JWT from an external issuer
        that one of the application's federated identity credentials trusts (learn.microsoft.com/
        entra/identity-platform/v2-oauth2-client-creds-grant-flow, "Third case: Access token
        request with a federated credential": "Everything in the request is the same as the
        certificate-based flow, with the crucial exception of the source of the
        client_assertion"). None when it is accepted. Certificate credentials are not served:
        an assertion an application signs itself finds no federated credential."""
        if assertion_type != JWT_BEARER:
            # "The value must be set to urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            # (same page, second case). Entra's code for another value is not documented: the
            # generic AADSTS90023 InvalidRequest.
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "invalid_request",
                90023,
                f"client_assertion_type must be '{JWT_BEARER}', not '{assertion_type}'.",
            )
        try:
            self.emulator.check_client_assertion(client_id, assertion)
        except TokenRefusalError as refusal:
            return refusal.status, refusal.body
        return None

    def _client_secret(self, client_id: str, secret: str) -> tuple[HTTPStatus, Any] | None:
        """A client secret: one of the application's live passwords. None when it is one."""
        key_id, standing = self.emulator.store.credential_standing(client_id, secret)
        if standing == "expired":
            # AADSTS7000222 InvalidClientSecretExpiredKeysProvided, invalid_client, HTTP 401
            # (learn.microsoft.com/entra/identity-platform/reference-error-codes).
            return HTTPStatus.UNAUTHORIZED, _aad_error(
                "invalid_client",
                7000222,
                "The provided client secret keys are expired. Create new keys for your app, or "
                "consider using certificate credentials for added security.",
            )
        if key_id is None:
            # AADSTS7000215, invalid client secret, for a value matching no password. The error
            # codes reference documents no code for a password whose startDateTime is still to
            # come, so a not-yet-valid secret gets 7000215 too; what Entra answers is unknown.
            return HTTPStatus.UNAUTHORIZED, _aad_error(
                "invalid_client", 7000215, "Invalid client secret provided."
            )
        return None

    def _app_only_token(
        self, client_id: str, app: dict[str, Any], scope: str
    ) -> tuple[HTTPStatus, Any]:
        """The token of an authenticated client, the same whichever credential it used: for one
        `<resource>/.default` scope of a known resource, issued to the application's enabled
        service principal."""
        emulator = self.emulator
        if not scope.endswith("/.default") or " " in scope.strip():
            # AADSTS1002012: the client credentials flow takes one `<resource>/.default` scope
            # (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scope.removesuffix("/.default")
        if not emulator.knows_resource(resource):
            return self._unknown_resource(resource)
        # A token is issued to the application's service principal in the tenant
        # (learn.microsoft.com/entra/identity-platform/reference-error-codes: AADSTS7000229,
        # AADSTS7000112); the descriptions are this emulator's wording.
        principals = emulator.store.list_objects("servicePrincipals", "appId", client_id)
        if not principals:
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "invalid_client",
                7000229,
                f"The client application {client_id} is missing service principal in the "
                f"tenant {emulator.tenant_id}.",
            )
        if principals[0].get("accountEnabled") is False:
            return HTTPStatus.BAD_REQUEST, _aad_error(
                "unauthorized_client",
                7000112,
                f"Application '{client_id}'({app['displayName']}) is disabled.",
            )
        # An app-only token's oid is the service principal's object ID
        # (learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
        principal = Principal(principals[0]["id"], client_id, emulator.tenant_id)
        token, _ = emulator.issue_token(principal, resource)
        return HTTPStatus.OK, {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": token,
        }

    def _graph(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        caller: Principal,
    ) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        keyed = _ALTERNATE_KEY.match(parts[0])
        if keyed:
            # Alternate keys (learn.microsoft.com/graph/api/application-get: `/applications
            # (appId='{appId}')`; servicePrincipal-get: `/servicePrincipals(appId='{appId}')`).
            kind, app_id = keyed.groups()
            found = store.list_objects(kind, "appId", app_id)
            if not found:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{app_id}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            parts = [kind, found[0]["id"], *parts[1:]]
        kind = parts[0]
        if kind not in ("applications", "servicePrincipals"):
            raise ApiError(HTTPStatus.NOT_FOUND, "Request_ResourceNotFound", f"no {kind}")
        if len(parts) == 1:
            if method == "GET":
                field, value, prefix = _filter(query.get("$filter", [""])[0])
                if kind == "servicePrincipals" and field == "appId" and value == GRAPH_APP_ID:
                    return HTTPStatus.OK, self._page([MICROSOFT_GRAPH_PRINCIPAL], query)
                found = [_public(o) for o in store.list_objects(kind, field, value, prefix)]
                shown = self._expanded(kind, _selected(kind, found, query), query)
                return HTTPStatus.OK, self._page(shown, query)
            if method == "POST":
                created = (
                    store.create_application(body, caller)
                    if kind == "applications"
                    else store.create_service_principal(body, caller)
                )
                return HTTPStatus.CREATED, _public(created)
        object_id = parts[1]
        if parts[2:] == ["appRoleAssignments"] and method == "GET":
            assigned = [
                {
                    "appRoleId": rights.GRAPH_APP_ROLES[role],
                    "principalId": object_id,
                    "resourceId": MICROSOFT_GRAPH_PRINCIPAL["id"],
                    "resourceDisplayName": "Microsoft Graph",
                }
                for role in store.app_roles(object_id)
            ]
            return HTTPStatus.OK, self._page(assigned, query)
        if len(parts) == 2:
            if method == "GET":
                shown = _selected(kind, [_public(store.get_object(kind, object_id))], query)
                return HTTPStatus.OK, self._expanded(kind, shown, query)[0]
            if method == "PATCH":
                store.update_object(kind, object_id, body)
                return HTTPStatus.NO_CONTENT, None
            if method == "DELETE":
                store.delete_object(kind, object_id)
                return HTTPStatus.NO_CONTENT, None
        if parts[2] == "owners":
            if len(parts) == 3 and method == "GET":
                owners = store.get_object(kind, object_id)["owners"]
                listed = [{"@odata.type": store.object_type(o), "id": o} for o in owners]
                return HTTPStatus.OK, self._page(listed, query)
            if len(parts) == 4 and parts[3] == "$ref" and method == "POST":
                store.add_owner(kind, object_id, str(body.get("@odata.id", "")).rsplit("/", 1)[-1])
                return HTTPStatus.NO_CONTENT, None
            if len(parts) == 5 and parts[4] == "$ref" and method == "DELETE":
                store.remove_owner(kind, object_id, parts[3])
                return HTTPStatus.NO_CONTENT, None
        if kind == "applications" and parts[2] == FEDERATED:
            return self._federated(method, object_id, parts[3:], query, body)
        if kind == "applications" and method == "POST" and len(parts) == 3:
            if parts[2] == "addPassword":
                return HTTPStatus.OK, store.add_password(
                    object_id, body.get("passwordCredential") or {}
                )
            if parts[2] == "removePassword":
                store.remove_password(object_id, str(body.get("keyId", "")))
                return HTTPStatus.NO_CONTENT, None
        raise ApiError(HTTPStatus.BAD_REQUEST, "Request_BadRequest", f"{method} {path}")

    def _expanded(
        self, kind: str, objects: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        """The objects with their federated identity credentials when the query asks for them
        with `$expand=federatedIdentityCredentials` (learn.microsoft.com/graph/api/resources/
        application: "Supports $expand and $filter"); other expansions are not served."""
        expand = {e.strip() for e in query.get("$expand", [""])[-1].split(",")}
        if kind != "applications" or FEDERATED not in expand:
            return objects
        store = self.emulator.store
        return [
            {**obj, FEDERATED: store.federated_credentials(str(obj["id"]))}
            if obj.get("id")
            else obj
            for obj in objects
        ]

    def _federated(
        self,
        method: str,
        object_id: str,
        rest: list[str],
        query: dict[str, list[str]],
        body: Any,
    ) -> tuple[HTTPStatus, Any]:
        """`/applications/{id}/federatedIdentityCredentials[/{id or name}]`: List, Create (201
        with the object), Get, Update (204) and Delete (204) of Graph v1.0
        (learn.microsoft.com/graph/api/resources/federatedidentitycredential, methods)."""
        store = self.emulator.store
        if rest in (
            [],
            [""],
        ):  # the documented example POSTs to `.../federatedIdentityCredentials/`
            if method == "GET":
                listed = store.federated_credentials(object_id)
                field, value, prefix = _filter(query.get("$filter", [""])[0])
                if field is not None:
                    # name and subject: "Supports $filter (eq)" (federatedIdentityCredential
                    # resource); any other filter is refused.
                    if field not in ("name", "subject") or prefix:
                        raise ApiError(
                            HTTPStatus.BAD_REQUEST,
                            "Request_UnsupportedQuery",
                            f"Unsupported filter on federatedIdentityCredentials: {field}",
                        )
                    wanted = str(value).lower()
                    listed = [c for c in listed if str(c[field]).lower() == wanted]
                return HTTPStatus.OK, self._page(listed, query)
            if method == "POST":
                return HTTPStatus.CREATED, store.add_federated_credential(object_id, body)
        elif len(rest) == 1:
            if method == "GET":
                return HTTPStatus.OK, store.get_federated_credential(object_id, rest[0])
            if method == "PATCH":
                store.update_federated_credential(object_id, rest[0], body)
                return HTTPStatus.NO_CONTENT, None
            if method == "DELETE":
                store.remove_federated_credential(object_id, rest[0])
                return HTTPStatus.NO_CONTENT, None
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"{method} applications/{object_id}/{FEDERATED}/{'/'.join(rest)}",
        )

    def _vault(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        vault, collection, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if rest[1:] == [""]:
            # An empty version segment is the latest version (Get Secret: "If not specified, the
            # latest version of the secret is returned"); the SDK sends `secrets/{name}/`.
            rest = rest[:1]
        if collection in ("secrets", "deletedsecrets") and not rest and method == "GET":
            listed = (
                store.list_secrets(vault)
                if collection == "secrets"
                else store.list_deleted_secrets(vault)
            )
            return HTTPStatus.OK, self._page(listed, query, VAULT_PAGING)
        if collection == "secrets" and rest:
            name = rest[0]
            if len(rest) == 1:
                if method == "PUT":
                    return HTTPStatus.OK, store.set_secret(vault, name, body)
                if method == "GET":
                    return HTTPStatus.OK, store.get_secret(vault, name)
                if method == "DELETE":
                    return HTTPStatus.OK, store.delete_secret(vault, name)
            if len(rest) == 2 and rest[1] == "versions" and method == "GET":
                versions = store.secret_versions(vault, name)
                return HTTPStatus.OK, self._page(versions, query, VAULT_PAGING)
            if len(rest) == 2 and method == "GET":
                return HTTPStatus.OK, store.get_secret(vault, name, rest[1])
            if len(rest) in (1, 2) and method == "PATCH":
                version = rest[1] if len(rest) == 2 else None
                return HTTPStatus.OK, store.update_secret(vault, name, version, body)
        if collection == "deletedsecrets" and rest:
            name = rest[0]
            if len(rest) == 1 and method == "GET":
                return HTTPStatus.OK, store.get_deleted_secret(vault, name)
            if len(rest) == 1 and method == "DELETE":
                store.purge_secret(vault, name)
                return HTTPStatus.NO_CONTENT, None
            if len(rest) == 2 and rest[1] == "recover" and method == "POST":
                return HTTPStatus.OK, store.recover_secret(vault, name)
        raise ApiError(HTTPStatus.BAD_REQUEST, "BadParameter", f"{method} {path}")

    def _arm(self, method: str, path: str, body: Any, caller: Principal) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        if parts[-3:] == ["providers", "Microsoft.Authorization", "permissions"]:
            # Permissions - List For Resource: the caller's effective RBAC permissions.
            store.arm_vault(parts[1], parts[3], parts[7])
            return HTTPStatus.OK, {"value": [store.permissions(caller.object_id)]}
        shape = ["subscriptions", "", "resourceGroups", "", "providers", "Microsoft.KeyVault"]
        shape += ["vaults", "", "secrets", ""]
        if len(parts) != len(shape) or any(
            want and got.lower() != want.lower() for want, got in zip(shape, parts, strict=True)
        ):
            raise ApiError(HTTPStatus.NOT_FOUND, "InvalidResourceType", f"no ARM path {path}")
        subscription, resource_group, vault, name = parts[1], parts[3], parts[7], parts[9]
        if method == "PUT":
            created, resource = store.arm_put_secret(
                subscription, resource_group, vault, name, body
            )
            return (HTTPStatus.CREATED if created else HTTPStatus.OK), resource
        if method == "GET":
            return HTTPStatus.OK, store.arm_get_secret(subscription, resource_group, vault, name)
        raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", method)

    def _page(
        self, items: list[Any], query: dict[str, list[str]], paging: Paging = GRAPH_PAGING
    ) -> dict[str, Any]:
        """One page of `items` as the service answers it: where `$skiptoken` points, at most the
        page size, and the absolute URL of the next page (this path, with the request's other
        query parameters and a new skip token) while more remain."""
        path = urlsplit(self.path).path
        size = _page_size(query, paging)
        start = _skipped(query, path, paging)
        answer: dict[str, Any] = {"value": items[start : start + size]}
        if paging is GRAPH_PAGING and query.get("$count", [""])[-1].lower() == "true":
            # `$count` on directory objects is an advanced query: it needs `ConsistencyLevel:
            # eventual` (learn.microsoft.com/graph/aad-advanced-queries); the refusal's wording
            # without it is Graph's.
            if (self.headers.get("ConsistencyLevel") or "").lower() != "eventual":
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "$count is not currently supported.",
                )
            answer["@odata.count"] = len(items)
        if start + size < len(items):
            again = {k: v[-1] for k, v in query.items() if k != SKIPTOKEN}
            again[SKIPTOKEN] = skiptoken(path, start + size)
            answer[paging.next_field] = (
                f"{self.emulator.url}{path}?{urlencode(again, safe='$', quote_via=quote)}"
            )
        elif paging.null_on_last_page:
            answer[paging.next_field] = None
        return answer


GRAPH_APP_ID: Final = rights.MICROSOFT_GRAPH_APP_ID
# Microsoft Graph's service principal in every tenant, with its application permissions.
MICROSOFT_GRAPH_PRINCIPAL: Final = {
    "id": "5f0a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
    "appId": GRAPH_APP_ID,
    "displayName": "Microsoft Graph",
    "appRoles": [
        {"id": role_id, "value": name, "allowedMemberTypes": ["Application"]}
        for name, role_id in rights.GRAPH_APP_ROLES.items()
    ],
}


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """A directory object as Graph returns it: owners and federated identity credentials are
    relations of their own (an application's `federatedIdentityCredentials` come only from the
    navigation property or `$expand`, learn.microsoft.com/graph/api/resources/application,
    relationships), and a password's secret text is never returned after addPassword."""
    shown = {k: v for k, v in obj.items() if k not in ("owners", FEDERATED)}
    if "passwordCredentials" in shown:
        shown["passwordCredentials"] = [
            {k: v for k, v in p.items() if k != "sandboxSecret"} for p in obj["passwordCredentials"]
        ]
    return shown


_STARTSWITH: Final = re.compile(r"^startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)$")


def _filter(expression: str) -> tuple[str | None, str | None, bool]:
    """`$filter=<field> eq '<value>'` or `startswith(<field>,'<value>')`, the forms Graph
    supports by default on the properties read here (learn.microsoft.com/graph/filter-query-
    parameter): the field, the value and whether it is a prefix. Other forms are refused."""
    if not expression:
        return None, None, False
    starts = _STARTSWITH.match(expression.strip())
    if starts:
        return starts.group(1), starts.group(2).replace("''", "'"), True
    field, _, rest = expression.partition(" eq ")
    if not rest.startswith("'") or not rest.endswith("'"):
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_UnsupportedQuery",
            'the emulator supports only "<field> eq \'<value>\'" and "startswith(<field>, '
            f"'<value>')\" filters, not {expression!r}",
        )
    return field.strip(), rest[1:-1].replace("''", "'"), False


_PROPERTIES: Final = {
    "applications": frozenset(
        {*graph_objects.APPLICATION_DEFAULTS, *graph_objects.READ_ONLY, "displayName"}
    )
    - {"owners"},
    "servicePrincipals": frozenset(
        {*graph_objects.SERVICE_PRINCIPAL_DEFAULTS, *graph_objects.READ_ONLY, "displayName"}
    )
    - {"owners"},
}


def _selected(
    kind: str, objects: list[dict[str, Any]], query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The objects with only the properties `$select` names (all of them without it); a name
    the type does not have is refused, as Graph refuses it."""
    given = query.get("$select", [""])[-1]
    if not given:
        return objects
    names = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in _PROPERTIES[kind]]
    if unknown:
        single = "application" if kind == "applications" else "servicePrincipal"
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.{single}'.",
        )
    return [{name: obj.get(name) for name in names} for obj in objects]


def _unauthenticated(area: str, tenant_id: str) -> ApiError:
    """The answer to a request without a valid token for the area's resource."""
    if area == "keyvault":
        return ApiError(
            HTTPStatus.UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
            {"WWW-Authenticate": VAULT_CHALLENGE.format(tenant=tenant_id, resource=VAULT_RESOURCE)},
        )
    return ApiError(
        HTTPStatus.UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty or invalid."
    )


def skiptoken(path: str, offset: int) -> str:
    """An opaque skip token: where the next page of the list at `path` starts (base64url JSON;
    the real services' tokens are opaque too, and clients must not build or read them)."""
    raw = json.dumps({"list": path, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _skipped(query: dict[str, list[str]], path: str, paging: Paging) -> int:
    """How many items the request's skip token skips (0 without one). A token this emulator did
    not make, or made for another list, is refused."""
    if SKIPTOKEN not in query:
        return 0
    token = query[SKIPTOKEN][-1]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        decoded = None
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if (
        not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
        or decoded.get("list") != path
    ):
        raise ApiError(HTTPStatus.BAD_REQUEST, paging.error_code, "Invalid Skip Token")
    return offset


def _page_size(query: dict[str, list[str]], paging: Paging) -> int:
    if paging.size_parameter not in query:
        return paging.default_size
    given = query[paging.size_parameter][-1]
    size = int(given) if given.isascii() and given.isdigit() else 0
    if not 1 <= size <= paging.max_size:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            paging.error_code,
            f"Invalid page size specified: '{given}'. {paging.size_parameter} must be between 1 "
            f"and {paging.max_size} inclusive.",
        )
    return size


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


def _aad_error(error: str, code: int, description: str) -> dict[str, Any]:
    return {
        "error": error,
        "error_description": f"AADSTS{code}: {description}",
        "error_codes": [code],
    }
