"""The Microsoft Entra Agent ID dynamic providers against the sandbox's Entra emulator, over
real HTTPS on 127.0.0.1, with the deployer's managed-identity token as the providers get it
(azure-identity through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`); the retry policy also against
injected faults (an httpx transport in front of the emulator, or `httpx.MockTransport`)."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from components import entra_auth, rest
from components.agent_id.graph import (
    GRAPH_SCOPE,
    GraphClient,
    GraphPermanentError,
    GraphTransientError,
)
from components.agent_id.provider import (
    AgentAppRoleAssignmentProvider,
    AgentBlueprintPrincipalProvider,
    AgentIdentityBlueprintProvider,
    AgentIdentityProvider,
)
from lkps import rules, switches
from sandbox.entra import EntraEmulator
from sandbox.entra_store import EntraStore
from sandbox.tls import SandboxCertificate

TENANT = "fcb2b37b-5da0-466b-9b83-0014b67a7c78"
USER_A = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
USER_B = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
USER_C = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
BEAT = "BEAT12345678"
_names = itertools.count(1)

ProviderFactory = Callable[[type], Any]


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraEmulator]:
    """The emulator, trusted and reachable as a provider process in the sandbox reaches it:
    its CA in the trust store, its URL as the sandbox's Entra, its managed-identity endpoint."""
    certificate = SandboxCertificate.ensure(tmp_path_factory.mktemp("tls"))
    store = EntraStore(tmp_path_factory.mktemp("entra") / "entra.sqlite")
    with pytest.MonkeyPatch.context() as patch, EntraEmulator(store, TENANT, certificate) as made:
        for name, value in certificate.trust.items():
            patch.setenv(name, value)
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
            patch.delenv(name, raising=False)
        patch.delenv("MSI_ENDPOINT", raising=False)
        patch.setenv(switches.SANDBOX_ENTRA_URL, made.url)
        patch.setenv("IDENTITY_ENDPOINT", made.identity_endpoint)
        patch.setenv("IDENTITY_HEADER", made.identity_header)
        entra_auth.forget_tokens()
        try:
            yield made
        finally:
            rest.close_pooled_clients()
            entra_auth.forget_tokens()
            made.forbidden.clear()


def _configured(kind: type, settings: dict[str, Any] | None = None) -> Any:
    provider = kind()
    config = {f"{rules.PROJECT}:agentId": json.dumps(settings or {"retryDeadlineSeconds": 10})}
    provider.configure(ConfigureRequest(Config(config, rules.PROJECT)))
    return provider


@pytest.fixture
def blueprints(entra: EntraEmulator) -> AgentIdentityBlueprintProvider:
    provider: AgentIdentityBlueprintProvider = _configured(AgentIdentityBlueprintProvider)
    return provider


@pytest.fixture
def principals(entra: EntraEmulator) -> AgentBlueprintPrincipalProvider:
    provider: AgentBlueprintPrincipalProvider = _configured(AgentBlueprintPrincipalProvider)
    return provider


@pytest.fixture
def agents(entra: EntraEmulator) -> AgentIdentityProvider:
    provider: AgentIdentityProvider = _configured(AgentIdentityProvider)
    return provider


@pytest.fixture
def assignments(entra: EntraEmulator) -> AgentAppRoleAssignmentProvider:
    provider: AgentAppRoleAssignmentProvider = _configured(AgentAppRoleAssignmentProvider)
    return provider


ROLE_ID = "5e4d3c2b-1a09-4f8e-8d7c-6b5a49382716"
OTHER_ROLE_ID = "6f5e4d3c-2b1a-4098-9e8d-7c6b5a493827"
ROLE = {
    "id": ROLE_ID,
    "value": "access_as_client",
    "display_name": "Start sessions",
    "description": "Lets a client start sessions.",
}


def blueprint_props(**change: Any) -> dict[str, Any]:
    props = {
        "unique_name": f"lkps-agent-np-{next(_names)}",
        "display_name": "LKPS agent NP",
        "sponsors": [USER_A],
        "owners": None,
        "service_management_reference": BEAT,
    }
    return props | change


