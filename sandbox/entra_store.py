"""The local Entra ID's and Key Vault's state: the directory (applications, service principals,
owners, passwords, federated identity credentials, Agent ID sponsors, app roles and their
assignments, grants), the vaults and their secrets, and a journal of every credential and vault
change, each with Graph's and Key Vault's documented rules.

The state is a SQLite file (`sandbox.entra_file`), each change saved in one transaction, so it
outlives the process. `sandbox.entra` serves it over HTTPS.
"""

from __future__ import annotations

import base64
import re
import secrets
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any, Final

from sandbox import graph_objects
from sandbox.loopback import ApiError
from sandbox.store_base import now_iso
from sandbox.vault_store import VaultRecords

# Where an application's federated identity credentials are kept in its row, and how many it
# may have (learn.microsoft.com/graph/api/application-post-federatedidentitycredentials).
FEDERATED: Final = "federatedIdentityCredentials"
# Where a resource service principal's app role assignments are kept in its row.
ASSIGNED_TO: Final = "appRoleAssignedTo"
MAX_FEDERATED_CREDENTIALS: Final = 20
# Microsoft Entra Agent ID limits for app-only callers (learn.microsoft.com/entra/agent-id/faq) and
# on sponsors (learn.microsoft.com/graph/api/agentidentityblueprint-post-sponsors).
MAX_BLUEPRINTS: Final = 250
MAX_AGENT_IDENTITIES_PER_BLUEPRINT: Final = 250
MAX_SPONSORS: Final = 100
MAX_GROUP_SPONSORS: Final = 5
# A sponsor's reference, as the create examples bind it: `https://graph.microsoft.com/v1.0/users/
# {id}` (agentidentityblueprint-post), `.../groups/{id}` (agentidentity-post), or the generic
# `.../directoryObjects/{id}`.
_SPONSOR_REF: Final = re.compile(
    r"^https://graph\.microsoft\.com/v1\.0/(users|groups|directoryObjects)/([0-9A-Fa-f-]{36})$"
)


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


