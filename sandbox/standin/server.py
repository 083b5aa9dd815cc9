"""The gRPC resource provider the engine talks to, shared by both stand-in plugins.

The engine starts the plugin, reads its port from the first line of stdout and calls
GetPluginInfo, CheckConfig, DiffConfig, Configure, Check, Diff, Create (with `preview`), Read,
Update, Delete and Invoke (pulumi/pulumi proto/pulumi/provider.proto). The diff, the unknowns of a
preview and the refusal of anything unknown come from the type rules in `sandbox.behaviours`;
what each resource does against the emulator is in its `ResourceType`.
"""

from __future__ import annotations

import abc
import logging
import sys
import threading
import traceback
from collections.abc import Callable, Mapping
from concurrent import futures
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, TypeVar

import grpc
from google.protobuf import empty_pb2

from lkps import switches
from sandbox.behaviours import TypeRules
from sandbox.standin.client import ApiCallError, EntraClient
from sandbox.standin.protocol import plugin_pb2, provider_pb2, provider_pb2_grpc
from sandbox.standin.wire import UNKNOWN, Secret, decode, encode, has_unknown, plain

log = logging.getLogger(__name__)

SANDBOX_MARKER: Final = "SANDBOX"

R = TypeVar("R")


class ProviderError(Exception):
    """A failure to report to the engine as the real provider would: one clear message."""


@dataclass
class Change:
    """What Diff found: changed top-level inputs, those of them that force a replacement, the
    changed property paths with their kind (`bridged.ADD`...), and the planned state."""

    changed: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    ignored: tuple[str, ...] = ()
    detailed: dict[str, int] = field(default_factory=dict)
    planned: dict[str, Any] = field(default_factory=dict)
    delete_before_replace: bool = False


def _comparable(rules: TypeRules, key: str, value: Any) -> Any:
    value = plain(value)
    if key in rules.set_valued and isinstance(value, list):
        return sorted(str(item).lower() for item in value)
    return value


