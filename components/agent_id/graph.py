"""Microsoft Graph v1.0 for Microsoft Entra Agent ID: the one module that knows its paths,
bodies, errors and retries for agent identity blueprints, blueprint principals, agent
identities and app role assignments (learn.microsoft.com/graph/api/resources/
agentidentityblueprint, .../agentidentityblueprintprincipal, .../agentidentity,
.../approleassignment).

Every failure is a `GraphError` naming the operation, the object (a blueprint's uniqueName, a
blueprint's appId, an agent identity's display name or object ID, an app role assignment's
resource, principal and role), the HTTP status and Graph's `error.code` and `error.message`;
never the token. `GraphTransientError` is retried with jittered exponential backoff, never
shorter than `Retry-After`, until a total deadline:
- 429 and 5xx (learn.microsoft.com/graph/throttling: "wait the number of seconds specified in
  the Retry-After header"), timeouts and lost connections;
- `GraphReplicationError`, the 400 that Graph's replication delay gives right after a create:
  "When creating agent identity objects in quick succession using Microsoft Graph APIs,
  requests might fail with errors like `400 Bad Request: Object with id {id} not found`"
  (learn.microsoft.com/entra/agent-id/faq, "Why do sequential Microsoft Graph API requests
  sometimes fail when creating agent identity objects?").
`GraphPermanentError` (any other status) is not retried.

Requests go through the process's pooled keep-alive client, with retries, from
`components.rest`, as the Ocelot client's do.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final
from urllib.parse import quote, urlencode

import httpx

from components.rest import ClientBase, TransientError, retry_after_seconds, with_retries

log = logging.getLogger(__name__)

GRAPH_SCOPE: Final = "https://graph.microsoft.com/.default"
BLUEPRINT: Final = "microsoft.graph.agentIdentityBlueprint"
BLUEPRINT_PRINCIPAL: Final = "microsoft.graph.agentIdentityBlueprintPrincipal"
AGENT_IDENTITY: Final = "microsoft.graph.agentIdentity"
# How `sponsors@odata.bind` and `owners@odata.bind` name a directory object: always Graph's
# public URL, also when the requests go elsewhere (agentidentityblueprint-post's example).
_USERS: Final = "https://graph.microsoft.com/v1.0/users/"
_DIRECTORY_OBJECTS: Final = "https://graph.microsoft.com/v1.0/directoryObjects/"
_REPLICATION: Final = re.compile(r"Object with id .* not found", re.IGNORECASE)


def graph_base_url() -> str:
    """Graph v1.0's base URL: Azure's, or the sandbox's local Entra (`lkps.switches`). The
    import is here so that a provider process that only checks or diffs never loads msal and
    the Key Vault SDK that `components.azure_reads` needs."""
    from components.azure_reads import endpoints_from_environment

    return endpoints_from_environment().graph


class GraphError(Exception):
    """A failed Graph call, naming what was attempted on which object and Graph's answer."""

    def __init__(
        self,
        operation: str,
        target: str,
        status: int | None,
        code: str | None,
        message: str,
    ) -> None:
        self.operation = operation
        self.target = target
        self.status = status
        self.code = code
        self.graph_message = message
        answer = f"{code}: {message}" if code else message
        outcome = f"HTTP {status} {answer}" if status else answer
        super().__init__(f"Graph {operation} failed for {target}: {outcome}")


class GraphPermanentError(GraphError):
    """A failure a retry cannot fix: a bad request, no permission, not found, a conflict."""


class GraphTransientError(GraphError, TransientError):
    """A failure worth retrying: throttling, a server error, a timeout, a lost connection."""

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        GraphError.__init__(self, *args)
        self.retry_after = retry_after


class GraphReplicationError(GraphTransientError):
    """The 400 "Object with id … not found" of an object another request just created."""


def _graph_error(response: httpx.Response) -> tuple[str | None, str]:
    """Graph's error resource (learn.microsoft.com/graph/errors): code and message."""
    try:
        error = response.json()["error"]
        return str(error["code"]), str(error["message"])
    except (ValueError, KeyError, TypeError):
        return None, response.reason_phrase or "no error body"