class EntraStore(VaultRecords):
    """Directory objects, vaults and their secrets, persisted to `path` after every change
    (`sandbox.entra_file`)."""

    def __init__(
        self,
        path: Path,
        secret_text: Callable[[], str] = entra_secret_text,
    ) -> None:
        super().__init__(path, secret_text)

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

    # -- Graph: applications and service principals ------------------------------------------------

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
        with self._lock:
            app = self._add_application(body, caller, {})
            self._record("createApplication", appId=app["appId"], displayName=app["displayName"])
            self.save()
            return app

    def _add_application(
        self, body: dict[str, Any], caller: Principal, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A new application row from `body` (the caller saves), with `extra` properties (an
        agent identity blueprint's type, sponsors and uniqueName)."""
        if not body.get("displayName"):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                "Property displayName is required.",
            )
        shaped = _shaped(graph_objects.new_application, body)
        shaped["appRoles"] = _checked_app_roles([], shaped["appRoles"], set())
        _check_role_values_apart(shaped["appRoles"], shaped["api"])
        object_id = str(uuid.uuid4())
        app = {
            **shaped,
            "id": object_id,
            "appId": str(uuid.uuid4()),
            "createdDateTime": now_iso(),
            "publisherDomain": "sandbox.onmicrosoft.com",
            "passwordCredentials": [],
            "owners": _bound_owners(body, caller),
            **extra,
        }
        self._collection("applications")[object_id] = app
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
        """Create servicePrincipal. "This API can also create an agentIdentityBlueprintPrincipal
        object from an agentIdentityBlueprint when the @odata.type property is set to
        #microsoft.graph.agentIdentityBlueprintPrincipal." (learn.microsoft.com/graph/api/
        serviceprincipal-post-serviceprincipals). What Graph does with a blueprint's appId and no
        @odata.type is not documented: the emulator refuses it (the strict answer)."""
        odata_type = body.get(graph_objects.ODATA_TYPE) if isinstance(body, dict) else None
        if odata_type == f"#{graph_objects.BLUEPRINT_PRINCIPAL}":
            rest = {k: v for k, v in body.items() if k != graph_objects.ODATA_TYPE}
            return self.create_blueprint_principal(rest, caller)
        with self._lock:
            app = self._principal_app(body)
            if _is(app, graph_objects.BLUEPRINT):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "The application is an agent identity blueprint: create its service principal "
                    f"with POST /servicePrincipals/{graph_objects.BLUEPRINT_PRINCIPAL}.",
                )
            sp = self._add_service_principal(app, body, caller, {})
            self.save()
            return sp

    def _principal_app(self, body: dict[str, Any]) -> dict[str, Any]:
        """The application whose appId `body` names, which has no service principal yet."""
        app_id = str(body.get("appId", "")).lower()
        apps = [a for a in self._collection("applications").values() if a["appId"] == app_id]
        if not apps:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                "The appId of the service principal does not reference a valid application object.",
            )
        if any(sp.get("appId") == app_id for sp in self._collection("servicePrincipals").values()):
            # Graph refuses a second service principal for one application; the exact code
            # is this emulator's own (the documentation does not give it).
            raise ApiError(
                HTTPStatus.CONFLICT,
                "Request_MultipleObjectsWithSameKeyValue",
                "The service principal cannot be created, updated, or restored because the "
                "service principal name is already in use.",
            )
        found: dict[str, Any] = apps[0]
        return found

    def _add_service_principal(
        self, app: dict[str, Any], body: dict[str, Any], caller: Principal, extra: dict[str, Any]
    ) -> dict[str, Any]:
        """A new service principal row of `app` (the caller saves)."""
        object_id = str(uuid.uuid4())
        sp = {
            **_shaped(graph_objects.new_service_principal, body),
            "id": object_id,
            "appId": app["appId"],
            "appOwnerOrganizationId": self.data["deployer"]["tenantId"]
            if self.data["deployer"]
            else "",
            "displayName": app["displayName"],
            "servicePrincipalNames": [app["appId"]],
            "servicePrincipalType": "Application",
            "signInAudience": app.get("signInAudience", "AzureADMyOrg"),
            "owners": _bound_owners(body, caller),
            **extra,
        }
        self._collection("servicePrincipals")[object_id] = sp
        return sp

    def update_object(self, kind: str, object_id: str, body: dict[str, Any]) -> None:
        with self._lock:
            obj = self.get_object(kind, object_id)
            writable = (
                graph_objects.APPLICATION_WRITABLE
                if kind == "applications"
                else graph_objects.SERVICE_PRINCIPAL_WRITABLE - {"appId"}
            )
            if _is(obj, graph_objects.BLUEPRINT):
                _refuse_incompatible(body, writable, graph_objects.BLUEPRINT_WRITABLE)
                writable = graph_objects.BLUEPRINT_WRITABLE
            elif _is(obj, graph_objects.AGENT_IDENTITY):
                _refuse_incompatible(body, writable, graph_objects.AGENT_IDENTITY_WRITABLE)
                writable = graph_objects.AGENT_IDENTITY_WRITABLE
            _shaped(lambda b: graph_objects.refuse_unknown(b, writable), body)
            if "accountEnabled" in body and not isinstance(body["accountEnabled"], bool):
                # accountEnabled is a Boolean (servicePrincipal and agentIdentity property
                # tables); the wording of Graph's refusal of another type is the emulator's.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "Property 'accountEnabled' must be a Boolean.",
                )
            if kind == "applications":
                body = self._check_application_patch(obj, body)
            graph_objects.patch(obj, body, writable)
            if kind == "applications" and "displayName" in body:
                for sp in self._collection("servicePrincipals").values():
                    if sp.get("appId") == obj["appId"]:
                        sp["displayName"] = body["displayName"]
            if kind == "applications" and "appRoles" in body:
                self._record(
                    "updateAppRoles",
                    appId=obj["appId"],
                    enabled=[r["id"] for r in obj["appRoles"] if r["isEnabled"]],
                    disabled=[r["id"] for r in obj["appRoles"] if not r["isEnabled"]],
                )
            self.save()

    def _check_application_patch(self, app: dict[str, Any], body: dict[str, Any]) -> dict[str, Any]:
        """Graph's rules for an application's API settings and app roles (the application,
        apiApplication, permissionScope and appRole resource types of Graph v1.0); the error
        codes are this emulator's where the reference gives none. The body to apply: its
        `appRoles`, when given, in the shape Graph keeps."""
        roles = app.get("appRoles") or []
        if "appRoles" in body:
            roles = _checked_app_roles(roles, body["appRoles"], self._assigned_role_ids(app))
            body = {**body, "appRoles": roles}
        if "appRoles" in body or isinstance(body.get("api"), dict):
            given_api = body.get("api")
            merged = {
                **(app.get("api") or {}),
                **(given_api if isinstance(given_api, dict) else {}),
            }
            _check_role_values_apart(roles, merged)
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
            return body
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
        return body

    def delete_object(self, kind: str, object_id: str) -> None:
        """Deleting an application also deletes its service principal in its home tenant
        (learn.microsoft.com/entra/identity-platform/howto-remove-app). Graph keeps deleted
        applications for 30 days as deleted items; the emulator does not keep them. A deleted
        service principal's app role assignments go with it, as its resource and as its
        principal (an assignment is "a relationship between the assigned principal ... [and] a
        resource application", approleassignment resource; what Graph does with them when the
        service principal is restored from deleted items is not emulated)."""
        with self._lock:
            obj = self.get_object(kind, object_id)
            del self._collection(kind)[obj["id"]]
            if kind == "servicePrincipals":
                self._drop_assignments_of(obj)
            if kind == "applications":
                sps = self._collection("servicePrincipals")
                for sp_id in [k for k, sp in sps.items() if sp.get("appId") == obj["appId"]]:
                    self._drop_assignments_of(sps.pop(sp_id))
            if graph_objects.ODATA_TYPE in obj:
                # Agent ID objects only: the journal of other deletes stays as it was. Deleting
                # a blueprint leaves its agent identities (Entra deletes them by an asynchronous
                # cascade, learn.microsoft.com/entra/agent-id/cascade-deletion-agent-identities;
                # not emulated).
                kind_name = obj[graph_objects.ODATA_TYPE].rsplit(".", 1)[-1]
                self._record(
                    f"delete{kind_name[0].upper()}{kind_name[1:]}",
                    id=obj["id"],
                    appId=obj.get("appId"),
                    displayName=obj.get("displayName"),
                )
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

    # -- Graph: Microsoft Entra Agent ID -----------------------------------------------------------
    #
    # Agent identity blueprints are application rows, blueprint principals and agent identities
    # servicePrincipal rows, each with its `@odata.type`, so that reads, owners, deletes and the
    # file keep working on them. Sponsors are kept in the row and, like owners, shown only through
    # their navigation property.
    #
    # Real Graph is eventually consistent here: "When creating agent identity objects in quick
    # succession using Microsoft Graph APIs, requests might fail with errors like `400 Bad Request:
    # Object with id {id} not found`" (learn.microsoft.com/entra/agent-id/faq, "Why do sequential
    # Microsoft Graph API requests sometimes fail when creating agent identity objects?"). The
    # emulator is consistent at once and does not emulate that delay: a stack must still retry.
    #
    # "If the client has been granted the delegated permission Directory.AccessAsUser.All, that
    # permission overrides other delegated permissions" and creating or modifying agent identities
    # fails with 403 (same FAQ). The emulator issues app-only tokens only, so it never sees one.

    def create_blueprint(
        self, body: Any, caller: Principal, unique_name: str | None = None
    ) -> dict[str, Any]:
        """Create agentIdentityBlueprint (learn.microsoft.com/graph/api/agentidentityblueprint-
        post): "You must specify the displayName property and sponsors relationship." A
        blueprint made by the upsert carries its `unique_name`."""
        body = _object_body(body)
        with self._lock:
            _refuse_incompatible(
                body, graph_objects.APPLICATION_WRITABLE, graph_objects.BLUEPRINT_WRITABLE
            )
            if not body.get("displayName"):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "Property displayName is required.",
                )
            sponsors = self._bound_sponsors(body, "agent identity blueprint")
            blueprints = [
                a
                for a in self._collection("applications").values()
                if _is(a, graph_objects.BLUEPRINT)
            ]
            if len(blueprints) >= MAX_BLUEPRINTS:
                # "Non-Microsoft platforms using app-only permissions are limited to 250 active
                # agent identity blueprints per tenant" (learn.microsoft.com/entra/agent-id/faq,
                # "Are there limits on the number of agent identity blueprints per tenant?"); the
                # code is the error-codes page's. Its HTTP status is not documented: 400 here.
                # Every caller of the emulator is app-only, so the limit always applies.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "AgentBlueprint_LimitExceeded",
                    "You've reached the maximum number of agent identity blueprints allowed "
                    "including active and soft-deleted items. To create more, you must "
                    "permanently delete unneeded blueprints.",
                )
            rest = {k: v for k, v in body.items() if k != "sponsors@odata.bind"}
            app = self._add_application(
                rest,
                caller,
                {
                    graph_objects.ODATA_TYPE: f"#{graph_objects.BLUEPRINT}",
                    "uniqueName": unique_name,
                    "sponsors": sponsors,
                },
            )
            self._record(
                "createAgentIdentityBlueprint",
                appId=app["appId"],
                displayName=app["displayName"],
                uniqueName=unique_name,
                sponsors=[s["id"] for s in sponsors],
            )
            self.save()
            return app

    def upsert_blueprint(
        self, unique_name: str, body: Any, caller: Principal, create_if_missing: bool
    ) -> dict[str, Any] | None:
        """Upsert agentIdentityBlueprint (learn.microsoft.com/graph/api/agentidentityblueprint-
        upsert): the new blueprint when none has `unique_name` and `Prefer: create-if-missing`
        was sent ("this method returns a 201 Created"), None after updating the existing one
        ("updates the object and returns a 204 No Content"); without the header a missing one is
        "404 Not Found". The page's example creates one without sponsors, while Create says the
        sponsors relationship must be specified: the emulator asks for sponsors here too (the
        strict answer). An application with that uniqueName that is not a blueprint is refused
        (Graph's answer is not documented; the code is the emulator's)."""
        with self._lock:
            found = self.list_objects("applications", "uniqueName", unique_name)
            if not found:
                if not create_if_missing:
                    raise ApiError(
                        HTTPStatus.NOT_FOUND,
                        "Request_ResourceNotFound",
                        f"Resource '{unique_name}' does not exist or one of its queried "
                        "reference-property objects are not present.",
                    )
                return self.create_blueprint(body, caller, unique_name)
            if not _is(found[0], graph_objects.BLUEPRINT):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    f"The application with uniqueName '{unique_name}' is not an agent identity "
                    "blueprint.",
                )
            self.update_blueprint(found[0]["id"], body)
            return None

    def update_blueprint(self, object_id: str, body: Any) -> None:
        """PATCH through the blueprint type cast: the object must be a blueprint."""
        with self._lock:
            self.typed_object("applications", object_id, graph_objects.BLUEPRINT)
            self.update_object("applications", object_id, _object_body(body))

    def create_blueprint_principal(self, body: Any, caller: Principal) -> dict[str, Any]:
        """Create agentIdentityBlueprintPrincipal (learn.microsoft.com/graph/api/
        agentidentityblueprintprincipal-post): "The request body must contain appId of the
        agentIdentityBlueprint object." One per blueprint, as for any application (the second
        is refused as a second service principal of an application is)."""
        body = _object_body(body)
        with self._lock:
            app = self._principal_app(body)
            if not _is(app, graph_objects.BLUEPRINT):
                # AgentBlueprintPrincipal_requireAgentBlueprint: "Agent identity blueprint
                # principals can only be created for Agent Blueprints." (error-codes page; the
                # HTTP status is not documented: 400 here).
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "AgentBlueprintPrincipal_requireAgentBlueprint",
                    "Agent identity blueprint principals can only be created for Agent Blueprints.",
                )
            sp = self._add_service_principal(
                app,
                body,
                caller,
                {graph_objects.ODATA_TYPE: f"#{graph_objects.BLUEPRINT_PRINCIPAL}"},
            )
            self._record("createAgentIdentityBlueprintPrincipal", id=sp["id"], appId=sp["appId"])
            self.save()
            return sp

    def create_agent_identity(self, body: Any, caller: Principal) -> dict[str, Any]:
        """Create agentIdentity (learn.microsoft.com/graph/api/agentidentity-post): "The request
        body must contain displayName, agentIdentityBlueprintAppId, and a valid sponsor
        reference." The page's example and the agentIdentity resource name the property
        `agentIdentityBlueprintId` ("The appId of the agent identity blueprint"): that name is
        the one accepted. An agent identity is a service principal without an application: "It
        doesn't have credentials on its own" (learn.microsoft.com/entra/agent-id/agent-
        identities)."""
        body = _object_body(body)
        allowed = graph_objects.AGENT_IDENTITY_WRITABLE | {"agentIdentityBlueprintId"}
        with self._lock:
            _refuse_incompatible(
                body,
                graph_objects.SERVICE_PRINCIPAL_WRITABLE
                | {"passwordCredentials", "keyCredentials", "appId"},
                allowed,
            )
            _shaped(
                lambda b: graph_objects.refuse_unknown(b, allowed),
                {k: v for k, v in body.items() if k != "sponsors@odata.bind"},
            )
            for required in ("displayName", "agentIdentityBlueprintId"):
                if not body.get(required):
                    raise ApiError(
                        HTTPStatus.BAD_REQUEST,
                        "Request_BadRequest",
                        f"Property {required} is required.",
                    )
            sponsors = self._bound_sponsors(body, "agent identity")
            blueprint_id = str(body["agentIdentityBlueprintId"]).lower()
            apps = self.list_objects("applications", "appId", blueprint_id)
            if not apps:
                # A blueprint that does not exist: Graph's answer is not documented; this is
                # the emulator's, with the wording of a service principal's unknown appId.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    f"The agentIdentityBlueprintId '{blueprint_id}' does not reference a valid "
                    "agent identity blueprint.",
                )
            if not _is(apps[0], graph_objects.BLUEPRINT):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "AgentIdentity_IncompatibleParentType",
                    "The specified Application (AppId) isn't an Agent Blueprint. The "
                    "AgentIdentityBlueprintId must be set to the AppId of a valid agent identity "
                    "blueprint.",
                )
            principals = self.list_objects("servicePrincipals", "appId", blueprint_id)
            if not any(_is(sp, graph_objects.BLUEPRINT_PRINCIPAL) for sp in principals):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "AgentIdentity_AgentBlueprintPrincipalDoesNotExist",
                    "The required agent identity blueprint principal doesn't exist for the "
                    "specified agent identity blueprint ID.",
                )
            siblings = [
                sp
                for sp in self._collection("servicePrincipals").values()
                if _is(sp, graph_objects.AGENT_IDENTITY)
                and sp.get("agentIdentityBlueprintId") == blueprint_id
            ]
            if len(siblings) >= MAX_AGENT_IDENTITIES_PER_BLUEPRINT:
                # "each of those blueprints is limited to 250 active agent identities" for
                # app-only callers (learn.microsoft.com/entra/agent-id/faq); the code is the
                # error-codes page's, the HTTP status (not documented) the emulator's.
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "AgentIdentity_LimitExceeded",
                    "You've reached the maximum number of agent identities allowed including "
                    "active and soft-deleted entries. To add more, you must permanently delete "
                    "unneeded agent identities.",
                )
            object_id = str(uuid.uuid4())
            # The agentIdentity resource's JSON representation: no appId (an agent identity has
            # no application), servicePrincipalType "Set to ServiceIdentity for all agent
            # identities", tags "Not nullable".
            agent = {
                graph_objects.ODATA_TYPE: f"#{graph_objects.AGENT_IDENTITY}",
                "id": object_id,
                "accountEnabled": body.get("accountEnabled", True),
                "agentIdentityBlueprintId": blueprint_id,
                "createdByAppId": caller.client_id,
                "createdDateTime": now_iso(),
                "disabledByMicrosoftStatus": None,
                "displayName": body["displayName"],
                "servicePrincipalType": "ServiceIdentity",
                "tags": list(body.get("tags") or []),
                "owners": _bound_owners(body, caller),
                "sponsors": sponsors,
            }
            self._collection("servicePrincipals")[object_id] = agent
            self._record(
                "createAgentIdentity",
                id=object_id,
                agentIdentityBlueprintId=blueprint_id,
                displayName=agent["displayName"],
                sponsors=[s["id"] for s in sponsors],
            )
            self.save()
            return agent

    def typed_object(self, kind: str, object_id: str, cast: str) -> dict[str, Any]:
        """The object, when it is of the type `cast` names; 404 otherwise (a type cast to a
        type the object is not finds nothing)."""
        obj = self.get_object(kind, object_id)
        if not _is(obj, cast):
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "Request_ResourceNotFound",
                f"Resource '{object_id}' does not exist or one of its queried reference-"
                "property objects are not present.",
            )
        return obj

    def sponsors(self, kind: str, object_id: str) -> list[dict[str, Any]]:
        """List sponsors (learn.microsoft.com/graph/api/agentidentityblueprint-list-sponsors and
        agentidentity-list-sponsors): directoryObjects. An object without the relationship is
        refused as Graph refuses an unknown navigation property."""
        with self._lock:
            obj = self.get_object(kind, object_id)
            if "sponsors" not in obj and not _is(obj, graph_objects.BLUEPRINT_PRINCIPAL):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "Could not find a property named 'sponsors' on type "
                    f"'{str(obj.get(graph_objects.ODATA_TYPE) or kind).lstrip('#')}'.",
                )
            return [dict(s) for s in obj.get("sponsors", [])]

    def _bound_sponsors(self, body: dict[str, Any], what: str) -> list[dict[str, Any]]:
        """`sponsors@odata.bind`: users or groups, at least one. "Sponsors can include users or
        groups. Sponsors may not include service principals or agent users. A single blueprint
        may have up to 100 sponsors. No more than 5 sponsors may be groups." (learn.microsoft.com/
        graph/api/agentidentityblueprint-post-sponsors; the same for an agent identity,
        agentidentity-post-sponsors). A `directoryObjects/{id}` reference is taken to be a user
        unless it is a service principal the tenant knows. The codes are the emulator's (Graph's
        are not documented)."""
        bound = body.get("sponsors@odata.bind")
        if not isinstance(bound, list) or not bound:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                f"An {what} needs at least one sponsor: give sponsors@odata.bind.",
            )
        sponsors: list[dict[str, Any]] = []
        for ref in bound:
            sponsor = self._sponsor_of(ref, "sponsors@odata.bind")
            if all(s["id"] != sponsor["id"] for s in sponsors):
                sponsors.append(sponsor)
        _check_sponsor_limits(sponsors, what)
        return sponsors

    def _sponsor_of(self, ref: Any, where: str) -> dict[str, Any]:
        """The sponsor a reference names: a user or a group (a `directoryObjects/{id}` one is a
        user unless it is a service principal the tenant knows)."""
        match = _SPONSOR_REF.match(str(ref))
        if not isinstance(ref, str) or match is None:
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                f"Invalid {where} reference: {ref!r}; sponsors are "
                "https://graph.microsoft.com/v1.0/users/{id} or .../groups/{id}.",
            )
        segment, sponsor_id = match.group(1), match.group(2).lower()
        odata_type = {
            "users": "#microsoft.graph.user",
            "groups": "#microsoft.graph.group",
        }.get(segment) or self.object_type(sponsor_id)
        if odata_type not in ("#microsoft.graph.user", "#microsoft.graph.group"):
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                f"Sponsor '{sponsor_id}' is a service principal; sponsors may be users or "
                "groups only.",
            )
        return {"@odata.type": odata_type, "id": sponsor_id}

    def add_sponsor(self, kind: str, object_id: str, cast: str, body: Any) -> None:
        """Add sponsors (learn.microsoft.com/graph/api/agentidentityblueprint-post-sponsors,
        agentidentity-post-sponsors, agentidentityblueprintprincipal-post-sponsors): `POST
        {kind}/{id}/{cast}/sponsors/$ref` with `{"@odata.id": ".../users/{id}"}` (or groups/,
        directoryObjects/), 204; the same rules as on create, up to 100 sponsors and 5 groups.
        A sponsor already there is refused as Graph refuses an existing reference (the owners'
        wording: "One or more added object references already exist for the following modified
        properties")."""
        body = _object_body(body)
        with self._lock:
            obj = self.typed_object(kind, object_id, cast)
            sponsor = self._sponsor_of(body.get("@odata.id"), "@odata.id")
            sponsors: list[dict[str, Any]] = obj.get("sponsors", [])
            if any(s["id"] == sponsor["id"] for s in sponsors):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "One or more added object references already exist for the following "
                    "modified properties: 'sponsors'.",
                )
            _check_sponsor_limits([*sponsors, sponsor], _kind_name(obj))
            obj["sponsors"] = [*sponsors, sponsor]
            self._record(
                "addSponsor",
                id=obj["id"],
                type=cast,
                sponsorId=sponsor["id"],
                sponsors=len(obj["sponsors"]),
            )
            self.save()

    def remove_sponsor(self, kind: str, object_id: str, cast: str, sponsor_id: str) -> None:
        """Remove sponsors (agentidentityblueprint-delete-sponsors, agentidentity-delete-
        sponsors, agentidentityblueprintprincipal-delete-sponsors): `DELETE {kind}/{id}/{cast}/
        sponsors/{sponsorId}/$ref`, 204; 404 when that sponsor is not one. The last sponsor of
        an agent identity is refused: "Agent identities require at least one sponsor to manage
        the agent identity." (agentidentity-delete-sponsors; Graph's answer is not documented).
        Whether a blueprint's last sponsor may go is not documented either: a blueprint needs
        one to be created (agentidentityblueprint-post), and the emulator refuses its removal
        too (its own choice, the strict one). A blueprint principal is created without sponsors,
        so it may return to none."""
        with self._lock:
            obj = self.typed_object(kind, object_id, cast)
            sponsors: list[dict[str, Any]] = obj.get("sponsors", [])
            wanted = sponsor_id.lower()
            if all(s["id"] != wanted for s in sponsors):
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{sponsor_id}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            if len(sponsors) == 1 and not _is(obj, graph_objects.BLUEPRINT_PRINCIPAL):
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    f"An {_kind_name(obj)} requires at least one sponsor: add another sponsor "
                    "before removing the last one.",
                )
            obj["sponsors"] = [s for s in sponsors if s["id"] != wanted]
            self._record(
                "removeSponsor",
                id=obj["id"],
                type=cast,
                sponsorId=wanted,
                sponsors=len(obj["sponsors"]),
            )
            self.save()

    # -- Graph: app role assignments ---------------------------------------------------------------
    #
    # An assignment is kept in its resource service principal's row (`appRoleAssignedTo`) and
    # shown from both sides: `servicePrincipals/{resource}/appRoleAssignedTo` and
    # `servicePrincipals/{principal}/appRoleAssignments` (learn.microsoft.com/graph/api/
    # resources/approleassignment). Deleting either service principal deletes its assignments.
    # Users and groups are not kept by the emulator, so only service principals (agent
    # identities included) can be assigned.

    def _resource_roles(self, resource: dict[str, Any]) -> list[dict[str, Any]] | None:
        """The app roles a resource service principal exposes: its application's ("The roles
        exposed by the agent identity blueprint, which this agent identity blueprint principal
        represents", agentidentityblueprintprincipal resource); None without an application
        (an agent identity)."""
        app_id = resource.get("appId")
        apps = self.list_objects("applications", "appId", app_id) if app_id else []
        if not apps:
            return None
        roles: list[dict[str, Any]] = apps[0].get("appRoles") or []
        return roles

    def _assigned_role_ids(self, app: dict[str, Any]) -> set[str]:
        return {
            str(a["appRoleId"])
            for sp in self._collection("servicePrincipals").values()
            if sp.get("appId") == app["appId"]
            for a in sp.get(ASSIGNED_TO, [])
        }

    def assign_app_role(self, resource_id: str, body: Any) -> dict[str, Any]:
        """Grant an appRoleAssignment for a service principal (learn.microsoft.com/graph/api/
        serviceprincipal-post-approleassignedto): `principalId`, `resourceId` (the resource
        service principal, "In this example, {id} and {resourceId-value} would both be the id
        of the resource service principal") and `appRoleId`, each "Required on create"
        (approleassignment resource); the other properties are read-only. The app role "must be
        exposed in the appRoles property on the resource application's service principal", or
        be the default 00000000-... when the application declares none (same page). Refused with
        Graph's wording as public scripts report it (not documented): an unknown role ("Permission
        being assigned was not found on application.") and a repeated assignment of the same
        role to the same principal ("Permission being assigned already exists on the object.",
        400 Request_BadRequest). Refused with the emulator's wording (Graph's answers are not
        documented): a resourceId other than the path's, a principal the tenant does not have as
        a service principal, a disabled role, and a role whose allowedMemberTypes lack
        "Application" for a service principal ("App roles supporting assignment to other
        applications' service principals are also known as application permissions", approle
        resource)."""
        body = _object_body(body)
        with self._lock:
            resource = self.get_object("servicePrincipals", resource_id)
            given = _assignment_body(body)
            if given["resourceId"] != resource["id"]:
                raise _role_refusal(
                    f"resourceId {given['resourceId']} must be the id of the service principal "
                    f"addressed, {resource['id']}."
                )
            principal = self._collection("servicePrincipals").get(given["principalId"])
            if principal is None:
                raise _role_refusal(
                    f"Resource '{given['principalId']}' does not exist or one of its queried "
                    "reference-property objects are not present (the emulator keeps service "
                    "principals only, not users or groups)."
                )
            self._check_assignable(resource, given["appRoleId"])
            assigned: list[dict[str, Any]] = resource.setdefault(ASSIGNED_TO, [])
            if any(
                (a["principalId"], a["appRoleId"]) == (given["principalId"], given["appRoleId"])
                for a in assigned
            ):
                raise _role_refusal("Permission being assigned already exists on the object.")
            assignment = {
                "id": assignment_id(given["principalId"]),
                "deletedDateTime": None,
                "appRoleId": given["appRoleId"],
                "createdDateTime": now_iso(),
                "principalDisplayName": principal.get("displayName"),
                "principalId": given["principalId"],
                "principalType": "ServicePrincipal",
                "resourceDisplayName": resource.get("displayName"),
                "resourceId": resource["id"],
            }
            assigned.append(assignment)
            self._record(
                "addAppRoleAssignment",
                id=assignment["id"],
                resourceId=resource["id"],
                principalId=assignment["principalId"],
                appRoleId=assignment["appRoleId"],
            )
            self.save()
            return dict(assignment)

    def _check_assignable(self, resource: dict[str, Any], role_id: str) -> None:
        roles = self._resource_roles(resource)
        if role_id == DEFAULT_ACCESS_ROLE and roles == []:
            return
        role = next((r for r in roles or [] if r["id"] == role_id), None)
        if role is None:
            raise _role_refusal("Permission being assigned was not found on application.")
        if not role["isEnabled"]:
            raise _role_refusal(f"App role {role_id} is disabled and cannot be assigned.")
        if "Application" not in role["allowedMemberTypes"]:
            raise _role_refusal(
                f"App role {role_id} does not allow member type 'Application': it cannot be "
                "assigned to a service principal."
            )

    def app_role_assigned_to(self, resource_id: str) -> list[dict[str, Any]]:
        """List appRoleAssignedTo (serviceprincipal-list-approleassignedto): the assignments
        of the resource service principal's roles, oldest first."""
        with self._lock:
            resource = self.get_object("servicePrincipals", resource_id)
            return [dict(a) for a in resource.get(ASSIGNED_TO, [])]

    def app_role_assignments_of(self, principal_id: str) -> list[dict[str, Any]]:
        """List appRoleAssignments (serviceprincipal-list-approleassignments): the same
        assignments seen from the assigned service principal."""
        wanted = principal_id.lower()
        with self._lock:
            return [
                dict(a)
                for sp in self._collection("servicePrincipals").values()
                for a in sp.get(ASSIGNED_TO, [])
                if a["principalId"] == wanted
            ]

    def remove_app_role_assignment(self, resource_id: str, assignment_key: str) -> None:
        """Delete appRoleAssignedTo (serviceprincipal-delete-approleassignedto): 204; 404 when
        the resource has no assignment of that id (ids compare exactly: they are base64url)."""
        with self._lock:
            resource = self.get_object("servicePrincipals", resource_id)
            assigned: list[dict[str, Any]] = resource.get(ASSIGNED_TO, [])
            found = next((a for a in assigned if a["id"] == assignment_key), None)
            if found is None:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{assignment_key}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            assigned.remove(found)
            self._record(
                "removeAppRoleAssignment",
                id=found["id"],
                resourceId=found["resourceId"],
                principalId=found["principalId"],
                appRoleId=found["appRoleId"],
                cause="deleted",
            )
            self.save()

    def _drop_assignments_of(self, deleted: dict[str, Any]) -> None:
        """A deleted service principal's assignments, from both sides (the caller saves)."""
        gone = [(deleted, a) for a in deleted.get(ASSIGNED_TO, [])]
        for sp in self._collection("servicePrincipals").values():
            assigned = sp.get(ASSIGNED_TO, [])
            mine = [a for a in assigned if a["principalId"] == deleted["id"]]
            if mine:
                sp[ASSIGNED_TO] = [a for a in assigned if a not in mine]
                gone += [(sp, a) for a in mine]
        for _, found in gone:
            self._record(
                "removeAppRoleAssignment",
                id=found["id"],
                resourceId=found["resourceId"],
                principalId=found["principalId"],
                appRoleId=found["appRoleId"],
                cause=f"servicePrincipal {deleted['id']} deleted",
            )

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


