"""The program under Pulumi mocks with the committed np and prod stack configs."""

from __future__ import annotations

import json
import pickle
from datetime import date, timedelta
from typing import Any

import pytest
from pulumi.runtime import rpc

from lkps import rules
from lkps.config import parse_settings
from lkps.resource_types import (
    APPLICATION,
    APPLICATION_PASSWORD,
    IDENTIFIER_URI,
    PERMISSION_SCOPE,
    PRE_AUTHORIZED,
    SERVICE_PRINCIPAL,
    VAULT_SECRET,
)
from lkps.rotation import RotationPolicy, epoch_seconds, rfc3339
from lkps.rules import Environment
from tests.support.harness import (
    CANARY_SECRET,
    ProgramRun,
    Registration,
    run_program,
    stack_config,
)

TODAY = date(2026, 11, 10)
ROUTE_ACCESS = rules.ROUTE_ACCESS_TYPE


@pytest.fixture
def program(environment: Environment) -> ProgramRun:
    return run_program(stack_config(environment), environment, TODAY)


def _parent_name(run: ProgramRun, child: Registration) -> str:
    parent = run.parent_of(child)
    return parent.name if parent else ""


VAULT_SECRET_NAME = "pulumi-python:dynamic/vault:VaultSecretName"


def test_full_resource_set(environment: Environment, program: ProgramRun) -> None:
    suffix = "-np" if environment == "np" else ""
    env = "lkps"
    expected = {
        ("lkps:onboarding:Environment", env, ""),
        ("pulumi:providers:azuread", f"{env}-entra", env),
        ("pulumi:providers:azure-native", f"{env}-arm", env),
    }
    settings = parse_settings(stack_config(environment), environment)
    for configured in settings.applications:
        app = f"lkps-{configured.name.lower()}{suffix}"
        expected |= {(ROUTE_ACCESS, f"{app}-ocelot-{region}", app) for region in configured.regions}
        expected |= {
            ("lkps:onboarding:OnboardedApplication", app, env),
            ("lkps:entra:AppRegistration", app, app),
            (APPLICATION, f"{app}-app", app),
            (SERVICE_PRINCIPAL, f"{app}-sp", app),
            ("lkps:credentials:RotatingClientSecret", f"{app}-secret", app),
            (APPLICATION_PASSWORD, f"{app}-secret-a", f"{app}-secret"),
            (APPLICATION_PASSWORD, f"{app}-secret-b", f"{app}-secret"),
            (VAULT_SECRET, f"{app}-secret-vault", f"{app}-secret"),
            (VAULT_SECRET_NAME, f"{app}-secret-vault-name", f"{app}-secret"),
        }
    for agent, clients in settings.authorized_clients().items():
        if not clients:
            continue
        authorization = f"lkps-{agent.lower()}{suffix}-clients"
        expected |= {
            ("lkps:entra:ClientAuthorization", authorization, env),
            (IDENTIFIER_URI, f"{authorization}-uri", authorization),
            (PERMISSION_SCOPE, f"{authorization}-scope", authorization),
        }
        expected |= {
            (PRE_AUTHORIZED, f"{authorization}-{client.lower()}", authorization)
            for client in clients
        }
    actual = {(r.type, r.name, _parent_name(program, r)) for r in program.registrations}
    assert actual == expected
    assert len(program.registrations) == len(expected)


def test_children_are_parented_to_their_component(program: ProgramRun) -> None:
    for registration in program.registrations:
        if registration.type == "lkps:onboarding:Environment":
            continue
        parent = program.parent_of(registration)
        assert parent is not None, f"{registration.urn} has no component parent"
        assert not parent.custom, f"{registration.urn} has a custom parent"
        assert registration.name.startswith(parent.name), registration.urn


def test_display_names_follow_the_environment(
    environment: Environment, program: ProgramRun
) -> None:
    names = sorted(r.inputs["displayName"] for r in program.of_type(APPLICATION))
    if environment == "np":
        assert names == ["MY-LIVEKIT-AGENT-NP", "MY-LIVEKIT-CLIENT-NP"]
    else:
        assert names == ["MY-LIVEKIT-AGENT", "MY-LIVEKIT-CLIENT"]


