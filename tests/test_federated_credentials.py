"""Secretless applications under mocks: the resources, outputs and guards of federated
credentials, and the config's rules for them (the sandbox runs: tests/engine/test_secretless.py)."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any, cast

import pulumi
import pytest

from lkps import federation, rules
from lkps.config import ConfigError, parse_settings
from lkps.resource_types import APPLICATION_PASSWORD, FEDERATED_CREDENTIAL, VAULT_SECRET
from stack_command.verify.checklist import Context, _token
from tests.support.harness import run_program, stack_config

TODAY = date(2026, 11, 10)
GITHUB = "https://token.actions.githubusercontent.com"
DEPLOY = {"name": "deploy", "issuer": GITHUB, "subject": "repo:lkps/client:environment:np"}


def _config(environment: str = "np", **client: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_config(environment))
    raw["applications"][1].update(client)
    return raw


def _problems(raw: dict[str, Any], stack: str = "np") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack)
    return caught.value.problems


def test_a_secretless_app_has_federated_credentials_and_no_secret() -> None:
    run = run_program(_config(clientSecret=False, federatedCredentials=[DEPLOY]), "np", TODAY)
    client = "lkps-my-livekit-client-np"
    credential = run.named(f"{client}-federated-deploy")
    assert credential.type == FEDERATED_CREDENTIAL
    assert credential.inputs["displayName"] == "deploy"
    assert credential.inputs["issuer"] == GITHUB
    assert credential.inputs["subject"] == DEPLOY["subject"]
    assert credential.inputs["audiences"] == [federation.DEFAULT_AUDIENCE]
    object_id = run.named(f"{client}-app").outputs["objectId"]
    assert credential.inputs["applicationId"] == f"/applications/{object_id}"
    assert credential.delete_before_replace
    mine = [r.name for r in run.registrations if r.name.startswith(f"{client}-secret")]
    assert mine == []
    agent = [r for r in run.of_type(APPLICATION_PASSWORD) if r.name.startswith("lkps-my-livekit")]
    assert len(agent) == 2, "the other application keeps its secrets"
    out = run.outputs["applications"]["MY-LIVEKIT-CLIENT"]
    assert out["credentialKinds"] == ["federated"]
    assert out["federatedCredentials"] == [
        {
            "name": "deploy",
            "issuer": GITHUB,
            "subject": DEPLOY["subject"],
            "credentialId": credential.outputs["credentialId"],
        }
    ]
    assert not {"vaultSecretName", "nextRotationDate"} & set(out)
    assert "MY-LIVEKIT-CLIENT" not in run.outputs["secretRotation"]
    assert run.outputs["applications"]["MY-LIVEKIT-AGENT"]["credentialKinds"] == ["clientSecret"]


def test_during_a_migration_the_prod_vault_secret_is_marked_and_unprotected() -> None:
    run = run_program(_config("prod", federatedCredentials=[DEPLOY]), "prod", TODAY)
    vaults = {r.name: r for r in run.of_type(VAULT_SECRET)}
    moving = vaults["lkps-my-livekit-client-secret-vault"]
    staying = vaults["lkps-my-livekit-agent-secret-vault"]
    assert (moving.inputs["tags"][rules.FEDERATED_TAG], moving.protect) == ("true", False)
    assert (rules.FEDERATED_TAG in staying.inputs["tags"], staying.protect) == (False, True)
    out = run.outputs["applications"]["MY-LIVEKIT-CLIENT"]
    assert out["credentialKinds"] == ["clientSecret", "federated"]
    assert out["vaultSecretName"] == "my-livekit-client-client-secret"


def _last(kinds: list[str], federated: list[dict[str, str]]) -> dict[str, Any]:
    return {
        "applications": {
            "MY-LIVEKIT-CLIENT": {"credentialKinds": kinds, "federatedCredentials": federated}
        }
    }


@pytest.mark.parametrize(
    ("last", "refused"),
    [
        (_last(["clientSecret"], []), True),
        ({"applications": {"MY-LIVEKIT-CLIENT": {"vaultSecretName": "x"}}}, True),
        (_last(["clientSecret", "federated"], [{"name": "other"}]), True),
        (_last(["clientSecret", "federated"], [{"name": "deploy"}]), False),
        (_last(["federated"], [{"name": "deploy"}]), False),
        ({}, False),
    ],
    ids=["secret-only", "before-kinds", "another-credential", "migrating", "secretless", "new"],
)
def test_the_secret_goes_only_after_its_federated_credentials_were_deployed(
    last: dict[str, Any], refused: bool
) -> None:
    raw = _config(clientSecret=False, federatedCredentials=[DEPLOY])
    if not refused:
        run = run_program(raw, "np", TODAY, last_outputs=last)
        assert run.outputs["applications"]["MY-LIVEKIT-CLIENT"]["credentialKinds"] == ["federated"]
        return
    with pytest.raises(pulumi.RunError) as caught:
        run_program(raw, "np", TODAY, last_outputs=last)
    message = str(caught.value)
    assert "applications[1].clientSecret: false removes the client secret" in message
    assert "Nothing was changed." in message


def test_a_known_issuer_with_a_subject_of_another_form_gets_a_hint() -> None:
    odd = {"name": "cluster", "issuer": GITHUB, "subject": "main"}
    run = run_program(_config(federatedCredentials=[DEPLOY, odd]), "np", TODAY)
    warnings = [m for level, m in run.engine_log if level == "WARNING"]
    assert len(warnings) == 1, warnings
    assert warnings[0].startswith("applications[1].federatedCredentials[1].subject: 'main'")
    assert "repo:<owner>/<repo>:environment:<name>" in warnings[0]


@pytest.mark.parametrize(
    ("client", "expected"),
    [
        (
            {"clientSecret": False},
            "applications[1].clientSecret: false needs at least one entry in "
            "applications[1].federatedCredentials",
        ),
        (
            {
                "clientSecret": False,
                "federatedCredentials": [DEPLOY],
                "emergencyRotation": "2026-11-01",
            },
            "applications[1].emergencyRotation: the application has no client secret to rotate",
        ),
        (
            {
                "clientSecret": False,
                "federatedCredentials": [DEPLOY],
                "adopt": {"clientId": "6a1f0c2e-8d3b-4e5f-9a7c-1b2d3e4f5a6b", "vaultSecret": True},
            },
            "applications[1].adopt.vaultSecret: true takes over a vault secret, but the "
            "application has no client secret",
        ),
        (
            {"federatedCredentials": [{**DEPLOY, "issuer": "http://issuer"}]},
            "applications[1].federatedCredentials[0].issuer: 'http://issuer' must be an "
            "https:// URL",
        ),
        (
            {"federatedCredentials": [{**DEPLOY, "subject": " "}]},
            "applications[1].federatedCredentials[0].subject: ' ' must not be empty",
        ),
        (
            {"federatedCredentials": [{**DEPLOY, "name": "a b"}]},
            "applications[1].federatedCredentials[0].name: 'a b' must be 3 to 120 letters",
        ),
        (
            {"federatedCredentials": [{**DEPLOY, "audiences": ["a", "b"]}]},
            'applications[1].federatedCredentials[0].audiences: \'["a", "b"]\' must be one '
            "audience",
        ),
        (
            {"federatedCredentials": [DEPLOY, {**DEPLOY, "name": "DEPLOY"}]},
            "applications[1].federatedCredentials[1].name: 'DEPLOY' is already used by "
            "federatedCredentials[0]",
        ),
        (
            {"federatedCredentials": [DEPLOY, {**DEPLOY, "name": "again"}]},
            f"applications[1].federatedCredentials[1]: issuer '{GITHUB}' and subject "
            f"'{DEPLOY['subject']}' are already federatedCredentials[0]",
        ),
        (
            {
                "federatedCredentials": [
                    {**DEPLOY, "name": f"c{n:02}", "subject": f"s{n}"} for n in range(21)
                ]
            },
            "applications[1].federatedCredentials: '",
        ),
        (
            {"federatedCredentials": [{**DEPLOY, "audience": "x"}]},
            "applications[1].federatedCredentials[0].audience: is not a known key (known "
            "keys: name, issuer, subject, audiences, description)",
        ),
    ],
    ids=[
        "no-credential",
        "emergency-without-secret",
        "adopted-vault-secret-without-secret",
        "http-issuer",
        "blank-subject",
        "bad-name",
        "two-audiences",
        "same-name",
        "same-pair",
        "over-20",
        "unknown-key",
    ],
)
def test_bad_federated_credentials_name_the_key_and_the_allowed_form(
    client: dict[str, Any], expected: str
) -> None:
    problems = _problems(_config(**client))
    assert any(problem.startswith(expected) for problem in problems), problems
    if expected.endswith("'"):
        assert any("must have at most 20 item(s)" in problem for problem in problems), problems


def test_against_azure_the_token_check_of_a_secretless_app_is_manual_with_the_command() -> None:
    """Only the workload holds its token: the check says where and how to run the exchange."""
    settings = parse_settings(_config(clientSecret=False, federatedCredentials=[DEPLOY]), "np")
    context = Context(
        stack="np",
        settings=settings,
        outputs={},
        other_outputs=None,
        sources=cast(Any, None),
        ocelot=cast(Any, None),
        today=TODAY,
        token_check=True,
    )
    client_id = "6a1f0c2e-8d3b-4e5f-9a7c-1b2d3e4f5a6b"
    found = _token(context, settings.applications[1], {"clientId": client_id})
    assert found.status == "manual"
    assert f"({GITHUB}, subject {DEPLOY['subject']})" in found.detail
    assert found.remedy == (
        f"in the workload: az login --service-principal --username {client_id} --tenant "
        f'{settings.tenant_id} --allow-no-subscriptions --federated-token "$WORKLOAD_TOKEN" '
        f"&& az account get-access-token --scope {rules.lkps_scope('np')}"
    )