def _shaped(make: Callable[[dict[str, Any]], Any], body: dict[str, Any]) -> Any:
    """`make(body)`, with Graph's refusal of an unknown or read-only property as an API error."""
    try:
        return make(body)
    except graph_objects.GraphShapeError as exc:
        raise ApiError(exc.status, exc.code, exc.message) from None


def _is(obj: dict[str, Any], cast: str) -> bool:
    """Whether a row is of the Agent ID type `cast` (its `@odata.type`)."""
    return bool(obj.get(graph_objects.ODATA_TYPE) == f"#{cast}")


def _object_body(body: Any) -> dict[str, Any]:
    if not isinstance(body, dict):
        raise ApiError(
            HTTPStatus.BAD_REQUEST, "Request_BadRequest", "The request body must be a JSON object."
        )
    return body


# The error-codes page's codes and wording for a property a kind of agent object does not take
# (learn.microsoft.com/entra/agent-id/identity-platform/error-codes).
_INCOMPATIBLE: Final = {
    graph_objects.BLUEPRINT_WRITABLE: (
        "AgentBlueprint_IncompatibleProperty",
        "A property specified in the request is incompatible with agent identity blueprints and "
        "can't be set",
    ),
}


def _refuse_incompatible(
    body: dict[str, Any], inherited: frozenset[str], writable: frozenset[str]
) -> None:
    """Refuses a property the base type takes (`inherited`) that the agent type does not."""
    code, message = _INCOMPATIBLE.get(
        writable,
        (
            "AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty",
            "A property specified in the request is incompatible with agent identity and can't "
            "be set",
        ),
    )
    for key in body:
        if key in inherited and key not in writable:
            raise ApiError(HTTPStatus.BAD_REQUEST, code, f"{message}: '{key}'.")


