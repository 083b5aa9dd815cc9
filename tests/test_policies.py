"""The policy pack: compliant stacks pass, each broken one trips exactly its policy."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pytest
from pulumi.runtime import rpc
from pulumi_policy import ResourceValidationPolicy, StackValidationArgs, StackValidationPolicy
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError

from lkps import rules
from lkps.config import StackSettings, parse_settings
from lkps.rules import Environment
from policies.context import (
    APPLICATION,
    APPLICATION_PASSWORD,
    IDENTIFIER_URI,
    PERMISSION_SCOPE,
    PRE_AUTHORIZED,
    ROUTE_ACCESS,
    VAULT_SECRET,
)
from policies.pack import POLICIES
from tests.harness import ROOT, ProgramRun, Registration, run_program, stack_config
from tests.policy_harness import (
    Violation,
    evaluate,
    pack_config,
    resource_args,
    stack_resources,
)

TODAY = date(2026, 11, 10)
POLICY = {policy.name: policy for policy in POLICIES}


def _run(environment: Environment, settings: StackSettings | None = None) -> ProgramRun:
    return run_program(stack_config(environment), environment, TODAY, settings_override=settings)


@pytest.fixture(scope="module")
def baseline() -> dict[str, ProgramRun]:
    return {env: _run(env) for env in ("np", "prod")}


def test_every_policy_is_documented_and_enforced() -> None:
    assert len(POLICY) == len(POLICIES) == 12
    for policy in POLICIES:
        assert policy.name == policy.name.lower()
        assert " " not in policy.name
        assert policy.description
        assert policy.enforcement_level is not None
        assert policy.severity is not None
        assert policy.remediation_steps


def test_committed_stacks_pass_every_policy(
    environment: Environment, baseline: dict[str, ProgramRun]
) -> None:
    assert evaluate(baseline[environment], environment, pack_config(environment)) == []


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
        _set("owners", ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"]),
        "has 1 owner(s), needs at least 3",
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
        lambda: _settings("prod").model_copy(update={"secret_lifetime_days": 3 * 365}),
        lambda run: None,
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
    violations: list[Violation] = evaluate(run, environment, pack_config(environment))
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
