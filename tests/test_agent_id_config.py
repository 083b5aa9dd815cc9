"""Agents on Microsoft Entra Agent ID at preview: the config's rules, each naming its key, and the
guards that keep the move from an app registration without an outage."""

from __future__ import annotations

import copy
from datetime import date
from typing import Any

import pulumi
import pytest

from lkps import agent_id
from lkps.config import ConfigError, parse_settings
from lkps.resource_types import (
    AGENT_BLUEPRINT,
    AGENT_IDENTITY,
    APP_ROLE_ASSIGNMENT,
    APPLICATION,
)
from lkps.rules import Environment
from tests.support.harness import ProgramRun, run_program, stack_config

TODAY = date(2026, 11, 26)
SPONSOR = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
BLUEPRINT: dict[str, Any] = {"beatId": "BEAT12345678", "sponsors": [SPONSOR]}
GITHUB = "https://token.actions.githubusercontent.com"


def _config(blueprint: dict[str, Any] | None = None, **agent: Any) -> dict[str, Any]:
    raw = copy.deepcopy(stack_config("np"))
    raw["agentId"] = {**BLUEPRINT, **(blueprint or {})}
    raw["applications"][0].update({"identity": "agentId", "sponsors": [SPONSOR], **agent})
    return raw


def _problems(raw: dict[str, Any], stack: str = "np") -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse_settings(raw, stack)
    return caught.value.problems


STACKS: list[tuple[str, Environment]] = [
    ("np", "np"),
    ("np-voice", "np"),
    ("prod", "prod"),
    ("prod-voice", "prod"),
]


def test_the_names_follow_the_stack() -> None:
    assert [
        (agent_id.blueprint_display_name(s, e), agent_id.blueprint_unique_name(s, e))
        for s, e in STACKS
    ] == [
        ("LKPS-AGENTS-NP", "lkps-agents-np"),
        ("LKPS-AGENTS-VOICE-NP", "lkps-agents-voice-np"),
        ("LKPS-AGENTS", "lkps-agents"),
        ("LKPS-AGENTS-VOICE", "lkps-agents-voice"),
    ]


def _without_blueprint(raw: dict[str, Any]) -> None:
    raw.pop("agentId")


def _client_on_agent_id(raw: dict[str, Any]) -> None:
    raw["applications"][1].update(identity="agentId", sponsors=[SPONSOR])


def _too_many(raw: dict[str, Any]) -> None:
    template = raw["applications"][0]
    raw["applications"] = [
        {**template, "name": f"AGENT-{n}", "clients": []}
        for n in range(agent_id.MAX_AGENT_IDENTITIES_PER_BLUEPRINT + 1)
    ]


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        (_without_blueprint, "agentId: applications[0] is on identity: agentId"),
        (
            lambda raw: raw["applications"][0].pop("sponsors"),
            "applications[0].sponsors: an agent on identity: agentId needs at least one sponsor",
        ),
        (_client_on_agent_id, "applications[1].identity: agentId is for agents"),
        (
            lambda raw: raw["applications"][1].update(sponsors=[SPONSOR]),
            "applications[1].sponsors: only an agent on identity: agentId has sponsors",
        ),
        (
            lambda raw: raw["applications"][0].update(clientSecret=False),
            "applications[0].clientSecret: an agent identity has no credentials of its own",
        ),
        (
            lambda raw: raw["applications"][0].update(
                externalClients=[
                    {
                        "clientId": "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d",
                        "label": "other",
                        "beatId": "BEAT11112222",
                        "environment": "np",
                    }
                ]
            ),
            "applications[0].externalClients: an agent on identity: agentId authorizes",
        ),
        (
            lambda raw: raw["agentId"].update(clientSecret=False),
            "agentId.clientSecret: false needs at least one entry in agentId.federatedCredentials",
        ),
        (
            lambda raw: raw["agentId"].update(sponsors=[]),
            "agentId.sponsors: '[]' must have at least 1 item",
        ),
        (
            lambda raw: raw["agentId"].update(beatId="BEAT1"),
            "agentId.beatId: 'BEAT1' must be 'BEAT' followed by 8 digits",
        ),
        (
            lambda raw: raw["applications"][0].update(registration="later"),
            "applications[0].registration",
        ),
        (_too_many, "a blueprint has at most 250 agent identities"),
    ],
    ids=[
        "no-blueprint",
        "no-sponsor",
        "client",
        "sponsors-on-registration",
        "agent-secret",
        "external-clients",
        "blueprint-without-credential",
        "blueprint-without-sponsor",
        "blueprint-beat-id",
        "registration-form",
        "limit",
    ],
)
def test_each_agent_id_rule_names_its_key(change: Any, expected: str) -> None:
    raw = _config()
    change(raw)
    problems = _problems(raw)
    assert any(expected in problem for problem in problems), problems


