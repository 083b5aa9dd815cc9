"""The stack program under Pulumi's mocks: the SDK-level stand-in for the engine and the Azure
providers, and the one place that reaches into the SDK's internals to run it.

The mocks answer as the real providers do (IDs, client IDs, secret password values, a canary
secret that tests look for); everything else is the real program and the real SDK. The tests
(`tests/support/harness.py`) and `benchmarks/stack_scale.py --mocks-sizes` run the program
through `run_program`. The SDK internals it uses, pinned by the lock file: `MockMonitor.resources`
(each registration's mocked state) and `pulumi.runtime.settings.ROOT` (reset between runs).
"""

from __future__ import annotations

import json
import logging
import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pulumi
from pulumi.runtime import mocks as pulumi_mocks
from pulumi.runtime import rpc
from pulumi.runtime import settings as runtime_settings

from lkps import resource_types, rules
from lkps.settings import StackSettings
from program import build, run

PROJECT = rules.PROJECT
CANARY_SECRET = "CANARY-client-secret-4f1d9c"
DEPLOYER_OBJECT_ID = "0f0e0d0c-0b0a-4999-8888-777766665555"


def as_engine_config(raw: Mapping[str, Any]) -> dict[str, str]:
    """Config as the engine hands it to a program: namespaced keys, strings, objects as JSON."""
    return {
        f"{PROJECT}:{key}": value if isinstance(value, str) else json.dumps(value)
        for key, value in raw.items()
    }


def _fake_guid(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "/".join(parts)))


@dataclass
class Registration:
    """One resource registration as the engine received it."""

    type: str
    name: str
    urn: str
    parent: str
    custom: bool
    protect: bool | None
    delete_before_replace: bool
    inputs: dict[str, Any]
    ignore_changes: list[str] = field(default_factory=list)
    outputs: dict[str, Any] = field(default_factory=dict)
    property_dependencies: dict[str, list[str]] = field(default_factory=dict)


class AzureMocks(pulumi_mocks.Mocks):
    """Answers for the Azure resources and invokes, shaped like the real providers' outputs.

    Ocelot route access answers with `route_status`, as the Ocelot provider would.
    """

    def __init__(
        self,
        route_status: str = "active",
        deployer: str = DEPLOYER_OBJECT_ID,
        last_outputs: Mapping[str, Any] | None = None,
        vault_tags: Mapping[str, Mapping[str, str]] | None = None,
    ) -> None:
        self.route_status = route_status
        self.deployer = deployer
        self.last_outputs = dict(last_outputs or {})
        self.vault_tags = dict(vault_tags or {})

    def new_resource(
        self, args: pulumi_mocks.MockResourceArgs
    ) -> tuple[str | None, dict[str, Any]]:
        outputs = dict(args.inputs)
        if args.typ == resource_types.APPLICATION:
            object_id = _fake_guid("object", args.name)
            outputs |= {"clientId": _fake_guid("client", args.name), "objectId": object_id}
            return f"/applications/{object_id}", outputs
        if args.typ == resource_types.SERVICE_PRINCIPAL:
            object_id = _fake_guid("sp", args.name)
            return f"/servicePrincipals/{object_id}", outputs | {"objectId": object_id}
        if args.typ == resource_types.APPLICATION_PASSWORD:
            key_id = _fake_guid("key", args.name, json.dumps(args.inputs, sort_keys=True))
            secret = rpc.wrap_rpc_secret(f"{CANARY_SECRET}-{key_id}")
            return f"{args.inputs['applicationId']}/password/{key_id}", outputs | {
                "keyId": key_id,
                "value": secret,
            }
        if args.typ == resource_types.FEDERATED_CREDENTIAL:
            credential_id = _fake_guid("federated", args.name)
            object_id = str(args.inputs["applicationId"]).removeprefix("/applications/")
            return f"{object_id}/federatedIdentityCredential/{credential_id}", outputs | {
                "credentialId": credential_id
            }
        if args.typ == rules.ROUTE_ACCESS_TYPE:
            return f"{args.inputs['route_id']}/{args.inputs['client_id']}", outputs | {
                "status": self.route_status,
                "added_at": "2026-01-01T00:00:00Z",
                "added_by": "mock",
                "ui_url": f"https://devtools-np.bayer.com/ocelot?route={args.inputs['route_id']}",
            }
        return f"{args.name}-id", outputs

    def call(self, args: pulumi_mocks.MockCallArgs) -> tuple[dict[str, Any], list[Any]]:
        if args.token == "pulumi:pulumi:readStackOutputs":
            return {"name": args.args["name"], "outputs": self.last_outputs}, []
        if args.token == "azuread:index/getClientConfig:getClientConfig":
            return {
                "clientId": _fake_guid("deployer-client"),
                "objectId": self.deployer,
                "tenantId": _fake_guid("tenant"),
            }, []
        if args.token == "azure-native:keyvault:getSecret":
            tags = self.vault_tags.get(args.args["secretName"])
            if tags is None:
                return {}, [("secretName", f"SecretNotFound: {args.args['secretName']}")]
            return {"name": args.args["secretName"], "tags": dict(tags)}, []
        raise NotImplementedError(f"no mock for invoke {args.token}")


