"""An HTTP(S) server on 127.0.0.1, served from a daemon thread: what every local emulator is."""

from __future__ import annotations

import json
import logging
import ssl
import sys
import threading
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

log = logging.getLogger(__name__)
H = TypeVar("H", bound=type[BaseHTTPRequestHandler])


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive answers without Nagle delays (every answer has a length), logged at debug."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def setup(self) -> None:
        # The TLS handshake runs here, in the request's thread, not in the accepting one.
        if isinstance(self.request, ssl.SSLSocket):
            self.request.do_handshake()
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)

    def send_json(
        self, status: HTTPStatus, payload: Any, headers: dict[str, str] | None = None
    ) -> None:
        """Answers with `payload` as JSON (no body for None) and `headers`; a client that went
        away before the answer is no error of the emulator's."""
        body = json_body(payload)
        try:
            self.send_response(status)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            if body:
                self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            log.debug("client went away before the answer")


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


def json_body(payload: Any) -> bytes:
    return b"" if payload is None else json.dumps(payload).encode()


def bound_handler(base: H, owner: object) -> H:
    """A subclass of `base` whose requests see `owner` as `emulator`."""
    handler: H = type(base.__name__, (base,), {"emulator": owner})  # type: ignore[assignment]
    return handler


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (`port` 0 picks a free one) until `stop()`, over TLS with
    `tls` when given; a context manager that starts and stops it."""

    def __init__(
        self,
        handler: type[BaseHTTPRequestHandler],
        port: int = 0,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self._server = _Server(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
        self.scheme = "https" if tls else "http"
        if tls:
            self._server.socket = tls.wrap_socket(
                self._server.socket, server_side=True, do_handshake_on_connect=False
            )
        self._thread: threading.Thread | None = None

    @property
    def port(self) -> int:
        return int(self._server.server_address[1])

    def start(self) -> Self:
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


class _Server(ThreadingHTTPServer):
    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that gives up during the handshake (or distrusts the certificate) is logged,
        # not printed as a traceback.
        if isinstance(sys.exc_info()[1], ssl.SSLError | ConnectionError):
            log.debug("TLS with %s failed", client_address, exc_info=True)
        else:
            super().handle_error(request, client_address)
