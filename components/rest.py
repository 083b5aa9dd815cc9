"""What every REST client of the stack's providers shares: one pooled keep-alive httpx client per
process, base URL, timeout and trust store, and retries with jittered exponential backoff that
never wait less than the server's `Retry-After`, until a total deadline (tenacity).

`components.ocelot.api` (Ocelot's route access API) and `components.agent_id.graph` (Microsoft
Graph for Agent ID) are built on it; each keeps its own paths, bodies and error classes.
"""

from __future__ import annotations

import email.utils
import logging
import os
import ssl
import threading
import time
from collections.abc import Callable
from typing import TypeVar

import httpx
import tenacity

log = logging.getLogger(__name__)
T = TypeVar("T")


class TransientError(Exception):
    """A failure worth retrying (rate limiting, a gateway error, a timeout, a lost connection),
    with the seconds the server asked to wait, if it did."""

    def __init__(self, *args: object, retry_after: float | None = None) -> None:
        super().__init__(*args)
        self.retry_after = retry_after


_tls_lock = threading.Lock()
_tls: dict[tuple[str | None, str | None], ssl.SSLContext] = {}


def tls_context() -> ssl.SSLContext:
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


def pooled_client(base_url: str, timeout: float) -> httpx.Client:
    """One keep-alive HTTP client per process, base URL, timeout and trust store, shared by every
    thread of the provider process (httpx clients are thread-safe); built on first use, never
    pickled."""
    tls = tls_context()
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
        if isinstance(error, TransientError) and error.retry_after is not None:
            return max(error.retry_after, backoff)
        return backoff


def _log_retry(retry_state: tenacity.RetryCallState) -> None:
    error = retry_state.outcome.exception() if retry_state.outcome else None
    log.info("retrying after attempt %d: %s", retry_state.attempt_number, error)


def with_retries(send: Callable[[], T], deadline: float, backoff: float, longest: float) -> T:
    """`send()`, tried again on a `TransientError` until `deadline` seconds have passed, waiting
    between tries as `_Wait` says (at most `longest`, and never past the deadline)."""
    retrying = tenacity.Retrying(
        retry=tenacity.retry_if_exception_type(TransientError),
        stop=tenacity.stop_before_delay(deadline),
        wait=_Wait(backoff, maximum=min(longest, deadline)),
        before_sleep=_log_retry,
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return send()
    raise AssertionError("unreachable: tenacity reraises the last error")  # pragma: no cover


class ClientBase:
    """The HTTP client of one API's client object: the process's pooled one, or, when a test
    gives a `transport`, this object's own."""

    def __init__(
        self, base_url: str, timeout: float, transport: httpx.BaseTransport | None
    ) -> None:
        self._base_url = base_url.rstrip("/")
        self._timeout = timeout
        self._transport = transport
        self._own: httpx.Client | None = None

    def _http(self) -> httpx.Client:
        if self._transport is None:
            return pooled_client(self._base_url, self._timeout)
        if self._own is None:
            self._own = httpx.Client(
                base_url=self._base_url,
                timeout=self._timeout,
                transport=self._transport,
                follow_redirects=False,
            )
        return self._own
