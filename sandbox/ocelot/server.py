"""The emulator's HTTP server: Ocelot's route access API, the routes' data path (what an
application calling LKPS goes through), a managed-identity token endpoint for azure-identity, and
admin endpoints standing in for people using the Ocelot UI."""

from __future__ import annotations

import json
import logging
import secrets
import ssl
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final
from urllib.parse import parse_qs, urlsplit

from sandbox.loopback import ApiError, LoopbackHandler, LoopbackServer, bound_handler, json_body
from sandbox.ocelot import contract
from sandbox.ocelot.faults import Fault, FaultPlan
from sandbox.ocelot.store import OcelotStore, client_key
from sandbox.tokens import TokenSigner

log = logging.getLogger(__name__)

API_PREFIX: Final = "/ocelot/api/v1"
# The data path: `<GATEWAY_PREFIX>/<route id>/<path>` stands for `https://<route id>/<path>`.
GATEWAY_PREFIX: Final = "/gateway"
TOKEN_PATH: Final = "/msi/token"
STATS_PATH: Final = "/_admin/stats"
IDENTITY_HEADER: Final = "X-IDENTITY-HEADER"
TOKEN_LIFETIME_SECONDS: Final = 3600
# Who holds a token of the emulator's own managed-identity endpoint (run without the sandbox's
# Entra), and the tenant its token service signs for.
MANAGED_IDENTITY: Final = "managed-identity"
MANAGED_IDENTITY_TENANT: Final = "00000000-0000-4000-8000-000000000001"
# The identity headers Ocelot injects for LKPS besides the client ID it matched, by the claim each
# carries. That Ocelot injects identity claims as headers is documented; the names are this
# project's assumption.
CLIENT_ID_HEADER: Final = "X-Ocelot-Client-Id"
FORWARDED_CLAIMS: Final = {"X-Ocelot-Tenant-Id": "tid", "X-Ocelot-Object-Id": "oid"}


@dataclass(frozen=True)
class Exchange:
    """One API request as received and the answer given (None when the connection was dropped)."""

    method: str
    path: str
    content_type: str | None
    body: bytes
    bearer: bool
    status: int | None
    response_headers: dict[str, str]
    response_body: bytes