class RecordingMonitor(pulumi_mocks.MockMonitor):
    """The SDK's mock monitor, also keeping the options of each registration."""

    def __init__(self, mocks: pulumi_mocks.Mocks) -> None:
        super().__init__(mocks)
        self.registrations: list[Registration] = []

    def RegisterResource(self, request: Any) -> Any:  # noqa: N802 - gRPC method name
        response = super().RegisterResource(request)  # type: ignore[no-untyped-call]
        if request.type != "pulumi:pulumi:Stack":
            self.registrations.append(
                Registration(
                    type=request.type,
                    name=request.name,
                    urn=response.urn,
                    parent=request.parent,
                    custom=request.custom,
                    protect=request.protect if request.HasField("protect") else None,
                    delete_before_replace=request.deleteBeforeReplace,
                    inputs=rpc.deserialize_properties(request.object),
                    ignore_changes=list(request.ignoreChanges),
                    outputs=self.resources[response.urn].state,
                    property_dependencies={
                        key: list(deps.urns) for key, deps in request.propertyDependencies.items()
                    },
                )
            )
        return response


class _EngineLog(logging.Handler):
    """What the program logged to the engine: (level, message) pairs."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.messages: list[tuple[str, str]] = []
        self.logger = logging.getLogger(f"pulumi-engine-{id(self)}")
        self.logger.propagate = False
        self.logger.setLevel(logging.DEBUG)
        self.logger.addHandler(self)

    def emit(self, record: logging.LogRecord) -> None:
        self.messages.append((record.levelname, record.getMessage()))


@dataclass
class ProgramRun:
    """What one run of the program registered and exported."""

    registrations: list[Registration]
    outputs: dict[str, Any]
    secret_outputs: dict[str, bool]
    engine_log: list[tuple[str, str]]

    def of_type(self, type_token: str) -> list[Registration]:
        return [r for r in self.registrations if r.type == type_token]

    def named(self, name: str) -> Registration:
        matches = [r for r in self.registrations if r.name == name]
        assert len(matches) == 1, f"expected one resource named {name}, found {len(matches)}"
        return matches[0]

    def parent_of(self, child: Registration) -> Registration | None:
        return next((r for r in self.registrations if r.urn == child.parent), None)


def run_program(
    raw_config: Mapping[str, Any],
    stack: str,
    today: date,
    preview: bool = False,
    route_status: str = "active",
    settings_override: StackSettings | None = None,
    running_as: str | None = None,
    last_outputs: Mapping[str, Any] | None = None,
    vault_tags: Mapping[str, Mapping[str, str]] | None = None,
) -> ProgramRun:
    """Run the real program under mocks with the given raw config, stack name and clock.

    `settings_override` skips config validation, to build what a broken program would;
    `running_as` is the running identity (the configured deployer by default); `last_outputs`
    are the stack outputs of the last run and `vault_tags` the tags of vault secrets by name.
    """
    deployer = running_as or str(raw_config.get("deployerObjectId", DEPLOYER_OBJECT_ID))
    mocks = AzureMocks(route_status, deployer, last_outputs, vault_tags)
    monitor = RecordingMonitor(mocks)
    engine_log = _EngineLog()
    runtime_settings.ROOT.set(None)
    pulumi.runtime.set_all_config(as_engine_config(raw_config))
    pulumi.runtime.set_mocks(
        mocks,
        project=PROJECT,
        stack=stack,
        preview=preview,
        monitor=monitor,
        logger=engine_log.logger,
    )
    result: dict[str, Any] = {}

    @pulumi.runtime.test  # type: ignore[untyped-decorator]
    def program() -> pulumi.Output[Any]:
        if settings_override is None:
            run(today=today)
        else:
            build(settings_override, today)
        stack_outputs = pulumi.runtime.get_root_resource().outputs  # type: ignore[union-attr]

        async def collect() -> None:
            result["outputs"] = await pulumi.Output.from_input(stack_outputs).future()
            result["secret"] = {
                name: await pulumi.Output.from_input(value).is_secret()
                for name, value in stack_outputs.items()
            }

        return pulumi.Output.from_input(collect())

    program()
    return ProgramRun(
        monitor.registrations,
        result["outputs"],
        result["secret"],
        engine_log.messages,
    )
