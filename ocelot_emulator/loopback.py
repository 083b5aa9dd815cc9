"""An HTTP server on 127.0.0.1, served from a daemon thread: what every local emulator is."""

from __future__ import annotations

import logging
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self, TypeVar

log = logging.getLogger(__name__)
H = TypeVar("H", bound=type[BaseHTTPRequestHandler])


class LoopbackHandler(BaseHTTPRequestHandler):
    """Keep-alive answers without Nagle delays (every answer has a length), logged at debug."""

    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("%s %s", self.address_string(), format % args)


def bound_handler(base: H, owner: object) -> H:
    """A subclass of `base` whose requests see `owner` as `emulator`."""
    handler: H = type(base.__name__, (base,), {"emulator": owner})  # type: ignore[assignment]
    return handler


class LoopbackServer:
    """Serves `handler` on 127.0.0.1 (`port` 0 picks a free one) until `stop()`; a context
    manager that starts and stops it."""

    def __init__(self, handler: type[BaseHTTPRequestHandler], port: int = 0) -> None:
        self._server = ThreadingHTTPServer(("127.0.0.1", port), handler)
        self._server.daemon_threads = True
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
