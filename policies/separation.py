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
    canonical_type,
    require_environment,
)

AZUREAD_PROVIDER = "pulumi:providers:azuread"
AZURE_NATIVE_PROVIDER = "pulumi:providers:azure-native"


def environment_separation(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Routes, vaults, resource groups, scopes, tags, and the providers' tenant and subscription
    belong to the stack's environment."""
    kind = canonical_type(args.resource_type)
    if kind not in (
        ROUTE_ACCESS,
        VAULT_SECRET,
        APPLICATION,
        AZUREAD_PROVIDER,
        AZURE_NATIVE_PROVIDER,
    ):
        return
    environment = require_environment(args.urn, report)
    if environment is None:
        return
    props = args.props
    if kind in (AZUREAD_PROVIDER, AZURE_NATIVE_PROVIDER):
        _check_provider(args, report)
    elif kind == ROUTE_ACCESS:
        route = props.get("route_id")
        misfit = rules.route_misfit(route, environment)
        if misfit:
            report(f"Ocelot route access '{args.name}': route '{route}' {misfit}", None)
    elif kind == VAULT_SECRET:
        _check_vault_secret(args, environment, report)
    else:
        tags = [t for t in props.get("tags") or [] if str(t).startswith("lkps-environment:")]
        if any(t != f"lkps-environment:{environment}" for t in tags):
            report(
                f"application '{args.name}': tags {tags} are not of environment {environment}", None
            )


def _check_provider(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """An explicit provider names the environment's tenant (and subscription), as the policy
    config pins them; the ambient login never decides where the stack deploys."""
    config = args.get_config()
    wanted = {"tenantId": config.get("tenantId")}
    if args.resource_type == AZURE_NATIVE_PROVIDER:
        wanted["subscriptionId"] = config.get("subscriptionId")
    for key, expected in wanted.items():
        if not expected:
            continue
        actual = args.props.get(key)
        if not isinstance(actual, str) or actual.lower() != str(expected).lower():
            report(
                f"provider '{args.name}': {key} {actual!r} is not this environment's "
                f"'{expected}' ({key} in the policy config)",
                None,
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
        if not isinstance(value, str):
            report(f"vault secret '{args.name}': {key} {value!r} must be a name", None)
            continue
        misfit = rules.environment_misfit(value, environment)
        if misfit:
            report(f"vault secret '{args.name}': {key} '{value}' {misfit}", None)
        pattern = config.get(pattern_key)
        if pattern and re.fullmatch(pattern, value) is None:
            report(
                f"vault secret '{args.name}': {key} '{value}' must match '{pattern}' "
                f"({pattern_key} in the policy config)",
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
            misfit = (
                rules.environment_misfit(value, environment) if isinstance(value, str) else None
            )
            if misfit:
                report(f"stack output {key} '{value}' {misfit}", resource.urn)
    unknowns.raise_if_any()
