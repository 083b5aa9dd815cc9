"""Plugins that end with their engine.

The engine starts every plugin (provider, policy pack, dynamic provider) in its own process
group and passes it the engine's gRPC address as an argument
(pulumi/pulumi sdk/go/common/resource/plugin: provider_plugin.go, analyzer_plugin.go). A plugin
of an engine that was killed is therefore never signalled: it would serve on, reparented, for
good. Pulumi's Go provider SDK health-checks that address and exits when the engine is gone
(sdk/go/common/util/rpcutil, `Healthcheck`); the Python SDK's dynamic-provider host and
pulumi_policy do not, so the project's plugins watch it themselves with this module.
"""

from __future__ import annotations

import os
import re
import runpy
import socket
import sys
import threading
import time
from collections.abc import Sequence
from typing import Final

from lkps import switches

_ADDRESS: Final = re.compile(r"^(127\.0\.0\.1|localhost|\[::1\]):(\d{1,5})$")
INTERVAL_SECONDS: Final = 1.0
# Sets the seconds between checks instead (a test waits out three misses faster).
# Consecutive refused connections before the engine counts as gone (the Go SDK's health check
# also tolerates a transient failure before it gives up).
MISSES: Final = 3


def engine_address(argv: Sequence[str]) -> tuple[str, int] | None:
    """The engine's loopback address among a plugin's arguments, if the engine passed one
    (port 0 names no engine: a plugin started by hand, as the stand-ins' own tests do)."""
    for argument in argv:
        found = _ADDRESS.match(argument)
        if found and 0 < int(found.group(2)) < 65536:
            return found.group(1).strip("[]"), int(found.group(2))
    return None


def engine_is_up(address: tuple[str, int], timeout: float = 1.0) -> bool:
    try:
        with socket.create_connection(address, timeout=timeout):
            return True
    except OSError:
        return False


def exit_with_engine(argv: Sequence[str], interval: float | None = None) -> None:
    """Ends this process soon after the engine named in `argv` stops answering; does nothing
    when no engine address is among the arguments (a plugin started by hand)."""
    address = engine_address(argv)
    if address is None:
        return
    if interval is None:
        interval = float(switches.setting(switches.ENGINE_WATCH_INTERVAL) or INTERVAL_SECONDS)

    def watch() -> None:
        misses = 0
        while True:
            time.sleep(interval)
            misses = 0 if engine_is_up(address) else misses + 1
            if misses >= MISSES:
                # Nobody reads this process's output once the engine is gone.
                os._exit(0)

    threading.Thread(target=watch, name="engine-watch", daemon=True).start()


def main(argv: Sequence[str]) -> None:
    """`python -m lkps.engine_watch -m MODULE ARGS...`: runs MODULE as `python -m` would, ended
    with its engine. The dynamic-provider shim of the Python SDK runs
    `$PULUMI_PYTHON_CMD -u -m pulumi.dynamic <engine address>`; `scripts/plugin-python` puts
    this module in between."""
    if len(argv) < 2 or argv[0] != "-m":
        sys.exit("usage: python -m lkps.engine_watch -m MODULE [ARGS...]")
    module, arguments = argv[1], list(argv[2:])
    exit_with_engine(arguments)
    sys.argv = [module, *arguments]
    runpy.run_module(module, run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main(sys.argv[1:])
