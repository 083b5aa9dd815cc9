"""What the stack owns and what the team owns, through the real engine and the sandbox: a
registration made in the portal keeps its settings when adopted, portal edits of the team's
settings survive later runs, edits of the stack's are repaired, objects deleted by hand fail
an un-refreshed run as on Azure and heal with the refresh the workflows run, and a vault move
never leaves consumers without a secret."""

from __future__ import annotations

import copy
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps import ownership, rules, switches
from lkps.resource_types import APPLICATION, SERVICE_PRINCIPAL, VAULT_SECRET
from lkps.rotation import RotationPolicy
from sandbox.entra_store import Principal
from sandbox.graph_objects import PORTAL_REQUIRED_RESOURCE_ACCESS
from sandbox.standin import consistency
from stack_command.review.events import PreviewEvents
from stack_command.review.report import PROPERTY_WORDS, build_review
from tests.support.sandbox_harness import (
    SandboxProject,
    Session,
    applications,
    assert_vault_publishes_live_secrets,
    changes,
)

pytestmark = pytest.mark.engine

AGENT = "MY-LIVEKIT-AGENT-NP"
CLIENT = "MY-LIVEKIT-CLIENT-NP"
PERSON = Principal("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "unused", "tenant")
NEW_OWNER = "7d6c5b4a-3e2f-4a1b-9c8d-7e6f5a4b3c2d"
REDIRECTS = ["https://agent.example.com/auth/a", "https://agent.example.com/auth/b"]
APP_ROLE = {
    "id": "0f4c5d6e-7a8b-4c9d-8e0f-1a2b3c4d5e6f",
    "allowedMemberTypes": ["Application"],
    "description": "Reads the agent's session records",
    "displayName": "Sessions.Read",
    "isEnabled": True,
    "value": "Sessions.Read",
}
OWNED = {name for name, (owner, _) in ownership.APPLICATION.items() if owner == ownership.STACK}


@pytest.fixture
def project(pulumi_cli: str, tmp_path: Path) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return SandboxProject(tmp_path)


def _top(path: str) -> str:
    return path.split(".")[0].split("[")[0]


def _add_owner(app: str, owner: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        entry = next(a for a in config["applications"] if a["name"] == app)
        entry["owners"] = [*entry["owners"], owner]

    return edit


def _remove_owner(app: str, owner: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        entry = next(a for a in config["applications"] if a["name"] == app)
        entry["owners"] = [o for o in entry["owners"] if o != owner]

    return edit


def test_a_registration_made_in_the_portal_keeps_its_settings_when_adopted(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        store = session.sandbox.entra.store
        made = store.register_in_portal(
            AGENT, PERSON, web={"redirectUris": REDIRECTS}, appRoles=[APP_ROLE]
        )

        def adopt(config: dict[str, Any]) -> None:
            config["applications"][0]["adopt"] = {"clientId": made["appId"]}

        session.edit_config(adopt)
        events = PreviewEvents()
        session.preview(on_event=events)
        steps = [s for s in events.steps if s.type == APPLICATION and AGENT.lower() in s.urn]
        assert [s.op for s in steps] == ["import", "update"], steps
        changed = {_top(path) for path in steps[1].changed}
        assert changed, "the stack's own settings differ from the portal's"
        assert changed <= OWNED, f"the team's settings would change: {changed - OWNED}"
        principal = [
            s for s in events.steps if s.type == SERVICE_PRINCIPAL and AGENT.lower() in s.urn
        ]
        assert [s.op for s in principal][:1] == ["import"], principal

        review = build_review("np", "np", [AGENT, CLIENT], "https://ocelot/api/v1", events)
        (update,) = [
            c for c in review.applications[AGENT].changes if c.startswith("app registration:")
        ]
        assert any(
            c.startswith("adopts the existing app") for c in review.applications[AGENT].changes
        )
        for name in changed - {"owners"}:
            assert PROPERTY_WORDS.get(name, name) in update, (name, update)
        assert "owner(s)" in update

        session.up()
        live = store.get_object("applications", made["id"])
        assert live["requiredResourceAccess"] == PORTAL_REQUIRED_RESOURCE_ACCESS
        assert sorted(live["web"]["redirectUris"]) == REDIRECTS
        assert [role["value"] for role in live["appRoles"]] == ["Sessions.Read"]
        assert live["serviceManagementReference"] == "BEAT12345678"
        quiet = session.preview(refresh=True)
        assert {str(op) for op in quiet.change_summary} == {"same"}


def test_a_portal_edit_of_a_team_setting_survives_an_owner_change(
    project: SandboxProject,
) -> None:
    with project.deployed("np") as session:
        store = session.sandbox.entra.store
        agent = applications(store)[AGENT]
        store.update_object("applications", agent["id"], {"web": {"redirectUris": REDIRECTS[:1]}})

        session.edit_config(_add_owner("MY-LIVEKIT-AGENT", NEW_OWNER))
        session.up(refresh=True)  # as the deploy and rotation workflows run it
        live = store.get_object("applications", agent["id"])
        assert live["web"]["redirectUris"] == REDIRECTS[:1], "the team's redirect URI was lost"
        assert NEW_OWNER in live["owners"]

        # Without a refresh the real provider writes `web` back from the prior state: a portal
        # edit made since the last refresh is lost on the next update, so the sandbox loses it.
        store.update_object("applications", agent["id"], {"web": {"redirectUris": REDIRECTS}})
        session.edit_config(_remove_owner("MY-LIVEKIT-AGENT", NEW_OWNER))
        session.up(refresh=False)
        live = store.get_object("applications", agent["id"])
        assert NEW_OWNER not in live["owners"]
        assert live["web"]["redirectUris"] == REDIRECTS[:1]


def test_portal_edits_of_the_stacks_settings_are_drift_the_next_run_repairs(
    project: SandboxProject,
) -> None:
    with project.deployed("np") as session:
        store = session.sandbox.entra.store
        agent = applications(store)[AGENT]
        before = copy.deepcopy(agent)
        (sp,) = store.list_objects("servicePrincipals", "appId", agent["appId"])
        store.update_object("servicePrincipals", sp["id"], {"accountEnabled": False})
        store.update_object(
            "applications",
            agent["id"],
            {"serviceManagementReference": "BEAT00000000", "notes": "edited", "tags": []},
        )
        store.add_owner("applications", agent["id"], NEW_OWNER)

        events = PreviewEvents()
        session.preview(refresh=True, on_event=events)
        changes = {s.type: {_top(p) for p in s.changed} for s in events.steps if s.op == "update"}
        assert changes[SERVICE_PRINCIPAL] == {"accountEnabled"}
        assert changes[APPLICATION] == {"notes", "owners", "serviceManagementReference", "tags"}

        session.up(refresh=True)
        live = store.get_object("applications", agent["id"])
        for key in ("serviceManagementReference", "notes", "tags", "owners"):
            assert sorted(live[key]) == sorted(before[key]), key
        assert store.get_object("servicePrincipals", sp["id"])["accountEnabled"] is True


def _delete_by_hand(session: Session) -> dict[str, str]:
    """Deletes, as a person in the portal would: the client's service principal, the agent's
    stack-made client secrets, its scope (disabled first, as Graph demands), the client's
    pre-authorization, and the client's vault secret. Returns what was deleted, by kind."""
    store = session.sandbox.entra.store
    agent, client = applications(store)[AGENT], applications(store)[CLIENT]
    (sp,) = store.list_objects("servicePrincipals", "appId", client["appId"])
    store.delete_object("servicePrincipals", sp["id"])
    for password in list(agent["passwordCredentials"]):
        store.remove_password(agent["id"], password["keyId"])
    api = copy.deepcopy(agent["api"])
    for scope in api["oauth2PermissionScopes"]:
        scope["isEnabled"] = False
    store.update_object("applications", agent["id"], {"api": api})
    store.update_object(
        "applications",
        agent["id"],
        {"api": {"oauth2PermissionScopes": [], "preAuthorizedApplications": []}},
    )
    (vault,) = store.data["vaults"]
    store.delete_secret(vault, rules.vault_secret_name(CLIENT))
    return {"servicePrincipal": sp["id"], "vault": vault}


def test_objects_deleted_by_hand_fail_a_run_without_refresh_and_heal_with_one(
    project: SandboxProject,
) -> None:
    with project.deployed("np") as session:
        _delete_by_hand(session)
        session.edit_config(_add_owner("MY-LIVEKIT-CLIENT", NEW_OWNER))
        with pytest.raises(auto.CommandError) as failed:
            session.up(refresh=False)
        text = str(failed.value)
        assert 'Updating Service Principal (Service Principal: "' in text
        assert "404" in text

        session.up(refresh=True)
        store = session.sandbox.entra.store
        agent, client = applications(store)[AGENT], applications(store)[CLIENT]
        (sp,) = store.list_objects("servicePrincipals", "appId", client["appId"])
        assert NEW_OWNER in sp["owners"]
        assert [s["value"] for s in agent["api"]["oauth2PermissionScopes"]] == [
            rules.CLIENT_SCOPE_VALUE
        ]
        assert [p["appId"] for p in agent["api"]["preAuthorizedApplications"]] == [client["appId"]]
        assert_vault_publishes_live_secrets(store)
        quiet = session.preview(refresh=True)
        assert {str(op) for op in quiet.change_summary} == {"same"}


def test_a_vault_move_writes_the_new_secret_before_the_old_one_goes(
    project: SandboxProject,
) -> None:
    with project.deployed("np") as session:
        store = session.sandbox.entra.store
        (old_vault,) = store.data["vaults"]
        settings = session.stack.get_all_config()
        key_vault = settings["lkps-onboarding:keyVault"].value
        assert old_vault in key_vault
        new_vault = "kv-lkps-apps2-np"
        store.ensure_vault(
            "4d5c7a0e-3b1f-4e8a-9c2d-6f7e8a9b0c1d", "rg-lkps-onboarding-np", new_vault
        )

        def move(config: dict[str, Any]) -> None:
            config["keyVault"]["vaultName"] = new_vault

        session.edit_config(move)
        events = PreviewEvents()
        session.preview(on_event=events)
        secrets = [s for s in events.steps if s.type == VAULT_SECRET]
        assert sorted(s.op for s in secrets) == ["create", "create", "delete", "delete"]
        assert not any(s.op == "replace" for s in secrets)
        mark = len(store.journal())
        session.up()
        ops = [(e["op"], e.get("secret", "")) for e in store.journal()[mark:]]
        for app in (AGENT, CLIENT):
            name = rules.vault_secret_name(app)
            written = ops.index(("setSecret", f"{new_vault}/{name}"))
            deleted = ops.index(("deleteSecret", f"{old_vault}/{name}"))
            assert written < deleted, f"{name}: deleted before its successor existed"
        assert_vault_publishes_live_secrets_in(store, new_vault)
        quiet = session.preview()
        assert {str(op) for op in quiet.change_summary} == {"same"}


def assert_vault_publishes_live_secrets_in(store: Any, vault: str) -> None:
    for name, app in applications(store).items():
        secret = store.get_secret(vault, rules.vault_secret_name(name))["value"]
        assert store.live_credential(app["appId"], secret), f"{name}: {vault} holds a dead secret"


def test_a_rotation_day_with_graphs_consistency_waits(project: SandboxProject) -> None:
    """The provider's polling after a credential is removed and after one is added, simulated
    with 1 s between polls (the provider's is at least 5 s): the rotation takes that much longer
    and still publishes a live secret."""
    with project.deployed("np") as session:
        day = RotationPolicy(30, 90).plan(datetime.now(UTC).date()).next_rotation
        env = session.stack.workspace.env_vars
        assert isinstance(env, dict)
        env[switches.SANDBOX_CONSISTENCY_SECONDS] = "1"
        started = time.perf_counter()
        result = session.up(today=day, refresh=True)
        took = time.perf_counter() - started
        del env[switches.SANDBOX_CONSISTENCY_SECONDS]
        assert changes(result).get("replace", 0) >= 2, changes(result)
        # Each replaced slot: five polls for the removal, five for the new credential.
        assert took >= 2 * consistency.CONTINUOUS_TARGET_OCCURENCE * 1.0, took
        assert_vault_publishes_live_secrets(session.sandbox.entra.store)
