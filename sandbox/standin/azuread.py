"""The azuread stand-in: Application, ServicePrincipal, ApplicationPassword, the application's
identifier URI, permission scope, pre-authorized clients and federated identity credentials, and
getClientConfig, against the Entra emulator's Graph, as terraform-provider-azuread does against
Graph."""

from __future__ import annotations

import abc
import base64
import os
import re
from collections.abc import Callable, Mapping
from http import HTTPStatus
from typing import Any

import httpx

from sandbox import azuread_schema, behaviours
from sandbox.graph_objects import GRAPH_DIRECTORY_OBJECT
from sandbox.standin import consistency, graph_state
from sandbox.standin.bridged import Bridged
from sandbox.standin.client import ENTRA_URL_VARIABLE, ApiCallError, EntraClient
from sandbox.standin.server import Change, Invoke, ProviderError, ResourceType, secret_if
from sandbox.standin.wire import UNKNOWN, Secret, has_unknown, plain

GRAPH = "/graph/v1.0"

_GRAPH_NOT_FOUND = (
    "unexpected status 404 (404 Not Found) with error: Request_ResourceNotFound: Resource "
    "'{id}' does not exist or one of its queried reference-property objects are not present."
)


def graph_list(client: EntraClient, operation: str, path: str) -> list[dict[str, Any]]:
    """Every item of a Graph list, page after page; fails on a next page elsewhere than the
    emulator, where the stand-in sends every request (same scheme, host and port)."""
    # Graph puts an absolute `@odata.nextLink` on every page but the last
    # (learn.microsoft.com/graph/paging); terraform-provider-azuread v3.9.0's list operations
    # follow it as given and join the pages (hashicorp/go-azure-sdk sdk/client/client.go,
    # ExecutePaged).
    base = os.environ[ENTRA_URL_VARIABLE]
    items: list[dict[str, Any]] = []
    url: str | None = path
    while url is not None:
        answer = client.call(operation, "GET", url)
        items.extend(answer["value"])
        url = answer.get("@odata.nextLink")
        if url is not None and _origin(url) != _origin(base):
            raise ProviderError(
                f"{operation}: Graph's next page {url!r} (@odata.nextLink) is not on {base}, "
                "where the request went; not following it"
            )
    return items


def _origin(url: str) -> tuple[str, str, int | None] | None:
    """Scheme, host and port (None for the scheme's default), or None for an invalid URL."""
    try:
        parsed = httpx.URL(url)
    except httpx.InvalidURL:
        return None
    return parsed.scheme, parsed.host, parsed.port


def _object_id(id_: str) -> str:
    return id_.rsplit("/", 1)[-1]


def _read_inputs(
    outputs: dict[str, Any], inputs: dict[str, Any], importable: list[str]
) -> dict[str, Any]:
    """The inputs a Read hands back: the known ones refreshed, or on an import (no inputs yet)
    the input properties that the directory object has, as the Terraform bridge derives them
    from the read state."""
    keys = list(inputs) or [key for key in importable if outputs.get(key) not in (None, "", [])]
    return {key: outputs.get(key) for key in keys}


