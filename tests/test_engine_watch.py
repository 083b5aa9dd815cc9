"""Plugins end with their engine: a process watching a loopback address exits once nothing
answers there, and keeps serving while something does."""

from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

from lkps.engine_watch import MISSES, engine_address
from lkps.switches import ENGINE_WATCH_INTERVAL

INTERVAL = 0.2


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["127.0.0.1:40123"], ("127.0.0.1", 40123)),
        (["--logtostderr", "-v=9", "127.0.0.1:40123", "."], ("127.0.0.1", 40123)),
        (["[::1]:40123"], ("::1", 40123)),
        (["127.0.0.1:0"], None),
        (["10.0.0.1:40123"], None),
        (["azuread"], None),
        ([], None),
    ],
)
def test_the_engine_address_is_found_among_the_arguments(
    argv: list[str], expected: tuple[str, int] | None
) -> None:
    assert engine_address(argv) == expected


def test_a_plugin_exits_soon_after_its_engine_is_gone() -> None:
    engine = socket.create_server(("127.0.0.1", 0))
    port = engine.getsockname()[1]
    plugin = subprocess.Popen(  # noqa: S603 - this interpreter, the project's own module
        # The Python SDK's dynamic-provider host, as scripts/plugin-python starts it.
        [sys.executable, "-m", "lkps.engine_watch", "-m", "pulumi.dynamic", f"127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env={**os.environ, ENGINE_WATCH_INTERVAL: str(INTERVAL)},
    )
    try:
        # More checks answered than it takes misses to exit, and the plugin still runs.
        engine.settimeout(10)
        for _ in range(MISSES + 1):
            engine.accept()[0].close()
        assert plugin.poll() is None, "the plugin exited while its engine was up"
        engine.close()
        assert plugin.wait(timeout=MISSES * INTERVAL + 5) == 0
    finally:
        engine.close()
        if plugin.poll() is None:
            plugin.kill()
            plugin.wait()