def test_app_registration_properties(environment: Environment, program: ProgramRun) -> None:
    settings = parse_settings(stack_config(environment), environment)
    for app in settings.applications:
        base = f"lkps-{app.display_name(environment).lower()}"
        registration = program.named(f"{base}-app").inputs
        assert registration["signInAudience"] == "AzureADMyOrg"
        assert registration["preventDuplicateNames"] is True
        assert registration["serviceManagementReference"] == app.beat_id
        assert f"beat:{app.beat_id}" in registration["tags"]
        assert f"lkps-environment:{environment}" in registration["tags"]
        assert f"lkps-role:{app.role}" in registration["tags"]
        assert app.beat_id in registration["notes"]
        assert registration["description"] == app.description
        expected_owners = sorted({*app.owners, settings.deployer_object_id})
        assert registration["owners"] == expected_owners
        service_principal = program.named(f"{base}-sp").inputs
        assert service_principal["owners"] == expected_owners
        app_outputs = program.outputs["applications"][app.name]
        assert service_principal["clientId"] == app_outputs["clientId"]


def test_providers_are_pinned_to_the_configured_tenant(
    environment: Environment, program: ProgramRun
) -> None:
    settings = parse_settings(stack_config(environment), environment)
    (entra,) = program.of_type("pulumi:providers:azuread")
    (arm,) = program.of_type("pulumi:providers:azure-native")
    assert entra.inputs["tenantId"] == settings.tenant_id
    assert arm.inputs["tenantId"] == settings.tenant_id
    assert arm.inputs["subscriptionId"] == settings.key_vault.subscription_id


def test_vault_secret_holds_the_current_password(
    environment: Environment, program: ProgramRun
) -> None:
    settings = parse_settings(stack_config(environment), environment)
    plan = RotationPolicy(settings.secret_rotation_days, settings.secret_lifetime_days).plan(TODAY)
    for app in settings.applications:
        base = f"lkps-{app.display_name(environment).lower()}"
        vault = program.named(f"{base}-secret-vault")
        assert rpc.is_rpc_secret(vault.inputs["properties"])
        properties = rpc.unwrap_rpc_secret(vault.inputs["properties"])
        current = program.named(f"{base}-secret-{plan.current.slot}")
        assert properties["value"] == rpc.unwrap_rpc_secret(current.outputs["value"])
        assert properties["contentType"] == "application/vnd.lkps.client-secret"
        assert properties["attributes"] == {
            "enabled": True,
            "expires": epoch_seconds(plan.current.expires),
            "notBefore": epoch_seconds(plan.current.starts),
        }
        assert (
            vault.inputs["secretName"] == f"{app.display_name(environment).lower()}-client-secret"
        )
        assert vault.inputs["vaultName"] == settings.key_vault.vault_name
        assert vault.inputs["resourceGroupName"] == settings.key_vault.resource_group_name
        outputs = program.outputs["applications"][app.name]
        assert vault.inputs["tags"] == {
            "clientId": outputs["clientId"],
            "tenantId": settings.tenant_id,
            "beatId": app.beat_id,
            "environment": environment,
            "lkpsScope": program.outputs["lkpsScope"],
            "displayName": app.display_name(environment),
            "role": app.role,
            "keyId": current.outputs["keyId"],
            "slot": plan.state.published,
            "generation": str(plan.current.number),
            "starts": plan.current.starts.isoformat(),
            "expires": plan.current.expires.isoformat(),
        }
        assert program.outputs["secretRotation"][app.name] == plan.state.to_output()


