"""The README states what the code does: every right, every policy, every config key."""

from __future__ import annotations

from lkps.rights import RIGHTS
from lkps.settings import (
    AdoptionSettings,
    ApplicationSettings,
    FederatedCredentialSettings,
    KeyVaultSettings,
    StackSettings,
)
from policies.pack import POLICIES
from tests.support.harness import ROOT

README = (ROOT / "README.md").read_text()


def test_every_right_the_check_knows_is_in_the_readme() -> None:
    section = README.split("## Rights the deploying identity needs", 1)[1].split("\n## ", 1)[0]
    for right in RIGHTS:
        assert f"`{right.name}`" in section, right.name


def test_every_policy_is_in_the_readme() -> None:
    for policy in POLICIES:
        assert f"| `{policy.name}` |" in README, policy.name


def test_every_config_key_is_in_the_readme() -> None:
    section = README.split("## Configuration", 1)[1].split("\n## ", 1)[0]
    for model in (
        StackSettings,
        KeyVaultSettings,
        ApplicationSettings,
        AdoptionSettings,
        FederatedCredentialSettings,
    ):
        for name, field in model.model_fields.items():
            assert (field.alias or name) in section, f"{model.__name__}.{field.alias or name}"


def test_the_sections_users_look_for_exist() -> None:
    for title in (
        "Adopting an application onboarded by hand",
        "Retiring an application",
        "Rights the deploying identity needs",
        "Emergency rotation",
        "The pinned deployer",
        "When a run is interrupted",
    ):
        assert f"# {title}\n" in README, title


def test_every_verb_of_the_stack_command_is_in_the_readme() -> None:
    from stack_command.cli import VERBS

    usage = README.split("`scripts/stack <", 1)[1].split(">", 1)[0]
    assert set(usage.split("|")) == set(VERBS)


def test_every_property_of_the_registration_has_its_owner_in_the_readme() -> None:
    from lkps import ownership

    section = README.split("## What the stack owns, and what the team owns", 1)[1].split("\n## ")[0]
    words = {ownership.STACK: "stack", ownership.RESOURCE: "stack (own resource)"}
    for table in (ownership.APPLICATION, ownership.SERVICE_PRINCIPAL):
        for name, (owner, _) in table.items():
            assert f"| `{name}` | {words.get(owner, owner)} |" in section, name
