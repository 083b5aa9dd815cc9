"""The engine's provider protocol (pulumi/pulumi proto/pulumi/provider.proto and plugin.proto),
as the Python SDK ships its generated modules, loaded without the rest of the SDK.

`pulumi.runtime.proto` is a subpackage of `pulumi`, and importing it runs `pulumi/__init__`,
which imports the whole SDK (the automation API, the runtime, asyncio): 0.16 s of each
stand-in's start, and the engine starts its plugins one after another. The generated modules
import only each other (relatively), protobuf and grpc, so here they load from the SDK's own
folder as a package of their own. In a process that has already imported the SDK's package
(a test), that package is used instead.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING, Final

SDK_PACKAGE: Final = "pulumi.runtime.proto"
_PACKAGE: Final = "sandbox.standin._pulumi_proto"


def _package() -> str:
    if SDK_PACKAGE in sys.modules:
        return SDK_PACKAGE
    if _PACKAGE not in sys.modules:
        sdk = importlib.util.find_spec("pulumi")  # finds the folder; runs no __init__
        if sdk is None or not sdk.submodule_search_locations:
            raise ImportError("the Pulumi SDK (pulumi) is not installed")
        folder = Path(next(iter(sdk.submodule_search_locations))) / "runtime" / "proto"
        package = ModuleType(_PACKAGE, __doc__)
        package.__path__ = [str(folder)]
        sys.modules[_PACKAGE] = package
    return _PACKAGE


def _module(name: str) -> ModuleType:
    return importlib.import_module(f"{_package()}.{name}")


if TYPE_CHECKING:
    from pulumi.runtime.proto import plugin_pb2, provider_pb2, provider_pb2_grpc
else:
    plugin_pb2 = _module("plugin_pb2")
    provider_pb2 = _module("provider_pb2")
    provider_pb2_grpc = _module("provider_pb2_grpc")

__all__ = ["plugin_pb2", "provider_pb2", "provider_pb2_grpc"]