class ResourceType(abc.ABC):
    """One resource type of a stand-in: its rules and its calls to the emulator."""

    rules: TypeRules

    def __init__(self, client: Callable[[], EntraClient]) -> None:
        self._client = client

    @property
    def client(self) -> EntraClient:
        return self._client()

    def check(self, news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The inputs as the provider completes them, and the failures by property."""
        return news, self.failures(news)

    def failures(self, news: dict[str, Any]) -> list[tuple[str, str]]:
        failures = [
            (key, f"the sandbox's {self.rules.resource_type} stand-in does not emulate '{key}'")
            for key in news
            if key not in self.rules.inputs and not key.startswith("__")
        ]
        failures += [
            (key, f"missing required property '{key}'")
            for key in sorted(self.rules.required)
            if news.get(key) is None
        ]
        return failures

    def diff(
        self,
        state: dict[str, Any],
        old_inputs: dict[str, Any],
        news: dict[str, Any],
        ignore_changes: tuple[str, ...] = (),
    ) -> Change:
        """Old inputs against new ones (the engine has applied `ignoreChanges` to `news`)."""
        del state, ignore_changes
        change = Change()
        for key in sorted(self.rules.inputs):
            new, old = news.get(key), old_inputs.get(key)
            if has_unknown(new) or _comparable(self.rules, key, new) != _comparable(
                self.rules, key, old
            ):
                change.changed.append(key)
                if key in self.rules.replace_on:
                    change.replaces.append(key)
        return change

    def preview(self, inputs: dict[str, Any]) -> dict[str, Any]:
        """Outputs of a create during preview: the inputs, and every computed output unknown."""
        self.plan_create(inputs)
        return {**inputs, **{key: UNKNOWN for key in self.rules.computed}}

    def plan_create(self, inputs: dict[str, Any]) -> None:
        """Refusals the real provider makes while planning a create (none by default)."""
        del inputs

    @abc.abstractmethod
    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]: ...

    @abc.abstractmethod
    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        """Outputs and inputs as they are now, or None when the resource is gone."""

    @abc.abstractmethod
    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]: ...

    @abc.abstractmethod
    def delete(self, id_: str, state: dict[str, Any]) -> None: ...


Invoke = Callable[[dict[str, Any]], dict[str, Any]]


def _type_of(request: Any) -> str:
    if getattr(request, "type", ""):
        return str(request.type)
    return str(request.urn.split("::")[2].rsplit("$", 1)[-1])


class StandinServicer(provider_pb2_grpc.ResourceProviderServicer):
    """Dispatches the engine's calls to the resource types of one stand-in plugin."""

    def __init__(
        self,
        name: str,
        version: str,
        types: Callable[
            [Callable[[], EntraClient], Callable[[], dict[str, Any]]], Mapping[str, ResourceType]
        ],
        invokes: Callable[
            [Callable[[], EntraClient], Callable[[], dict[str, Any]]], Mapping[str, Invoke]
        ],
    ) -> None:
        self.name, self.version = name, version
        self._client: EntraClient | None = None
        self._lock = threading.Lock()
        self.config: dict[str, Any] = {}
        self.types = types(self.client, lambda: self.config)
        self.invokes = invokes(self.client, lambda: self.config)

    def client(self) -> EntraClient:
        with self._lock:
            if self._client is None:
                self._client = EntraClient()
            return self._client

    def _resource(self, request: Any) -> ResourceType:
        token = _type_of(request)
        found = self.types.get(token)
        if found is None:
            raise ProviderError(
                f"the sandbox's {self.name} stand-in does not emulate resource type {token}; "
                f"it emulates {', '.join(sorted(self.types))}"
            )
        return found

    def _run(self, context: grpc.ServicerContext, what: Callable[[], R]) -> R:
        try:
            return what()
        except (ProviderError, ApiCallError) as exc:
            context.abort(grpc.StatusCode.UNKNOWN, str(exc))
        except Exception:  # every other failure reaches the engine with its traceback
            context.abort(grpc.StatusCode.UNKNOWN, traceback.format_exc())
        raise AssertionError("unreachable")

    def GetPluginInfo(self, request: Any, context: Any) -> Any:
        return plugin_pb2.PluginInfo(version=self.version)

    def CheckConfig(self, request: Any, context: Any) -> Any:
        return provider_pb2.CheckResponse(inputs=request.news)

    def DiffConfig(self, request: Any, context: Any) -> Any:
        same = decode(request.olds) == decode(request.news)
        changes = (
            provider_pb2.DiffResponse.DIFF_NONE if same else provider_pb2.DiffResponse.DIFF_SOME
        )
        return provider_pb2.DiffResponse(changes=changes)

    def Configure(self, request: Any, context: Any) -> Any:
        self.config = plain(decode(request.args))
        return provider_pb2.ConfigureResponse(
            acceptSecrets=True, supportsPreview=True, acceptResources=False
        )

    def Invoke(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            function = self.invokes.get(request.tok)
            if function is None:
                raise ProviderError(
                    f"the sandbox's {self.name} stand-in does not emulate function {request.tok}"
                )
            return provider_pb2.InvokeResponse(**{"return": encode(function(decode(request.args)))})

        return self._run(context, run)

    def Check(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            checked, failures = self._resource(request).check(decode(request.news))
            return provider_pb2.CheckResponse(
                inputs=encode(checked),
                failures=[
                    provider_pb2.CheckFailure(property=key, reason=reason)
                    for key, reason in failures
                ],
            )

        return self._run(context, run)

    def Diff(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            resource = self._resource(request)
            state = decode(request.olds)
            old_inputs = decode(request.old_inputs) or state
            change = resource.diff(
                state, old_inputs, decode(request.news), tuple(request.ignoreChanges)
            )
            return provider_pb2.DiffResponse(
                changes=provider_pb2.DiffResponse.DIFF_SOME
                if change.changed
                else provider_pb2.DiffResponse.DIFF_NONE,
                diffs=change.changed,
                replaces=change.replaces,
                deleteBeforeReplace=change.delete_before_replace,
                hasDetailedDiff=bool(change.detailed),
                detailedDiff={
                    path: provider_pb2.PropertyDiff(kind=kind, inputDiff=True)  # type: ignore[arg-type]
                    for path, kind in change.detailed.items()
                },
            )

        return self._run(context, run)

    def Create(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            resource = self._resource(request)
            inputs = decode(request.properties)
            if request.preview:
                return provider_pb2.CreateResponse(
                    id="", properties=encode(resource.preview(inputs))
                )
            id_, outputs = resource.create(inputs)
            return provider_pb2.CreateResponse(id=id_, properties=encode(outputs))

        return self._run(context, run)

    def Read(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            resource = self._resource(request)
            found = resource.read(request.id, decode(request.properties), decode(request.inputs))
            if found is None:
                return provider_pb2.ReadResponse(id="")
            outputs, inputs = found
            return provider_pb2.ReadResponse(
                id=request.id, properties=encode(outputs), inputs=encode(inputs)
            )

        return self._run(context, run)

    def Update(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            resource = self._resource(request)
            news = decode(request.news)
            state = decode(request.olds)
            old_inputs = decode(request.old_inputs) or state
            change = resource.diff(state, old_inputs, news, tuple(request.ignoreChanges))
            change.ignored = tuple(request.ignoreChanges)
            if change.replaces:
                raise ProviderError(
                    f"{resource.rules.resource_type}: {', '.join(change.replaces)} cannot be "
                    "updated in place"
                )
            if request.preview:
                planned = change.planned or news
                return provider_pb2.UpdateResponse(properties=encode({**state, **planned}))
            outputs = resource.update(request.id, state, news, change)
            return provider_pb2.UpdateResponse(properties=encode(outputs))

        return self._run(context, run)

    def Delete(self, request: Any, context: Any) -> Any:
        def run() -> Any:
            self._resource(request).delete(request.id, decode(request.properties))
            return empty_pb2.Empty()

        return self._run(context, run)

    def Cancel(self, request: Any, context: Any) -> Any:
        return empty_pb2.Empty()

    def GetSchema(self, request: Any, context: Any) -> Any:
        context.abort(grpc.StatusCode.UNIMPLEMENTED, "the stand-ins serve no schema")


def refuse_outside_sandbox(name: str) -> None:
    """Exit unless started by the sandbox, so a stand-in never shadows the real provider."""
    folder = switches.setting(switches.SANDBOX_DIR)
    if not folder or not (Path(folder) / SANDBOX_MARKER).is_file():
        sys.stderr.write(
            f"pulumi-resource-{name}: this is the lkps-onboarding sandbox's stand-in for "
            f"{name}; it never talks to Azure and only runs inside "
            "`scripts/stack <verb> <stack> --sandbox`.\n"
        )
        sys.exit(1)


def serve(servicer: StandinServicer) -> None:
    """Serve on a free loopback port, print it for the engine, and wait to be killed."""
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=8))
    provider_pb2_grpc.add_ResourceProviderServicer_to_server(servicer, server)
    port = server.add_insecure_port("127.0.0.1:0")
    server.start()
    sys.stdout.write(f"{port}\n")
    sys.stdout.flush()
    server.wait_for_termination()


def secret_if(value: Any, secret: bool) -> Any:
    return Secret(value) if secret and value is not None else value