def test_a_new_agent_on_agent_id_has_no_registration_and_is_on_every_route() -> None:
    run = run_program(_config(), "np", TODAY)
    types = [r.type for r in run.registrations]
    assert types.count(AGENT_BLUEPRINT) == 1
    assert types.count(AGENT_IDENTITY) == 1
    assert types.count(APP_ROLE_ASSIGNMENT) == 1
    names = [r.name for r in run.registrations]
    assert "MY-LIVEKIT-AGENT-NP" not in _registrations(run), "no app registration for the agent"
    assert sorted(n for n in names if n.endswith("-agent-identity") and "-ocelot-" in n) == [
        "lkps-my-livekit-agent-np-ocelot-eu-agent-identity",
        "lkps-my-livekit-agent-np-ocelot-us-agent-identity",
    ]
    agent = run.outputs["applications"]["MY-LIVEKIT-AGENT"]
    assert agent["identity"] == "agentId"
    assert "clientId" not in agent
    assert run.outputs["applications"]["MY-LIVEKIT-CLIENT"]["agents"] == ["MY-LIVEKIT-AGENT"]
    blueprint = run.outputs["agentIdBlueprint"]
    assert blueprint["uniqueName"] == "lkps-agents-np"
    assert agent_id.ROTATION_KEY in run.outputs["secretRotation"]


def _registrations(run: ProgramRun) -> set[str]:
    return {r.inputs["displayName"] for r in run.registrations if r.type == APPLICATION}


def _recorded(**agent: Any) -> dict[str, Any]:
    return {"applications": {"MY-LIVEKIT-AGENT": {"objectId": "x", "routes": ["r"], **agent}}}


@pytest.mark.parametrize(
    ("agent", "last", "expected"),
    [
        ({}, _recorded(), "applications[0].identity: agentId would delete the app registration"),
        (
            {},
            _recorded(registration="parallel", agentIdentityId="i"),
            "applications[0].registration: removing it deletes the app registration",
        ),
        (
            {"registration": "retired"},
            _recorded(),
            "applications[0].registration: retired takes the registration",
        ),
        (
            {"registration": "parallel"},
            {},
            "applications[0].registration: parallel keeps an existing app registration",
        ),
    ],
    ids=["switch-at-once", "drop-parallel", "retire-first", "parallel-without-registration"],
)
def test_the_move_to_agent_id_keeps_the_agent_on_the_routes(
    agent: dict[str, Any], last: dict[str, Any], expected: str
) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        run_program(_config(**agent), "np", TODAY, last_outputs=last)
    assert expected in str(caught.value)


@pytest.mark.parametrize(
    ("agent", "last"),
    [
        ({"registration": "parallel"}, _recorded()),
        ({"registration": "retired"}, _recorded(registration="parallel", agentIdentityId="i")),
        ({}, _recorded(registration="retired", agentIdentityId="i")),
    ],
    ids=["parallel", "retire", "remove"],
)
def test_each_step_of_the_move_is_accepted_after_the_one_before(
    agent: dict[str, Any], last: dict[str, Any]
) -> None:
    run = run_program(_config(**agent), "np", TODAY, last_outputs=last)
    names = {r.name for r in run.registrations}
    has_registration = "MY-LIVEKIT-AGENT-NP" in _registrations(run)
    assert has_registration == ("registration" in agent)
    registration_routes = {
        n
        for n in names
        if n.startswith("lkps-my-livekit-agent-np-ocelot-")
        and not n.endswith(agent_id.ROUTE_ACCESS_SUFFIX)
    }
    assert bool(registration_routes) == (agent.get("registration") == "parallel")


def test_the_blueprint_secret_goes_only_after_its_federated_credentials() -> None:
    credential = {"name": "aks", "issuer": GITHUB, "subject": "repo:a/b:environment:np"}
    raw = _config({"clientSecret": False, "federatedCredentials": [credential]})
    last: dict[str, Any] = {"agentIdBlueprint": {"credentialKinds": ["clientSecret"]}}
    with pytest.raises(pulumi.RunError) as caught:
        run_program(raw, "np", TODAY, last_outputs=last)
    assert "agentId.clientSecret: false removes the blueprint's client secret" in str(caught.value)
    last = {
        "agentIdBlueprint": {
            "credentialKinds": ["clientSecret", "federated"],
            "federatedCredentials": [{"name": "aks"}],
        }
    }
    run = run_program(raw, "np", TODAY, last_outputs=last)
    assert run.outputs["agentIdBlueprint"]["credentialKinds"] == ["federated"]
    assert agent_id.ROTATION_KEY not in run.outputs["secretRotation"]


@pytest.mark.parametrize(
    ("agent", "last", "protected"),
    [
        ({"registration": "parallel"}, _recorded(), 0),
        (
            {"registration": "retired"},
            _recorded(registration="parallel", agentIdentityId="i"),
            True,
        ),
        ({}, _recorded(registration="retired", agentIdentityId="i"), True),
        ({"retired": True}, _recorded(registration="retired", agentIdentityId="i"), False),
    ],
    ids=["parallel", "retired-registration", "agent-identity-alone", "agent-retired"],
)
def test_prod_protects_the_agent_identity_and_blueprint_once_the_agent_relies_on_them(
    agent: dict[str, Any], last: dict[str, Any], protected: int
) -> None:
    raw = copy.deepcopy(stack_config("prod"))
    raw["agentId"] = dict(BLUEPRINT)
    raw["applications"][0].update({"identity": "agentId", "sponsors": [SPONSOR], **agent})
    if agent.get("retired"):
        raw["applications"][0]["clients"] = []
        raw["applications"][1].pop("agents", None)
    last = {"applications": {"MY-LIVEKIT-AGENT": last["applications"]["MY-LIVEKIT-AGENT"]}}
    run = run_program(raw, "prod", TODAY, last_outputs=last)
    flags = {
        r.type: r.protect for r in run.registrations if r.type in (AGENT_BLUEPRINT, AGENT_IDENTITY)
    }
    assert flags == {AGENT_BLUEPRINT: protected, AGENT_IDENTITY: protected}
