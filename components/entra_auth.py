"""Entra access tokens through azure-identity (for Ocelot and Key Vault), or a static token.

Entra tokens come from `DefaultAzureCredential` (`az login` locally, workload identity in CI, a
managed identity in Azure) and are cached per process and scope until shortly before expiry, so a
provider process asks Entra once per scope however many resources it handles. azure-identity is
imported when the first token is asked for, so a process that only checks or diffs never loads
it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Final

if TYPE_CHECKING:
    from azure.core.credentials import AccessToken, TokenCredential

REFRESH_MARGIN_SECONDS: Final = 300

_lock = threading.Lock()
_credential: TokenCredential | None = None
_tokens: dict[str, AccessToken] = {}


def default_credential() -> TokenCredential:
    """The process's one `DefaultAzureCredential`."""
    global _credential
    if _credential is None:
        from azure.identity import DefaultAzureCredential

        _credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    return _credential


def entra_token(scope: str) -> str:
    """A cached Entra access token for `scope`, fetched again when it is about to expire."""
    with _lock:
        return _fresh(_tokens, scope, default_credential()).token


def _fresh(cache: dict[str, AccessToken], scope: str, credential: TokenCredential) -> AccessToken:
    cached = cache.get(scope)
    if cached is None or cached.expires_on - REFRESH_MARGIN_SECONDS <= time.time():
        cached = credential.get_token(scope)
        cache[scope] = cached
    return cached


def token_source(
    scope: str, static_token: str | None, credential: TokenCredential | None = None
) -> Callable[[], str]:
    """What an Ocelot client calls for its bearer token: the static one if set, else Entra's,
    from `credential` (cached for this source) or the process's default credential."""
    if static_token:
        return _StaticToken(static_token)
    if credential is None:
        return lambda: entra_token(scope)
    lock = threading.Lock()
    cache: dict[str, AccessToken] = {}

    def token() -> str:
        with lock:
            return _fresh(cache, scope, credential).token

    return token


class _StaticToken:
    """A fixed token that never shows itself in a repr or a log line."""

    __slots__ = ("_token",)

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self) -> str:
        return self._token

    def __repr__(self) -> str:
        return "<static Ocelot token>"

    def __reduce__(self) -> tuple[object, ...]:
        raise TypeError("a static Ocelot token must not be pickled")


def forget_tokens() -> None:
    """Drop the cached credential and tokens, e.g. after the environment's identity changed."""
    global _credential
    with _lock:
        _credential = None
        _tokens.clear()