class _Bridged(ResourceType):
    """A directory object whose whole state the stand-in keeps, with the bridge's Check, Diff,
    planned state and Read (`sandbox.standin.bridged`), and owners kept exactly as listed."""

    bridge: Bridged
    collection: str
    noun: str
    always_written: tuple[str, ...]
    written_on_change: tuple[str, ...]
    update_failure: str

    def check(self, news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        return self.bridge.check(news)

    def diff(
        self,
        state: dict[str, Any],
        old_inputs: dict[str, Any],
        news: dict[str, Any],
        ignore_changes: tuple[str, ...] = (),
    ) -> Change:
        plan = self.bridge.plan(state or old_inputs, news, ignore_changes)
        return Change(
            changed=plan.changed,
            replaces=plan.replaces,
            detailed=plan.detailed,
            planned=plan.planned,
        )

    def preview(self, inputs: dict[str, Any]) -> dict[str, Any]:
        self.plan_create(inputs)
        return {**inputs, **self.bridge.unknown_outputs()}

    def _sync_owners(self, object_id: str, wanted: list[str]) -> None:
        """Adds missing owners, then removes every owner not listed (owners added by hand too)."""
        path = f"{GRAPH}/{self.collection}/{object_id}/owners"
        current = {owner.lower() for owner in self._owners(object_id)}
        target = {owner.lower() for owner in wanted}
        for owner in sorted(target - current):
            self.client.call(
                "add owner", "POST", f"{path}/$ref", {"@odata.id": GRAPH_DIRECTORY_OBJECT + owner}
            )
        for owner in sorted(current - target):
            self.client.call("remove owner", "DELETE", f"{path}/{owner}/$ref")

    def _owners(self, object_id: str) -> list[str]:
        path = f"{GRAPH}/{self.collection}/{object_id}/owners"
        return sorted(o["id"] for o in graph_list(self.client, "list owners", path))

    @abc.abstractmethod
    def _state(self, found: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]: ...

    @abc.abstractmethod
    def _body(self, planned: dict[str, Any], attribute: str) -> dict[str, Any]: ...

    def _get(self, object_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.client.call(
            f"read {self.noun}",
            "GET",
            f"{GRAPH}/{self.collection}/{object_id}",
            missing_ok=True,
        )
        return found

    def _written(self, planned: dict[str, Any], attributes: list[str]) -> dict[str, Any]:
        body: dict[str, Any] = {}
        for attribute in attributes:
            for key, value in self._body(planned, attribute).items():
                if isinstance(value, dict) and isinstance(body.get(key), dict):
                    body[key] = {**body[key], **value}
                else:
                    body[key] = value
        return body

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        found = self._get(_object_id(id_))
        if found is None:
            return None
        outputs = self._state(found, state)
        return outputs, self.bridge.read_inputs(outputs, inputs)

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        """One PATCH with the attributes the provider always writes (from the plan) and those
        it writes when they changed; then owners, when they changed."""
        object_id = _object_id(id_)
        planned = {**change.planned, "owners": change.planned.get("owners")}
        attributes = [*self.always_written]
        attributes += [a for a in self.written_on_change if a in change.changed]
        body = self._written(planned, attributes)
        try:
            self.client.call(
                f"update {self.noun}", "PATCH", f"{GRAPH}/{self.collection}/{object_id}", body
            )
        except ApiCallError as exc:
            raise ProviderError(f"{self.update_failure.format(id=object_id)}: {exc}") from None
        if "owners" in change.changed:
            self._sync_owners(object_id, plain(planned.get("owners")) or [])
        found = self._get(object_id)
        if found is None:
            raise ProviderError(f"Retrieving {self.noun} {object_id}: not found after update")
        return self._state(found, {**state, **planned})

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        """No not-found handling (application_resource.go Delete, line 1737;
        service_principal_resource.go Delete, line 703): an object deleted by hand fails the run
        until a refresh drops it from the state."""
        object_id = _object_id(id_)
        try:
            self.client.call("delete", "DELETE", f"{GRAPH}/{self.collection}/{object_id}")
        except ApiCallError as exc:
            if exc.status == 404:
                raise ProviderError(self._delete_failure(object_id)) from None
            raise
        consistency.wait_until(
            lambda: self._get(object_id) is None, f"deletion of {self.noun} {object_id}"
        )

    @abc.abstractmethod
    def _delete_failure(self, object_id: str) -> str: ...


class Application(_Bridged):
    rules = behaviours.APPLICATION
    bridge = Bridged(azuread_schema.APPLICATION)
    collection = "applications"
    noun = "application"
    update_failure = 'Could not update application with object ID: "{id}"'  # line 1543
    # application_resource.go Update: the PATCH always carries these (lines 1487-1506, and
    # `api` at 1508/1540, its scopes only when they changed); the others only on HasChange.
    always_written = (
        "description",
        "displayName",
        "groupMembershipClaims",
        "marketingUrl",
        "privacyStatementUrl",
        "supportUrl",
        "termsOfServiceUrl",
        "deviceOnlyAuthEnabled",
        "fallbackPublicClientEnabled",
        "notes",
        "publicClient",
        "serviceManagementReference",
        "signInAudience",
        "singlePageApplication",
        "tags",
        "web",
        "api",
    )
    written_on_change = (
        "appRoles",
        "identifierUris",
        "optionalClaims",
        "requiredResourceAccesses",
        "oauth2PostResponseRequired",
    )

    def _state(self, found: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
        return graph_state.application_state(found, self._owners(found["id"]), kept)

    def _body(self, planned: dict[str, Any], attribute: str) -> dict[str, Any]:
        return graph_state.application_body(planned, attribute)

    def _delete_failure(self, object_id: str) -> str:
        return f'deleting Application (Application: "{object_id}"): ' + _GRAPH_NOT_FOUND.format(
            id=object_id
        )

    def _existing(self, display_name: str) -> list[dict[str, Any]]:
        escaped = display_name.replace("'", "''")
        return graph_list(
            self.client, "find by name", f"{GRAPH}/applications?$filter=displayName eq '{escaped}'"
        )

    def _refuse_duplicate(self, inputs: dict[str, Any], own_object_id: str | None) -> None:
        name = plain(inputs.get("displayName"))
        if not plain(inputs.get("preventDuplicateNames")) or not isinstance(name, str):
            return
        if name == UNKNOWN:
            return
        others = [a for a in self._existing(name) if a["id"] != own_object_id]
        if others:
            raise ProviderError(
                f"An existing Application with display name {name!r} (object ID "
                f"{others[0]['id']}) was found and `prevent_duplicate_names` was specified; "
                "to be managed by Pulumi it must be imported"
            )

    def plan_create(self, inputs: dict[str, Any]) -> None:
        self._refuse_duplicate(inputs, None)

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """POST with every attribute set (application_resource.go Create, lines 1138-1216),
        the caller as owner; then the listed owners, the caller removed unless listed."""
        self._refuse_duplicate(inputs, None)
        planned = plain(inputs)
        attributes = [a for a in (*self.always_written, *self.written_on_change) if a in planned]
        body = self._written(planned, attributes)
        created = self.client.call("create application", "POST", f"{GRAPH}/applications", body)
        self._sync_owners(created["id"], planned.get("owners") or [])
        found = self._get(created["id"]) or created
        return f"/applications/{created['id']}", self._state(found, planned)

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        if "displayName" in change.changed:
            self._refuse_duplicate(news, _object_id(id_))
        if not any(path.startswith("api.oauth2PermissionScopes") for path in change.detailed):
            # The scopes go only when they changed (application_resource.go line 1519).
            change.planned = {**change.planned, "api": _without_scopes(change.planned.get("api"))}
        return super().update(id_, state, news, change)


def _without_scopes(api: Any) -> Any:
    return (
        {k: v for k, v in api.items() if k != "oauth2PermissionScopes"}
        if isinstance(api, dict)
        else api
    )


class ServicePrincipal(_Bridged):
    rules = behaviours.SERVICE_PRINCIPAL
    bridge = Bridged(azuread_schema.SERVICE_PRINCIPAL)
    collection = "servicePrincipals"
    noun = "service principal"
    update_failure = 'Updating Service Principal (Service Principal: "{id}")'  # line 562
    # service_principal_resource.go Update, lines 548-563: one PATCH with all of these, always.
    always_written = (
        "alternativeNames",
        "accountEnabled",
        "appRoleAssignmentRequired",
        "description",
        "loginUrl",
        "notes",
        "notificationEmailAddresses",
        "preferredSingleSignOnMode",
        "samlSingleSignOn",
        "tags",
    )
    written_on_change = ()

    def _state(self, found: dict[str, Any], kept: dict[str, Any]) -> dict[str, Any]:
        return graph_state.service_principal_state(found, self._owners(found["id"]), kept)

    def _body(self, planned: dict[str, Any], attribute: str) -> dict[str, Any]:
        return graph_state.service_principal_body(planned, attribute)

    def _delete_failure(self, object_id: str) -> str:
        return (
            f'Deleting Service Principal (Service Principal: "{object_id}"): '
            + _GRAPH_NOT_FOUND.format(id=object_id)
        )

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Refuses a client ID that has a service principal unless `useExisting`, then POSTs
        every attribute (service_principal_resource.go Create, lines 374-484)."""
        planned = plain(inputs)
        client_id = str(planned["clientId"])
        existing = graph_list(
            self.client,
            "find service principal",
            f"{GRAPH}/servicePrincipals?$filter=appId eq '{client_id}'",
        )
        if existing and not planned.get("useExisting"):
            raise ProviderError(
                f'A resource with the ID "/servicePrincipals/{existing[0]["id"]}" already '
                "exists - to be managed via Terraform this resource needs to be imported into "
                'the State. Please see the resource documentation for "azuread_service_principal" '
                "for more information"
            )
        if existing:
            object_id = existing[0]["id"]
            change = self.diff({}, {}, inputs)
            change.planned = {**planned, **change.planned}
            return f"/servicePrincipals/{object_id}", self.update(
                f"/servicePrincipals/{object_id}", {}, inputs, change
            )
        body = {"appId": client_id, **self._written(planned, list(self.always_written))}
        created = self.client.call(
            "create service principal", "POST", f"{GRAPH}/servicePrincipals", body
        )
        self._sync_owners(created["id"], planned.get("owners") or [])
        found = self._get(created["id"]) or created
        return f"/servicePrincipals/{created['id']}", self._state(found, planned)


class ApplicationPassword(ResourceType):
    rules = behaviours.APPLICATION_PASSWORD

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        application_id = str(plain(inputs["applicationId"]))
        if not application_id.startswith("/applications/"):
            raise ProviderError(
                f"parsing {application_id!r}: the application ID must look like "
                "'/applications/<objectId>'"
            )
        if plain(inputs.get("endDateRelative")):
            raise ProviderError(
                "the sandbox does not emulate endDateRelative (deprecated); set endDate"
            )
        object_id = _object_id(application_id)
        credential = {
            "displayName": plain(inputs.get("displayName")),
            "endDateTime": plain(inputs.get("endDate")),
            "startDateTime": plain(inputs.get("startDate")),
        }
        made = self.client.call(
            "add password",
            "POST",
            f"{GRAPH}/applications/{object_id}/addPassword",
            {"passwordCredential": {k: v for k, v in credential.items() if v}},
        )
        consistency.wait_until(
            lambda: self._has(object_id, made["keyId"]), f"password credential {made['keyId']}"
        )
        outputs = {
            **inputs,
            "keyId": made["keyId"],
            "value": secret_if(made["secretText"], True),
            "startDate": made["startDateTime"],
            "endDate": made["endDateTime"],
        }
        return f"{object_id}/password/{made['keyId']}", outputs

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        object_id, _, key_id = id_.split("/")
        app = self.client.call(
            "read application", "GET", f"{GRAPH}/applications/{object_id}", missing_ok=True
        )
        credential = next(
            (p for p in (app or {}).get("passwordCredentials", []) if p["keyId"] == key_id), None
        )
        if credential is None:
            return None
        outputs = {
            **state,
            "keyId": key_id,
            "displayName": credential.get("displayName"),
            "startDate": credential["startDateTime"],
            "endDate": credential["endDateTime"],
            "value": state.get("value")
            if isinstance(state.get("value"), Secret)
            else secret_if(state.get("value"), True),
        }
        refreshed = {key: outputs.get(key) for key in inputs}
        if "startDate" not in inputs:
            refreshed.pop("startDate", None)
        return outputs, refreshed

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        raise ProviderError("azuread ApplicationPassword has no update: every change replaces it")

    def _has(self, object_id: str, key_id: str) -> bool:
        app = self.client.call(
            "read application", "GET", f"{GRAPH}/applications/{object_id}", missing_ok=True
        )
        return any(p["keyId"] == key_id for p in (app or {}).get("passwordCredentials", []))

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        """removePassword with no not-found handling (application_password_resource.go Delete,
        lines 286-288): a credential removed by hand fails the run until a refresh drops it."""
        object_id, _, key_id = id_.split("/")
        try:
            self.client.call(
                "remove password",
                "POST",
                f"{GRAPH}/applications/{object_id}/removePassword",
                {"keyId": key_id},
            )
        except ApiCallError as exc:
            raise ProviderError(
                f'Removing password credential "{key_id}" from Application (Application: '
                f'"{object_id}"): {exc}'
            ) from None
        consistency.wait_until(
            lambda: not self._has(object_id, key_id), f'deletion of password credential "{key_id}"'
        )


class _ApiSetting(ResourceType):
    """A setting kept inside an application object (its identifier URIs or API block), changed
    by reading the application and writing the whole property back, as the provider does."""

    def _application(self, object_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.client.call(
            "read application", "GET", f"{GRAPH}/applications/{object_id}", missing_ok=True
        )
        return found

    def _require(self, object_id: str) -> dict[str, Any]:
        app = self._application(object_id)
        if app is None:
            raise ProviderError(
                f'retrieving Application (Application: "{object_id}"): '
                + _GRAPH_NOT_FOUND.format(id=object_id)
            )
        return app

    def _write(self, object_id: str, body: dict[str, Any]) -> None:
        self.client.call("update application", "PATCH", f"{GRAPH}/applications/{object_id}", body)

    @staticmethod
    def _api(app: dict[str, Any]) -> dict[str, Any]:
        api: dict[str, Any] = dict(app.get("api") or {})
        api.setdefault("oauth2PermissionScopes", [])
        api.setdefault("preAuthorizedApplications", [])
        return api


def _encoded(uri: str) -> str:
    """Standard base64, as in pulumi_azuread's documented import ID
    (`/identifierUris/aHR0cHM6Ly9leGFtcGxlLm5ldC8=`) and provider-semantics.md."""
    return base64.b64encode(uri.encode()).decode()


def _decoded(id_: str) -> str:
    return base64.b64decode(id_.split("/identifierUris/", 1)[1]).decode()


class ApplicationIdentifierUri(_ApiSetting):
    rules = behaviours.APPLICATION_IDENTIFIER_URI

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_id = _object_id(str(plain(inputs["applicationId"])))
        uri = str(plain(inputs["identifierUri"]))
        uris = list(self._require(object_id).get("identifierUris") or [])
        if uri in uris:
            raise ProviderError(f"identifier URI {uri!r} already exists: import it to manage it")
        self._write(object_id, {"identifierUris": [*uris, uri]})
        return f"/applications/{object_id}/identifierUris/{_encoded(uri)}", dict(inputs)

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        object_id = id_.split("/")[2]
        uri = _decoded(id_)
        app = self._application(object_id)
        if app is None or uri not in (app.get("identifierUris") or []):
            return None
        # Both arguments come from the ID (the provider's importer parses it).
        outputs = {**state, "applicationId": f"/applications/{object_id}", "identifierUri": uri}
        return outputs, _read_inputs(outputs, inputs, ["applicationId", "identifierUri"])

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        raise ProviderError("an identifier URI has no update: every change replaces it")

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        """application_identifier_uri_resource.go Delete, lines 211-232: fails when the
        application or the URI is gone."""
        object_id = id_.split("/")[2]
        uri = _decoded(id_)
        app = self._require(object_id)
        if uri not in (app.get("identifierUris") or []):
            raise ProviderError(
                f'deleting Application IdentifierUri (Application ID: "{object_id}", '
                f'IdentifierUri ID: "{id_.rsplit("/", 1)[-1]}"): could not identify existing '
                "identifier URI"
            )
        self._write(object_id, {"identifierUris": [u for u in app["identifierUris"] if u != uri]})


_SCOPE_FIELDS = {
    "value": "value",
    "type": "type",
    "adminConsentDescription": "adminConsentDescription",
    "adminConsentDisplayName": "adminConsentDisplayName",
    "userConsentDescription": "userConsentDescription",
    "userConsentDisplayName": "userConsentDisplayName",
}


class ApplicationPermissionScope(_ApiSetting):
    rules = behaviours.APPLICATION_PERMISSION_SCOPE

    @staticmethod
    def _scope(inputs: dict[str, Any]) -> dict[str, Any]:
        scope = {graph: plain(inputs.get(key)) for key, graph in _SCOPE_FIELDS.items()}
        scope["type"] = scope["type"] or "User"
        return {"id": str(plain(inputs["scopeId"])), "isEnabled": True, **scope}

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_id = _object_id(str(plain(inputs["applicationId"])))
        api = self._api(self._require(object_id))
        scope = self._scope(inputs)
        if any(s["id"] == scope["id"] for s in api["oauth2PermissionScopes"]):
            raise ProviderError(f"permission scope {scope['id']} already exists: import it")
        api["oauth2PermissionScopes"] = [*api["oauth2PermissionScopes"], scope]
        self._write(object_id, {"api": api})
        return f"/applications/{object_id}/permissionScopes/{scope['id']}", dict(inputs)

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        object_id, scope_id = id_.split("/")[2], id_.rsplit("/", 1)[-1]
        app = self._application(object_id)
        scope = next(
            (s for s in self._api(app or {})["oauth2PermissionScopes"] if s["id"] == scope_id),
            None,
        )
        if app is None or scope is None:
            return None
        outputs = {
            **state,
            "applicationId": f"/applications/{object_id}",
            "scopeId": scope_id,
            **{key: scope.get(graph) for key, graph in _SCOPE_FIELDS.items()},
        }
        return outputs, _read_inputs(outputs, inputs, ["applicationId", "scopeId", *_SCOPE_FIELDS])

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        object_id = id_.split("/")[2]
        api = self._api(self._require(object_id))
        scope = self._scope(news)
        api["oauth2PermissionScopes"] = [
            scope if s["id"] == scope["id"] else s for s in api["oauth2PermissionScopes"]
        ]
        self._write(object_id, {"api": api})
        return dict(news)

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        object_id, scope_id = id_.split("/")[2], id_.rsplit("/", 1)[-1]
        api = self._api(self._require(object_id))
        scopes = api["oauth2PermissionScopes"]
        if not any(s["id"] == scope_id for s in scopes):
            raise ProviderError(
                f'deleting Permission Scope (Application ID: "{object_id}", Scope ID: '
                f'"{scope_id}"): could not identify existing permission scope'
            )
        api["oauth2PermissionScopes"] = [
            {**s, "isEnabled": False} if s["id"] == scope_id else s for s in scopes
        ]
        self._write(object_id, {"api": api})
        api["oauth2PermissionScopes"] = [s for s in scopes if s["id"] != scope_id]
        self._write(object_id, {"api": api})


class ApplicationPreAuthorized(_ApiSetting):
    rules = behaviours.APPLICATION_PRE_AUTHORIZED

    def _set(self, object_id: str, client_id: str, permissions: list[str] | None) -> None:
        api = self._api(self._require(object_id))
        kept = [p for p in api["preAuthorizedApplications"] if p["appId"] != client_id]
        if permissions is not None:
            kept.append({"appId": client_id, "delegatedPermissionIds": permissions})
        api["preAuthorizedApplications"] = kept
        self._write(object_id, {"api": api})

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        object_id = _object_id(str(plain(inputs["applicationId"])))
        client_id = str(plain(inputs["authorizedClientId"])).lower()
        existing = self._api(self._require(object_id))["preAuthorizedApplications"]
        if any(p["appId"] == client_id for p in existing):
            raise ProviderError(f"client {client_id} is already pre-authorized: import it")
        self._set(object_id, client_id, list(plain(inputs["permissionIds"])))
        return f"{object_id}/preAuthorizedApplication/{client_id}", dict(inputs)

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        object_id, client_id = id_.split("/")[0], id_.rsplit("/", 1)[-1]
        app = self._application(object_id)
        found = next(
            (
                p
                for p in self._api(app or {})["preAuthorizedApplications"]
                if p["appId"] == client_id
            ),
            None,
        )
        if app is None or found is None:
            return None
        outputs = {
            **state,
            "applicationId": f"/applications/{object_id}",
            "authorizedClientId": client_id,
            "permissionIds": found["delegatedPermissionIds"],
        }
        return outputs, _read_inputs(
            outputs, inputs, ["applicationId", "authorizedClientId", "permissionIds"]
        )

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        object_id, client_id = id_.split("/")[0], id_.rsplit("/", 1)[-1]
        self._set(object_id, client_id, list(plain(news["permissionIds"])))
        return dict(news)

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        """An application or entry already gone is no failure here
        (application_pre_authorized_resource.go Delete, lines 241-272)."""
        object_id, client_id = id_.split("/")[0], id_.rsplit("/", 1)[-1]
        if self._application(object_id) is not None:
            self._set(object_id, client_id, None)


_FIC_FILE = "application_federated_identity_credential_resource.go"
# The Graph model's MarshalJSON adds the type unless told not to (go-azure-sdk
# microsoft-graph/common-types/stable/model_federatedidentitycredential.go, lines 82-84).
_FIC_ODATA_TYPE = "#microsoft.graph.federatedIdentityCredential"
_APPLICATION_ID = re.compile(r"/applications/[^/]+")


def _graph_failure(exc: ApiCallError) -> str:
    """go-azure-sdk's text for an answer it did not expect (vendor/github.com/hashicorp/
    go-azure-sdk/sdk/client/client.go, lines 535-577, and odata/errors.go 105-119)."""
    message = str(exc).split(f"{exc.status} {exc.code}: ", 1)[-1]
    status = f"{exc.status} ({exc.status} {HTTPStatus(exc.status).phrase})"
    error = f"{exc.code}: {message}" if exc.code else message
    return f"unexpected status {status} with error: {error}"


def _uuid_failure(value: str) -> str | None:
    """hashicorp/go-uuid ParseUUID's refusal of `value` (vendor/github.com/hashicorp/go-uuid/
    uuid.go), or None for a UUID."""
    if len(value) != 36:
        return "uuid string is wrong length"
    if any(value[i] != "-" for i in (8, 13, 18, 23)):
        return "uuid is improperly formatted"
    digits = value[0:8] + value[9:13] + value[14:18] + value[19:23] + value[24:36]
    for char in digits:
        if char not in "0123456789abcdefABCDEF":
            return f"encoding/hex: invalid byte: U+{ord(char):04X} {char!r}"
    return None


def _federated_credential_id(id_: str) -> tuple[str, str]:
    """parse.FederatedIdentityCredentialID (parse/credentials.go, lines 44-55, and
    ObjectSubResourceID, parse/object.go, lines 31-59): `<objectId>/federatedIdentityCredential/
    <credentialId>`, both UUIDs."""
    parts = id_.split("/")
    failure: str | None = None
    if len(parts) != 3:
        failure = (
            "Object Resource ID should be in the format {objectId}/{type}/{subId} - but got "
            f'"{id_}"'
        )
    elif (uuid_failure := _uuid_failure(parts[0])) is not None:
        failure = f'Object ID isn\'t a valid UUID ("{parts[0]}"): {uuid_failure}'
    elif parts[1] == "":
        failure = "Type in {objectID}/{type}/{subID} should not be empty"
    elif parts[1] != "federatedIdentityCredential":
        failure = (
            "Type in {objectID}/{type}/{subID} was expected to be federatedIdentityCredential, "
            f"got {parts[1]}"
        )
    elif (uuid_failure := _uuid_failure(parts[2])) is not None:
        failure = f'Object Sub Resource ID isn\'t a valid UUID ("{parts[2]}"): {uuid_failure}'
    if failure is not None:
        raise ProviderError(f"unable to parse Federated Identity Credential ID: {failure}")
    return parts[0], parts[2]


def _credential_string(object_id: str, credential_id: str) -> str:
    """stable.ApplicationIdFederatedIdentityCredentialId.String (go-azure-sdk
    common-types/stable/id_applicationidfederatedidentitycredential.go, lines 108-114): the
    components joined with a newline, as the provider's messages show it."""
    return (
        f'Application Id Federated Identity Credential (Application: "{object_id}"\n'
        f'Federated Identity Credential: "{credential_id}")'
    )


class ApplicationFederatedIdentityCredential(_ApiSetting):
    """azuread_application_federated_identity_credential as terraform-provider-azuread v3.9.0
    runs it (internal/services/applications/application_federated_identity_credential_
    resource.go; line numbers below are that file's at the v3.9.0 tag)."""

    rules = behaviours.APPLICATION_FEDERATED_IDENTITY_CREDENTIAL

    def failures(self, news: dict[str, Any]) -> list[tuple[str, str]]:
        """The schema's validations (lines 46-90), worded by terraform-plugin-sdk v2; values
        still unknown are skipped (helper/schema/schema.go line 2103). The bridge ends each
        reason with "Examine values at '<resource name>.<property>'."; the stand-in's Check does
        not see the resource name and leaves it out."""
        failures = super().failures(news)
        application_id = plain(news.get("applicationId"))
        if isinstance(application_id, str) and application_id != UNKNOWN:
            if not application_id:
                reason = f'parsing "{application_id}": cannot parse an empty string'
            elif not _APPLICATION_ID.fullmatch(application_id):
                # stable.ValidateApplicationID (line 51) through go-azure-helpers resourceids
                # (error_number_of_segments_didnt_match.go); the segment listings that follow in
                # the real message are left out.
                reason = (
                    f'parsing "{application_id}": parsing the Application ID: the number of '
                    "segments didn't match\n\nExpected a Application ID that matched (containing "
                    "2 segments):\n\n> /applications/applicationId\n\nHowever this value was "
                    f"provided:\n\n> {application_id}"
                )
            else:
                reason = ""
            if reason:
                failures.append(("applicationId", reason))
        audiences = plain(news.get("audiences"))
        if isinstance(audiences, list) and not has_unknown(audiences):
            if len(audiences) > 1:
                # MaxItems 1 (line 58); schema.go lines 2108-2114.
                failures.append(
                    (
                        "audiences",
                        "Too many list items: Attribute audiences supports 1 item maximum, but "
                        f"config has {len(audiences)} declared.",
                    )
                )
            for index, audience in enumerate(audiences):
                if audience == "":
                    # StringIsNotEmpty (line 62); helper/validation/strings.go lines 17-25.
                    failures.append(
                        (
                            "audiences",
                            f'expected "audiences.{index}" to not be an empty string, got ',
                        )
                    )
        name = plain(news.get("displayName"))
        if isinstance(name, str) and name != UNKNOWN and not 1 <= len(name) <= 120:
            # StringLenBetween(1, 120) (line 71); helper/validation/strings.go lines 74-84.
            failures.append(
                (
                    "displayName",
                    "expected length of display_name to be in the range (1 - 120), got " + name,
                )
            )
        return failures

    @staticmethod
    def _path(object_id: str, credential_id: str = "") -> str:
        path = f"{GRAPH}/applications/{object_id}/federatedIdentityCredentials"
        return f"{path}/{credential_id}" if credential_id else path

    def _get(self, object_id: str, credential_id: str) -> dict[str, Any] | None:
        found: dict[str, Any] | None = self.client.call(
            "read federated identity credential",
            "GET",
            self._path(object_id, credential_id),
            missing_ok=True,
        )
        return found

    @staticmethod
    def _body(inputs: dict[str, Any]) -> dict[str, Any]:
        """The credential from the configuration (lines 123-129 and 195-204): the description
        an empty string when unset (nullable.Value of d.Get, line 125)."""
        values = plain(inputs)
        return {
            "audiences": list(values["audiences"]),
            "description": values.get("description") or "",
            "issuer": values["issuer"],
            "name": values["displayName"],
            "subject": values["subject"],
            "@odata.type": _FIC_ODATA_TYPE,
        }

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        """Create, lines 101-182: read the application (fails when it is gone, 113-121), POST
        the credential (123-134), wait until Graph shows it five times in a row (146-175; 1 s
        apart there, the sandbox's interval here), then Read (181)."""
        application_id = str(plain(inputs["applicationId"]))
        if not _APPLICATION_ID.fullmatch(application_id):
            raise ProviderError(
                f'Parsing `application_id`: parsing "{application_id}": parsing the Application '
                "ID: the number of segments didn't match"
            )
        object_id = _object_id(application_id)
        self._require(object_id)
        try:
            made = self.client.call(
                "add federated identity credential",
                "POST",
                self._path(object_id),
                self._body(inputs),
            )
        except ApiCallError as exc:
            raise ProviderError(
                "Adding federated identity credential for Application (Application: "
                f'"{object_id}"): {_graph_failure(exc)}'
            ) from None
        credential_id = str(made["id"])
        consistency.wait_until(
            lambda: self._get(object_id, credential_id) is not None,
            _credential_string(object_id, credential_id),
        )
        id_ = f"{object_id}/federatedIdentityCredential/{credential_id}"  # line 178
        found = self.read(id_, {}, dict(inputs))
        if found is None:
            raise ProviderError(f"Waiting for {_credential_string(object_id, credential_id)}")
        return id_, found[0]

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Read, lines 215-251: gone on a 404 (the credential's or the application's, 226-232);
        every attribute from Graph (241-248). An import (no state) fails on a malformed ID
        unwrapped, as the importer does (lines 40-43); a Read wraps it (218-221)."""
        try:
            object_id, credential_id = _federated_credential_id(id_)
        except ProviderError as exc:
            if not state and not inputs:
                raise
            raise ProviderError(
                f'Parsing federated identity credential with ID "{id_}": {exc}'
            ) from None
        try:
            found = self._get(object_id, credential_id)
        except ApiCallError as exc:
            raise ProviderError(
                f'Retrieving federated identity credential with ID "{credential_id}" for '
                f'application with object ID "{object_id}": {_graph_failure(exc)}'
            ) from None
        if found is None:
            return None
        outputs = {
            "applicationId": f"/applications/{object_id}",
            "credentialId": credential_id,
            "audiences": list(found.get("audiences") or []),
            "description": found.get("description") or "",
            "displayName": found.get("name"),
            "issuer": found.get("issuer"),
            "subject": found.get("subject"),
        }
        return outputs, _read_inputs(outputs, inputs, sorted(self.rules.inputs))

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        """Update, lines 184-213: one PATCH with the ID and every field from the configuration,
        the immutable name too (202-203); no not-found handling (208-210); then Read."""
        object_id, credential_id = _federated_credential_id(id_)
        try:
            self.client.call(
                "update federated identity credential",
                "PATCH",
                self._path(object_id, credential_id),
                {"id": credential_id, **self._body(news)},
            )
        except ApiCallError as exc:
            raise ProviderError(
                f'Updating federated identity credential with ID "{credential_id}" for '
                f'application with object ID "{object_id}": {_graph_failure(exc)}'
            ) from None
        found = self.read(id_, state, dict(news))
        if found is None:
            raise ProviderError(
                f'Retrieving federated identity credential with ID "{credential_id}" for '
                f'application with object ID "{object_id}": not found after update'
            )
        return found[0]

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        """Delete, lines 253-290: DELETE with no not-found handling (266-268; the client
        expects 204 or 200 only): a credential or application deleted by hand fails the run
        until a refresh drops it; then waits until the credential is gone (270-287)."""
        object_id, credential_id = _federated_credential_id(id_)
        named = _credential_string(object_id, credential_id)
        try:
            self.client.call(
                "remove federated identity credential",
                "DELETE",
                self._path(object_id, credential_id),
            )
        except ApiCallError as exc:
            raise ProviderError(f"Removing {named}: {_graph_failure(exc)}") from None
        consistency.wait_until(
            lambda: self._get(object_id, credential_id) is None, f"deletion of {named}"
        )


def types(
    client: Callable[[], EntraClient], config: Callable[[], dict[str, Any]]
) -> Mapping[str, ResourceType]:
    return {
        kind.rules.resource_type: kind(client)
        for kind in (
            Application,
            ServicePrincipal,
            ApplicationPassword,
            ApplicationIdentifierUri,
            ApplicationPermissionScope,
            ApplicationPreAuthorized,
            ApplicationFederatedIdentityCredential,
        )
    }


def invokes(
    client: Callable[[], EntraClient], config: Callable[[], dict[str, Any]]
) -> Mapping[str, Invoke]:
    def get_client_config(_args: dict[str, Any]) -> dict[str, Any]:
        """The claims of the running identity's token (oid, appid, tid)."""
        claims = client().claims()
        return {
            "clientId": claims["appid"],
            "objectId": claims["oid"],
            "tenantId": claims["tid"],
        }

    def lookup(kind: str, args: dict[str, Any], keys: dict[str, str]) -> dict[str, Any]:
        """The data source's lookup: by object ID, or the first given filter, exactly one."""
        given = {key: args[key] for key in keys if args.get(key)}
        if not given:
            raise ProviderError(f"one of {', '.join(keys)} must be specified")
        key, value = next(iter(given.items()))
        if key == "objectId":
            found = client().call("read", "GET", f"{GRAPH}/{kind}/{value}")
            return dict(found)
        quoted = str(value).replace("'", "''")
        path = f"{GRAPH}/{kind}?$filter={keys[key]} eq '{quoted}'"
        matches = graph_list(client(), "list", path)
        if len(matches) != 1:
            noun = "application" if kind == "applications" else "service principal"
            raise ProviderError(
                f"{'No' if not matches else 'More than one'} {noun} found matching {key} {value!r}"
            )
        return dict(matches[0])

    def get_application(args: dict[str, Any]) -> dict[str, Any]:
        """data.azuread_application: an existing registration by client ID, object ID or
        display name (Graph; no credentials in the result)."""
        app = lookup(
            "applications",
            args,
            {"objectId": "id", "clientId": "appId", "displayName": "displayName"},
        )
        return {
            "id": f"/applications/{app['id']}",
            "objectId": app["id"],
            "clientId": app["appId"],
            "displayName": app.get("displayName"),
            "description": app.get("description"),
            "notes": app.get("notes"),
            "serviceManagementReference": app.get("serviceManagementReference"),
            "signInAudience": app.get("signInAudience"),
            "tags": app.get("tags", []),
        }

    def get_service_principal(args: dict[str, Any]) -> dict[str, Any]:
        """data.azuread_service_principal: an existing service principal by client ID, object
        ID or display name."""
        sp = lookup(
            "servicePrincipals",
            args,
            {"objectId": "id", "clientId": "appId", "displayName": "displayName"},
        )
        return {
            "id": f"/servicePrincipals/{sp['id']}",
            "objectId": sp["id"],
            "clientId": sp["appId"],
            "displayName": sp.get("displayName"),
        }

    return {
        behaviours.GET_CLIENT_CONFIG: get_client_config,
        behaviours.GET_APPLICATION: get_application,
        behaviours.GET_SERVICE_PRINCIPAL: get_service_principal,
    }
