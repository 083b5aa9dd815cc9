"""Naming: Entra display names and Key Vault secret names follow the environment."""

from __future__ import annotations

import re

from pulumi_policy import ReportViolation, ResourceValidationArgs

from lkps import rules
from policies.context import (
    APPLICATION,
    APPLICATION_REGISTRATION,
    VAULT_SECRET,
    require_environment,
    resource_rule,
)

VAULT_SECRET_NAME = re.compile(r"[a-z][a-z0-9]*(?:-[a-z0-9]+)*-client-secret")


@resource_rule(APPLICATION, APPLICATION_REGISTRATION)
def entra_display_name(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Uppercase words joined by hyphens, ending in -NP in np and not in prod."""
    environment = require_environment(args.urn, report)
    name = args.props.get("displayName")
    if not isinstance(name, str) or not name:
        report(f"application '{args.name}' has no display name", None)
        return
    base = name.removesuffix(rules.NON_PROD_SUFFIX)
    if not rules.APP_BASE_NAME.fullmatch(base):
        report(
            f"application '{args.name}': display name '{name}' must be {rules.APP_BASE_NAME_FORM}",
            None,
        )
    if base.endswith(rules.NON_PROD_SUFFIX):
        report(
            f"application '{args.name}': display name '{name}' repeats '-NP'; the base name "
            "never ends with it",
            None,
        )
    if environment == "np" and not name.endswith(rules.NON_PROD_SUFFIX):
        report(f"application '{args.name}': display name '{name}' must end with '-NP' in np", None)
    if environment == "prod" and name.endswith(rules.NON_PROD_SUFFIX):
        report(f"application '{args.name}': display name '{name}' is a non-prod name in prod", None)


@resource_rule(VAULT_SECRET)
def vault_secret_name(args: ResourceValidationArgs, report: ReportViolation) -> None:
    """Explicit, and `<display name in lowercase>-client-secret`."""
    name = args.props.get("secretName")
    tags = args.props.get("tags") or {}
    display_name = tags.get("displayName")
    if not isinstance(name, str) or not VAULT_SECRET_NAME.fullmatch(name):
        report(
            f"vault secret '{args.name}': secret name {name!r} must be set explicitly as "
            "'<app display name in lowercase>-client-secret'",
            None,
        )
        return
    if isinstance(display_name, str) and name != rules.vault_secret_name(display_name):
        report(
            f"vault secret '{args.name}': secret name '{name}' must be "
            f"'{rules.vault_secret_name(display_name)}', derived from the app's display name",
            None,
        )