def test_passwords_have_explicit_end_dates_and_rotation_keys(
    environment: Environment, program: ProgramRun
) -> None:
    settings = parse_settings(stack_config(environment), environment)
    plan = RotationPolicy(settings.secret_rotation_days, settings.secret_lifetime_days).plan(TODAY)
    passwords = program.of_type(APPLICATION_PASSWORD)
    assert len(passwords) == 2 * len(settings.applications)
    for password in passwords:
        generation = plan.in_slot("a" if password.name.endswith("-a") else "b")
        assert generation is not None
        assert password.inputs["endDate"] == rfc3339(generation.expires)
        assert password.inputs["rotateWhenChanged"] == {"generation": str(generation.number)}
        assert password.inputs["displayName"] == f"lkps-integration-{generation.starts}"
        assert "endDateRelative" not in password.inputs
        assert password.inputs["applicationId"].startswith("/applications/")
        assert password.delete_before_replace is True
        assert password.protect is False


def test_prod_protects_registrations_and_vault_secrets(
    environment: Environment, program: ProgramRun
) -> None:
    protected = environment == "prod"
    for type_token in (APPLICATION, SERVICE_PRINCIPAL, VAULT_SECRET):
        for registration in program.of_type(type_token):
            assert registration.protect is protected, registration.urn


def test_stack_outputs(environment: Environment, program: ProgramRun) -> None:
    settings = parse_settings(stack_config(environment), environment)
    plan = RotationPolicy(settings.secret_rotation_days, settings.secret_lifetime_days).plan(TODAY)
    assert program.outputs["environment"] == environment
    assert program.outputs["tenantId"] == settings.tenant_id
    apps = program.outputs["applications"]
    assert set(apps) == {app.name for app in settings.applications}
    for app in settings.applications:
        out = apps[app.name]
        base = f"lkps-{app.display_name(environment).lower()}"
        registration = program.named(f"{base}-app")
        assert out["displayName"] == app.display_name(environment)
        assert out["objectId"] == registration.outputs["objectId"]
        assert out["clientId"] == registration.outputs["clientId"]
        assert out["servicePrincipalObjectId"] == program.named(f"{base}-sp").outputs["objectId"]
        secret_name = f"{app.display_name(environment).lower()}-client-secret"
        assert out["vaultSecretName"] == secret_name
        assert out["vaultSecretUri"] == (
            f"https://{settings.key_vault.vault_name}.vault.azure.net/secrets/{secret_name}"
        )
        assert out["secretEndDate"] == rfc3339(plan.current.expires)
        assert out["nextRotationDate"] == rfc3339(plan.next_rotation)
        assert out["routes"] == sorted(
            f"{r}-livekit-platform-service{'-np' if environment == 'np' else ''}.int.bayer.com"
            for r in app.regions
        )


def test_client_secret_stays_secret(program: ProgramRun) -> None:
    vaults = program.of_type(VAULT_SECRET)
    assert vaults
    assert all(rpc.is_rpc_secret(vault.inputs["properties"]) for vault in vaults)
    assert CANARY_SECRET not in json.dumps(program.outputs)
    for registration in program.registrations:
        if registration.type != APPLICATION_PASSWORD:
            assert CANARY_SECRET not in json.dumps(_unwrap_plain(registration.inputs))


