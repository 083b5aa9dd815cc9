"""The local Entra ID's and Key Vault's state: the directory (applications, service principals,
owners, passwords, federated identity credentials, grants), the vaults and their secrets, and a
journal of every credential and vault change, each with Graph's and Key Vault's documented rules.

The state is a SQLite file (`sandbox.entra_file`), each change saved in one transaction, so it
outlives the process. `sandbox.entra` serves it over HTTPS.
"""

from __future__ import annotations

import re
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from sandbox import graph_objects
from sandbox.entra_file import EntraFile
from sandbox.loopback import ApiError

SOFT_DELETE_RETENTION_DAYS: Final = 90
# Where an application's federated identity credentials are kept in its row, and how many it
# may have (learn.microsoft.com/graph/api/application-post-federatedidentitycredentials).
FEDERATED: Final = "federatedIdentityCredentials"
MAX_FEDERATED_CREDENTIALS: Final = 20
# The ARM ID of a vault secret, as azure-native names it.
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