@dataclass(frozen=True)
class _Call:
    operation: str
    target: str
    method: str
    path: str
    body: dict[str, Any] | None = None
    headers: tuple[tuple[str, str], ...] = ()


def user_ref(object_id: str) -> str:
    return _USERS + object_id


def directory_object_ref(object_id: str) -> str:
    return _DIRECTORY_OBJECTS + object_id


def assignment_target(resource_principal_id: str, principal_id: str, app_role_id: str) -> str:
    """How an error names an app role assignment."""
    return (
        f"app role assignment of role {app_role_id} to {principal_id} on service principal "
        f"{resource_principal_id}"
    )


def _ids(listed: Any) -> list[str]:
    return sorted({str(item["id"]).lower() for item in listed.get("value", [])})


class GraphClient(ClientBase):
    """Calls Microsoft Graph v1.0 at `base_url` as the bearer of `token()`."""

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        timeout: float = 30.0,
        deadline: float = 120.0,
        backoff: float = 0.5,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout, transport)
        self._token = token
        self._deadline = deadline
        self._backoff = backoff

    def close(self) -> None:
        """Closes this client's own connections (with `transport`); the pooled ones stay."""
        if self._own is not None:
            self._own.close()
            self._own = None

    # -- agent identity blueprints (applications) -------------------------------------------

    def get_blueprint(self, object_id: str | None, unique_name: str | None) -> Any | None:
        """The blueprint with `object_id`, else the one with `unique_name`; None when neither
        finds an agent identity blueprint."""
        target = f"agent identity blueprint {unique_name or object_id!r}"
        for path in (
            f"/applications/{object_id}" if object_id else None,
            f"/applications(uniqueName='{_key(unique_name)}')" if unique_name else None,
        ):
            if path is None:
                continue
            found = self._get_or_none(_Call("read", target, "GET", path))
            if found is not None and found.get("@odata.type") == f"#{BLUEPRINT}":
                return found
        return None

    def upsert_blueprint(self, unique_name: str, body: dict[str, Any]) -> Any | None:
        """`PATCH /applications(uniqueName='…')/microsoft.graph.agentIdentityBlueprint` with
        `Prefer: create-if-missing` (agentidentityblueprint-upsert): the new blueprint (201),
        or None when an existing one was updated (204)."""
        return self._call(
            _Call(
                "upsert",
                f"agent identity blueprint {unique_name!r}",
                "PATCH",
                f"/applications(uniqueName='{_key(unique_name)}')/{BLUEPRINT}",
                body,
                (("Prefer", "create-if-missing"),),
            )
        )

    def blueprint_sponsors(self, object_id: str, target: str) -> list[str]:
        path = f"/applications/{object_id}/{BLUEPRINT}/sponsors"
        return _ids(self._call(_Call("list sponsors", target, "GET", path)))

    def owners(self, object_id: str, target: str) -> list[str]:
        path = f"/applications/{object_id}/owners"
        return _ids(self._call(_Call("list owners", target, "GET", path)))

    def add_owner(self, object_id: str, owner_id: str, target: str) -> None:
        body = {"@odata.id": directory_object_ref(owner_id)}
        path = f"/applications/{object_id}/owners/$ref"
        self._call(_Call(f"add owner {owner_id}", target, "POST", path, body))

    def remove_owner(self, object_id: str, owner_id: str, target: str) -> None:
        path = f"/applications/{object_id}/owners/{owner_id}/$ref"
        self._tolerate_404(_Call(f"remove owner {owner_id}", target, "DELETE", path))

    def add_sponsor(self, kind: str, cast: str, object_id: str, user_id: str, target: str) -> None:
        """POST `{kind}/{id}/{cast}/sponsors/$ref` (agentidentityblueprint-post-sponsors,
        agentidentity-post-sponsors)."""
        path = f"/{kind}/{object_id}/{cast}/sponsors/$ref"
        body = {"@odata.id": user_ref(user_id)}
        self._call(_Call(f"add sponsor {user_id}", target, "POST", path, body))

    def remove_sponsor(
        self, kind: str, cast: str, object_id: str, user_id: str, target: str
    ) -> None:
        """DELETE `{kind}/{id}/{cast}/sponsors/{id}/$ref` (agentidentityblueprint-delete-sponsors,
        agentidentity-delete-sponsors); a sponsor already gone is fine."""
        path = f"/{kind}/{object_id}/{cast}/sponsors/{user_id}/$ref"
        self._tolerate_404(_Call(f"remove sponsor {user_id}", target, "DELETE", path))

    def delete_application(self, object_id: str, target: str) -> bool:
        """Deletes the application; False when it was already gone."""
        return self._tolerate_404(_Call("delete", target, "DELETE", f"/applications/{object_id}"))

    # -- blueprint principals and agent identities (servicePrincipals) ----------------------

    def create_blueprint_principal(self, app_id: str) -> Any:
        """POST `/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal`."""
        target = f"blueprint principal of appId {app_id}"
        path = f"/servicePrincipals/{BLUEPRINT_PRINCIPAL}"
        return self._call(_Call("create", target, "POST", path, {"appId": app_id}))

    def principal_of_app(self, app_id: str) -> Any | None:
        """The service principal of the application `app_id`, or None."""
        target = f"service principal of appId {app_id}"
        path = f"/servicePrincipals(appId='{_key(app_id)}')"
        return self._get_or_none(_Call("read", target, "GET", path))

    def agent_identities_named(self, display_name: str) -> list[dict[str, Any]]:
        """The agent identities whose display name is `display_name`, all pages (agentidentity-
        list, with `$filter=displayName eq '…'`)."""
        literal = display_name.replace("'", "''")
        query = urlencode({"$filter": f"displayName eq '{literal}'"}, quote_via=quote)
        target = f"agent identities named {display_name!r}"
        path = f"/servicePrincipals/{AGENT_IDENTITY}?{query}"
        return self._all_pages(_Call("list", target, "GET", path))

    def create_agent_identity(
        self, display_name: str, blueprint_app_id: str, sponsors: list[str]
    ) -> Any:
        """POST `/servicePrincipals/microsoft.graph.agentIdentity` (agentidentity-post)."""
        body = {
            "displayName": display_name,
            "agentIdentityBlueprintId": blueprint_app_id,
            "sponsors@odata.bind": [user_ref(s) for s in sponsors],
        }
        target = f"agent identity {display_name!r}"
        return self._call(
            _Call("create", target, "POST", f"/servicePrincipals/{AGENT_IDENTITY}", body)
        )

    def get_service_principal(self, object_id: str, target: str) -> Any | None:
        return self._get_or_none(_Call("read", target, "GET", f"/servicePrincipals/{object_id}"))

    def agent_identity_sponsors(self, object_id: str, target: str) -> list[str]:
        path = f"/servicePrincipals/{object_id}/{AGENT_IDENTITY}/sponsors"
        return _ids(self._call(_Call("list sponsors", target, "GET", path)))

    def update_service_principal(self, object_id: str, body: dict[str, Any], target: str) -> None:
        self._call(_Call("update", target, "PATCH", f"/servicePrincipals/{object_id}", body))

    def delete_service_principal(self, object_id: str, target: str) -> bool:
        """Deletes the service principal; False when it was already gone."""
        path = f"/servicePrincipals/{object_id}"
        return self._tolerate_404(_Call("delete", target, "DELETE", path))

    # -- app role assignments (servicePrincipals/{resource}/appRoleAssignedTo) ------------------

    def create_app_role_assignment(
        self, resource_principal_id: str, principal_id: str, app_role_id: str
    ) -> Any:
        """POST `/servicePrincipals/{resource}/appRoleAssignedTo` (serviceprincipal-post-
        approleassignedto): the new appRoleAssignment."""
        body = {
            "principalId": principal_id,
            "resourceId": resource_principal_id,
            "appRoleId": app_role_id,
        }
        target = assignment_target(resource_principal_id, principal_id, app_role_id)
        path = f"/servicePrincipals/{resource_principal_id}/appRoleAssignedTo"
        return self._call(_Call("create", target, "POST", path, body))

    def app_role_assigned_to(self, resource_principal_id: str) -> list[dict[str, Any]]:
        """Every assignment of the resource service principal's app roles, all pages
        (serviceprincipal-list-approleassignedto)."""
        target = f"app role assignments of service principal {resource_principal_id}"
        path = f"/servicePrincipals/{resource_principal_id}/appRoleAssignedTo"
        return self._all_pages(_Call("list", target, "GET", path))

    def delete_app_role_assignment(self, resource_principal_id: str, assignment_id: str) -> bool:
        """DELETE `/servicePrincipals/{resource}/appRoleAssignedTo/{id}` (serviceprincipal-
        delete-approleassignedto); False when it was already gone."""
        target = f"app role assignment {assignment_id} on service principal {resource_principal_id}"
        path = (
            f"/servicePrincipals/{resource_principal_id}/appRoleAssignedTo/"
            f"{quote(assignment_id, safe='')}"
        )
        return self._tolerate_404(_Call("delete", target, "DELETE", path))

    # -- the wire ------------------------------------------------------------------------------

    def _get_or_none(self, call: _Call) -> Any | None:
        try:
            return self._call(call)
        except GraphPermanentError as exc:
            if exc.status == 404:
                return None
            raise

    def _tolerate_404(self, call: _Call) -> bool:
        try:
            self._call(call)
        except GraphPermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _all_pages(self, call: _Call) -> list[dict[str, Any]]:
        """Every item of a collection, following `@odata.nextLink` (learn.microsoft.com/graph/
        paging); a next link outside this client's base URL is refused, so that the token goes
        nowhere else."""
        items: list[dict[str, Any]] = []
        page: Any = self._call(call)
        while True:
            items += (page or {}).get("value", [])
            link = (page or {}).get("@odata.nextLink")
            if not link:
                return items
            if not str(link).startswith(self._base_url + "/"):
                raise GraphPermanentError(
                    call.operation, call.target, None, None, f"a next page outside Graph: {link}"
                )
            page = self._call(_Call(call.operation, call.target, "GET", str(link)))

    def _call(self, call: _Call) -> Any:
        return with_retries(lambda: self._send(call), self._deadline, self._backoff, 30.0)

    def _send(self, call: _Call) -> Any:
        headers = {
            "Authorization": f"Bearer {self._token()}",
            "Accept": "application/json",
            **dict(call.headers),
        }
        failure = (call.operation, call.target)
        # A path, or a next page's whole URL (`_all_pages` checked it is under the base URL).
        absolute = call.path.startswith(self._base_url + "/")
        url = call.path if absolute else self._base_url + call.path
        try:
            response = self._http().request(call.method, url, headers=headers, json=call.body)
        except httpx.TimeoutException as exc:
            raise GraphTransientError(
                *failure, None, None, f"no answer within {self._timeout}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise GraphTransientError(
                *failure, None, None, f"connection failed ({type(exc).__name__})"
            ) from None
        status = response.status_code
        if status == 429 or status >= 500:
            code, message = _graph_error(response)
            raise GraphTransientError(
                *failure, status, code, message, retry_after=retry_after_seconds(response)
            )
        if status >= 400:
            code, message = _graph_error(response)
            if status == 400 and _REPLICATION.search(message):
                raise GraphReplicationError(
                    *failure, status, code, message, retry_after=retry_after_seconds(response)
                )
            raise GraphPermanentError(*failure, status, code, message)
        if status == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise GraphPermanentError(*failure, status, None, "the response is not JSON") from None


def _key(value: str | None) -> str:
    """An OData string literal's content in a URL path: quotes doubled, then percent-encoded."""
    return quote(str(value).replace("'", "''"), safe="")
