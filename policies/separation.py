"""Environment separation: every environment-specific value matches the stack's environment."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from pulumi_policy import ReportViolation, ResourceValidationArgs, StackValidationArgs

from lkps import rules
from lkps.rules import Environment
from policies.context import (
    APPLICATION,
    ROUTE_ACCESS,
    STACK,
    VAULT_SECRET,
    Unknowns,
    require_environment,
)


def _matches_environment(value: str, environment: Environment, pattern: str | None) -> bool:
    if pattern:
        return re.fullmatch(pattern, value) is not None
    return rules.fits_environment(value, environment)


def _pattern_form(environment: Environment, pattern: str | None) -> str:
    if pattern:
        return f"match '{pattern}' (policy config)"
    return "carry an 'np' part" if environment == "np" else "carry no 'np' part"


def environment_separation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Routes, vaults, resource groups, scopes and tags belong to the stack's environment."""
    if args.resource_type not in (ROUTE_ACCESS, VAULT_SECRET, APPLICATION):
        return
    environment = require_environment(args.urn, report)
    if environment is None:
        return
    props = args.props
    if args.resource_type == ROUTE_ACCESS:
        route = props.get("route_id")
        if route not in rules.route_ids(environment):
            owner = rules.environment_of_route(route) if isinstance(route, str) else None
            what = f"a {owner} route" if owner else "not an LKPS route"
            report(
                f"Ocelot route access '{args.name}': route '{route}' is {what}; "
                f"a {environment} stack may only use {', '.join(rules.route_ids(environment))}",
                None,
            )
    elif args.resource_type == VAULT_SECRET:
        _check_vault_secret(args, environment, report)
    else:
        tags = [t for t in props.get("tags") or [] if str(t).startswith("lkps-environment:")]
        if any(t != f"lkps-environment:{environment}" for t in tags):
            report(
                f"application '{args.name}': tags {tags} are not of environment {environment}", None
            )


def _check_vault_secret(
    args: ResourceValidationArgs, environment: Environment, report: ReportViolation
) -> None:
    config = args.get_config()
    props = args.props
    for key, pattern_key in (
        ("vaultName", "vaultNamePattern"),
        ("resourceGroupName", "resourceGroupPattern"),
    ):
        value = props.get(key)
        pattern = config.get(pattern_key)
        if not isinstance(value, str) or not _matches_environment(value, environment, pattern):
            report(
                f"vault secret '{args.name}': {key} {value!r} must "
                f"{_pattern_form(environment, pattern)} in {environment}",
                None,
            )
    tags: Mapping[str, Any] = props.get("tags") or {}
    expected = {"environment": environment, "lkpsScope": rules.lkps_scope(environment)}
    for key, value in expected.items():
        if key in tags and tags[key] != value:
            report(
                f"vault secret '{args.name}': tag {key} is '{tags[key]}', must be '{value}'", None
            )


def stack_outputs_environment(args: StackValidationArgs, report: ReportViolation) -> None:
    """The stack's outputs (environment, LKPS scope, Ocelot API and scope) match its name."""
    unknowns = Unknowns()
    for resource in args.resources:
        if resource.resource_type != STACK:
            continue
        environment = require_environment(resource.urn, report)
        if environment is None:
            return
        outputs = resource.props
        expected = {"environment": environment, "lkpsScope": rules.lkps_scope(environment)}
        for key, value in expected.items():
            actual = unknowns.get(outputs, key)
            if actual is not None and actual != value:
                report(f"stack output {key} is '{actual}', must be '{value}'", resource.urn)
        for key in ("ocelotApiUrl", "ocelotTokenScope"):
            value = unknowns.get(outputs, key)
            if not isinstance(value, str) or rules.fits_environment(value, environment):
                continue
            if rules.is_loopback_url(value):
                report(f"stack output {key} '{value}' is a local emulator in prod", resource.urn)
            else:
                report(f"stack output {key} '{value}' is not a {environment} value", resource.urn)
    unknowns.raise_if_any()