class OcelotEmulator(LoopbackServer):
    """Serves the contract on 127.0.0.1 until `stop()`; use as a context manager.

    `tokens` are accepted as static bearer tokens; tokens issued by the managed-identity endpoint
    (`identity_endpoint`, guarded by `identity_header`) are accepted until they expire, and so
    are the tokens `token_issuer` vouches for (it names their holder), as Ocelot accepts Entra's.

    The data path (`gateway_url`) does what the LKPS documentation says Ocelot does with an
    application's call (lkps-facts.md, "How a request reaches LKPS"): `route_claims` validates the
    bearer JWT for the route's environment (signature, issuer, audience, expiry) and gives its
    claims; the client ID they carry must be an active entry of the route's Client Access List;
    the call is then answered as LKPS would receive it, with the identity headers Ocelot injects.
    Without `route_claims` every call is refused, as no token can be checked.
    """

    def __init__(
        self,
        tokens: frozenset[str] = frozenset(),
        store: OcelotStore | None = None,
        faults: FaultPlan | None = None,
        forbidden_routes: frozenset[str] = frozenset(),
        port: int = 0,
        token_issuer: Callable[[str], str | None] | None = None,
        route_claims: Callable[[str | None, str], Mapping[str, Any] | None] | None = None,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.store = store or OcelotStore()
        self.faults = faults or FaultPlan()
        self.forbidden_routes = forbidden_routes
        self.identity_header = secrets.token_hex(16)
        self.requests: Counter[str] = Counter()
        self.exchanges: deque[Exchange] = deque(maxlen=20_000)
        self._static_tokens = set(tokens)
        self._token_issuer = token_issuer
        self.route_claims = route_claims
        # The managed-identity endpoint's tokens come from the sandbox's one token service,
        # for the resources they were asked for; its key is made on the first token (inside a
        # sandbox, Entra issues the tokens and this endpoint is not used).
        self._signer: TokenSigner | None = None
        self._audiences: set[str] = set()
        self._lock = threading.Lock()
        super().__init__(bound_handler(_Handler, self), port, tls)

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{API_PREFIX}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}{TOKEN_PATH}"

    def gateway_url(self, route_id: str) -> str:
        """Where a call to `https://<route_id>` goes in the emulator."""
        return f"{self.scheme}://127.0.0.1:{self.port}{GATEWAY_PREFIX}/{route_id}"

    def count(self, operation: str) -> None:
        with self._lock:
            self.requests[operation] += 1

    def issue_token(self, resource: str) -> tuple[str, int]:
        with self._lock:
            self._audiences.add(resource)
            if self._signer is None:
                self._signer = TokenSigner(MANAGED_IDENTITY_TENANT)
            signer = self._signer
        return signer.issue(MANAGED_IDENTITY, MANAGED_IDENTITY, resource, TOKEN_LIFETIME_SECONDS)

    def caller(self, authorization: str | None) -> str | None:
        """Who holds the bearer token, or None when it is missing, unknown or expired."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        token = authorization.removeprefix("Bearer ")
        if token in self._static_tokens:
            return "static-token-holder"
        if self._token_issuer is not None:
            holder = self._token_issuer(authorization)
            if holder is not None:
                return holder
        with self._lock:
            signer, audiences = self._signer, tuple(self._audiences)
        return MANAGED_IDENTITY if signer and signer.claims(token, audiences) else None


class _Handler(LoopbackHandler):
    emulator: OcelotEmulator
    server_version = "OcelotEmulator/1.0"

    def _on_gateway(self) -> bool:
        if not urlsplit(self.path).path.startswith(f"{GATEWAY_PREFIX}/"):
            return False
        self._gateway()
        return True

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        if self._on_gateway():
            return
        if url.path == TOKEN_PATH:
            self._token(parse_qs(url.query))
        elif url.path == STATS_PATH:
            emulator = self.emulator
            self.send_json(
                HTTPStatus.OK,
                {"requests": dict(emulator.requests), "writes": dict(emulator.store.writes)},
            )
        else:
            self._api("GET")

    def do_PUT(self) -> None:
        if not self._on_gateway():
            self._api("PUT")

    def do_PATCH(self) -> None:
        if not self._on_gateway():
            self.send_error(HTTPStatus.NOT_IMPLEMENTED, "Unsupported method ('PATCH')")

    def do_DELETE(self) -> None:
        if self._on_gateway():
            return
        if self.path.startswith("/_admin/"):
            self._admin("DELETE")
        else:
            self._api("DELETE")

    def do_POST(self) -> None:
        if not self._on_gateway():
            self._admin("POST")

    def _token(self, query: dict[str, list[str]]) -> None:
        emulator = self.emulator
        if self.headers.get(IDENTITY_HEADER) != emulator.identity_header:
            self.send_json(HTTPStatus.UNAUTHORIZED, {"error": "invalid identity header"})
            return
        emulator.count("token")
        resource = query.get("resource", [""])[0]
        token, expires_on = emulator.issue_token(resource)
        self.send_json(
            HTTPStatus.OK,
            {
                "access_token": token,
                "expires_on": str(expires_on),
                "resource": resource,
                "token_type": "Bearer",
            },
        )

    def _gateway(self) -> None:
        """A call to LKPS through its route. The error bodies are the contract's, as Ocelot's own
        for this path are not public; 401 carries RFC 6750's `invalid_token` challenge."""
        emulator = self.emulator
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        emulator.count("gateway")
        route_id, _, rest = (
            urlsplit(self.path).path.removeprefix(f"{GATEWAY_PREFIX}/").partition("/")
        )
        route = contract.ROUTES.get(route_id)
        if route is None:
            self.send_json(HTTPStatus.NOT_FOUND, _error("route_not_found", f"no route {route_id}"))
            return
        check = emulator.route_claims
        claims = check(self.headers.get("Authorization"), route[0]) if check else None
        if claims is None:
            self.send_json(
                HTTPStatus.UNAUTHORIZED,
                _error("invalid_token", "the bearer token is missing, invalid or expired"),
                {"WWW-Authenticate": 'Bearer error="invalid_token"'},
            )
            return
        # v1.0 tokens name the client in `appid`, v2.0 tokens in `azp`
        # (learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
        client_id = str(claims.get("appid") or claims.get("azp") or "")
        entry = emulator.store.entries(route_id).get(client_key(client_id))
        if entry is None or entry.status != "active":
            state = "not on" if entry is None else f"{entry.status} on"
            self.send_json(
                HTTPStatus.FORBIDDEN,
                _error("client_not_allowed", f"client {client_id} is {state} {route_id}'s list"),
            )
            return
        self.send_json(
            HTTPStatus.OK,
            {
                "route": route_id,
                "method": self.command,
                "path": f"/{rest}",
                "forwardedHeaders": {
                    CLIENT_ID_HEADER: client_id,
                    **{
                        name: str(claims[claim])
                        for name, claim in FORWARDED_CLAIMS.items()
                        if claim in claims
                    },
                },
            },
        )

    def _admin(self, method: str) -> None:
        parts = self.path.strip("/").split("/")
        store = self.emulator.store
        try:
            if method == "POST" and len(parts) == 6 and parts[5] == "approve":
                store.approve(parts[2], parts[4])
            elif method == "DELETE" and len(parts) == 5:
                store.remove_out_of_band(parts[2], parts[4])
            else:
                self.send_json(HTTPStatus.NOT_FOUND, {"error": "unknown admin path"})
                return
        except KeyError:
            self.send_json(HTTPStatus.NOT_FOUND, {"error": "no such route or entry"})
            return
        self.send_json(HTTPStatus.NO_CONTENT, None)

    def _api(self, method: str) -> None:
        emulator = self.emulator
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        faults = emulator.faults
        if faults.latency_seconds:
            time.sleep(faults.latency_seconds)
        fault, apply_before_drop = faults.draw()
        emulator.count(f"{method} total")
        if fault is Fault.RATE_LIMITED:
            self._answer(
                method,
                body,
                HTTPStatus.TOO_MANY_REQUESTS,
                _error("rate_limited", "too many requests"),
                {"Retry-After": str(faults.retry_after_seconds)},
            )
            return
        if fault is Fault.UNAVAILABLE:
            self._answer(
                method, body, HTTPStatus.SERVICE_UNAVAILABLE, _error("unavailable", "try later")
            )
            return
        if fault is Fault.DROPPED:
            if apply_before_drop:
                self._handle(method, body)
            self._record(method, body, None, {}, b"")
            self.close_connection = True
            return
        status, payload = self._handle(method, body)
        if fault is Fault.SLOW:
            time.sleep(faults.slow_seconds)
        self._answer(method, body, status, payload)

    def _handle(self, method: str, body: bytes) -> tuple[HTTPStatus, Any]:
        try:
            return self._route(method, body)
        except ApiError as exc:
            return exc.status, _error(exc.code, exc.message)

    def _route(self, method: str, body: bytes) -> tuple[HTTPStatus, Any]:
        emulator = self.emulator
        caller = emulator.caller(self.headers.get("Authorization"))
        if caller is None:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "unauthorized", "missing or invalid token")
        path = urlsplit(self.path).path
        if not path.startswith(f"{API_PREFIX}/routes/"):
            raise ApiError(HTTPStatus.NOT_FOUND, "not_found", "no such resource")
        parts = path.removeprefix(f"{API_PREFIX}/").split("/")
        route_id = parts[1]
        if method == "GET" and len(parts) == 2:
            emulator.count("get_route")
            route = emulator.store.route_json(route_id)
            if route is None:
                raise ApiError(HTTPStatus.NOT_FOUND, "route_not_found", f"no route {route_id}")
            return HTTPStatus.OK, route
        if len(parts) != 4 or parts[2] != "clients" or method not in ("PUT", "DELETE"):
            raise ApiError(HTTPStatus.NOT_FOUND, "not_found", "no such resource")
        client_id = parts[3]
        if not contract.UUID.fullmatch(client_id):
            raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_client_id", "client ID is not a GUID")
        if route_id in emulator.forbidden_routes:
            raise ApiError(
                HTTPStatus.FORBIDDEN, "forbidden", f"{caller} may not manage route {route_id}"
            )
        if method == "DELETE":
            emulator.count("delete_client")
            deleted = emulator.store.delete(route_id, client_id)
            if not deleted:
                what = "route" if deleted is None else "client"
                raise ApiError(HTTPStatus.NOT_FOUND, f"{what}_not_found", f"no such {what}")
            return HTTPStatus.NO_CONTENT, None
        emulator.count("put_client")
        beat_id, description = _client_request(body)
        result = emulator.store.put(route_id, client_id, beat_id, description, caller)
        if result is None:
            raise ApiError(HTTPStatus.NOT_FOUND, "route_not_found", f"no route {route_id}")
        entry, added = result
        return (HTTPStatus.CREATED if added else HTTPStatus.OK), entry.to_json()

    def _answer(
        self,
        method: str,
        request_body: bytes,
        status: HTTPStatus,
        payload: Any,
        headers: dict[str, str] | None = None,
    ) -> None:
        body = json_body(payload)
        self._record(method, request_body, status, headers or {}, body)
        self.send_json(status, payload, headers)

    def _record(
        self,
        method: str,
        body: bytes,
        status: int | None,
        headers: dict[str, str],
        response_body: bytes,
    ) -> None:
        self.emulator.exchanges.append(
            Exchange(
                method=method,
                path=urlsplit(self.path).path,
                content_type=self.headers.get("Content-Type"),
                body=body,
                bearer=(self.headers.get("Authorization") or "").startswith("Bearer "),
                status=status,
                response_headers={"Content-Type": "application/json", **headers}
                if response_body
                else dict(headers),
                response_body=response_body,
            )
        )


def _error(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def _client_request(body: bytes) -> tuple[str, str]:
    try:
        request = json.loads(body)
    except ValueError:
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_json", "body is not JSON") from None
    if not isinstance(request, dict):
        raise ApiError(HTTPStatus.BAD_REQUEST, "invalid_body", "body must be an object")
    beat_id, description = request.get("beatId"), request.get("description")
    if not isinstance(beat_id, str) or not contract.BEAT_ID.fullmatch(beat_id):
        raise ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_beat_id",
            f"beatId must be {contract.BEAT_ID_FORM}",
        )
    if not isinstance(description, str) or len(description) > contract.DESCRIPTION_MAX_LENGTH:
        raise ApiError(
            HTTPStatus.UNPROCESSABLE_ENTITY,
            "invalid_description",
            f"description must be a string of at most {contract.DESCRIPTION_MAX_LENGTH} characters",
        )
    return beat_id, description