def _checked(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert result.failures == [], result.failures
    inputs: dict[str, Any] = result.inputs
    return inputs


def _blueprint(
    blueprints: AgentIdentityBlueprintProvider, **change: Any
) -> tuple[str, dict[str, Any]]:
    made = blueprints.create(_checked(blueprints, blueprint_props(**change)))
    assert made.outs is not None
    return made.id, made.outs


def _app(entra: EntraEmulator, object_id: str) -> dict[str, Any]:
    found: dict[str, Any] = entra.store.get_object("applications", object_id)
    return found


def _ops(entra: EntraEmulator, op: str) -> int:
    return sum(1 for entry in entra.store.journal() if entry["op"] == op)


# -- blueprints ----------------------------------------------------------------------------------


def test_blueprint_create_read_update_delete(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    props = _checked(blueprints, blueprint_props(sponsors=[USER_B.upper(), USER_A]))
    made = blueprints.create(props)
    assert made.outs is not None
    app = _app(entra, made.id)
    assert app["@odata.type"] == "#microsoft.graph.agentIdentityBlueprint"
    assert app["uniqueName"] == props["unique_name"]
    assert app["serviceManagementReference"] == BEAT
    assert made.outs == props | {"app_id": app["appId"]}
    assert "id" not in made.outs
    assert sorted(s["id"] for s in entra.store.sponsors("applications", made.id)) == sorted(
        [USER_A, USER_B]
    )
    # Without owners, Graph makes the deploying identity the owner.
    assert app["owners"] == [entra.deployer.object_id]

    read = blueprints.read(made.id, made.outs)
    assert (read.id, read.outs, read.inputs) == (made.id, made.outs, props)
    assert blueprints.diff(made.id, read.outs or {}, props).changes is False

    news = props | {
        "display_name": "LKPS agent NP 2",
        "service_management_reference": "BEAT87654321",
    }
    updated = blueprints.update(made.id, made.outs, news)
    assert updated.outs == news | {"app_id": app["appId"]}
    app = _app(entra, made.id)
    assert (app["displayName"], app["serviceManagementReference"]) == (
        "LKPS agent NP 2",
        "BEAT87654321",
    )
    creates = [e for e in entra.store.journal() if e["op"] == "createAgentIdentityBlueprint"]
    assert [e["uniqueName"] for e in creates].count(props["unique_name"]) == 1

    blueprints.delete(made.id, updated.outs or {})
    assert entra.store.list_objects("applications", "uniqueName", props["unique_name"]) == []
    blueprints.delete(made.id, updated.outs or {})  # already gone: fine


def test_blueprint_create_repeats_safely(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    """A run interrupted after Graph made the blueprint runs the create again: it finds the
    same blueprint by uniqueName, and brings it to the inputs, without a second one."""
    props = _checked(blueprints, blueprint_props())
    first = blueprints.create(props)
    before = _ops(entra, "createAgentIdentityBlueprint")
    again = blueprints.create(props | {"display_name": "LKPS agent NP renamed"})
    assert again.id == first.id
    assert first.outs is not None
    assert again.outs == first.outs | {"display_name": "LKPS agent NP renamed"}
    assert _ops(entra, "createAgentIdentityBlueprint") == before
    assert len(entra.store.list_objects("applications", "uniqueName", props["unique_name"])) == 1
    assert _app(entra, first.id)["displayName"] == "LKPS agent NP renamed"


def test_blueprint_owners_and_sponsors_are_reconciled_keeping_foreign_ones(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints, owners=[USER_B, entra.deployer.object_id])
    assert sorted(_app(entra, object_id)["owners"]) == sorted([USER_B, entra.deployer.object_id])
    entra.store.add_owner("applications", object_id, USER_A)  # added by hand: kept
    news = outs | {"owners": sorted([USER_C, entra.deployer.object_id])}
    news.pop("app_id")
    updated = blueprints.update(object_id, outs, news)
    assert updated.outs is not None
    assert updated.outs["owners"] == news["owners"]
    assert sorted(_app(entra, object_id)["owners"]) == sorted(
        [USER_A, USER_C, entra.deployer.object_id]
    )
    # Refresh sees a declared owner removed by hand, as a difference to repair.
    entra.store.remove_owner("applications", object_id, USER_C)
    read = blueprints.read(object_id, updated.outs)
    assert read.inputs is not None
    assert read.inputs["owners"] == [entra.deployer.object_id]
    assert blueprints.diff(object_id, read.inputs, news).changes is True


def test_blueprint_read_after_a_hand_deletion_is_gone_and_create_makes_it_again(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints)
    entra.store.delete_object("applications", object_id)
    gone = blueprints.read(object_id, outs)
    assert (gone.id, gone.outs) == ("", {})
    inputs = {k: v for k, v in outs.items() if k != "app_id"}
    again = blueprints.create(inputs)
    assert again.id != object_id
    assert _app(entra, again.id)["uniqueName"] == outs["unique_name"]


def test_blueprint_read_by_unique_name_when_the_id_is_not_a_blueprint(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints)
    read = blueprints.read("00000000-0000-4000-8000-000000000000", outs)
    assert read.id == object_id


# -- blueprint principals ------------------------------------------------------------------------


def test_principal_create_read_update_delete(
    entra: EntraEmulator,
    blueprints: AgentIdentityBlueprintProvider,
    principals: AgentBlueprintPrincipalProvider,
) -> None:
    _, outs = _blueprint(blueprints)
    props = _checked(principals, {"blueprint_app_id": outs["app_id"].upper()})
    assert props == {"blueprint_app_id": outs["app_id"]}
    made = principals.create(props)
    sp = entra.store.get_object("servicePrincipals", made.id)
    assert sp["@odata.type"] == "#microsoft.graph.agentIdentityBlueprintPrincipal"
    assert sp["appId"] == outs["app_id"]
    assert made.outs == {"blueprint_app_id": outs["app_id"], "display_name": outs["display_name"]}
    read = principals.read(made.id, made.outs or {})
    assert (read.id, read.outs, read.inputs) == (made.id, made.outs, props)
    assert principals.update(made.id, made.outs or {}, props).outs == made.outs
    principals.delete(made.id, props)
    assert entra.store.list_objects("servicePrincipals", "appId", outs["app_id"]) == []
    assert principals.read(made.id, props).id == ""
    principals.delete(made.id, props)  # already gone: fine


def test_principal_create_adopts_an_existing_one(
    entra: EntraEmulator,
    blueprints: AgentIdentityBlueprintProvider,
    principals: AgentBlueprintPrincipalProvider,
) -> None:
    _, outs = _blueprint(blueprints)
    existing = entra.store.create_blueprint_principal({"appId": outs["app_id"]}, entra.deployer)
    made = principals.create({"blueprint_app_id": outs["app_id"]})
    assert made.id == existing["id"]
    again = principals.create({"blueprint_app_id": outs["app_id"]})
    assert again.id == existing["id"]
    assert len(entra.store.list_objects("servicePrincipals", "appId", outs["app_id"])) == 1


def test_principal_of_a_plain_application_is_refused_naming_it(
    entra: EntraEmulator, principals: AgentBlueprintPrincipalProvider
) -> None:
    plain = entra.store.create_application({"displayName": "plain"}, entra.deployer)
    with pytest.raises(GraphPermanentError) as caught:
        principals.create({"blueprint_app_id": plain["appId"]})
    text = str(caught.value)
    assert f"blueprint principal of appId {plain['appId']}" in text
    assert "HTTP 400 AgentBlueprintPrincipal_requireAgentBlueprint" in text


# -- agent identities ----------------------------------------------------------------------------


@pytest.fixture
def blueprint_app_id(
    blueprints: AgentIdentityBlueprintProvider, principals: AgentBlueprintPrincipalProvider
) -> str:
    _, outs = _blueprint(blueprints)
    principals.create({"blueprint_app_id": outs["app_id"]})
    app_id: str = outs["app_id"]
    return app_id


def test_agent_identity_create_read_update_delete(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    props = _checked(
        agents,
        {
            "display_name": "agent-np-1",
            "blueprint_app_id": blueprint_app_id,
            "sponsors": [USER_B, USER_A],
        },
    )
    made = agents.create(props)
    assert made.outs == props
    agent = entra.store.get_object("servicePrincipals", made.id)
    assert agent["@odata.type"] == "#microsoft.graph.agentIdentity"
    assert agent["agentIdentityBlueprintId"] == blueprint_app_id
    assert sorted(s["id"] for s in entra.store.sponsors("servicePrincipals", made.id)) == sorted(
        [USER_A, USER_B]
    )
    read = agents.read(made.id, props)
    assert (read.id, read.outs, read.inputs) == (made.id, props, props)

    news = props | {"display_name": "agent-np-2"}
    assert agents.diff(made.id, props, news).replaces == []
    updated = agents.update(made.id, props, news)
    assert updated.outs == news
    assert entra.store.get_object("servicePrincipals", made.id)["displayName"] == "agent-np-2"

    agents.delete(made.id, news)
    assert agents.read(made.id, news).id == ""
    agents.delete(made.id, news)  # already gone: fine


def test_agent_identity_read_after_a_hand_deletion_is_gone(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    props = {"display_name": "agent-np", "blueprint_app_id": blueprint_app_id, "sponsors": [USER_A]}
    made = agents.create(props)
    entra.store.delete_object("servicePrincipals", made.id)
    gone = agents.read(made.id, props)
    assert (gone.id, gone.outs) == ("", {})


def test_agent_identity_create_adopts_the_one_of_its_name_under_the_blueprint(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    props = {
        "display_name": "agent-np",
        "blueprint_app_id": blueprint_app_id,
        "sponsors": [USER_A, USER_B],
    }
    created = _ops(entra, "createAgentIdentity")
    first = agents.create({**props, "sponsors": [USER_A]})
    other_name = agents.create({**props, "display_name": "agent-np-other"})
    made = agents.create(props)
    assert made.id == first.id, "the agent identity of that name is adopted, not made again"
    assert made.id != other_name.id
    sponsors = {s["id"] for s in entra.store.sponsors("servicePrincipals", made.id)}
    assert sponsors == {USER_A, USER_B}, "the declared sponsors it lacked are added"
    assert _ops(entra, "createAgentIdentity") == created + 2

    agents.create({**props, "display_name": "twice"})
    entra.store.create_agent_identity(
        {
            "displayName": "twice",
            "agentIdentityBlueprintId": blueprint_app_id,
            "sponsors@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{USER_A}"],
        },
        entra.deployer,
    )
    with pytest.raises(GraphPermanentError) as caught:
        agents.create({**props, "display_name": "twice"})
    assert "2 agent identities of this name under the blueprint" in str(caught.value)


def test_agent_identity_without_a_principal_fails_naming_it(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider, agents: AgentIdentityProvider
) -> None:
    _, outs = _blueprint(blueprints)
    props = {"display_name": "orphan", "blueprint_app_id": outs["app_id"], "sponsors": [USER_A]}
    with pytest.raises(GraphPermanentError) as caught:
        agents.create(props)
    assert "Graph create failed for agent identity 'orphan'" in str(caught.value)
    assert "HTTP 400 AgentIdentity_AgentBlueprintPrincipalDoesNotExist" in str(caught.value)


def test_agent_identity_sponsor_change_adds_and_removes_through_the_relation(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    """Sponsors after create go through `{cast}/sponsors/$ref` (agentidentity-post-sponsors,
    agentidentity-delete-sponsors). Only a sponsor the stack declared is removed; one added by
    hand stays."""
    olds = {"display_name": "agent", "blueprint_app_id": blueprint_app_id, "sponsors": [USER_A]}
    made = agents.create(olds)
    entra.store.add_sponsor(
        "servicePrincipals",
        made.id,
        "microsoft.graph.agentIdentity",
        {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{USER_C}"},
    )
    news = olds | {"sponsors": [USER_B]}
    updated = agents.update(made.id, olds, news)
    assert updated.outs == news
    assert sorted(s["id"] for s in entra.store.sponsors("servicePrincipals", made.id)) == sorted(
        [USER_B, USER_C]
    )
    writes = [e for e in entra.store.journal() if e["op"] in ("addSponsor", "removeSponsor")]
    assert [(e["op"], e["sponsorId"]) for e in writes[-2:]] == [
        ("addSponsor", USER_B),
        ("removeSponsor", USER_A),
    ]
    read = agents.read(made.id, news)
    assert read.inputs is not None
    assert read.inputs["sponsors"] == sorted([USER_B, USER_C])


def test_blueprint_sponsor_change_goes_through_the_relation(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints, sponsors=[USER_A])
    olds = {k: v for k, v in outs.items() if k != "app_id"}
    news = olds | {"sponsors": [USER_B]}
    assert (blueprints.update(object_id, outs, news).outs or {})["sponsors"] == [USER_B]
    assert [s["id"] for s in entra.store.sponsors("applications", object_id)] == [USER_B]


# -- a blueprint's app roles ---------------------------------------------------------------------


def _roles(entra: EntraEmulator, object_id: str) -> dict[str, dict[str, Any]]:
    return {r["id"]: r for r in _app(entra, object_id)["appRoles"]}


def _role_updates(entra: EntraEmulator) -> list[tuple[list[str], list[str]]]:
    return [
        (e["enabled"], e["disabled"]) for e in entra.store.journal() if e["op"] == "updateAppRoles"
    ]


def test_blueprint_app_roles_are_created_as_enabled_application_permissions(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    props = _checked(blueprints, blueprint_props(app_roles=[ROLE | {"id": ROLE_ID.upper()}]))
    assert props["app_roles"] == [ROLE]
    made = blueprints.create(props)
    assert made.outs is not None
    assert made.outs["app_roles"] == [ROLE]
    assert _roles(entra, made.id) == {
        ROLE_ID: {
            "id": ROLE_ID,
            "value": "access_as_client",
            "displayName": "Start sessions",
            "description": "Lets a client start sessions.",
            "allowedMemberTypes": ["Application"],
            "isEnabled": True,
            "origin": "Application",
        }
    }
    read = blueprints.read(made.id, made.outs)
    assert read.inputs == props
    assert blueprints.diff(made.id, read.inputs or {}, props).changes is False
    # Inputs compare in one order, whatever the program's.
    other = ROLE | {"id": OTHER_ROLE_ID, "value": "read"}
    assert _checked(blueprints, blueprint_props(app_roles=[other, ROLE]))["app_roles"] == [
        ROLE,
        other,
    ]


def test_a_dropped_or_changed_app_role_is_disabled_first_and_a_foreign_one_kept(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    other = ROLE | {"id": OTHER_ROLE_ID, "value": "read"}
    object_id, outs = _blueprint(blueprints, app_roles=[ROLE, other])
    foreign: dict[str, Any] = {
        "id": "7a6b5c4d-3e2f-4a1b-8c9d-0e1f2a3b4c5d",
        "value": "by_hand",
        "displayName": "By hand",
        "description": "Added in the portal.",
        "allowedMemberTypes": ["User"],
        "isEnabled": True,
    }
    held = [
        {k: v for k, v in r.items() if k != "origin"} for r in _roles(entra, object_id).values()
    ]
    entra.store.update_object("applications", object_id, {"appRoles": [*held, foreign]})
    before = len(_role_updates(entra))
    olds = {k: v for k, v in outs.items() if k != "app_id"}
    news = olds | {"app_roles": [ROLE | {"description": "Changed."}]}
    updated = blueprints.update(object_id, outs, news)
    assert updated.outs is not None
    assert updated.outs["app_roles"] == news["app_roles"]
    # First both the changed and the dropped role are disabled, nothing else changed; then the
    # dropped one goes and the changed one comes back enabled.
    assert _role_updates(entra)[before:] == [
        ([foreign["id"]], [ROLE_ID, OTHER_ROLE_ID]),
        ([foreign["id"], ROLE_ID], []),
    ]
    roles = _roles(entra, object_id)
    assert roles[ROLE_ID]["description"] == "Changed."
    assert roles[foreign["id"]]["allowedMemberTypes"] == ["User"]
    # Nothing to change: one PATCH, of the properties, disabling nothing.
    blueprints.update(object_id, updated.outs, news)
    assert _role_updates(entra)[before + 2 :] == [([foreign["id"], ROLE_ID], [])]
    # No roles declared any more: the stack's are removed, the foreign one stays.
    blueprints.update(object_id, updated.outs, news | {"app_roles": None})
    assert list(_roles(entra, object_id)) == [foreign["id"]]


def test_refresh_sees_an_app_role_disabled_or_changed_by_hand_and_update_repairs_it(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints, app_roles=[ROLE])
    inputs = {k: v for k, v in outs.items() if k != "app_id"}
    role = {k: v for k, v in _roles(entra, object_id)[ROLE_ID].items() if k != "origin"}
    entra.store.update_object(
        "applications", object_id, {"appRoles": [role | {"isEnabled": False}]}
    )
    read = blueprints.read(object_id, outs)
    assert read.inputs is not None
    assert read.inputs["app_roles"] == []
    assert blueprints.diff(object_id, read.inputs, inputs).changes is True
    blueprints.update(object_id, read.outs or {}, inputs)
    assert _roles(entra, object_id)[ROLE_ID]["isEnabled"] is True
    assert blueprints.read(object_id, outs).inputs == inputs
    # Opened to users by hand (disabled, changed, enabled again): a difference too, repaired.
    members = {"allowedMemberTypes": ["User", "Application"]}
    for step in (
        role | {"isEnabled": False},
        role | members | {"isEnabled": False},
        role | members,
    ):
        entra.store.update_object("applications", object_id, {"appRoles": [step]})
    assert (blueprints.read(object_id, outs).inputs or {})["app_roles"] == []
    blueprints.update(object_id, read.outs or {}, inputs)
    assert _roles(entra, object_id)[ROLE_ID]["allowedMemberTypes"] == ["Application"]
    assert blueprints.read(object_id, outs).inputs == inputs


@pytest.mark.parametrize(
    ("roles", "reason"),
    [
        ("x", "must be a list of mappings"),
        ([ROLE | {"extra": "x"}], "app_roles[0] must be a mapping of exactly"),
        ([{k: v for k, v in ROLE.items() if k != "description"}], "app_roles[0] must be a mapping"),
        ([ROLE | {"id": "role-1"}], "app_roles[0].id 'role-1' must be a GUID"),
        ([ROLE | {"value": "two words"}], "app_roles[0].value 'two words' must be"),
        ([ROLE | {"value": ".hidden"}], "app_roles[0].value '.hidden' must be"),
        ([ROLE | {"value": "v" * 121}], "app_roles[0].value"),
        ([ROLE | {"display_name": " "}], "app_roles[0].display_name must be a non-empty"),
        ([ROLE, ROLE | {"value": "other"}], "two app roles have the same id"),
        ([ROLE, ROLE | {"id": OTHER_ROLE_ID, "value": "ACCESS_AS_CLIENT"}], "two app roles have"),
    ],
)
def test_blueprint_check_names_a_bad_app_role(roles: Any, reason: str) -> None:
    provider = _configured(AgentIdentityBlueprintProvider)
    result = provider.check({}, blueprint_props(app_roles=roles))
    assert [(f.property, f.reason[: len(reason)]) for f in result.failures] == [
        ("app_roles", reason)
    ]


# -- app role assignments ------------------------------------------------------------------------


@pytest.fixture
def resource(
    entra: EntraEmulator,
    blueprints: AgentIdentityBlueprintProvider,
    principals: AgentBlueprintPrincipalProvider,
) -> tuple[str, str]:
    """A blueprint with ROLE, and its principal's object ID."""
    object_id, outs = _blueprint(blueprints, app_roles=[ROLE])
    principal = principals.create({"blueprint_app_id": outs["app_id"]})
    return object_id, principal.id


def _client(entra: EntraEmulator) -> str:
    app = entra.store.create_application({"displayName": "client"}, entra.deployer)
    sp_id: str = entra.store.create_service_principal({"appId": app["appId"]}, entra.deployer)["id"]
    return sp_id


def test_assignment_create_read_delete(
    entra: EntraEmulator, assignments: AgentAppRoleAssignmentProvider, resource: tuple[str, str]
) -> None:
    _, resource_id = resource
    client = _client(entra)
    props = _checked(
        assignments,
        {
            "resource_principal_id": resource_id.upper(),
            "app_role_id": ROLE_ID.upper(),
            "principal_id": client.upper(),
        },
    )
    assert props == {
        "resource_principal_id": resource_id,
        "app_role_id": ROLE_ID,
        "principal_id": client,
    }
    made = assignments.create(props)
    assert made.outs == props
    [held] = entra.store.app_role_assigned_to(resource_id)
    assert held["id"] == made.id
    assert (held["principalId"], held["appRoleId"]) == (client, ROLE_ID)
    read = assignments.read(made.id, props)
    assert (read.id, read.outs, read.inputs) == (made.id, props, props)
    assert assignments.diff(made.id, read.inputs or {}, props).changes is False
    assert assignments.update(made.id, props, props).outs == props
    assignments.delete(made.id, props)
    assert entra.store.app_role_assigned_to(resource_id) == []
    assert assignments.read(made.id, props).id == ""
    assignments.delete(made.id, props)  # already gone: fine


def test_assignment_create_adopts_the_same_assignment_made_before(
    entra: EntraEmulator, assignments: AgentAppRoleAssignmentProvider, resource: tuple[str, str]
) -> None:
    """A run interrupted after Graph made the assignment runs the create again: Graph refuses
    the duplicate and the provider adopts the one that is there."""
    _, resource_id = resource
    client = _client(entra)
    existing = entra.store.assign_app_role(
        resource_id, {"principalId": client, "resourceId": resource_id, "appRoleId": ROLE_ID}
    )
    before = _ops(entra, "addAppRoleAssignment")
    props = {"resource_principal_id": resource_id, "app_role_id": ROLE_ID, "principal_id": client}
    made = assignments.create(props)
    assert made.id == existing["id"]
    assert _ops(entra, "addAppRoleAssignment") == before
    assert len(entra.store.app_role_assigned_to(resource_id)) == 1


def test_assignment_refused_by_graph_fails_naming_it(
    entra: EntraEmulator, assignments: AgentAppRoleAssignmentProvider, resource: tuple[str, str]
) -> None:
    _, resource_id = resource
    client = _client(entra)
    props = {
        "resource_principal_id": resource_id,
        "app_role_id": OTHER_ROLE_ID,
        "principal_id": client,
    }
    with pytest.raises(GraphPermanentError) as caught:
        assignments.create(props)
    text = str(caught.value)
    assert f"app role assignment of role {OTHER_ROLE_ID} to {client} on service principal" in text
    assert "HTTP 400 Request_BadRequest: Permission being assigned was not found" in text
    assert entra.store.app_role_assigned_to(resource_id) == []


def test_assignment_is_gone_when_either_service_principal_is_deleted(
    entra: EntraEmulator,
    assignments: AgentAppRoleAssignmentProvider,
    agents: AgentIdentityProvider,
    resource: tuple[str, str],
) -> None:
    blueprint_id, resource_id = resource
    app_id = _app(entra, blueprint_id)["appId"]
    agent = agents.create(
        {"display_name": "agent", "blueprint_app_id": app_id, "sponsors": [USER_A]}
    )
    client = _client(entra)
    by_agent = {
        "resource_principal_id": resource_id,
        "app_role_id": ROLE_ID,
        "principal_id": agent.id,
    }
    by_client = by_agent | {"principal_id": client}
    made_by_agent = assignments.create(by_agent)
    made_by_client = assignments.create(by_client)
    entra.store.delete_object("servicePrincipals", agent.id)
    assert assignments.read(made_by_agent.id, by_agent).id == ""
    assert assignments.read(made_by_client.id, by_client).id == made_by_client.id
    entra.store.delete_object("servicePrincipals", resource_id)
    assert assignments.read(made_by_client.id, by_client).id == ""
    assignments.delete(made_by_client.id, by_client)  # the resource is gone too: fine


def test_every_assignment_input_replaces_it(assignments: AgentAppRoleAssignmentProvider) -> None:
    for key in ASSIGNMENT:
        diff = assignments.diff("id", ASSIGNMENT, ASSIGNMENT | {key: USER_A.replace("3", "4")})
        assert (diff.changes, diff.replaces, diff.delete_before_replace) == (True, [key], False)
    failures = assignments.check({}, ASSIGNMENT | {"principal_id": "client"}).failures
    assert [(f.property, f.reason) for f in failures] == [
        ("principal_id", f"'client' must be {rules.GUID_FORM}")
    ]


def test_assignments_are_listed_across_pages_within_graph_only() -> None:
    base = "https://graph.example/v1.0"
    resource_id = USER_A
    path = f"servicePrincipals/{resource_id}/appRoleAssignedTo"
    pages: dict[str, dict[str, Any]] = {
        "": {
            "value": [{"id": "a1"}],
            "@odata.nextLink": f"{base}/{path}?$skiptoken=2",
        },
        "$skiptoken=2": {"value": [{"id": "a2"}]},
    }
    seen: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        return httpx.Response(200, json=pages[request.url.query.decode()])

    client = GraphClient(base, lambda: "t", transport=httpx.MockTransport(answer))
    assert [a["id"] for a in client.app_role_assigned_to(resource_id)] == ["a1", "a2"]
    assert len(seen) == 2
    pages[""]["@odata.nextLink"] = "https://elsewhere.example/v1.0/x?$skiptoken=2"
    with pytest.raises(GraphPermanentError, match="a next page outside Graph"):
        client.app_role_assigned_to(resource_id)
    assert len(seen) == 3


# -- check and diff ------------------------------------------------------------------------------


ASSIGNMENT = {"resource_principal_id": USER_A, "app_role_id": USER_B, "principal_id": USER_C}
PROVIDERS: dict[type, tuple[dict[str, Any], tuple[str, ...]]] = {
    AgentIdentityBlueprintProvider: (
        blueprint_props(unique_name="lkps-agent-np", app_roles=[ROLE]),
        ("unique_name",),
    ),
    AgentBlueprintPrincipalProvider: ({"blueprint_app_id": USER_C}, ("blueprint_app_id",)),
    AgentIdentityProvider: (
        {"display_name": "agent", "blueprint_app_id": USER_C, "sponsors": [USER_A]},
        ("blueprint_app_id",),
    ),
    AgentAppRoleAssignmentProvider: (ASSIGNMENT, tuple(ASSIGNMENT)),
}


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["string", "object"])
def test_unknown_inputs_pass_check_and_diff_as_changes(kind: type, unknown: Any) -> None:
    provider = _configured(kind)
    props, replacing = PROVIDERS[kind]
    for key in props:
        news = props | {key: unknown}
        checked = provider.check({}, news)
        assert checked.failures == [], (key, checked.failures)
        assert checked.inputs[key] is unknown
        diff = provider.diff("id", props | {"__provider": "a"}, news | {"__provider": "b"})
        assert diff.changes is True
        assert diff.replaces == ([key] if key in replacing else [])
        assert diff.delete_before_replace is False
    if "sponsors" in props:
        news = props | {"sponsors": [USER_A, unknown]}
        assert provider.check({}, news).failures == []
        assert provider.diff("id", props, news).changes is True
    if "app_roles" in props:
        for news in (
            props | {"app_roles": [ROLE, unknown]},
            props | {"app_roles": [ROLE | {"id": unknown}]},
        ):
            checked = provider.check({}, news)
            assert checked.failures == []
            assert checked.inputs["app_roles"] == news["app_roles"]
            assert provider.diff("id", props, news).changes is True


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
def test_diff_ignores_the_pickled_provider_and_outputs(kind: type) -> None:
    provider = _configured(kind)
    props, _ = PROVIDERS[kind]
    olds = props | {"__provider": "old code", "app_id": "x"}
    diff = provider.diff("id", olds, props | {"__provider": "new code"})
    assert (diff.changes, diff.replaces) == (False, [])


@pytest.mark.parametrize(
    ("change", "prop", "reason"),
    [
        ({"unique_name": "has space"}, "unique_name", "'has space' must be 1 to 120"),
        ({"display_name": ""}, "display_name", "must be a non-empty string"),
        ({"sponsors": []}, "sponsors", "must be a non-empty list of user object IDs"),
        ({"sponsors": ["bob"]}, "sponsors", "'bob' must be a GUID"),
        ({"owners": ["x"]}, "owners", "'x' must be a GUID"),
        ({"service_management_reference": "B1"}, "service_management_reference", "'B1' must be"),
    ],
)
def test_blueprint_check_names_the_failing_property(
    change: dict[str, Any], prop: str, reason: str
) -> None:
    provider = _configured(AgentIdentityBlueprintProvider)
    result = provider.check({}, blueprint_props(**change))
    assert [(f.property, f.reason[: len(reason)]) for f in result.failures] == [(prop, reason)]


def test_configure_names_a_bad_setting() -> None:
    with pytest.raises(ValueError, match=r"lkps-onboarding:agentId.retryDeadlineSeconds: must"):
        _configured(AgentIdentityProvider, {"retryDeadlineSeconds": 0})
    # The block's other keys are the blueprint's, which the program validates
    # (lkps.settings.BlueprintSettings): the provider reads its own two only.
    configured = _configured(
        AgentIdentityProvider, {"beatId": BEAT, "sponsors": [USER_A], "retryDeadlineSeconds": 5}
    )
    assert (configured._timeout, configured._deadline) == (30.0, 5.0)
    with pytest.raises(RuntimeError, match="before configure"):
        AgentIdentityProvider().client()


# -- retries and errors --------------------------------------------------------------------------


class _FaultsFirst(httpx.BaseTransport):
    """Answers the first requests matching `when` with `faults`, then passes everything on to
    the emulator over real HTTPS."""

    def __init__(self, faults: list[httpx.Response], when: Callable[[httpx.Request], bool]) -> None:
        self.faults = faults
        self.when = when
        self.sent: list[str] = []
        self.real = httpx.HTTPTransport(verify=rest.tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.faults and self.when(request):
            self.sent.append(f"fault {request.method}")
            return self.faults.pop(0)
        self.sent.append(f"real {request.method}")
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


@contextmanager
def _graph_client(
    entra: EntraEmulator, transport: httpx.BaseTransport, deadline: float
) -> Iterator[GraphClient]:
    client = GraphClient(
        f"{entra.url}/graph/v1.0",
        entra_auth.token_source(GRAPH_SCOPE, None),
        deadline=deadline,
        backoff=0.05,
        transport=transport,
    )
    try:
        yield client
    finally:
        client.close()


def test_a_429_is_retried_after_its_retry_after(entra: EntraEmulator) -> None:
    throttled = httpx.Response(
        429,
        headers={"Retry-After": "1"},
        json={"error": {"code": "TooManyRequests", "message": "slow down"}},
    )
    transport = _FaultsFirst([throttled], lambda r: r.method == "PATCH")
    name = f"lkps-throttled-{next(_names)}"
    started = time.monotonic()
    with _graph_client(entra, transport, deadline=10) as client:
        made = client.upsert_blueprint(
            name,
            {
                "displayName": "t",
                "sponsors@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{USER_A}"],
            },
        )
    assert time.monotonic() - started >= 1.0
    assert transport.sent == ["fault PATCH", "real PATCH"]
    assert made is not None
    assert made["uniqueName"] == name
    assert len(entra.store.list_objects("applications", "uniqueName", name)) == 1


def test_the_replication_400_after_a_create_is_retried(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    _, outs = _blueprint(blueprints)
    not_yet = httpx.Response(
        400,
        json={
            "error": {
                "code": "Request_BadRequest",
                "message": f"Object with id {outs['app_id']} not found",
            }
        },
    )
    transport = _FaultsFirst([not_yet, not_yet], lambda r: r.method == "POST")
    with _graph_client(entra, transport, deadline=10) as client:
        made = client.create_blueprint_principal(outs["app_id"])
    assert transport.sent == ["fault POST", "fault POST", "real POST"]
    assert made["appId"] == outs["app_id"]


def test_retries_stop_at_the_deadline_naming_the_object_and_graphs_answer() -> None:
    calls: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(
            503, json={"error": {"code": "serviceNotAvailable", "message": "try later"}}
        )

    client = GraphClient(
        "https://graph.example/v1.0",
        lambda: "CANARY-graph-token",
        deadline=1.0,
        backoff=0.05,
        transport=httpx.MockTransport(unavailable),
    )
    started = time.monotonic()
    with pytest.raises(GraphTransientError) as caught:
        client.upsert_blueprint("lkps-agent-np", {"displayName": "x"})
    assert time.monotonic() - started < 2.5
    assert len(calls) >= 3
    assert str(caught.value) == (
        "Graph upsert failed for agent identity blueprint 'lkps-agent-np': "
        "HTTP 503 serviceNotAvailable: try later"
    )


def test_a_refusal_fails_fast_naming_the_object_without_the_token(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    props = _checked(blueprints, blueprint_props())
    token = entra_auth.entra_token(GRAPH_SCOPE)
    entra.forbidden.add("graph")
    try:
        started = time.monotonic()
        with pytest.raises(GraphPermanentError) as caught:
            blueprints.create(props)
        assert time.monotonic() - started < 1.0
    finally:
        entra.forbidden.discard("graph")
    text = str(caught.value)
    assert f"agent identity blueprint {props['unique_name']!r}" in text
    assert "HTTP 403 Authorization_RequestDenied: Insufficient privileges" in text
    assert token not in text
    assert token not in repr(caught.value.args)


# -- pickling and imports ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
def test_the_provider_pickles_small_by_reference(entra: EntraEmulator, kind: type) -> None:
    provider = _configured(kind)
    provider.client()  # settings and a client in use: none of it goes into state
    token = entra_auth.entra_token(GRAPH_SCOPE)
    serialized = base64.b64decode(serialize_provider(provider))
    assert b"components.agent_id.provider" in serialized
    assert kind.__name__.encode() in serialized
    assert len(serialized) < 200
    assert token.encode() not in serialized


def test_importing_the_providers_loads_no_azure_sdk() -> None:
    code = (
        "import sys, components.agent_id.provider as p; "
        "p.AgentIdentityProvider().check({}, {}); "
        "print(sorted(m for m in ('azure.identity', 'msal', 'azure.keyvault.secrets', "
        "'components.azure_reads') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"
