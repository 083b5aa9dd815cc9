"""Runs the policy pack's rules on what a program registered under mocks, as the engine would."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from pulumi.runtime import rpc
from pulumi_policy import (
    PolicyCustomTimeouts,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import unknown_checking_proxy

from policies.pack import POLICIES
from tests.support.harness import PROJECT, ProgramRun, Registration

POLICY_DIR = Path(__file__).resolve().parents[2] / "policies"


@dataclass(frozen=True)
class Violation:
    policy: str
    message: str
    urn: str | None


def plain(value: Any) -> Any:
    """A value as the policy analyzer receives it: secrets unwrapped."""
    if rpc.is_rpc_secret(value):
        return plain(rpc.unwrap_rpc_secret(value))
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [plain(v) for v in value]
    return value


def pack_config(environment: str) -> dict[str, dict[str, Any]]:
    """Each policy's config from policies/config.<environment>.json."""
    raw = json.loads((POLICY_DIR / f"config.{environment}.json").read_text())
    return {
        name: {k: v for k, v in value.items() if k != "enforcementLevel"}
        for name, value in raw.items()
        if isinstance(value, dict)
    }


def _options(
    protect: bool, delete_before_replace: bool, parent: str | None
) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=protect,
        ignore_changes=[],
        delete_before_replace=delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(create_seconds=0, update_seconds=0, delete_seconds=0),
        additional_secret_outputs=[],
        parent=parent,
    )


def _opts(registration: Registration) -> PolicyResourceOptions:
    return _options(
        bool(registration.protect),
        registration.delete_before_replace,
        registration.parent or None,
    )


def resource_args(
    registration: Registration, config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        resource_type=registration.type,
        props=unknown_checking_proxy(plain(registration.inputs)),
        urn=registration.urn,
        name=registration.name,
        opts=_opts(registration),
        provider=None,
        config=config or {},
    )


def stack_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"


def _policy_resource(
    resource_type: str, props: Any, urn: str, name: str, opts: PolicyResourceOptions
) -> PolicyResource:
    return PolicyResource(
        resource_type=resource_type,
        props=unknown_checking_proxy(plain(props)),
        urn=urn,
        name=name,
        opts=opts,
        provider=None,
        parent=None,
        dependencies=[],
        property_dependencies={},
    )


def stack_resources(run: ProgramRun, stack: str) -> list[PolicyResource]:
    by_urn = {
        r.urn: _policy_resource(r.type, r.outputs, r.urn, r.name, _opts(r))
        for r in run.registrations
    }
    for registration in run.registrations:
        by_urn[registration.urn].property_dependencies = {
            key: [by_urn[urn] for urn in urns if urn in by_urn]
            for key, urns in registration.property_dependencies.items()
        }
    root = _policy_resource(
        "pulumi:pulumi:Stack",
        run.outputs,
        stack_urn(stack),
        f"{PROJECT}-{stack}",
        _options(False, False, None),
    )
    return [*by_urn.values(), root]


def evaluate(
    run: ProgramRun, stack: str, config: Mapping[str, Mapping[str, Any]] | None = None
) -> list[Violation]:
    """Every violation every policy of the pack reports for this run."""
    violations: list[Violation] = []
    config = config or {}
    for policy in POLICIES:

        def report(message: str, urn: str | None = None, name: str = policy.name) -> None:
            violations.append(Violation(name, message, urn))

        policy_config = config.get(policy.name, {})
        if isinstance(policy, ResourceValidationPolicy):
            for registration in run.registrations:
                policy.validate(resource_args(registration, policy_config), report)
        elif isinstance(policy, StackValidationPolicy):
            args = StackValidationArgs(stack_resources(run, stack), policy_config)
            policy.validate(args, report)
    return violations
