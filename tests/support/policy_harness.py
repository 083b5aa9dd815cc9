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


def _opts(registration: Registration) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=bool(registration.protect),
        ignore_changes=[],
        delete_before_replace=registration.delete_before_replace,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=registration.parent or None,
    )


def resource_args(
    registration: Registration, config: Mapping[str, Any] | None = None
) -> ResourceValidationArgs:
    return ResourceValidationArgs(
        registration.type,
        unknown_checking_proxy(plain(registration.inputs)),
        registration.urn,
        registration.name,
        _opts(registration),
        None,
        config or {},
    )


def stack_urn(stack: str) -> str:
    return f"urn:pulumi:{stack}::{PROJECT}::pulumi:pulumi:Stack::{PROJECT}-{stack}"


def stack_resources(run: ProgramRun, stack: str) -> list[PolicyResource]:
    by_urn: dict[str, PolicyResource] = {}
    for registration in run.registrations:
        by_urn[registration.urn] = PolicyResource(
            registration.type,
            unknown_checking_proxy(plain(registration.outputs)),
            registration.urn,
            registration.name,
            _opts(registration),
            None,
            None,
            [],
            {},
        )
    for registration in run.registrations:
        by_urn[registration.urn].property_dependencies = {
            key: [by_urn[urn] for urn in urns if urn in by_urn]
            for key, urns in registration.property_dependencies.items()
        }
    root = PolicyResource(
        "pulumi:pulumi:Stack",
        unknown_checking_proxy(plain(run.outputs)),
        stack_urn(stack),
        f"{PROJECT}-{stack}",
        PolicyResourceOptions(False, [], None, [], PolicyCustomTimeouts(0, 0, 0), [], None),
        None,
        None,
        [],
        {},
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