def _kind_name(obj: dict[str, Any]) -> str:
    """How a refusal names an Agent ID object: "agent identity blueprint", "agent identity"..."""
    name = str(obj.get(graph_objects.ODATA_TYPE) or "").rsplit(".", 1)[-1]
    return re.sub(r"(?<!^)([A-Z])", r" \1", name).lower() or "object"


def _check_sponsor_limits(sponsors: list[dict[str, Any]], what: str) -> None:
    """The limits: "A single blueprint may have up to 100 sponsors. No more than 5 sponsors may
    be groups." (agentidentityblueprint-post-sponsors; the same for an agent identity,
    agentidentity-post-sponsors). The codes are the emulator's (Graph's are not documented)."""
    if len(sponsors) > MAX_SPONSORS:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"An {what} may have up to {MAX_SPONSORS} sponsors.",
        )
    if sum(s["@odata.type"] == "#microsoft.graph.group" for s in sponsors) > MAX_GROUP_SPONSORS:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"No more than {MAX_GROUP_SPONSORS} sponsors of an {what} may be groups.",
        )


# The read-only properties of an appRoleAssignment (approleassignment resource).
_ASSIGNMENT_READ_ONLY: Final = frozenset(
    {
        "id",
        "createdDateTime",
        "creationTimestamp",
        "deletedDateTime",
        "principalDisplayName",
        "principalType",
        "resourceDisplayName",
    }
)


