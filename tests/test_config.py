"""Stack config validation: one test per rule, each checking the line it reports."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import pulumi
import pytest

from lkps.config import ConfigError, parse_settings
from tests.support.harness import run_program, stack_config

TODAY = date(2026, 11, 26)
Mutation = Callable[[dict[str, Any]], None]


def _problems(raw: dict[str, Any], stack: str = "np") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack)
    return caught.value.problems


@pytest.mark.parametrize("env", ["np", "prod"])
def test_committed_stack_configs_are_valid(env: str) -> None:
    settings = parse_settings(stack_config(env), env)
    assert settings.environment == env
    assert len(settings.applications) >= 2


def test_committed_configs_differ_in_every_environment_specific_value() -> None:
    np_settings = parse_settings(stack_config("np"), "np")
    prod_settings = parse_settings(stack_config("prod"), "prod")
    assert np_settings.key_vault.subscription_id != prod_settings.key_vault.subscription_id
    assert np_settings.key_vault.resource_group_name != prod_settings.key_vault.resource_group_name
    assert np_settings.key_vault.vault_name != prod_settings.key_vault.vault_name
    assert np_settings.ocelot.api_url != prod_settings.ocelot.api_url
    assert np_settings.ocelot.token_scope != prod_settings.ocelot.token_scope
    assert np_settings.protect_resources is False
    assert prod_settings.protect_resources is True


def _set(path: str, value: Any) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = raw
        for part in parents:
            target = target[part]
        target[last] = value

    return mutate


def _delete(path: str) -> Mutation:
    def mutate(raw: dict[str, Any]) -> None:
        *parents, last = [int(p) if p.isdigit() else p for p in path.split(".")]
        target: Any = raw
        for part in parents:
            target = target[part]
        del target[last]

    return mutate


def _duplicate_first_app(raw: dict[str, Any]) -> None:
    raw["applications"].append(dict(raw["applications"][0]))


CASES: list[tuple[str, Mutation, str]] = [
    ("missing key", _delete("tenantId"), "tenantId: is required"),
    ("missing nested key", _delete("keyVault.vaultName"), "keyVault.vaultName: is required"),
    (
        "missing app key",
        _delete("applications.1.beatId"),
        "applications[1].beatId: is required",
    ),
    (
        "unknown key",
        _set("secretLifetimeDay", 90),
        "secretLifetimeDay: is not a known key (known keys: environment, tenantId",
    ),
    (
        "unknown role",
        _set("applications.0.role", "bot"),
        "applications[0].role: 'bot' must be one of 'agent' or 'client'",
    ),
    (
        "unknown region",
        _set("applications.0.regions", ["eu", "ap"]),
        "applications[0].regions[1]: 'ap' must be one of 'eu' or 'us'",
    ),
    (
        "no region",
        _set("applications.0.regions", []),
        "applications[0].regions: '[]' must have at least 1 item(s)",
    ),
    (
        "repeated region",
        _set("applications.0.regions", ["eu", "eu"]),
        'applications[0].regions: \'["eu", "eu"]\' must not repeat a value (repeated: eu)',
    ),
    (
        "malformed BEAT ID",
        _set("applications.1.beatId", "BEAT123"),
        "applications[1].beatId: 'BEAT123' must be 'BEAT' followed by 8 digits",
    ),
    (
        "malformed tenant GUID",
        _set("tenantId", "not-a-guid"),
        "tenantId: 'not-a-guid' must be a GUID like 00000000-0000-0000-0000-000000000000",
    ),
    (
        "malformed owner GUID",
        _set("applications.0.owners.1", "alice@example.com"),
        "applications[0].owners[1]: 'alice@example.com' must be a GUID",
    ),
    (
        "malformed subscription GUID",
        _set("keyVault.subscriptionId", "1234"),
        "keyVault.subscriptionId: '1234' must be a GUID",
    ),
    (
        "lowercase app name",
        _set("applications.0.name", "my-agent"),
        "applications[0].name: 'my-agent' must be uppercase words of letters and digits",
    ),
    (
        "app name with the np suffix",
        _set("applications.0.name", "MY-AGENT-NP"),
        "applications[0].name: 'MY-AGENT-NP' must not end with '-NP'",
    ),
    (
        "duplicate app names",
        _duplicate_first_app,
        "applications[2].name: 'MY-LIVEKIT-AGENT' is already used by applications[0]",
    ),
    (
        "too few owners",
        _set("applications.0.owners", ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"]),
        "applications[0].owners: has 1 owner(s) besides the deployer, must have at least 2",
    ),
    (
        "repeated owner",
        _set("applications.0.owners.1", "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"),
        "applications[0].owners: ",
    ),
    (
        "lifetime shorter than two rotation periods",
        _set("secretLifetimeDays", 50),
        "secretLifetimeDays: 50 must be at least twice secretRotationDays (60)",
    ),
    (
        "lifetime over two years",
        _set("secretLifetimeDays", 1000),
        "secretLifetimeDays: 1000 must be at most 730",
    ),
    (
        "rotation period not a number",
        _set("secretRotationDays", "monthly"),
        "secretRotationDays: 'monthly' must be a whole number",
    ),
    (
        "unknown environment",
        _set("environment", "dev"),
        "environment: 'dev' must be one of 'np' or 'prod'",
    ),
    (
        "stack and environment disagree",
        _set("environment", "prod"),
        "environment: 'prod' does not match stack 'np'",
    ),
    (
        "np vault not marked non-prod",
        _set("keyVault.vaultName", "kv-lkps-apps"),
        "keyVault.vaultName: 'kv-lkps-apps' is not marked non-prod",
    ),
    (
        "plain http Ocelot URL",
        _set("ocelot.apiUrl", "http://devtools-np.bayer.com/ocelot"),
        "ocelot.apiUrl: 'http://devtools-np.bayer.com/ocelot' must be an https:// URL",
    ),
    (
        "scope without /.default",
        _set("ocelot.tokenScope", "api://devtools-np.bayer.com/ocelot"),
        "ocelot.tokenScope: 'api://devtools-np.bayer.com/ocelot' must be a scope like",
    ),
    (
        "vault name too long",
        _set("keyVault.vaultName", "kv-lkps-applications-for-np"),
        "keyVault.vaultName: 'kv-lkps-applications-for-np' must be 3 to 24 letters",
    ),
    (
        "protect not a boolean",
        _set("protect", "sometimes"),
        "protect: 'sometimes' must be true or false",
    ),
    (
        "maxApplications below 1",
        _set("maxApplications", 0),
        "maxApplications: 0 must be at least 1",
    ),
    (
        "no application",
        _set("applications", []),
        "applications: '[]' must have at least 1 item(s)",
    ),
]


@pytest.mark.parametrize(
    ("mutate", "expected"), [(m, e) for _, m, e in CASES], ids=[c[0] for c in CASES]
)
def test_each_rule_reports_its_key_and_allowed_form(
    np_config: dict[str, Any], mutate: Mutation, expected: str
) -> None:
    mutate(np_config)
    problems = _problems(np_config)
    assert any(p.startswith(expected) for p in problems), problems


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("keyVault.vaultName", "kv-lkps-apps-np"),
        ("keyVault.resourceGroupName", "rg-lkps-nonprod"),
        ("ocelot.apiUrl", "https://devtools-np.bayer.com/ocelot/api/v1"),
        ("ocelot.tokenScope", "api://devtools-np.bayer.com/ocelot/.default"),
    ],
)
def test_prod_rejects_each_non_prod_value(
    prod_config: dict[str, Any], key: str, value: str
) -> None:
    _set(key, value)(prod_config)
    assert _problems(prod_config, "prod") == [
        f"{key}: '{value}' is a non-prod value and must not be used in prod"
    ]


def test_every_problem_is_reported_at_once(np_config: dict[str, Any]) -> None:
    _duplicate_first_app(np_config)
    _set("applications.1.beatId", "BEAT123")(np_config)
    _set("applications.0.role", "bot")(np_config)
    _set("secretLifetimeDays", 40)(np_config)
    problems = _problems(np_config)
    assert len(problems) == 4, problems
    assert all(": " in p and "\n" not in p for p in problems)


def test_secret_config_values_are_never_echoed(np_config: dict[str, Any]) -> None:
    np_config["ocelotToken"] = {"token": "CANARY-token-value"}
    with pytest.raises(ConfigError) as caught:
        parse_settings(np_config, "np", secret_keys={"ocelotToken"})
    assert caught.value.problems == ["ocelotToken: must be a string"]
    assert "CANARY-token-value" not in str(caught.value)


def test_a_plaintext_ocelot_token_is_refused_without_echoing_it(np_config: dict[str, Any]) -> None:
    np_config["ocelotToken"] = "CANARY-token-value"
    with pytest.raises(ConfigError) as caught:
        parse_settings(np_config, "np", secret_keys=set())
    assert caught.value.problems == [
        "ocelotToken: must be stored encrypted: pulumi config set --secret ocelotToken "
        "(then rotate the exposed token)"
    ]
    assert "CANARY-token-value" not in str(caught.value)


def test_a_secret_ocelot_token_is_accepted(np_config: dict[str, Any]) -> None:
    np_config["ocelotToken"] = "CANARY-token-value"
    settings = parse_settings(np_config, "np", secret_keys={"ocelotToken"})
    assert settings.ocelot_token is not None
    assert "CANARY-token-value" not in repr(settings)


def test_stack_suffix_is_allowed_for_its_environment(np_config: dict[str, Any]) -> None:
    assert parse_settings(np_config, "np-sandbox").environment == "np"


def test_prod_protection_can_be_switched_off_explicitly(prod_config: dict[str, Any]) -> None:
    prod_config["protect"] = "false"
    assert parse_settings(prod_config, "prod").protect_resources is False


def test_bad_config_stops_the_program_before_any_resource(np_config: dict[str, Any]) -> None:
    _set("applications.1.beatId", "BEAT123")(np_config)
    _set("applications.0.regions", ["eu", "mars"])(np_config)
    with pytest.raises(pulumi.RunError) as caught:
        run_program(np_config, "np", TODAY)
    message = str(caught.value)
    assert message.splitlines() == [
        "stack 'np' has 2 config problem(s):",
        "  - applications[0].regions[1]: 'mars' must be one of 'eu' or 'us'",
        "  - applications[1].beatId: 'BEAT123' must be 'BEAT' followed by 8 digits",
    ]
    assert caught.value.__cause__ is None
    assert caught.value.__suppress_context__


def test_client_authorization_mistakes_are_reported_at_once_with_their_keys(
    prod_config: dict[str, Any],
) -> None:
    agent, client = prod_config["applications"]
    agent["clients"] = ["MY-LIVEKIT-CLIENT", "NO-SUCH-APP", "MY-LIVEKIT-AGENT"]
    agent["externalClients"] = [
        {
            "clientId": "not-a-guid",
            "label": "Partner web",
            "beatId": "BEAT11112222",
            "environment": "prod",
        },
        {
            "clientId": "0d0e0f10-1112-4314-9516-171819202122",
            "label": "Partner test",
            "beatId": "BEAT11112222",
            "environment": "np",
        },
    ]
    client["agents"] = ["MY-LIVEKIT-CLIENT"]
    client["clients"] = ["MY-LIVEKIT-AGENT"]
    with pytest.raises(ConfigError) as caught:
        parse_settings(prod_config, "prod")
    assert caught.value.problems == [
        "applications[0].externalClients[0].clientId: 'not-a-guid' must be a GUID like "
        "00000000-0000-0000-0000-000000000000",
        "applications[0].clients[1]: 'NO-SUCH-APP' is not an application of this stack "
        "(known: MY-LIVEKIT-AGENT, MY-LIVEKIT-CLIENT)",
        "applications[0].clients[2]: 'MY-LIVEKIT-AGENT' is this application itself",
        "applications[0].externalClients[1].environment: 'np' client in a prod stack; "
        "np and prod never mix",
        "applications[1].clients: only agents have clients; 'MY-LIVEKIT-CLIENT' is a client",
        "applications[1].agents[0]: 'MY-LIVEKIT-CLIENT' is this application itself",
    ]


def test_an_agent_cannot_pre_authorize_an_agent(np_config: dict[str, Any]) -> None:
    np_config["applications"].append(
        {**np_config["applications"][0], "name": "OTHER-AGENT", "clients": ["MY-LIVEKIT-AGENT"]}
    )
    with pytest.raises(ConfigError) as caught:
        parse_settings(np_config, "np")
    assert caught.value.problems == [
        "applications[2].clients[0]: 'MY-LIVEKIT-AGENT' is an agent, not a client"
    ]


def test_both_spellings_and_external_clients_are_accepted(np_config: dict[str, Any]) -> None:
    agent, client = np_config["applications"]
    agent["clients"] = []
    agent["externalClients"] = [
        {
            "clientId": "0D0E0F10-1112-4314-9516-171819202122",
            "label": "Partner web",
            "beatId": "BEAT11112222",
            "environment": "np",
        }
    ]
    client["agents"] = ["MY-LIVEKIT-AGENT"]
    settings = parse_settings(np_config, "np")
    assert settings.authorized_clients() == {"MY-LIVEKIT-AGENT": ["MY-LIVEKIT-CLIENT"]}
    assert settings.applications[0].external_clients[0].label == "Partner web"


def test_an_unquoted_yaml_date_is_the_date_written(np_config: dict[str, Any]) -> None:
    """`emergencyRotation: 2026-11-20` unquoted reaches the program as the Pulumi CLI renders a
    YAML timestamp; a time other than midnight stays an error naming the key."""
    np_config["applications"][0]["emergencyRotation"] = "2026-11-20 00:00:00 +0000 UTC"
    settings = parse_settings(np_config, "np")
    assert settings.applications[0].emergency_rotation == date(2026, 11, 20)
    np_config["applications"][0]["emergencyRotation"] = "2026-11-20 10:30:00 +0000 UTC"
    problems = _problems(np_config)
    assert len(problems) == 1
    assert problems[0].startswith("applications[0].emergencyRotation:"), problems
