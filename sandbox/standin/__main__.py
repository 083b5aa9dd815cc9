"""Starts one stand-in plugin: `python -m sandbox.standin azuread|azure-native [engine args]`."""

from __future__ import annotations

import sys

from lkps.engine_watch import exit_with_engine
from sandbox import behaviours
from sandbox.standin import azure_native, azuread
from sandbox.standin.server import StandinServicer, refuse_outside_sandbox, serve

PLUGINS = {
    "azuread": (behaviours.AZUREAD_VERSION, azuread.types, azuread.invokes),
    "azure-native": (behaviours.AZURE_NATIVE_VERSION, azure_native.types, azure_native.invokes),
}


def main(argv: list[str]) -> None:
    if not argv or argv[0] not in PLUGINS:
        sys.exit(f"usage: python -m sandbox.standin {'|'.join(PLUGINS)} [engine arguments]")
    name = argv[0]
    refuse_outside_sandbox(name)
    exit_with_engine(argv[1:])
    version, types, invokes = PLUGINS[name]
    serve(StandinServicer(name, version, types, invokes))


if __name__ == "__main__":
    main(sys.argv[1:])