def _assignment_body(body: dict[str, Any]) -> dict[str, str]:
    """principalId, resourceId and appRoleId, GUIDs, lowercased; anything else refused as
    Graph refuses a read-only or undeclared property."""
    for key in body:
        if key in _ASSIGNMENT_READ_ONLY:
            raise _role_refusal(f"Property '{key}' is read-only and cannot be set.")
        if key not in ("principalId", "resourceId", "appRoleId"):
            raise _role_refusal(
                f"Property '{key}' does not exist as a declared property or extension property."
            )
    given: dict[str, str] = {}
    for key in ("principalId", "resourceId", "appRoleId"):
        value = body.get(key)
        if not isinstance(value, str) or not _GUID.match(value):
            raise _role_refusal(f"Property '{key}' is required and must be a GUID.")
        given[key] = value.lower()
    return given


def _bound_owners(body: dict[str, Any], caller: Principal) -> list[str]:
    """`owners@odata.bind` on create; without it Graph makes the calling identity the owner
    (learn.microsoft.com/graph/api/application-post-applications, for delegated and app calls)."""
    bound = body.get("owners@odata.bind")
    if not bound:
        return [caller.object_id]
    return [str(ref).rsplit("/", 1)[-1].lower() for ref in bound]


# App roles: the rules of Graph's appRole resource (learn.microsoft.com/graph/api/resources/
# approle), kept in an application's `appRoles` (a blueprint's too: agentidentityblueprint's
# property table lists appRoles) and replaced whole by a PATCH.
_APP_ROLE_WRITABLE: Final = frozenset(
    {"allowedMemberTypes", "description", "displayName", "id", "isEnabled", "value"}
)
# What a change of an enabled role is measured on (besides isEnabled): the fields
# terraform-provider-azuread's applicationAppRoleChanged compares before it disables a role.
_APP_ROLE_COMPARED: Final = ("allowedMemberTypes", "description", "displayName", "value")
# value: "Must not exceed 120 characters in length. Allowed characters are : ! # $ % & ' ( ) * +
# , - . / : ; < = > ? @ [ ] ^ + _ ` { | } ~, as well as characters in the ranges 0-9, A-Z and
# a-z. Any other character, including the space character, are not allowed." and, in the
# current page, it may not begin with '.'.
_APP_ROLE_VALUE: Final = re.compile(r"^(?!\.)[!#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~0-9A-Za-z]{1,120}$")
# allowedMemberTypes: `["User"]`, `["Application"]` or both (approle resource).
_MEMBER_TYPES: Final = frozenset({"User", "Application"})
# "If the resource application has not declared any app roles, a default app role ID of
# 00000000-0000-0000-0000-000000000000 can be specified" (appRoleAssignment resource, appRoleId).
DEFAULT_ACCESS_ROLE: Final = "00000000-0000-0000-0000-000000000000"
_GUID: Final = re.compile(r"^[0-9A-Fa-f]{8}-([0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}$")
# Graph's answer to a duplicate within appRoles: `DuplicateValue`, "Request contains a property
# with duplicate values." (reported from Graph in microsoftgraph/microsoft-graph-docs#21667 and
# hashicorp/terraform-provider-azuread#269; the status there is 400).
_DUPLICATE: Final = ("DuplicateValue", "Request contains a property with duplicate values.")


