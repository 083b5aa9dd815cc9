"""Every input property of the Application and ServicePrincipal has an owner, and the resources
the program makes leave alone exactly what the stack does not own."""

from __future__ import annotations

from datetime import date

from lkps import ownership, resource_types
from sandbox import azuread_schema
from tests.support.harness import run_program, stack_config


def _inputs(schema: tuple[azuread_schema.Attribute, ...]) -> set[str]:
    return {a.name for a in schema if a.is_input}


def test_every_input_property_has_an_owner() -> None:
    assert set(ownership.APPLICATION) == _inputs(azuread_schema.APPLICATION)
    assert set(ownership.SERVICE_PRINCIPAL) == _inputs(azuread_schema.SERVICE_PRINCIPAL)


def test_the_registration_ignores_exactly_what_the_stack_does_not_own() -> None:
    program = run_program(stack_config("np"), "np", date(2026, 12, 2))
    for resource in program.of_type(resource_types.APPLICATION):
        assert sorted(resource.ignore_changes) == ownership.not_owned(ownership.APPLICATION)
        owned = {k for k, (who, _) in ownership.APPLICATION.items() if who == ownership.STACK}
        assert set(resource.inputs) - {"__defaults"} <= owned
    for resource in program.of_type(resource_types.SERVICE_PRINCIPAL):
        assert sorted(resource.ignore_changes) == ownership.not_owned(ownership.SERVICE_PRINCIPAL)
        assert resource.inputs["accountEnabled"] is True
