"""What every rule needs: resource types, the stack's environment, and preview-time unknowns."""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from typing import Any, Final

from pulumi_policy import ReportViolation, ResourceValidationArgs
from pulumi_policy.proxy import UnknownValueError

from lkps import rules
from lkps.resource_types import (
    APPLICATION,
    APPLICATION_PASSWORD,
    APPLICATION_REGISTRATION,
    FEDERATED_CREDENTIAL,
    IDENTIFIER_URI,
    PERMISSION_SCOPE,
    PRE_AUTHORIZED,
    ROUTE_ACCESS,
    SERVICE_PRINCIPAL,
    SERVICE_PRINCIPAL_PASSWORD,
    STACK,
    VAULT_SECRET,
)
from lkps.rules import Environment

__all__ = [
    "APPLICATION",
    "APPLICATION_PASSWORD",
    "APPLICATION_REGISTRATION",
    "FEDERATED_CREDENTIAL",
    "IDENTIFIER_URI",
    "PERMISSION_SCOPE",
    "PRE_AUTHORIZED",
    "ROUTE_ACCESS",
    "SERVICE_PRINCIPAL",
    "SERVICE_PRINCIPAL_PASSWORD",
    "STACK",
    "VAULT_SECRET",
    "Unknowns",
    "canonical_type",
    "environment_of",
    "require_environment",
    "resource_rule",
    "strings",
]


# azure-native also publishes each resource under API-versioned modules,
# e.g. `azure-native:keyvault/v20230701:Secret`: the same resource, held to the same rules.
_VERSIONED_TOKEN: Final = re.compile(r"(azure-native:[A-Za-z]+)/v[0-9a-z]+(:[A-Za-z]+)")


def canonical_type(resource_type: str) -> str:
    """The resource type with any azure-native API version taken out of the module."""
    versioned = _VERSIONED_TOKEN.fullmatch(resource_type)
    return versioned.group(1) + versioned.group(2) if versioned else resource_type


def environment_of(urn: str) -> Environment | None:
    return rules.environment_of_stack(rules.stack_of_urn(urn))


def require_environment(urn: str, report: ReportViolation) -> Environment | None:
    """The stack's environment, or a violation saying the stack name does not tell it."""
    environment = environment_of(urn)
    if environment is None:
        report(
            f"stack '{rules.stack_of_urn(urn)}' does not name its environment; "
            "name stacks 'np', 'prod', 'np-<suffix>' or 'prod-<suffix>'",
            urn,
        )
    return environment


def resource_rule(
    *resource_types: str,
) -> Callable[
    [Callable[[ResourceValidationArgs, ReportViolation], None]],
    Callable[[ResourceValidationArgs, ReportViolation], None],
]:
    """Runs the decorated rule only on resources of `resource_types` (any API version)."""

    def decorate(
        rule: Callable[[ResourceValidationArgs, ReportViolation], None],
    ) -> Callable[[ResourceValidationArgs, ReportViolation], None]:
        @functools.wraps(rule)
        def validate(args: ResourceValidationArgs, report: ReportViolation) -> None:
            if canonical_type(args.resource_type) in resource_types:
                rule(args, report)

        return validate

    return decorate


class Unknowns:
    """Collects values a stack rule could not read during preview, to say so once at the end."""

    def __init__(self) -> None:
        self.errors: list[UnknownValueError] = []

    def get(self, container: Mapping[str, Any] | Sequence[Any], key: str | int) -> Any:
        """`container[key]`, or None when it is missing or unknown (then noted)."""
        try:
            if isinstance(container, Mapping):
                return container.get(str(key))
            return container[int(key)]
        except UnknownValueError as exc:
            self.errors.append(exc)
            return None

    def raise_if_any(self) -> None:
        """Turns the rule into the engine's explicit 'can't run during preview' note."""
        if self.errors:
            raise self.errors[0]


def strings(value: Any, unknowns: Unknowns, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside a value, with its path; unknown parts are noted and skipped."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, Mapping):
        for key in list(value):
            item = unknowns.get(value, key)
            yield from strings(item, unknowns, f"{path}.{key}" if path else str(key))
    elif isinstance(value, Sequence):
        for index in range(len(value)):
            yield from strings(unknowns.get(value, index), unknowns, f"{path}[{index}]")