def _role_refusal(message: str, code: str = "Request_BadRequest") -> ApiError:
    return ApiError(HTTPStatus.BAD_REQUEST, code, message)


def _checked_app_roles(
    current: list[dict[str, Any]], given: Any, assigned: set[str]
) -> list[dict[str, Any]]:
    """The app roles a create or PATCH gives, checked against the approle resource and the
    roles the application holds (`current`), in the shape Graph keeps them (ids lowercased,
    isEnabled true unless given, origin "Application"). Refused:
    - `origin`: "Must not be included in any POST or PATCH requests. Read-only.";
    - a role without a GUID `id` ("When creating a new app role, a new Guid identifier must be
      provided") or repeating another's id or value (Graph's DuplicateValue; values compare
      ignoring case here, which Graph does not document: the strict choice);
    - `allowedMemberTypes` empty or other than User and Application (the wording for an empty
      one is Graph's, reported in microsoftgraph/msgraph-sdk-dotnet#2043);
    - a new role with isEnabled false ("When creating or updating an app role, this must be set
      to true (which is the default)"; Graph's answer is not documented: the emulator's);
    - an enabled role removed or changed: "To delete a role, this must first be set to false. At
      that point, in a subsequent call, this role may be removed." Graph answers
      CannotDeleteOrUpdateEnabledEntitlement, "Permission (scope or role) cannot be deleted or
      updated unless disabled first" (the message hashicorp/go-azure-sdk sdk/odata/errors.go
      matches; terraform-provider-azuread disables a changed role as well as a removed one).
      Disabling it is that change alone: the other fields as they were;
    - removing a role that is still assigned (`assigned`): what Graph does is not documented;
      the emulator refuses it (the strict choice) until its assignments are deleted."""
    if not isinstance(given, list):
        raise _role_refusal("Property 'appRoles' must be a collection of appRole.")
    old = {str(r["id"]).lower(): r for r in current}
    roles: list[dict[str, Any]] = []
    for item in given:
        roles.append(_checked_app_role(item, old))
    for field in ("id", "value"):
        seen = [str(r[field]).lower() for r in roles if r[field]]
        if len(seen) != len(set(seen)):
            raise ApiError(HTTPStatus.BAD_REQUEST, *_DUPLICATE)
    kept = {r["id"]: r for r in roles}
    for role_id, before in old.items():
        after = kept.get(role_id)
        if before["isEnabled"] and (
            after is None or any(before[f] != after[f] for f in _APP_ROLE_COMPARED)
        ):
            raise _role_refusal(
                "Permission (scope or role) cannot be deleted or updated unless disabled first.",
                "CannotDeleteOrUpdateEnabledEntitlement",
            )
        if after is None and role_id in assigned:
            raise _role_refusal(
                f"App role {role_id} is assigned: delete its app role assignments before "
                "removing it."
            )
    return roles


