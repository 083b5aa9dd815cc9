"""Ocelot's route access API: the one module that knows its paths, bodies, errors and retries.

Every failure is an `OcelotError` naming the operation, the route, the client ID, the HTTP
status and the API's message; never the token. `OcelotTransientError` (429, 5xx,
timeouts, connection failures) is retried with jittered exponential backoff, honouring
`Retry-After`, until a total deadline; `OcelotPermanentError` (any other status) is not.
"""

from __future__ import annotations

import email.utils
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import httpx
import tenacity

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


class OcelotTransientError(OcelotError):
    """A failure worth retrying: rate limiting, a gateway error, a timeout or a lost connection."""

    def __init__(self, *args: Any, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


_tls_lock = threading.Lock()
_tls: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def _tls_context() -> ssl.SSLContext:
    """One TLS context per process and trust store: building one costs more than a request on a
    fast network. The store is the one `SSL_CERT_FILE`/`SSL_CERT_DIR` name when the context is
    built, so a process that starts a second sandbox (another CA) gets a context that trusts
    it."""
    trust = (os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
    with _tls_lock:
        if trust not in _tls:
            _tls[trust] = ssl.create_default_context()
        return _tls[trust]


_pool_lock = threading.Lock()
_pool: dict[tuple[str, float, int], httpx.Client] = {}


def _pooled_client(base_url: str, timeout: float) -> httpx.Client:
    """One keep-alive HTTP client per process, base URL, timeout and trust store, shared by every
    thread of the provider process (httpx clients are thread-safe); built on first use, never
    pickled."""
    tls = _tls_context()
    key = (base_url, timeout, id(tls))
    with _pool_lock:
        client = _pool.get(key)
        if client is None:
            client = httpx.Client(
                base_url=base_url,
                timeout=timeout,
                verify=tls,
                follow_redirects=False,
                limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            )
            _pool[key] = client
        return client


def close_pooled_clients() -> None:
    """Closes the shared clients (tests and benchmarks that start emulators again)."""
    with _pool_lock:
        for client in _pool.values():
            client.close()
        _pool.clear()


def _api_message(response: httpx.Response) -> str:
    try:
        error = response.json()["error"]
        return f"{error['code']}: {error['message']}"
    except (ValueError, KeyError, TypeError):
        return response.reason_phrase or "no error body"


def retry_after_seconds(
    response: httpx.Response, now: Callable[[], float] = time.time
) -> float | None:
    """Seconds to wait from `Retry-After`, given as seconds or as an HTTP-date (RFC 9110 10.2.3)."""
    value = response.headers.get("Retry-After")
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        return None
    return max(0.0, when.timestamp() - now())


class _Wait(tenacity.wait.wait_base):
    """Jittered exponential backoff, but never shorter than the server's Retry-After."""

    def __init__(self, initial: float, maximum: float) -> None:
        self._backoff = tenacity.wait_random_exponential(multiplier=initial, max=maximum)

    def __call__(self, retry_state: tenacity.RetryCallState) -> float:
        backoff = self._backoff(retry_state)
        outcome = retry_state.outcome
        error = outcome.exception() if outcome else None
        if isinstance(error, OcelotTransientError) and error.retry_after is not None:
            return max(error.retry_after, backoff)
        return backoff


class OcelotClient:
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
        self._base_url = base_url.rstrip("/")
        self._token = token
        self._timeout = timeout
        self._deadline = deadline
        self._backoff = backoff
        self._transport = transport
        self._own: httpx.Client | None = None

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
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(OcelotTransientError),
            stop=tenacity.stop_before_delay(self._deadline),
            wait=_Wait(self._backoff, maximum=min(10.0, self._deadline)),
            before_sleep=self._log_retry,
            reraise=True,
        )
        for attempt in retrying:
            with attempt:
                return self._send(call)
        raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover

    @staticmethod
    def _log_retry(retry_state: tenacity.RetryCallState) -> None:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        log.info("retrying after attempt %d: %s", retry_state.attempt_number, error)

    def _http(self) -> httpx.Client:
        if self._transport is None:
            return _pooled_client(self._base_url, self._timeout)
        if self._own is None:
            self._own = httpx.Client(
                base_url=self._base_url,
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
            )
        return self._own

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