def _unwrap_plain(value: Any) -> Any:
    """The value with every secret replaced by a marker: what would show in plaintext."""
    if rpc.is_rpc_secret(value):
        return "[secret]"
    if isinstance(value, dict):
        return {k: _unwrap_plain(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unwrap_plain(v) for v in value]
    return value


def test_same_config_and_clock_register_identical_inputs(environment: Environment) -> None:
    first = run_program(stack_config(environment), environment, TODAY)
    second = run_program(stack_config(environment), environment, TODAY)
    assert _inputs(first) == _inputs(second)


def test_no_drift_between_rotations(environment: Environment) -> None:
    settings = parse_settings(stack_config(environment), environment)
    plan = RotationPolicy(settings.secret_rotation_days, settings.secret_lifetime_days).plan(TODAY)
    day_before_rotation = plan.next_rotation - timedelta(days=1)
    assert day_before_rotation > TODAY
    today = run_program(stack_config(environment), environment, TODAY)
    later = run_program(stack_config(environment), environment, day_before_rotation)
    assert _inputs(today) == _inputs(later)


def _inputs(run: ProgramRun) -> dict[str, str]:
    return {r.urn: json.dumps(r.inputs, sort_keys=True) for r in run.registrations}


def test_each_app_gets_route_access_in_each_of_its_regions(
    environment: Environment, program: ProgramRun
) -> None:
    settings = parse_settings(stack_config(environment), environment)
    accesses = program.of_type(ROUTE_ACCESS)
    assert len(accesses) == sum(len(app.regions) for app in settings.applications)
    for app in settings.applications:
        base = f"lkps-{app.display_name(environment).lower()}"
        client_id = program.outputs["applications"][app.name]["clientId"]
        for region in app.regions:
            access = program.named(f"{base}-ocelot-{region}")
            assert access.inputs["route_id"] == rules.lkps_host(region, environment)
            assert access.inputs["client_id"] == client_id
            assert access.inputs["beat_id"] == app.beat_id
            assert app.display_name(environment) in access.inputs["description"]
            assert rpc.is_rpc_secret(access.inputs["__provider"])
            serialized = rpc.unwrap_rpc_secret(access.inputs["__provider"])
            assert len(serialized) < 200, "the provider must be pickled by reference"


def test_building_many_route_accesses_leaves_the_pickler_as_it_was(
    np_config: dict[str, Any],
) -> None:
    """pulumi/pulumi#17803: each dynamic resource used to wrap pickle's dict writer once more,
    until a process of about a thousand of them hit RecursionError."""
    template = np_config["applications"][0]
    np_config["applications"] = [
        {**template, "name": f"SCALE-APP-{index:03d}", "clients": []} for index in range(30)
    ]
    before = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    run = run_program(np_config, "np", TODAY)
    assert len(run.of_type(ROUTE_ACCESS)) == 60
    assert pickle._Pickler._batch_setitems is before  # type: ignore[attr-defined]


def test_an_agent_exposes_access_as_client_and_pre_authorizes_its_clients(
    environment: Environment, program: ProgramRun
) -> None:
    suffix = "-np" if environment == "np" else ""
    outputs = program.outputs["applications"]
    agent, client = outputs["MY-LIVEKIT-AGENT"], outputs["MY-LIVEKIT-CLIENT"]
    base = f"lkps-my-livekit-agent{suffix}-clients"
    uri = program.named(f"{base}-uri")
    assert uri.inputs["identifierUri"] == f"api://{agent['clientId']}"
    scope = program.named(f"{base}-scope")
    assert scope.inputs["value"] == "access_as_client"
    assert scope.inputs["type"] == "User"
    assert "MY-LIVEKIT-AGENT" in scope.inputs["adminConsentDescription"]
    pre = program.named(f"{base}-my-livekit-client")
    assert pre.inputs["authorizedClientId"] == client["clientId"]
    assert pre.inputs["permissionIds"] == [scope.inputs["scopeId"]]
    assert (
        uri.inputs["applicationId"] == pre.inputs["applicationId"] == scope.inputs["applicationId"]
    )
    assert agent["agentAppId"] == agent["clientId"]
    assert agent["clientScope"] == f"api://{agent['clientId']}/access_as_client"
    assert agent["preAuthorizedClients"] == [
        {"name": "MY-LIVEKIT-CLIENT", "clientId": client["clientId"], "environment": environment}
    ]
    assert client["agents"] == ["MY-LIVEKIT-AGENT"]
    application = program.named(f"lkps-my-livekit-agent{suffix}-app")
    assert client["clientId"] not in json.dumps(application.inputs), "no cycle through the agent"


def test_both_spellings_give_the_same_pre_authorizations(np_config: dict[str, Any]) -> None:
    by_agent = run_program(np_config, "np", TODAY)
    np_config["applications"][0]["clients"] = []
    np_config["applications"][1]["agents"] = ["MY-LIVEKIT-AGENT"]
    by_client = run_program(np_config, "np", TODAY)
    assert _inputs(by_agent) == _inputs(by_client)
