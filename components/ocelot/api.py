"""Ocelot's route access API: the one module that knows its paths, bodies, errors and retries.

Every failure is an `OcelotError` naming the operation, the route, the client ID, the HTTP
status and the API's message; never the token. `OcelotTransientError` (429, 5xx,
timeouts, connection failures) is retried with jittered exponential backoff, honouring
`Retry-After`, until a total deadline; `OcelotPermanentError` (any other status) is not.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx

from components.rest import ClientBase, TransientError, retry_after_seconds, with_retries

log = logging.getLogger(__name__)

# The statuses the contract names (openapi.yaml); an entry may carry any other value Ocelot
# has, which is kept as it is: only `active` lets calls through.
ACTIVE: Final = "active"
PENDING: Final = "pending"


@dataclass(frozen=True)
class ClientEntry:
    """One entry of a route's Client Access List."""

    client_id: str
    beat_id: str
    description: str
    status: str
    added_at: str
    added_by: str

    @classmethod
    def from_json(cls, body: dict[str, Any]) -> ClientEntry:
        return cls(
            client_id=str(body["clientId"]).lower(),
            beat_id=str(body["beatId"]),
            description=str(body["description"]),
            status=str(body["status"]),
            added_at=str(body["addedAt"]),
            added_by=str(body["addedBy"]),
        )


@dataclass(frozen=True)
class Route:
    """An Ocelot route (one LKPS host) and its Client Access List."""

    id: str
    environment: str
    region: str
    clients: tuple[ClientEntry, ...]

    def entry(self, client_id: str) -> ClientEntry | None:
        wanted = client_id.lower()
        return next((c for c in self.clients if c.client_id == wanted), None)


@dataclass(frozen=True)
class _Call:
    """One API call: what it does (for error messages), and its method, target and body."""

    operation: str
    method: str
    route_id: str
    client_id: str | None
    body: dict[str, str] | None = None
    whole_route: bool = False

    @property
    def path(self) -> str:
        if self.whole_route:
            return f"/routes/{self.route_id}"
        return f"/routes/{self.route_id}/clients/{self.client_id}"


class OcelotError(Exception):
    """A failed call to Ocelot, naming what was attempted and why it failed."""

    def __init__(
        self,
        operation: str,
        route_id: str,
        client_id: str | None,
        status: int | None,
        message: str,
    ) -> None:
        self.operation = operation
        self.route_id = route_id
        self.client_id = client_id
        self.status = status
        self.api_message = message
        target = f"route {route_id}" + (f", client ID {client_id}" if client_id else "")
        outcome = f"HTTP {status}: {message}" if status else message
        super().__init__(f"Ocelot {operation} failed for {target}: {outcome}")


class OcelotPermanentError(OcelotError):
    """A failure that a retry cannot fix: bad request, bad token, no permission, not found."""


class OcelotTransientError(OcelotError, TransientError):
    """A failure worth retrying: rate limiting, a gateway error, a timeout or a lost connection."""

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        OcelotError.__init__(self, *args)
        self.retry_after = retry_after


def _api_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or "no error body"


class OcelotClient(ClientBase):
    """Calls one Ocelot management API as the bearer of `token()`.

    Requests go through one pooled keep-alive client per process and base URL; `transport`
    lets unit tests replace the network (the client is then this object's own).
    """

    def __init__(
        self,
        base_url: str,
        token: Callable[[], str],
        timeout: float = 10.0,
        deadline: float = 120.0,
        backoff: float = 0.2,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(base_url, timeout, transport)
        self._token = token
        self._deadline = deadline
        self._backoff = backoff

    def get_route(self, route_id: str) -> Route | None:
        """The route and its list, or None when Ocelot does not know the route."""
        try:
            body = self._call(_Call("read", "GET", route_id, None, whole_route=True))
        except OcelotPermanentError as exc:
            if exc.status == 404:
                return None
            raise
        return Route(
            id=str(body["id"]),
            environment=str(body["environment"]),
            region=str(body["region"]),
            clients=tuple(ClientEntry.from_json(c) for c in body["clientAccessList"]),
        )

    def put_client(
        self, route_id: str, client_id: str, beat_id: str, description: str
    ) -> ClientEntry:
        """Adds the client ID to the route's list, or updates its metadata when it is there."""
        body = {"beatId": beat_id, "description": description}
        return ClientEntry.from_json(self._call(_Call("add", "PUT", route_id, client_id, body)))

    def delete_client(self, route_id: str, client_id: str) -> bool:
        """Removes the client ID from the route's list; False when it was not there."""
        try:
            self._call(_Call("remove", "DELETE", route_id, client_id))
        except OcelotPermanentError as exc:
            if exc.status == 404:
                return False
            raise
        return True

    def _call(self, call: _Call) -> Any:
        return with_retries(lambda: self._send(call), self._deadline, self._backoff, 10.0)

    def _send(self, call: _Call) -> Any:
        headers = {"Authorization": f"Bearer {self._token()}", "Accept": "application/json"}
        failure = (call.operation, call.route_id, call.client_id)
        try:
            response = self._http().request(call.method, call.path, headers=headers, json=call.body)
        except httpx.TimeoutException as exc:
            raise OcelotTransientError(
                *failure, None, f"no answer within {self._timeout}s ({type(exc).__name__})"
            ) from None
        except httpx.TransportError as exc:
            raise OcelotTransientError(
                *failure, None, f"connection failed ({type(exc).__name__})"
            ) from None
        if response.status_code == 429 or response.status_code >= 500:
            raise OcelotTransientError(
                *failure,
                response.status_code,
                _api_message(response),
                retry_after=retry_after_seconds(response),
            )
        if response.status_code >= 400:
            raise OcelotPermanentError(*failure, response.status_code, _api_message(response))
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError:
            raise OcelotPermanentError(
                *failure, response.status_code, "the response is not JSON"
            ) from None
