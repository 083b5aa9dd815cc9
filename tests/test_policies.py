"""The policy pack: compliant stacks pass, each broken one trips exactly its policy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import (
    EnforcementLevel,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from lkps import rules
from lkps.config import parse_settings
from lkps.resource_types import AGENT_BLUEPRINT, AGENT_IDENTITY
from lkps.rules import Environment
from lkps.settings import BlueprintSettings, FederatedCredentialSettings, StackSettings
from policies.context import (
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
    VAULT_SECRET,
)
from policies.pack import POLICIES
from tests.support.harness import ROOT, ProgramRun, Registration, run_program, stack_config
from tests.support.policy_harness import (
    Violation,
    evaluate,
    pack_config,
    resource_args,
    stack_resources,
)

TODAY = date(2026, 11, 10)
NP_DEPLOYER = stack_config("np")["deployerObjectId"]
AZUREAD_PROVIDER = "pulumi:providers:azuread"
AZURE_NATIVE_PROVIDER = "pulumi:providers:azure-native"
POLICY = {policy.name: policy for policy in POLICIES}


def _run(environment: Environment, settings: StackSettings | None = None) -> ProgramRun:
    return run_program(stack_config(environment), environment, TODAY, settings_override=settings)


@pytest.fixture(scope="module")
def baseline() -> dict[str, ProgramRun]:
    return {env: _run(env) for env in ("np", "prod")}


def test_every_policy_is_documented_and_enforced() -> None:
    assert len(POLICY) == len(POLICIES) == 16
    for policy in POLICIES:
        assert policy.name == policy.name.lower()
        assert " " not in policy.name
        assert policy.description
        assert policy.enforcement_level is not None
        assert policy.severity is not None
        assert policy.remediation_steps


def _mandatory(violation: Violation) -> bool:
    return POLICY[violation.policy].enforcement_level == EnforcementLevel.MANDATORY


def test_committed_stacks_pass_every_policy(
    environment: Environment, baseline: dict[str, ProgramRun]
) -> None:
    violations = evaluate(baseline[environment], environment, pack_config(environment))
    assert [v for v in violations if _mandatory(v)] == []
    advised = sorted((v.policy, v.message.split("'")[1]) for v in violations)
    passwords = sorted(
        r.name for r in baseline[environment].registrations if r.type == APPLICATION_PASSWORD
    )
    expected = [("prod-secretless", name) for name in passwords] if environment == "prod" else []
    assert advised == expected


GITHUB = "https://token.actions.githubusercontent.com"


def _federated(name: str, issuer: str = GITHUB, subject: str = "") -> FederatedCredentialSettings:
    return FederatedCredentialSettings(
        name=name, issuer=issuer, subject=subject or f"repo:lkps/{name}:environment:prod"
    )


@pytest.mark.parametrize("environment", ["np", "prod"])
def test_a_secretless_app_with_an_allowed_issuer_passes_every_policy(
    environment: Environment,
) -> None:
    aks = f"https://westeurope.oic.prod-aks.azure.com/{_settings(environment).tenant_id}/"
    settings = _with_app(
        environment,
        client_secret=False,
        federated_credentials=[
            _federated("deploy"),
            _federated("cluster", aks + "4d5c7a0e-3b1f-4e8a-9c2d-6f7e8a9b0c1d/", "system:x:y"),
        ],
    )
    run = _run(environment, settings)
    credentials = [r for r in run.registrations if r.type == FEDERATED_CREDENTIAL]
    assert sorted(r.inputs["displayName"] for r in credentials) == ["cluster", "deploy"]
    violations = evaluate(run, environment, pack_config(environment))
    assert [v for v in violations if _mandatory(v)] == []
    first = settings.applications[0].display_name(environment).lower()
    assert not [v for v in violations if first in v.message], violations


def _on_agent_id(environment: Environment) -> StackSettings:
    sponsor = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
    settings = _with_app(environment, identity="agentId", sponsors=[sponsor])
    blueprint = BlueprintSettings(beat_id="BEAT12345678", sponsors=[sponsor])
    return settings.model_copy(update={"agent_id": blueprint})


@pytest.mark.parametrize("environment", ["np", "prod"])
def test_an_agent_on_agent_id_passes_every_policy(environment: Environment) -> None:
    run = _run(environment, _on_agent_id(environment))
    made = {r.type for r in run.registrations}
    assert {AGENT_BLUEPRINT, AGENT_IDENTITY} <= made
    routes = [
        r
        for r in run.registrations
        if r.type == ROUTE_ACCESS and r.name.endswith("-agent-identity")
    ]
    assert len(routes) == len(_settings(environment).applications[0].regions)
    violations = evaluate(run, environment, pack_config(environment))
    assert [v for v in violations if _mandatory(v)] == []


@pytest.mark.parametrize(
    ("type_token", "key", "value", "expected"),
    [
        (AGENT_IDENTITY, "sponsors", [], "has no sponsor: set applications[].sponsors"),
        (AGENT_BLUEPRINT, "sponsors", [], "has no sponsor: set agentId.sponsors"),
        (AGENT_BLUEPRINT, "service_management_reference", "B1", "must be 'BEAT' followed"),
        (AGENT_IDENTITY, "display_name", "MY-LIVEKIT-AGENT", "must end with '-NP' in np"),
    ],
)
def test_agent_id_objects_are_sponsored_and_named(
    type_token: str, key: str, value: Any, expected: str
) -> None:
    run = _run("np", _on_agent_id("np"))
    registration = _first(run, type_token)
    registration.inputs[key] = value
    messages: list[str] = []
    policy = POLICY["agent-id-objects"]
    assert isinstance(policy, ResourceValidationPolicy)
    policy.validate(resource_args(registration), _collect(messages))
    assert len(messages) == 1
    assert expected in messages[0], messages


def _collect(messages: list[str]) -> Callable[..., None]:
    def report(message: str, urn: str | None = None) -> None:
        messages.append(message)

    return report


def _first(run: ProgramRun, type_token: str) -> Registration:
    return min((r for r in run.registrations if r.type == type_token), key=lambda r: r.name)


def _check_resource(
    run: ProgramRun,
    environment: str,
    policy_name: str,
    type_token: str,
    change: Callable[[Registration], None],
) -> list[str]:
    registration = copy.deepcopy(_first(run, type_token))
    change(registration)
    policy = POLICY[policy_name]
    assert isinstance(policy, ResourceValidationPolicy)
    messages: list[str] = []
    config = pack_config(environment).get(policy_name, {})
    policy.validate(resource_args(registration, config), _collect(messages))
    return messages


def _set(path: str, value: Any) -> Callable[[Registration], None]:
    def change(registration: Registration) -> None:
        *parents, last = path.split(".")
        target: Any = registration.inputs
        for part in parents:
            target = target[part]
            if rpc.is_rpc_secret(target):
                target = target["value"]
        if value is None:
            del target[last]
        else:
            target[last] = value

    return change


def _unprotect(registration: Registration) -> None:
    registration.protect = False


RESOURCE_CASES = [
    (
        "entra-display-name",
        "prod",
        APPLICATION,
        _set("displayName", "MY-LIVEKIT-AGENT-NP"),
        "is a non-prod name in prod",
    ),
    (
        "entra-display-name",
        "np",
        APPLICATION,
        _set("displayName", "MY-LIVEKIT-AGENT"),
        "must end with '-NP' in np",
    ),
    (
        "entra-display-name",
        "np",
        APPLICATION,
        _set("displayName", "My_Agent-NP"),
        "display name 'My_Agent-NP' must be uppercase words",
    ),
    (
        "vault-secret-name",
        "np",
        VAULT_SECRET,
        _set("secretName", None),
        "secret name None must be set explicitly",
    ),
    (
        "vault-secret-name",
        "np",
        VAULT_SECRET,
        _set("secretName", "other-app-np-client-secret"),
        "must be 'my-livekit-agent-np-client-secret'",
    ),
    (
        "environment-separation",
        "np",
        ROUTE_ACCESS,
        _set("route_id", "eu-livekit-platform-service.int.bayer.com"),
        "route 'eu-livekit-platform-service.int.bayer.com' is a prod route",
    ),
    (
        "environment-separation",
        "prod",
        ROUTE_ACCESS,
        _set("route_id", "eu-livekit-platform-service-np.int.bayer.com"),
        "is a np route",
    ),
    (
        "environment-separation",
        "np",
        VAULT_SECRET,
        _set("vaultName", "kv-np-lkps-apps"),
        "vaultName 'kv-np-lkps-apps' must match '^kv-[a-z0-9-]+-np$'",
    ),
    (
        "environment-separation",
        "prod",
        VAULT_SECRET,
        _set("resourceGroupName", "rg-np-lkps-prod"),
        "resourceGroupName 'rg-np-lkps-prod' is a non-prod value",
    ),
    (
        "environment-separation",
        "prod",
        VAULT_SECRET,
        _set("resourceGroupName", "rg-lkps-onboarding"),
        "resourceGroupName 'rg-lkps-onboarding' must match '^rg-[a-z0-9-]+-prod$'",
    ),
    (
        "environment-separation",
        "np",
        VAULT_SECRET,
        _set("tags.lkpsScope", "api://livekit-platform-service.int.bayer.com/.default"),
        "tag lkpsScope",
    ),
    (
        "environment-separation",
        "np",
        APPLICATION,
        _set("tags", ["lkps", "lkps-environment:prod"]),
        "are not of environment np",
    ),
    (
        "beat-id",
        "np",
        APPLICATION,
        _set("serviceManagementReference", "BEAT123"),
        "serviceManagementReference 'BEAT123' must be a BEAT ID",
    ),
    (
        "app-owners",
        "np",
        APPLICATION,
        _set("owners", ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", NP_DEPLOYER]),
        "has 1 owner(s) besides the pinned deployer, needs at least 2",
    ),
    (
        "app-owners",
        "np",
        APPLICATION,
        _set(
            "owners",
            ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"],
        ),
        "is not owned by the pinned deployer",
    ),
    (
        "app-owners",
        "np",
        SERVICE_PRINCIPAL,
        _set(
            "owners",
            ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"],
        ),
        "service principal",
    ),
    (
        "entra-display-name",
        "np",
        APPLICATION,
        _set("displayName", "MY-LIVEKIT-AGENT-NP-NP"),
        "repeats '-NP'",
    ),
    (
        "single-tenant-sign-in",
        "np",
        APPLICATION,
        _set("signInAudience", "AzureADMultipleOrgs"),
        "lets other tenants sign in",
    ),
    (
        "client-secret-lifetime",
        "np",
        APPLICATION,
        _set("password", {"displayName": "inline", "endDate": "2026-12-01T00:00:00Z"}),
        "carries an inline password",
    ),
    (
        "vault-secret-expiry",
        "np",
        VAULT_SECRET,
        _set("properties.attributes.expires", 4102444800),
        "at most 90 days are allowed",
    ),
    (
        "environment-separation",
        "np",
        AZUREAD_PROVIDER,
        _set("tenantId", "00000000-0000-4000-8000-000000000000"),
        "is not this environment's",
    ),
    (
        "environment-separation",
        "prod",
        AZURE_NATIVE_PROVIDER,
        _set("subscriptionId", "4d5c7a0e-3b1f-4e8a-9c2d-6f7e8a9b0c1d"),
        "subscriptionId '4d5c7a0e-3b1f-4e8a-9c2d-6f7e8a9b0c1d' is not this environment's",
    ),
    (
        "client-secret-lifetime",
        "np",
        APPLICATION_PASSWORD,
        _set("endDate", None),
        "has no end date",
    ),
    (
        "client-secret-lifetime",
        "np",
        APPLICATION_PASSWORD,
        _set("endDate", "2029-11-10T00:00:00Z"),
        "at most 90 days are allowed",
    ),
    (
        "client-secret-lifetime",
        "np",
        APPLICATION_PASSWORD,
        _set("endDateRelative", "8760h"),
        "not the deprecated endDateRelative",
    ),
    (
        "vault-secret-expiry",
        "np",
        VAULT_SECRET,
        _set("properties.attributes.expires", None),
        "has no expiry",
    ),
    (
        "vault-secret-expiry",
        "np",
        VAULT_SECRET,
        _set("properties.contentType", None),
        "has no content type",
    ),
    ("prod-protection", "prod", APPLICATION, _unprotect, "is not protected in prod"),
    ("prod-protection", "prod", VAULT_SECRET, _unprotect, "is not protected in prod"),
]


@pytest.mark.parametrize(
    ("policy_name", "environment", "type_token", "change", "expected"),
    RESOURCE_CASES,
    ids=[f"{c[0]}-{c[1]}-{c[4][:30]}" for c in RESOURCE_CASES],
)
def test_each_single_property_violation_is_reported(
    baseline: dict[str, ProgramRun],
    policy_name: str,
    environment: str,
    type_token: str,
    change: Callable[[Registration], None],
    expected: str,
) -> None:
    run = baseline[environment]
    assert _check_resource(run, environment, policy_name, type_token, lambda r: None) == []
    messages = _check_resource(run, environment, policy_name, type_token, change)
    assert len(messages) == 1, messages
    assert expected in messages[0]
    assert _first(run, type_token).name in messages[0]


def test_np_resources_are_not_required_to_be_protected(baseline: dict[str, ProgramRun]) -> None:
    assert _check_resource(baseline["np"], "np", "prod-protection", APPLICATION, _unprotect) == []


def test_an_unknown_value_makes_the_rule_say_it_cannot_run(
    baseline: dict[str, ProgramRun],
) -> None:
    with pytest.raises(UnknownValueError) as caught:
        _check_resource(
            baseline["np"],
            "np",
            "entra-display-name",
            APPLICATION,
            _set("displayName", UNKNOWN_STRING_VALUE),
        )
    assert caught.value.message == "string value at .displayName can't be known during preview"


def test_a_stack_name_without_environment_is_a_violation(
    baseline: dict[str, ProgramRun],
) -> None:
    registration = copy.deepcopy(_first(baseline["np"], ROUTE_ACCESS))
    registration.urn = registration.urn.replace("urn:pulumi:np::", "urn:pulumi:dev::")
    messages: list[str] = []
    POLICY["environment-separation"].validate(  # type: ignore[attr-defined]
        resource_args(registration), _collect(messages)
    )
    assert messages == [
        "stack 'dev' does not name its environment; name stacks 'np', 'prod', "
        "'np-<suffix>' or 'prod-<suffix>'"
    ]


def test_stack_rules_check_known_outputs_then_say_what_was_unknown(
    baseline: dict[str, ProgramRun],
) -> None:
    run = copy.deepcopy(baseline["np"])
    run.outputs["ocelotApiUrl"] = UNKNOWN_STRING_VALUE
    run.outputs["lkpsScope"] = "api://livekit-platform-service.int.bayer.com/.default"
    messages: list[str] = []
    policy = POLICY["stack-outputs-environment"]
    assert isinstance(policy, StackValidationPolicy)
    with pytest.raises(UnknownValueError) as caught:
        policy.validate(
            StackValidationArgs(stack_resources(run, "np"), {}),
            _collect(messages),
        )
    assert caught.value.message == "string value at .ocelotApiUrl can't be known during preview"
    assert messages == [
        "stack output lkpsScope is 'api://livekit-platform-service.int.bayer.com/.default', "
        "must be 'api://livekit-platform-service-np.int.bayer.com/.default'"
    ]


# Broken stacks. Config validation refuses the settings-level ones before any resource exists
# (tests/test_config.py); here they bypass it to show the pack would still stop them.
def _settings(environment: Environment) -> StackSettings:
    return parse_settings(stack_config(environment), environment)


def _with_app(environment: Environment, **update: Any) -> StackSettings:
    settings = _settings(environment)
    first = settings.applications[0].model_copy(update=update)
    return settings.model_copy(update={"applications": [first, *settings.applications[1:]]})


def _mutate_run(run: ProgramRun, type_token: str, change: Callable[[Registration], None]) -> None:
    change(_first(run, type_token))


def _drop_client_id_dependency(registration: Registration) -> None:
    registration.property_dependencies["client_id"] = []


def _copy_first_display_name(run: ProgramRun) -> None:
    apps = [r for r in run.registrations if r.type == APPLICATION]
    apps[1].outputs["displayName"] = apps[0].outputs["displayName"]


def _drop_dependency(key: str) -> Callable[[Registration], None]:
    def change(registration: Registration) -> None:
        registration.property_dependencies[key] = []

    return change


def _pre_authorize_a_literal_client(run: ProgramRun) -> None:
    pre = _first(run, PRE_AUTHORIZED)
    pre.property_dependencies["authorizedClientId"] = []
    pre.outputs["authorizedClientId"] = "0d0e0f10-1112-4314-9516-171819202122"


def _declare_the_client_as_np(run: ProgramRun) -> None:
    pre = _first(run, PRE_AUTHORIZED)
    pre.property_dependencies["authorizedClientId"] = []
    agent = run.outputs["applications"]["MY-LIVEKIT-AGENT"]
    agent["preAuthorizedClients"][0]["environment"] = "np"


def _leak_secret(run: ProgramRun) -> None:
    password = next(r for r in run.registrations if r.type == APPLICATION_PASSWORD)
    run.outputs["agentCredentials"] = {"appPassword": password.outputs["value"]}


BrokenStack = tuple[
    str, Environment, Callable[[], StackSettings | None], Callable[[ProgramRun], None]
]
BROKEN: list[BrokenStack] = [
    (
        "agent-id-objects",
        "np",
        lambda: _on_agent_id("np"),
        lambda run: _mutate_run(run, AGENT_IDENTITY, _set("sponsors", [])),
    ),
    (
        "federated-credential-issuer",
        "np",
        lambda: _with_app(
            "np", federated_credentials=[_federated("elsewhere", "https://issuer.example.com")]
        ),
        lambda run: None,
    ),
    ("prod-secretless", "prod", lambda: None, lambda run: None),
    (
        "entra-display-name",
        "prod",
        lambda: _with_app("prod", name="MY-LIVEKIT-AGENT-NP"),
        lambda run: None,
    ),
    (
        "vault-secret-name",
        "np",
        lambda: None,
        lambda run: _mutate_run(run, VAULT_SECRET, _set("secretName", "client-secret-1")),
    ),
    (
        "environment-separation",
        "np",
        lambda: _settings("np").model_copy(update={"key_vault": _settings("prod").key_vault}),
        lambda run: None,
    ),
    (
        "environment-separation",
        "np",
        lambda: None,
        lambda run: _mutate_run(
            run, ROUTE_ACCESS, _set("route_id", "us-livekit-platform-service.int.bayer.com")
        ),
    ),
    (
        "stack-outputs-environment",
        "np",
        lambda: _settings("np").model_copy(update={"ocelot": _settings("prod").ocelot}),
        lambda run: None,
    ),
    ("one-registration-per-app", "np", lambda: None, _copy_first_display_name),
    (
        "one-registration-per-app",
        "np",
        lambda: None,
        lambda run: _mutate_run(run, ROUTE_ACCESS, _drop_client_id_dependency),
    ),
    ("beat-id", "np", lambda: _with_app("np", beat_id="BEAT123"), lambda run: None),
    (
        "app-owners",
        "prod",
        lambda: _with_app("prod", owners=["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"]),
        lambda run: None,
    ),
    (
        "client-secret-lifetime",
        "prod",
        lambda: None,
        lambda run: _mutate_run(run, APPLICATION_PASSWORD, _set("endDate", "2030-01-01T00:00:00Z")),
    ),
    (
        "single-tenant-sign-in",
        "np",
        lambda: None,
        lambda run: _mutate_run(run, APPLICATION, _set("signInAudience", "AzureADMultipleOrgs")),
    ),
    (
        "vault-secret-expiry",
        "prod",
        lambda: None,
        lambda run: _mutate_run(
            run, VAULT_SECRET, _set("properties.attributes.expires", 4102444800)
        ),
    ),
    (
        "vault-secret-expiry",
        "np",
        lambda: None,
        lambda run: _mutate_run(run, VAULT_SECRET, _set("properties.attributes.expires", None)),
    ),
    ("no-plaintext-secret-outputs", "np", lambda: None, _leak_secret),
    (
        "client-authorization",
        "np",
        lambda: None,
        lambda run: _first(run, PERMISSION_SCOPE).outputs.update(value="user_impersonation"),
    ),
    ("client-authorization", "np", lambda: None, _pre_authorize_a_literal_client),
    ("client-authorization", "prod", lambda: None, _declare_the_client_as_np),
    (
        "client-authorization",
        "np",
        lambda: None,
        lambda run: _mutate_run(run, IDENTIFIER_URI, _drop_dependency("identifierUri")),
    ),
    (
        "prod-protection",
        "prod",
        lambda: _settings("prod").model_copy(update={"protect": False}),
        lambda run: None,
    ),
]


@pytest.mark.parametrize(
    ("policy_name", "environment", "settings", "break_run"),
    BROKEN,
    ids=[f"{b[0]}-{index}" for index, b in enumerate(BROKEN)],
)
def test_each_broken_stack_trips_exactly_its_policy(
    policy_name: str,
    environment: Environment,
    settings: Callable[[], StackSettings | None],
    break_run: Callable[[ProgramRun], None],
) -> None:
    run = _run(environment, settings())
    break_run(run)
    violations: list[Violation] = [
        v
        for v in evaluate(run, environment, pack_config(environment))
        if _mandatory(v) or v.policy == policy_name
    ]
    assert violations, f"{policy_name} was not tripped"
    assert {v.policy for v in violations} == {policy_name}, violations


def test_every_policy_has_a_broken_stack() -> None:
    assert {b[0] for b in BROKEN} == set(POLICY)


def test_a_vault_pattern_adds_to_the_environment_rule_and_never_replaces_it(
    baseline: dict[str, ProgramRun],
) -> None:
    registration = copy.deepcopy(_first(baseline["np"], VAULT_SECRET))
    _set("vaultName", "kv-lkps-apps-prod")(registration)
    policy = POLICY["environment-separation"]
    assert isinstance(policy, ResourceValidationPolicy)
    messages: list[str] = []
    policy.validate(resource_args(registration, {"vaultNamePattern": ".*"}), _collect(messages))
    assert messages == [
        f"vault secret '{registration.name}': vaultName 'kv-lkps-apps-prod' is not marked "
        "non-prod; in np it must contain an 'np' or 'nonprod' part (e.g. 'kv-lkps-np')"
    ]


@pytest.mark.parametrize("environment", ["np", "prod"])
def test_the_pack_config_states_the_stack_configs_rules_once(environment: Environment) -> None:
    """One name and one meaning: the pack's owner and lifetime rules are the stack config's."""
    stack = stack_config(environment)
    raw = json.loads((ROOT / "policies" / f"config.{environment}.json").read_text())
    owners = stack.get("minimumOwners", rules.DEFAULT_MINIMUM_OWNERS)
    assert raw["app-owners"] == {
        "minimumOwners": owners,
        "deployerObjectId": stack["deployerObjectId"],
    }
    maximum = raw["client-secret-lifetime"]["maximumSecretLifetimeDays"]
    assert stack["secretLifetimeDays"] <= maximum <= rules.MAXIMUM_SECRET_LIFETIME_DAYS
    levels = [value for value in raw.values() if not isinstance(value, dict)]
    assert levels == [], "enforcement levels live in policies/pack.py only"
    assert all("enforcementLevel" not in value for value in raw.values())


def _as_type(
    type_token: str, source: str, change: Callable[[Registration], None]
) -> Callable[[Registration], None]:
    """A registration of `source` type turned into `type_token`, then changed."""

    def convert(registration: Registration) -> None:
        assert registration.type == source
        registration.type = type_token
        change(registration)

    return convert


BYPASSES = [
    (
        "an ApplicationRegistration with a bad name",
        "entra-display-name",
        APPLICATION,
        _as_type(APPLICATION_REGISTRATION, APPLICATION, _set("displayName", "free-form name")),
        "must be uppercase words",
    ),
    (
        "an ApplicationRegistration, which has no owners",
        "app-owners",
        APPLICATION,
        _as_type(APPLICATION_REGISTRATION, APPLICATION, _set("owners", None)),
        "is not owned by the pinned deployer",
    ),
    (
        "a ServicePrincipalPassword that never expires",
        "client-secret-lifetime",
        APPLICATION_PASSWORD,
        _as_type(SERVICE_PRINCIPAL_PASSWORD, APPLICATION_PASSWORD, _set("endDate", None)),
        "has no end date",
    ),
    (
        "a versioned azure-native vault secret without expiry",
        "vault-secret-expiry",
        VAULT_SECRET,
        _as_type(
            "azure-native:keyvault/v20230701:Secret",
            VAULT_SECRET,
            _set("properties.attributes.expires", None),
        ),
        "has no expiry",
    ),
    (
        "a versioned azure-native vault secret in a prod vault",
        "environment-separation",
        VAULT_SECRET,
        _as_type(
            "azure-native:keyvault/v20241101:Secret",
            VAULT_SECRET,
            _set("vaultName", "kv-lkps-apps-prod"),
        ),
        "is not marked non-prod",
    ),
    (
        "a vault secret whose tag values are unknown in the preview that adds the app",
        "vault-secret-expiry",
        VAULT_SECRET,
        _set("tags.clientId", UNKNOWN_STRING_VALUE),
        "",
    ),
]


@pytest.mark.parametrize(
    ("policy_name", "type_token", "change", "expected"),
    [b[1:] for b in BYPASSES],
    ids=[b[0] for b in BYPASSES],
)
def test_each_bypass_is_caught(
    baseline: dict[str, ProgramRun],
    policy_name: str,
    type_token: str,
    change: Callable[[Registration], None],
    expected: str,
) -> None:
    if not expected:
        # Runs (no "can't run during preview"), and still judges the expiry it can see.
        def and_no_expiry(registration: Registration) -> None:
            change(registration)
            _set("properties.attributes.expires", None)(registration)

        messages = _check_resource(baseline["np"], "np", policy_name, type_token, and_no_expiry)
        assert any("has no expiry" in m for m in messages), messages
        assert _check_resource(baseline["np"], "np", policy_name, type_token, change) == []
        return
    messages = _check_resource(baseline["np"], "np", policy_name, type_token, change)
    assert any(expected in m for m in messages), messages


def _stack_messages(run: ProgramRun, stack: str, policy_name: str) -> list[str]:
    return [
        v.message
        for v in evaluate(run, stack, pack_config(stack.split("-")[0]))
        if v.policy == policy_name
    ]


def test_an_output_embedding_a_secret_in_a_longer_value_is_caught() -> None:
    run = _run("np")
    password = next(r for r in run.registrations if r.type == APPLICATION_PASSWORD)
    secret = rpc.unwrap_rpc_secret(password.outputs["value"])
    run.outputs["agentConnection"] = f"Endpoint=https://lkps;ClientId=x;Token={secret};"
    messages = _stack_messages(run, "np", "no-plaintext-secret-outputs")
    assert messages == ["stack output agentConnection holds a client secret"]
    run.outputs["agentConnection"] = "Server=db;User=lkps;Password=hunter2-hunter2"
    messages = _stack_messages(run, "np", "no-plaintext-secret-outputs")
    assert messages == ["stack output agentConnection holds what looks like a credential"]


def test_output_rules_run_in_the_preview_that_adds_an_app() -> None:
    """Unknown IDs of a new app leave every other output judged, and the names of all."""
    run = _run("np")
    agent = run.outputs["applications"]["MY-LIVEKIT-AGENT"]
    for key in ("clientId", "objectId", "agentAppId"):
        agent[key] = UNKNOWN_STRING_VALUE
    agent["preAuthorizedClients"][0]["clientId"] = UNKNOWN_STRING_VALUE
    assert evaluate(run, "np", pack_config("np")) == []
    agent["clientSecret"] = UNKNOWN_STRING_VALUE
    assert _stack_messages(run, "np", "no-plaintext-secret-outputs") == [
        "stack output applications.MY-LIVEKIT-AGENT.clientSecret is named like a credential"
    ]


def test_probes_that_must_not_be_flagged() -> None:
    """An np-<suffix> stack, the word prod in a description, owners written in upper case."""
    raw = stack_config("np")
    raw["applications"][0]["description"] = "Talks to the prod support desk"
    raw["applications"][0]["owners"] = [owner.upper() for owner in raw["applications"][0]["owners"]]
    run = run_program(raw, "np-feature", TODAY)
    assert evaluate(run, "np-feature", pack_config("np")) == []