def _checked_app_role(item: Any, old: dict[str, dict[str, Any]]) -> dict[str, Any]:
    if not isinstance(item, dict):
        raise _role_refusal("Each item of 'appRoles' must be an appRole object.")
    for key, value in item.items():
        if key == "@odata.type" and str(value).lstrip("#") == "microsoft.graph.appRole":
            continue
        if key == "origin":
            raise _role_refusal("Property 'origin' is read-only and cannot be set.")
        if key not in _APP_ROLE_WRITABLE:
            raise _role_refusal(
                f"Property '{key}' does not exist as a declared property or extension property."
            )
    role_id = item.get("id")
    if not isinstance(role_id, str) or not _GUID.match(role_id):
        raise _role_refusal(f"App role id {role_id!r} must be a GUID.")
    role_id = role_id.lower()
    members = item.get("allowedMemberTypes")
    if not isinstance(members, list) or not members:
        raise _role_refusal(
            f"App role with identifier '{role_id}' must have at least one value specified for "
            "'allowedMemberTypes'."
        )
    if not set(members) <= _MEMBER_TYPES or len(set(members)) != len(members):
        raise _role_refusal(
            f"App role with identifier '{role_id}' has invalid allowedMemberTypes {members!r}: "
            "'User', 'Application' or both."
        )
    value = item.get("value")
    if value is not None and (not isinstance(value, str) or not _APP_ROLE_VALUE.match(value)):
        raise _role_refusal(
            f"App role value {value!r} is invalid: at most 120 of the allowed characters, not "
            "starting with '.'."
        )
    for key in ("description", "displayName"):
        if item.get(key) is not None and not isinstance(item[key], str):
            raise _role_refusal(f"Property '{key}' of an app role must be a string.")
    enabled = item.get("isEnabled", True)
    if not isinstance(enabled, bool):
        raise _role_refusal("Property 'isEnabled' of an app role must be a Boolean.")
    if not enabled and role_id not in old:
        raise _role_refusal(
            f"App role with identifier '{role_id}' is new: it must be created enabled."
        )
    return {
        "allowedMemberTypes": list(members),
        "description": item.get("description"),
        "displayName": item.get("displayName"),
        "id": role_id,
        "isEnabled": enabled,
        "origin": "Application",
        "value": value,
    }


def _check_role_values_apart(roles: list[dict[str, Any]], api: dict[str, Any]) -> None:
    """An app role's value may not be a delegated permission's value too: the portal refuses it
    ("It contains duplicate value", MicrosoftDocs/azure-docs#81899, where a scope and a role of
    the same id, value and descriptions are the one exception; the emulator does not make it,
    the strict choice)."""
    scopes = {
        str(s.get("value")).lower()
        for s in api.get("oauth2PermissionScopes") or []
        if isinstance(s, dict) and s.get("value")
    }
    if any(r["value"] and r["value"].lower() in scopes for r in roles):
        raise ApiError(HTTPStatus.BAD_REQUEST, *_DUPLICATE)


def assignment_id(principal_id: str) -> str:
    """An appRoleAssignment's id in Graph's shape: unpadded base64url of 32 bytes, the first 16
    the principal's object ID (little-endian GUID bytes), as the documented example's id
    `-WmtM5na7Uus0D8kI1yylpU9Mdo0Pb9OoBJvd3T5eKc` holds its principalId 33ad69f9-...
    (serviceprincipal-post-approleassignedto); the rest random. Case-sensitive."""
    raw = uuid.UUID(principal_id).bytes_le + secrets.token_bytes(16)
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


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
