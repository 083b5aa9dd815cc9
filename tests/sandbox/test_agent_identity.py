"""Microsoft Entra Agent ID in the Entra emulator, over real HTTPS: agent identity blueprints,
their blueprint principals, agent identities, sponsors, the limits, and the state on disk."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from sandbox.entra import EntraEmulator
from sandbox.entra_store import MAX_BLUEPRINTS, EntraStore, Principal
from sandbox.loopback import ApiError
from sandbox.tls import SandboxCertificate
from tests.sandbox.conftest import OWNER_A, OWNER_B, OWNER_C, TENANT, AreaTokens, unique

GRAPH = "/graph/v1.0"
BLUEPRINTS = f"{GRAPH}/applications/microsoft.graph.agentIdentityBlueprint"
BLUEPRINT_PRINCIPALS = f"{GRAPH}/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal"
AGENTS = f"{GRAPH}/servicePrincipals/microsoft.graph.agentIdentity"
SPONSOR = f"https://graph.microsoft.com/v1.0/users/{OWNER_A}"
GROUP_SPONSOR = f"https://graph.microsoft.com/v1.0/groups/{OWNER_B}"


@pytest.fixture
def store(tmp_path: Path) -> EntraStore:
    return EntraStore(tmp_path / "entra.sqlite")


@pytest.fixture
def emulator(store: EntraStore, certificate: SandboxCertificate) -> Iterator[EntraEmulator]:
    with EntraEmulator(store, TENANT, certificate) as started:
        yield started


@pytest.fixture
def graph(emulator: EntraEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, auth=AreaTokens(emulator)) as client:
        yield client


def _blueprint(graph: httpx.Client, **extra: Any) -> dict[str, Any]:
    made = graph.post(
        BLUEPRINTS,
        json={"displayName": unique("BP"), "sponsors@odata.bind": [SPONSOR], **extra},
    )
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _principal(graph: httpx.Client, app_id: str) -> httpx.Response:
    return graph.post(BLUEPRINT_PRINCIPALS, json={"appId": app_id})


def _agent(graph: httpx.Client, blueprint_app_id: str, **extra: Any) -> httpx.Response:
    body = {
        "displayName": unique("AGENT"),
        "agentIdentityBlueprintId": blueprint_app_id,
        "sponsors@odata.bind": [SPONSOR, GROUP_SPONSOR],
        **extra,
    }
    return graph.post(AGENTS, json={k: v for k, v in body.items() if v is not None})


def _error(response: httpx.Response) -> str:
    code: str = response.json()["error"]["code"]
    return code


def test_a_blueprint_is_an_application_with_its_type_and_sponsors_apart(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    made = _blueprint(
        graph, serviceManagementReference="LKPS-42", identifierUris=["api://lkps-agents"]
    )
    assert made["@odata.type"] == "#microsoft.graph.agentIdentityBlueprint"
    assert made["serviceManagementReference"] == "LKPS-42"
    assert "sponsors" not in made
    assert "owners" not in made
    shown = graph.get(f"{GRAPH}/applications/{made['id']}").json()
    assert shown["@odata.type"] == "#microsoft.graph.agentIdentityBlueprint"
    assert shown["identifierUris"] == ["api://lkps-agents"]
    # Owners work as on any application: the caller owns what it made.
    owners = graph.get(f"{GRAPH}/applications/{made['id']}/owners").json()["value"]
    assert [o["id"] for o in owners] == [emulator.deployer.object_id]
    journal = emulator.store.journal()
    assert journal[-1]["op"] == "createAgentIdentityBlueprint"
    assert journal[-1]["appId"] == made["appId"]
    assert journal[-1]["sponsors"] == [OWNER_A]


def test_a_blueprint_needs_a_sponsor_and_only_a_blueprints_properties(
    graph: httpx.Client,
) -> None:
    no_sponsor = graph.post(BLUEPRINTS, json={"displayName": unique("BP")})
    assert no_sponsor.status_code == 400
    assert "sponsor" in no_sponsor.json()["error"]["message"]
    empty = graph.post(BLUEPRINTS, json={"displayName": unique("BP"), "sponsors@odata.bind": []})
    assert empty.status_code == 400
    sp_sponsor = graph.post(
        BLUEPRINTS,
        json={
            "displayName": unique("BP"),
            "sponsors@odata.bind": [
                f"https://graph.microsoft.com/v1.0/servicePrincipals/{OWNER_A}"
            ],
        },
    )
    assert sp_sponsor.status_code == 400
    public_client = graph.post(
        BLUEPRINTS,
        json={
            "displayName": unique("BP"),
            "sponsors@odata.bind": [SPONSOR],
            "publicClient": {"redirectUris": []},
        },
    )
    assert public_client.status_code == 400
    assert _error(public_client) == "AgentBlueprint_IncompatibleProperty"
    assert graph.get(BLUEPRINTS).json()["value"] == []


def test_the_upsert_by_unique_name_creates_then_updates(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    path = (
        f"{GRAPH}/applications(uniqueName='lkps-agent-np')/microsoft.graph.agentIdentityBlueprint"
    )
    body = {"displayName": "LKPS agent NP", "sponsors@odata.bind": [SPONSOR]}
    missing = graph.patch(path, json=body)
    assert missing.status_code == 404
    created = graph.patch(path, json=body, headers={"Prefer": "create-if-missing"})
    assert created.status_code == 201, created.text
    assert created.json()["uniqueName"] == "lkps-agent-np"
    assert created.json()["@odata.type"] == "#microsoft.graph.agentIdentityBlueprint"
    updated = graph.patch(
        path,
        json={"displayName": "LKPS agent NP 2", "serviceManagementReference": "LKPS-7"},
        headers={"Prefer": "create-if-missing"},
    )
    assert updated.status_code == 204, updated.text
    listed = graph.get(BLUEPRINTS).json()["value"]
    assert [(b["id"], b["displayName"], b["serviceManagementReference"]) for b in listed] == [
        (created.json()["id"], "LKPS agent NP 2", "LKPS-7")
    ]
    by_key = graph.get(f"{GRAPH}/applications(uniqueName='lkps-agent-np')").json()
    assert by_key["id"] == created.json()["id"]
    ops = [e["op"] for e in emulator.store.journal()]
    assert ops.count("createAgentIdentityBlueprint") == 1


def test_one_blueprint_principal_per_blueprint_and_only_for_a_blueprint(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    made = _principal(graph, blueprint["appId"])
    assert made.status_code == 201, made.text
    assert made.json()["@odata.type"] == "#microsoft.graph.agentIdentityBlueprintPrincipal"
    assert made.json()["appId"] == blueprint["appId"]
    second = _principal(graph, blueprint["appId"])
    assert second.status_code == 409
    plain = graph.post(f"{GRAPH}/applications", json={"displayName": unique("APP")}).json()
    refused = _principal(graph, plain["appId"])
    assert refused.status_code == 400
    assert _error(refused) == "AgentBlueprintPrincipal_requireAgentBlueprint"
    # A plain service principal of a blueprint is refused; the typed body is a principal.
    other = _blueprint(graph)
    untyped = graph.post(f"{GRAPH}/servicePrincipals", json={"appId": other["appId"]})
    assert untyped.status_code == 400
    typed = graph.post(
        f"{GRAPH}/servicePrincipals",
        json={
            "@odata.type": "#microsoft.graph.agentIdentityBlueprintPrincipal",
            "appId": other["appId"],
        },
    )
    assert typed.status_code == 201, typed.text
    assert typed.json()["@odata.type"] == "#microsoft.graph.agentIdentityBlueprintPrincipal"
    assert emulator.store.journal()[-1]["op"] == "createAgentIdentityBlueprintPrincipal"


def test_an_agent_identity_needs_a_sponsor_a_blueprint_and_its_principal(
    graph: httpx.Client,
) -> None:
    blueprint = _blueprint(graph)
    no_principal = _agent(graph, blueprint["appId"])
    assert no_principal.status_code == 400
    assert _error(no_principal) == "AgentIdentity_AgentBlueprintPrincipalDoesNotExist"
    assert _principal(graph, blueprint["appId"]).status_code == 201
    no_sponsor = _agent(graph, blueprint["appId"], **{"sponsors@odata.bind": None})
    assert no_sponsor.status_code == 400
    unknown = _agent(graph, "0b1c2d3e-4f5a-4b6c-8d7e-9f0a1b2c3d4e")
    assert unknown.status_code == 400
    plain = graph.post(f"{GRAPH}/applications", json={"displayName": unique("APP")}).json()
    not_blueprint = _agent(graph, plain["appId"])
    assert _error(not_blueprint) == "AgentIdentity_IncompatibleParentType"
    with_urls = _agent(graph, blueprint["appId"], replyUrls=["https://x.example"])
    assert _error(with_urls) == "AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty"
    assert graph.get(AGENTS).json()["value"] == []


def test_an_agent_identity_is_a_service_principal_without_credentials_or_application(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    _principal(graph, blueprint["appId"])
    made = _agent(graph, blueprint["appId"], displayName="agent-np-1")
    assert made.status_code == 201, made.text
    agent = made.json()
    assert agent["@odata.type"] == "#microsoft.graph.agentIdentity"
    assert agent["agentIdentityBlueprintId"] == blueprint["appId"]
    assert agent["servicePrincipalType"] == "ServiceIdentity"
    assert "appId" not in agent
    assert "sponsors" not in agent
    assert emulator.store.journal()[-1]["op"] == "createAgentIdentity"
    base = f"{GRAPH}/servicePrincipals/{agent['id']}"
    for action in ("addPassword", "addKey"):
        refused = graph.post(f"{base}/{action}", json={"passwordCredential": {}})
        assert refused.status_code == 400
        assert _error(refused) == "AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty"
    assert graph.get(f"{GRAPH}/applications/{agent['id']}").status_code == 404
    assert graph.get(f"{GRAPH}/applications(appId='{agent['id']}')").status_code == 404
    # Get, update and delete work as on any service principal.
    assert graph.get(base).json()["displayName"] == "agent-np-1"
    assert graph.patch(base, json={"displayName": "agent-np-2"}).status_code == 204
    assert graph.get(base).json()["displayName"] == "agent-np-2"
    incompatible = graph.patch(base, json={"replyUrls": ["https://x.example"]})
    assert _error(incompatible) == "AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty"
    assert graph.delete(base).status_code == 204
    assert graph.get(base).status_code == 404
    assert emulator.store.journal()[-1]["op"] == "deleteAgentIdentity"


def test_the_casts_list_only_their_kind_and_sponsors_are_a_relation(
    graph: httpx.Client,
) -> None:
    plain = graph.post(f"{GRAPH}/applications", json={"displayName": unique("APP")}).json()
    graph.post(f"{GRAPH}/servicePrincipals", json={"appId": plain["appId"]})
    blueprint = _blueprint(graph)
    principal = _principal(graph, blueprint["appId"]).json()
    agents = [_agent(graph, blueprint["appId"]).json() for _ in range(2)]
    assert [b["id"] for b in graph.get(BLUEPRINTS).json()["value"]] == [blueprint["id"]]
    assert [p["id"] for p in graph.get(BLUEPRINT_PRINCIPALS).json()["value"]] == [principal["id"]]
    assert [a["id"] for a in graph.get(AGENTS).json()["value"]] == [a["id"] for a in agents]
    assert len(graph.get(f"{GRAPH}/servicePrincipals").json()["value"]) == 4
    # agentIdentityBlueprintId is not documented as filterable: refused.
    filtered = graph.get(
        AGENTS, params={"$filter": f"agentIdentityBlueprintId eq '{blueprint['appId']}'"}
    )
    assert filtered.status_code == 400
    sponsors = graph.get(
        f"{GRAPH}/applications/{blueprint['id']}/microsoft.graph.agentIdentityBlueprint/sponsors"
    ).json()["value"]
    assert sponsors == [{"@odata.type": "#microsoft.graph.user", "id": OWNER_A}]
    agent_sponsors = graph.get(
        f"{GRAPH}/servicePrincipals/{agents[0]['id']}/microsoft.graph.agentIdentity/sponsors"
    ).json()["value"]
    assert agent_sponsors == [
        {"@odata.type": "#microsoft.graph.user", "id": OWNER_A},
        {"@odata.type": "#microsoft.graph.group", "id": OWNER_B},
    ]
    assert graph.get(f"{GRAPH}/servicePrincipals/{agents[0]['id']}/sponsors").json()["value"] == (
        agent_sponsors
    )
    # The cast must fit the object; an application without sponsors has no such relation.
    wrong_cast = (
        f"{GRAPH}/applications/{plain['id']}/microsoft.graph.agentIdentityBlueprint/sponsors"
    )
    assert graph.get(wrong_cast).status_code == 404
    assert graph.get(f"{GRAPH}/applications/{plain['id']}/sponsors").status_code == 400


def test_the_251st_blueprint_is_refused(store: EntraStore, graph: httpx.Client) -> None:
    person = Principal(OWNER_A, OWNER_A, TENANT)
    for index in range(MAX_BLUEPRINTS - 1):
        store.create_blueprint(
            {"displayName": f"bp-{index}", "sponsors@odata.bind": [SPONSOR]}, person
        )
    _blueprint(graph)  # the 250th
    refused = graph.post(
        BLUEPRINTS, json={"displayName": unique("BP"), "sponsors@odata.bind": [SPONSOR]}
    )
    assert refused.status_code == 400
    assert _error(refused) == "AgentBlueprint_LimitExceeded"
    # Plain applications do not count against the limit.
    plain = graph.post(f"{GRAPH}/applications", json={"displayName": unique("APP")})
    assert plain.status_code == 201


def test_the_251st_agent_identity_of_a_blueprint_is_refused(
    store: EntraStore, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    _principal(graph, blueprint["appId"])
    person = Principal(OWNER_A, OWNER_A, TENANT)
    for index in range(249):
        store.create_agent_identity(
            {
                "displayName": f"agent-{index}",
                "agentIdentityBlueprintId": blueprint["appId"],
                "sponsors@odata.bind": [SPONSOR],
            },
            person,
        )
    assert _agent(graph, blueprint["appId"]).status_code == 201
    refused = _agent(graph, blueprint["appId"])
    assert _error(refused) == "AgentIdentity_LimitExceeded"
    other = _blueprint(graph)
    _principal(graph, other["appId"])
    assert _agent(graph, other["appId"]).status_code == 201


def test_agent_objects_outlive_a_reopen_of_the_store(tmp_path: Path) -> None:
    path = tmp_path / "entra.sqlite"
    store = EntraStore(path)
    person = Principal(OWNER_A, OWNER_A, TENANT)
    store.ensure_deployer(TENANT, OWNER_A)
    blueprint = store.create_blueprint(
        {"displayName": "bp", "sponsors@odata.bind": [SPONSOR]}, person, "bp-unique"
    )
    principal = store.create_blueprint_principal({"appId": blueprint["appId"]}, person)
    agent = store.create_agent_identity(
        {
            "displayName": "agent",
            "agentIdentityBlueprintId": blueprint["appId"],
            "sponsors@odata.bind": [GROUP_SPONSOR],
        },
        person,
    )
    store.close()
    again = EntraStore(path)
    assert again.get_object("applications", blueprint["id"]) == blueprint
    assert again.get_object("servicePrincipals", principal["id"]) == principal
    assert again.get_object("servicePrincipals", agent["id"]) == agent
    assert again.sponsors("servicePrincipals", agent["id"]) == [
        {"@odata.type": "#microsoft.graph.group", "id": OWNER_B}
    ]
    assert again.list_objects("applications", "uniqueName", "bp-unique") == [blueprint]
    assert [e["op"] for e in again.journal()] == [
        "createAgentIdentityBlueprint",
        "createAgentIdentityBlueprintPrincipal",
        "createAgentIdentity",
    ]
    # The reopened store keeps the rules: the blueprint principal is still there.
    with pytest.raises(ApiError, match="service principal name is already in use"):
        again.create_blueprint_principal({"appId": blueprint["appId"]}, person)
    again.close()


# -- sponsors after create -----------------------------------------------------------------------

BLUEPRINT_CAST = "microsoft.graph.agentIdentityBlueprint"
AGENT_CAST = "microsoft.graph.agentIdentity"
PRINCIPAL_CAST = "microsoft.graph.agentIdentityBlueprintPrincipal"


def _user(object_id: str) -> dict[str, str]:
    return {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{object_id}"}


def _sponsor_ids(graph: httpx.Client, kind: str, object_id: str, cast: str) -> list[str]:
    listed = graph.get(f"{GRAPH}/{kind}/{object_id}/{cast}/sponsors")
    assert listed.status_code == 200, listed.text
    return [s["id"] for s in listed.json()["value"]]


def test_sponsors_are_added_and_removed_through_the_type_cast(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    base = f"{GRAPH}/applications/{blueprint['id']}/{BLUEPRINT_CAST}/sponsors"
    added = graph.post(f"{base}/$ref", json=_user(OWNER_C))
    assert added.status_code == 204, added.text
    # The documented example binds a directoryObjects reference: a user unless it is a service
    # principal.
    other = "7c6b5a49-3827-4615-a4b3-c2d1e0f9a8b7"
    as_object = graph.post(
        f"{base}/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{other}"},
    )
    assert as_object.status_code == 204, as_object.text
    assert _sponsor_ids(graph, "applications", blueprint["id"], BLUEPRINT_CAST) == [
        OWNER_A,
        OWNER_C,
        other,
    ]
    journal = emulator.store.journal()
    assert journal[-2]["op"] == "addSponsor"
    assert (journal[-2]["id"], journal[-2]["sponsorId"], journal[-2]["sponsors"]) == (
        blueprint["id"],
        OWNER_C,
        2,
    )
    again = graph.post(f"{base}/$ref", json=_user(OWNER_C.upper()))
    assert again.status_code == 400
    assert "already exist" in again.json()["error"]["message"]
    removed = graph.delete(f"{base}/{OWNER_C}/$ref")
    assert removed.status_code == 204, removed.text
    assert _sponsor_ids(graph, "applications", blueprint["id"], BLUEPRINT_CAST) == [OWNER_A, other]
    assert emulator.store.journal()[-1] | {"at": None} == {
        "op": "removeSponsor",
        "at": None,
        "id": blueprint["id"],
        "type": BLUEPRINT_CAST,
        "sponsorId": OWNER_C,
        "sponsors": 2,
    }
    assert graph.delete(f"{base}/{OWNER_C}/$ref").status_code == 404
    # A service principal is no sponsor; nor is a reference of another shape.
    sp = graph.post(f"{GRAPH}/servicePrincipals", json={"appId": _plain_app(graph)["appId"]}).json()
    refused = graph.post(
        f"{base}/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{sp['id']}"},
    )
    assert refused.status_code == 400
    assert graph.post(f"{base}/$ref", json={"@odata.id": OWNER_B}).status_code == 400


def test_sponsor_writes_need_the_cast_of_the_objects_own_type(graph: httpx.Client) -> None:
    blueprint = _blueprint(graph)
    _principal(graph, blueprint["appId"])
    agent = _agent(graph, blueprint["appId"]).json()
    for kind, object_id in (("applications", blueprint["id"]), ("servicePrincipals", agent["id"])):
        without = graph.post(f"{GRAPH}/{kind}/{object_id}/sponsors/$ref", json=_user(OWNER_C))
        assert without.status_code == 400
        assert "type cast" in without.json()["error"]["message"]
        assert (
            graph.delete(f"{GRAPH}/{kind}/{object_id}/sponsors/{OWNER_A}/$ref").status_code == 400
        )
    wrong = graph.post(
        f"{GRAPH}/servicePrincipals/{agent['id']}/{PRINCIPAL_CAST}/sponsors/$ref",
        json=_user(OWNER_C),
    )
    assert wrong.status_code == 404
    assert _sponsor_ids(graph, "servicePrincipals", agent["id"], AGENT_CAST) == [OWNER_A, OWNER_B]


def test_the_last_sponsor_of_a_blueprint_or_an_agent_identity_stays(graph: httpx.Client) -> None:
    blueprint = _blueprint(graph)
    last = graph.delete(
        f"{GRAPH}/applications/{blueprint['id']}/{BLUEPRINT_CAST}/sponsors/{OWNER_A}/$ref"
    )
    assert last.status_code == 400
    assert "at least one sponsor" in last.json()["error"]["message"]
    principal = _principal(graph, blueprint["appId"]).json()
    agent = _agent(graph, blueprint["appId"], **{"sponsors@odata.bind": [SPONSOR]}).json()
    agent_base = f"{GRAPH}/servicePrincipals/{agent['id']}/{AGENT_CAST}/sponsors"
    assert graph.delete(f"{agent_base}/{OWNER_A}/$ref").status_code == 400
    # With another sponsor first, the first may go: the listing shows it gone.
    assert graph.post(f"{agent_base}/$ref", json=_user(OWNER_C)).status_code == 204
    assert graph.delete(f"{agent_base}/{OWNER_A}/$ref").status_code == 204
    assert _sponsor_ids(graph, "servicePrincipals", agent["id"], AGENT_CAST) == [OWNER_C]
    # A blueprint principal starts without sponsors, so it may return to none.
    principal_base = f"{GRAPH}/servicePrincipals/{principal['id']}/{PRINCIPAL_CAST}/sponsors"
    assert _sponsor_ids(graph, "servicePrincipals", principal["id"], PRINCIPAL_CAST) == []
    assert graph.post(f"{principal_base}/$ref", json=_user(OWNER_C)).status_code == 204
    assert graph.delete(f"{principal_base}/{OWNER_C}/$ref").status_code == 204
    assert _sponsor_ids(graph, "servicePrincipals", principal["id"], PRINCIPAL_CAST) == []


def test_the_101st_sponsor_and_the_6th_group_sponsor_are_refused(
    store: EntraStore, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    for index in range(99):
        store.add_sponsor(
            "applications",
            blueprint["id"],
            BLUEPRINT_CAST,
            _user(f"00000000-0000-4000-8000-{index:012d}"),
        )
    base = f"{GRAPH}/applications/{blueprint['id']}/{BLUEPRINT_CAST}/sponsors"
    assert len(_sponsor_ids(graph, "applications", blueprint["id"], BLUEPRINT_CAST)) == 100
    refused = graph.post(f"{base}/$ref", json=_user(OWNER_C))
    assert refused.status_code == 400
    assert "up to 100 sponsors" in refused.json()["error"]["message"]
    _principal(graph, blueprint["appId"])
    agent = _agent(graph, blueprint["appId"]).json()  # one user, one group
    agent_base = f"{GRAPH}/servicePrincipals/{agent['id']}/{AGENT_CAST}/sponsors"
    for index in range(4):
        group = {
            "@odata.id": f"https://graph.microsoft.com/v1.0/groups/{index:08d}-0000-4000-8000-000000000000"
        }
        assert graph.post(f"{agent_base}/$ref", json=group).status_code == 204
    sixth = graph.post(
        f"{agent_base}/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/groups/{OWNER_C}"},
    )
    assert sixth.status_code == 400
    assert "5 sponsors" in sixth.json()["error"]["message"]
    assert graph.post(f"{agent_base}/$ref", json=_user(OWNER_C)).status_code == 204


def test_an_agent_identity_is_disabled_by_a_patch(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph)
    _principal(graph, blueprint["appId"])
    agent = _agent(graph, blueprint["appId"]).json()
    base = f"{GRAPH}/servicePrincipals/{agent['id']}"
    assert graph.patch(base, json={"accountEnabled": False}).status_code == 204
    assert graph.get(base).json()["accountEnabled"] is False
    assert graph.patch(base, json={"accountEnabled": "no"}).status_code == 400
    assert graph.get(base).json()["accountEnabled"] is False
    assert graph.patch(base, json={"accountEnabled": True}).status_code == 204
    assert graph.get(base).json()["accountEnabled"] is True


# -- app roles -----------------------------------------------------------------------------------

ROLE_A = "6a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
ROLE_B = "7b2c3d4e-5f6a-4b7c-9d8e-0f1a2b3c4d5e"
ROLE_C = "8c3d4e5f-6a7b-4c8d-ae9f-1a2b3c4d5e6f"


def _role(role_id: str, value: str, **change: Any) -> dict[str, Any]:
    role = {
        "id": role_id,
        "value": value,
        "displayName": f"{value} role",
        "description": f"Lets a client {value}.",
        "allowedMemberTypes": ["Application"],
        "isEnabled": True,
    }
    return role | change


def _plain_app(graph: httpx.Client, **extra: Any) -> dict[str, Any]:
    made = graph.post(f"{GRAPH}/applications", json={"displayName": unique("APP"), **extra})
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _upsert(graph: httpx.Client, unique_name: str, body: dict[str, Any]) -> httpx.Response:
    return graph.patch(
        f"{GRAPH}/applications(uniqueName='{unique_name}')/{BLUEPRINT_CAST}",
        json=body,
        headers={"Prefer": "create-if-missing"},
    )


def _roles_of(graph: httpx.Client, object_id: str) -> list[dict[str, Any]]:
    roles: list[dict[str, Any]] = graph.get(f"{GRAPH}/applications/{object_id}").json()["appRoles"]
    return roles


def test_a_blueprints_app_roles_come_and_go_through_the_upsert(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    name = unique("bp").lower()
    created = _upsert(
        graph,
        name,
        {
            "displayName": "BP",
            "sponsors@odata.bind": [SPONSOR],
            "appRoles": [_role(ROLE_A.upper(), "access_as_client", isEnabled=None)],
        },
    )
    assert created.status_code == 400  # isEnabled must be a Boolean when given
    created = _upsert(
        graph,
        name,
        {
            "displayName": "BP",
            "sponsors@odata.bind": [SPONSOR],
            "appRoles": [
                {k: v for k, v in _role(ROLE_A.upper(), "access").items() if k != "isEnabled"}
            ],
        },
    )
    assert created.status_code == 201, created.text
    blueprint = created.json()
    assert blueprint["appRoles"] == [_role(ROLE_A, "access") | {"origin": "Application"}]
    two = [_role(ROLE_A, "access"), _role(ROLE_B, "read")]
    assert _upsert(graph, name, {"appRoles": two}).status_code == 204
    assert [r["id"] for r in _roles_of(graph, blueprint["id"])] == [ROLE_A, ROLE_B]
    entry = emulator.store.journal()[-1]
    assert (entry["op"], entry["enabled"], entry["disabled"]) == (
        "updateAppRoles",
        [ROLE_A, ROLE_B],
        [],
    )
    # Through the type cast by object ID, the same rules.
    by_id = f"{GRAPH}/applications/{blueprint['id']}/{BLUEPRINT_CAST}"
    assert graph.patch(by_id, json={"appRoles": [two[0]]}).status_code == 400


@pytest.mark.parametrize(
    ("roles", "code", "wording"),
    [
        ([_role(ROLE_A, "a"), _role(ROLE_A, "b")], "DuplicateValue", "duplicate values"),
        ([_role(ROLE_A, "same"), _role(ROLE_B, "SAME")], "DuplicateValue", "duplicate values"),
        ([_role(ROLE_A, "a", allowedMemberTypes=[])], "Request_BadRequest", "at least one value"),
        ([_role(ROLE_A, "a", allowedMemberTypes=["Robot"])], "Request_BadRequest", "allowedMember"),
        ([_role(ROLE_A, "has space")], "Request_BadRequest", "value 'has space' is invalid"),
        ([_role(ROLE_A, ".dot")], "Request_BadRequest", "is invalid"),
        ([_role(ROLE_A, "x" * 121)], "Request_BadRequest", "is invalid"),
        ([_role(ROLE_A, "a", origin="Application")], "Request_BadRequest", "'origin' is read-only"),
        ([_role("not-a-guid", "a")], "Request_BadRequest", "must be a GUID"),
        ([_role(ROLE_A, "a", isEnabled=False)], "Request_BadRequest", "created enabled"),
        ([_role(ROLE_A, "a", isEnabled="yes")], "Request_BadRequest", "must be a Boolean"),
        ([_role(ROLE_A, "a", extra=1)], "Request_BadRequest", "does not exist as a declared"),
        ([_role(ROLE_A, "user_impersonation")], "DuplicateValue", "duplicate values"),
    ],
    ids=[
        "same-id",
        "same-value-any-case",
        "no-member-type",
        "bad-member-type",
        "space-in-value",
        "leading-dot",
        "value-too-long",
        "origin",
        "id-not-guid",
        "new-role-disabled",
        "isEnabled-not-boolean",
        "unknown-property",
        "value-of-a-scope",
    ],
)
def test_app_roles_graph_refuses(
    graph: httpx.Client, roles: list[dict[str, Any]], code: str, wording: str
) -> None:
    scope = {
        "id": ROLE_C,
        "value": "user_impersonation",
        "type": "User",
        "isEnabled": True,
        "adminConsentDisplayName": "Access",
        "adminConsentDescription": "Access",
    }
    blueprint = _blueprint(graph, api={"oauth2PermissionScopes": [scope]})
    before = _roles_of(graph, blueprint["id"])
    refused = graph.patch(
        f"{GRAPH}/applications/{blueprint['id']}/{BLUEPRINT_CAST}", json={"appRoles": roles}
    )
    assert refused.status_code == 400, refused.text
    assert (_error(refused), wording in refused.json()["error"]["message"]) == (code, True)
    assert _roles_of(graph, blueprint["id"]) == before
    # A plain application keeps the same rules.
    plain = _plain_app(graph, api={"oauth2PermissionScopes": [scope]})
    assert (
        graph.patch(f"{GRAPH}/applications/{plain['id']}", json={"appRoles": roles}).status_code
        == 400
    )


def test_an_enabled_app_role_is_disabled_before_it_is_removed_or_changed(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint = _blueprint(graph, appRoles=[_role(ROLE_A, "access"), _role(ROLE_B, "read")])
    path = f"{GRAPH}/applications/{blueprint['id']}"
    a, b = _role(ROLE_A, "access"), _role(ROLE_B, "read")
    for refused_body in (
        [a],  # B removed while enabled
        [a, b | {"description": "changed"}],  # B changed while enabled
        [a, b | {"value": "read2"}],
        [a, b | {"allowedMemberTypes": ["User", "Application"]}],
        [a, b | {"isEnabled": False, "displayName": "changed too"}],  # disabled and changed
    ):
        refused = graph.patch(path, json={"appRoles": refused_body})
        assert refused.status_code == 400, refused_body
        assert _error(refused) == "CannotDeleteOrUpdateEnabledEntitlement"
        assert "unless disabled first" in refused.json()["error"]["message"]
    disabled = graph.patch(path, json={"appRoles": [a, b | {"isEnabled": False}]})
    assert disabled.status_code == 204, disabled.text
    assert emulator.store.journal()[-1]["disabled"] == [ROLE_B]
    # A disabled role may be changed and enabled again, or removed.
    changed = graph.patch(path, json={"appRoles": [a, b | {"description": "new"}]})
    assert changed.status_code == 204, changed.text
    renewed = b | {"description": "new"}
    assert (
        graph.patch(path, json={"appRoles": [a, renewed | {"isEnabled": False}]}).status_code == 204
    )
    assert graph.patch(path, json={"appRoles": [a]}).status_code == 204
    assert [r["id"] for r in _roles_of(graph, blueprint["id"])] == [ROLE_A]


# -- app role assignments ------------------------------------------------------------------------


def _resource(graph: httpx.Client, *roles: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    """A blueprint with `roles` and its blueprint principal."""
    blueprint = _blueprint(graph, appRoles=list(roles) or [_role(ROLE_A, "access")])
    principal = _principal(graph, blueprint["appId"])
    assert principal.status_code == 201, principal.text
    return blueprint, principal.json()


def _client_principal(graph: httpx.Client) -> dict[str, Any]:
    app = _plain_app(graph)
    made = graph.post(f"{GRAPH}/servicePrincipals", json={"appId": app["appId"]})
    assert made.status_code == 201, made.text
    found: dict[str, Any] = made.json()
    return found


def _assign(
    graph: httpx.Client, resource_id: str, principal_id: str, role_id: str = ROLE_A, **extra: Any
) -> httpx.Response:
    return graph.post(
        f"{GRAPH}/servicePrincipals/{resource_id}/appRoleAssignedTo",
        json={
            "principalId": principal_id,
            "resourceId": resource_id,
            "appRoleId": role_id,
            **extra,
        },
    )


def test_an_app_role_assignment_is_seen_from_both_sides_until_deleted(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint, resource = _resource(graph)
    client = _client_principal(graph)
    made = _assign(graph, resource["id"], client["id"].upper(), ROLE_A.upper())
    assert made.status_code == 201, made.text
    assignment = made.json()
    raw = base64.urlsafe_b64decode(assignment["id"] + "=" * (-len(assignment["id"]) % 4))
    assert str(uuid.UUID(bytes_le=raw[:16])) == client["id"]
    assert {k: v for k, v in assignment.items() if k not in ("id", "createdDateTime")} == {
        "deletedDateTime": None,
        "appRoleId": ROLE_A,
        "principalDisplayName": client["displayName"],
        "principalId": client["id"],
        "principalType": "ServicePrincipal",
        "resourceDisplayName": blueprint["displayName"],
        "resourceId": resource["id"],
    }
    assigned_to = f"{GRAPH}/servicePrincipals/{resource['id']}/appRoleAssignedTo"
    assert graph.get(assigned_to).json()["value"] == [assignment]
    by_app_id = f"{GRAPH}/servicePrincipals(appId='{blueprint['appId']}')/appRoleAssignedTo"
    assert graph.get(by_app_id).json()["value"] == [assignment]
    from_principal = graph.get(f"{GRAPH}/servicePrincipals/{client['id']}/appRoleAssignments")
    assert from_principal.json()["value"] == [assignment]
    assert (
        "appRoleAssignedTo" not in graph.get(f"{GRAPH}/servicePrincipals/{resource['id']}").json()
    )
    entry = emulator.store.journal()[-1]
    assert (entry["op"], entry["id"], entry["principalId"], entry["appRoleId"]) == (
        "addAppRoleAssignment",
        assignment["id"],
        client["id"],
        ROLE_A,
    )
    # An agent identity is a service principal too.
    agent = _agent(graph, blueprint["appId"]).json()
    assert _assign(graph, resource["id"], agent["id"]).status_code == 201
    # Ids are case-sensitive: another case finds nothing.
    swapped = assignment["id"].swapcase()
    assert graph.delete(f"{assigned_to}/{swapped}").status_code == 404
    deleted = graph.delete(f"{assigned_to}/{assignment['id']}")
    assert deleted.status_code == 204, deleted.text
    assert emulator.store.journal()[-1]["op"] == "removeAppRoleAssignment"
    assert [a["principalId"] for a in graph.get(assigned_to).json()["value"]] == [agent["id"]]
    assert (
        graph.get(f"{GRAPH}/servicePrincipals/{client['id']}/appRoleAssignments").json()["value"]
        == []
    )
    assert graph.delete(f"{assigned_to}/{assignment['id']}").status_code == 404


def test_an_app_role_assignment_graph_refuses(graph: httpx.Client) -> None:
    user_only = _role(ROLE_B, "people", allowedMemberTypes=["User"])
    _, resource = _resource(graph, _role(ROLE_A, "access"), user_only, _role(ROLE_C, "old"))
    blueprint_id = resource["appId"]
    app = graph.get(f"{GRAPH}/applications(appId='{blueprint_id}')").json()
    disabled = graph.patch(
        f"{GRAPH}/applications/{app['id']}",
        json={
            "appRoles": [_role(ROLE_A, "access"), user_only, _role(ROLE_C, "old", isEnabled=False)]
        },
    )
    assert disabled.status_code == 204, disabled.text
    client = _client_principal(graph)
    rid = resource["id"]
    cases = {
        "other resourceId": _assign(graph, rid, client["id"], resourceId=client["id"]),
        "unknown principal": _assign(graph, rid, "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d"),
        "unknown role": _assign(graph, rid, client["id"], "0f0e0d0c-0b0a-4908-8706-050403020100"),
        "disabled role": _assign(graph, rid, client["id"], ROLE_C),
        "role for users only": _assign(graph, rid, client["id"], ROLE_B),
        "default role of an app with roles": _assign(
            graph, rid, client["id"], "00000000-0000-0000-0000-000000000000"
        ),
        "read-only property": _assign(graph, rid, client["id"], principalType="ServicePrincipal"),
        "no appRoleId": graph.post(
            f"{GRAPH}/servicePrincipals/{rid}/appRoleAssignedTo",
            json={"principalId": client["id"], "resourceId": rid},
        ),
    }
    for case, answer in cases.items():
        assert answer.status_code == 400, (case, answer.text)
    assert cases["unknown role"].json()["error"]["message"] == (
        "Permission being assigned was not found on application."
    )
    assert "'appRoleId' is required" in cases["no appRoleId"].json()["error"]["message"]
    assert _assign(graph, rid, client["id"]).status_code == 201
    duplicate = _assign(graph, rid, client["id"])
    assert duplicate.status_code == 400
    assert duplicate.json()["error"] == duplicate.json()["error"] | {
        "code": "Request_BadRequest",
        "message": "Permission being assigned already exists on the object.",
    }
    assert len(graph.get(f"{GRAPH}/servicePrincipals/{rid}/appRoleAssignedTo").json()["value"]) == 1
    # An agent identity has no application, so no app roles to assign.
    blueprint = graph.get(f"{GRAPH}/applications(appId='{blueprint_id}')").json()
    agent = _agent(graph, blueprint["appId"]).json()
    assert _assign(graph, agent["id"], client["id"]).status_code == 400
    assert _assign(graph, "0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d", client["id"]).status_code == 404
    # The default app role is for an application without app roles.
    plain = _client_principal(graph)
    default = _assign(graph, plain["id"], client["id"], "00000000-0000-0000-0000-000000000000")
    assert default.status_code == 201, default.text


def test_an_assigned_app_role_is_removed_only_after_its_assignments(graph: httpx.Client) -> None:
    blueprint, resource = _resource(graph, _role(ROLE_A, "access"))
    client = _client_principal(graph)
    assignment = _assign(graph, resource["id"], client["id"]).json()
    path = f"{GRAPH}/applications/{blueprint['id']}"
    # Disabling an assigned role is the documented first step; removing it is refused.
    assert (
        graph.patch(path, json={"appRoles": [_role(ROLE_A, "access", isEnabled=False)]}).status_code
        == 204
    )
    refused = graph.patch(path, json={"appRoles": []})
    assert refused.status_code == 400
    assert "delete its app role assignments" in refused.json()["error"]["message"]
    graph.delete(f"{GRAPH}/servicePrincipals/{resource['id']}/appRoleAssignedTo/{assignment['id']}")
    assert graph.patch(path, json={"appRoles": []}).status_code == 204


def test_deleting_either_service_principal_deletes_its_assignments(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    blueprint, resource = _resource(graph)
    client, other = _client_principal(graph), _client_principal(graph)
    for principal in (client, other):
        assert _assign(graph, resource["id"], principal["id"]).status_code == 201
    assigned_to = f"{GRAPH}/servicePrincipals/{resource['id']}/appRoleAssignedTo"
    assert graph.delete(f"{GRAPH}/servicePrincipals/{client['id']}").status_code == 204
    assert [a["principalId"] for a in graph.get(assigned_to).json()["value"]] == [other["id"]]
    entry = emulator.store.journal()[-1]
    assert (entry["op"], entry["principalId"], entry["cause"]) == (
        "removeAppRoleAssignment",
        client["id"],
        f"servicePrincipal {client['id']} deleted",
    )
    # Deleting the blueprint deletes its principal, and with it the resource's assignments.
    assert graph.delete(f"{GRAPH}/applications/{blueprint['id']}").status_code == 204
    listed = graph.get(f"{GRAPH}/servicePrincipals/{other['id']}/appRoleAssignments")
    assert listed.json()["value"] == []
    assert [e["op"] for e in emulator.store.journal()[-2:]] == [
        "removeAppRoleAssignment",
        "deleteAgentIdentityBlueprint",
    ]
    assert emulator.store.journal()[-2]["principalId"] == other["id"]
    # A new principal of a new blueprint starts with none.
    _, again = _resource(graph)
    assert (
        graph.get(f"{GRAPH}/servicePrincipals/{again['id']}/appRoleAssignedTo").json()["value"]
        == []
    )


def test_sponsors_roles_and_assignments_outlive_a_reopen_of_the_store(tmp_path: Path) -> None:
    path = tmp_path / "entra.sqlite"
    store = EntraStore(path)
    person = Principal(OWNER_A, OWNER_A, TENANT)
    store.ensure_deployer(TENANT, OWNER_A)
    blueprint = store.create_blueprint(
        {"displayName": "bp", "sponsors@odata.bind": [SPONSOR], "appRoles": [_role(ROLE_A, "a")]},
        person,
    )
    store.add_sponsor("applications", blueprint["id"], BLUEPRINT_CAST, _user(OWNER_C))
    principal = store.create_blueprint_principal({"appId": blueprint["appId"]}, person)
    client_app = store.create_application({"displayName": "client"}, person)
    client = store.create_service_principal({"appId": client_app["appId"]}, person)
    assignment = store.assign_app_role(
        principal["id"],
        {"principalId": client["id"], "resourceId": principal["id"], "appRoleId": ROLE_A},
    )
    store.close()
    again = EntraStore(path)
    assert [s["id"] for s in again.sponsors("applications", blueprint["id"])] == [OWNER_A, OWNER_C]
    assert again.get_object("applications", blueprint["id"])["appRoles"][0]["id"] == ROLE_A
    assert again.app_role_assigned_to(principal["id"]) == [assignment]
    assert again.app_role_assignments_of(client["id"]) == [assignment]
    again.close()
