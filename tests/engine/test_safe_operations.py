"""Safe on day one, day ninety and the last day, through the real engine and the sandbox: only
the pinned deployer changes the stack, rotation never deletes the secret Key Vault publishes
(after gaps, a new schedule, an emergency), and the sandbox's journal shows it step by step."""

from __future__ import annotations

import copy
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps import rules
from sandbox.entra_store import Principal
from sandbox.session import Sandbox, stack_config
from tests.support.sandbox_harness import (
    SandboxProject,
    Session,
    applications,
    assert_journal_is_safe,
    assert_vault_publishes_live_secrets,
    changes,
)

pytestmark = pytest.mark.engine

TODAY = datetime.now(UTC).date()
PERIOD = 30  # the committed np schedule: every 30 days, 90-day lifetime
OTHER_IDENTITY = "0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d"
AGENT = "MY-LIVEKIT-AGENT-NP"


@pytest.fixture
def project(pulumi_cli: str, tmp_path: Path) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return SandboxProject(tmp_path)


def _apps(sandbox: Sandbox) -> dict[str, dict[str, Any]]:
    return applications(sandbox.entra.store)


def _directory(sandbox: Sandbox) -> dict[str, Any]:
    """Everything a run could change in Entra, Key Vault and Ocelot."""
    data = copy.deepcopy(sandbox.entra.store.data)
    data.pop("journal", None)
    return {"entra": data, "ocelot": sandbox.ocelot.store.snapshot()}


def _up(session: Session, day: date) -> dict[str, Any]:
    """An up on `day`; the rotation record it leaves, by application."""
    result = session.up(today=day)
    assert_vault_publishes_live_secrets(session.sandbox.entra.store)
    recorded: dict[str, Any] = result.outputs["secretRotation"].value
    return recorded


def _next_rotation(session: Session, app: str) -> date:
    outputs = session.stack.outputs()["applications"].value
    return datetime.fromisoformat(outputs[app]["nextRotationDate"]).date()


def test_a_run_as_another_identity_is_refused_and_changes_nothing(
    project: SandboxProject,
) -> None:
    pinned = stack_config(project.project, "np")["deployerObjectId"]
    with project.deployed("np") as session:
        before = _directory(session.sandbox)
        assert all(pinned in app["owners"] for app in _apps(session.sandbox).values())

    with project.session("np", identity=OTHER_IDENTITY) as session:
        for attempt in (session.preview, session.up):
            with pytest.raises(auto.CommandError) as failure:
                attempt()
            message = str(failure.value)
            assert f"deployed by {pinned}" in message
            assert f"running identity is {OTHER_IDENTITY}" in message
            assert "Traceback" not in message
        assert _directory(session.sandbox) == before

        session.up(break_glass="incident 4711: pipeline identity disabled")
        assert any("break-glass run as" in line for line in session.outputs)
        for name, app in _apps(session.sandbox).items():
            assert pinned in app["owners"], f"{name}: the pinned deployer lost ownership"
            assert OTHER_IDENTITY not in app["owners"], f"{name}: owners follow the runner"


@pytest.mark.parametrize("periods", [2, 5])
def test_runs_after_a_gap_of_several_periods_never_delete_the_published_secret(
    project: SandboxProject, periods: int
) -> None:
    with project.deployed("np", TODAY) as session:
        first = session.stack.outputs()["secretRotation"].value
        back = TODAY + timedelta(days=periods * PERIOD + 1)
        after_gap = _up(session, back)
        state = after_gap[AGENT.removesuffix("-NP")]
        assert state["published"] != first[AGENT.removesuffix("-NP")]["published"]
        assert any("catch-up rotation" in line for line in session.outputs)
        following = date.fromisoformat(state[state["published"]]["starts"]) + timedelta(PERIOD)
        for day in (back + timedelta(days=1), following, following + timedelta(days=1)):
            _up(session, day)
        assert_journal_is_safe(session.sandbox.entra.store)


def test_a_changed_rotation_period_converges_without_deleting_the_published_secret(
    project: SandboxProject,
) -> None:
    with project.deployed("np", TODAY) as session:

        def shorter(config: dict[str, Any]) -> None:
            config["secretRotationDays"] = 14
            config["secretLifetimeDays"] = 42

        session.edit_config(shorter)
        for offset in (0, 1, 14, 15, 29):
            _up(session, TODAY + timedelta(days=offset))
        assert_journal_is_safe(session.sandbox.entra.store)


def test_an_emergency_rotation_publishes_then_revokes_and_the_schedule_resumes(
    project: SandboxProject,
) -> None:
    with project.deployed("np", TODAY) as session:
        agent = _apps(session.sandbox)[AGENT]
        old_keys = {p["keyId"] for p in agent["passwordCredentials"]}
        leak_day = TODAY + timedelta(days=2)

        def emergency(config: dict[str, Any]) -> None:
            config["applications"][0]["emergencyRotation"] = leak_day.isoformat()

        session.edit_config(emergency)
        preview = session.preview(today=leak_day)
        assert preview.change_summary.get(auto.OpType.DELETE) == 1
        assert any("emergency rotation: creates and publishes" in line for line in session.outputs)
        assert any("then revokes slot" in line for line in session.outputs)

        mark = len(session.sandbox.entra.store.journal())
        after = _up(session, leak_day)["MY-LIVEKIT-AGENT"]
        agent = _apps(session.sandbox)[AGENT]
        keys = {p["keyId"] for p in agent["passwordCredentials"]}
        assert keys.isdisjoint(old_keys), "a suspect credential survived the emergency run"
        assert len(keys) == 1
        assert after[after["published"]]["starts"] == leak_day.isoformat()

        ops = [
            (entry["op"], entry.get("keyId"))
            for entry in session.sandbox.entra.store.journal()[mark:]
            if entry.get("appId", agent["appId"]) == agent["appId"]
        ]
        (new_key,) = keys
        created = ops.index(("addPassword", new_key))
        published = ops.index(("setSecret", new_key))
        revoked = max(i for i, (op, _) in enumerate(ops) if op == "removePassword")
        assert created < published < revoked, "new, publish, revoke: in that order"
        assert_journal_is_safe(session.sandbox.entra.store)

        quiet = session.up(today=leak_day + timedelta(days=1))
        assert set(changes(quiet)) == {"same"}, "the emergency must not repeat"
        resumed = _up(session, _next_rotation(session, "MY-LIVEKIT-AGENT"))["MY-LIVEKIT-AGENT"]
        assert resumed["published"] != after["published"]
        assert resumed[after["published"]] == after[after["published"]]
        assert len(_apps(session.sandbox)[AGENT]["passwordCredentials"]) == 2
        assert_journal_is_safe(session.sandbox.entra.store)


def _retire_client(config: dict[str, Any]) -> None:
    config["applications"][1]["retired"] = True
    config["applications"][0]["clients"] = []


def _remove_client(config: dict[str, Any]) -> None:
    config["applications"].pop(1)
    config["applications"][0]["clients"] = []


def test_retiring_a_prod_app_takes_two_reviewed_changes_and_it_can_come_back(
    project: SandboxProject,
) -> None:
    original = stack_config(project.project, "prod")
    client = "MY-LIVEKIT-CLIENT"
    with project.deployed("prod") as session:
        client_id = _apps(session.sandbox)[client]["appId"]
        before = _directory(session.sandbox)

        # Removing it at once is what protection is for: the run stops before deleting.
        session.edit_config(_remove_client)
        with pytest.raises(auto.CommandError, match="retired: true for it in one reviewed change"):
            session.up()
        assert client in _apps(session.sandbox)
        assert _directory(session.sandbox) == before

        # First change: retired. LKPS access goes, protection is lifted, nothing else.
        session.edit_config(lambda config: config.update(original))
        session.edit_config(_retire_client)
        preview = session.preview()
        planned = {str(op): n for op, n in preview.change_summary.items()}
        # 2 Ocelot entries; the agent's authorization: component, URI, scope, pre-authorization.
        assert planned.get("delete") == 2 + 4, planned
        assert "replace" not in planned, planned
        session.up()
        routes = {
            route: {e["clientId"] for e in saved["clientAccessList"]}
            for route, saved in session.sandbox.ocelot.store.snapshot().items()
        }
        assert all(client_id not in clients for clients in routes.values())
        retired = [r for r in session.deployment() if rules.RETIRING_TAG in str(r.get("inputs"))]
        assert retired
        assert not any(r.get("protect") for r in retired)

        # Second change: removed. Everything of the app goes; the vault secret is soft-deleted.
        session.edit_config(_remove_client)
        session.up()
        assert client not in _apps(session.sandbox)
        (vault,) = session.sandbox.entra.store.data["vaults"].values()
        assert "my-livekit-client-client-secret" in vault["deleted"]

        # Added again within Key Vault's retention: the stale deleted secret is purged first.
        session.edit_config(lambda config: config.update(original))
        session.up()
        assert client in _apps(session.sandbox)
        assert "my-livekit-client-client-secret" in vault["secrets"]
        assert_vault_publishes_live_secrets(session.sandbox.entra.store)


def test_a_removal_that_fails_halfway_completes_on_the_next_run_and_purges_if_asked(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        session.edit_config(lambda config: config["keyVault"].update(purgeDeletedSecrets=True))
        session.up()
        session.edit_config(_retire_client)
        session.up()
        session.edit_config(_remove_client)
        session.sandbox.entra.forbidden.add("keyvault")
        with pytest.raises(auto.CommandError):
            session.up()
        session.sandbox.entra.forbidden.clear()
        session.up()
        assert "MY-LIVEKIT-CLIENT-NP" not in _apps(session.sandbox)
        (vault,) = session.sandbox.entra.store.data["vaults"].values()
        assert "my-livekit-client-np-client-secret" not in vault["secrets"]
        assert "my-livekit-client-np-client-secret" not in vault["deleted"], "not purged"
        quiet = session.preview()
        assert {str(op) for op in quiet.change_summary} == {"same"}


def test_an_app_onboarded_by_hand_is_imported_with_updates_only(project: SandboxProject) -> None:
    """The manual checklist done before: registration, service principal, a client secret and
    the vault secret exist. The first preview imports them and changes them in place only."""
    person = Principal("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "unused", "tenant")
    with project.session("np") as session:
        store = session.sandbox.entra.store
        app = store.create_application({"displayName": AGENT, "description": "by hand"}, person)
        store.create_service_principal({"appId": app["appId"]}, person)
        manual = store.add_password(
            app["id"], {"displayName": "manual", "endDateTime": "2027-06-01T00:00:00Z"}
        )
        leaked = store.add_password(
            app["id"], {"displayName": "pasted in a wiki", "endDateTime": "2027-03-01T00:00:00Z"}
        )
        (vault_name,) = store.data["vaults"]
        store.set_secret(
            vault_name, rules.vault_secret_name(AGENT), {"value": manual["secretText"]}
        )

        def adopt(config: dict[str, Any]) -> None:
            config["applications"][0]["adopt"] = {
                "clientId": app["appId"],
                "vaultSecret": True,
                "removeSecrets": [leaked["keyId"]],
            }

        session.edit_config(adopt)
        preview = session.preview()
        planned = {str(op): n for op, n in preview.change_summary.items()}
        assert planned.get("import") == 3, planned
        assert planned.get("create", 0) >= 1, planned
        assert "replace" not in planned, planned
        assert "delete" not in planned, planned
        assert any(
            f"existing client secret 'manual' (key {manual['keyId']}, ends 2027-06-01)" in line
            for line in session.outputs
        )

        assert any(
            f"(key {leaked['keyId']}, ends 2027-03-01) is revoked in this run" in line
            for line in session.outputs
        )

        mark = len(store.journal())
        session.up()
        adopted = _apps(session.sandbox)[AGENT]
        assert adopted["id"] == app["id"], "the registration was replaced, not adopted"
        outputs = session.stack.outputs()["applications"].value
        assert outputs["MY-LIVEKIT-AGENT"]["clientId"] == app["appId"]
        keys = {p["keyId"] for p in adopted["passwordCredentials"]}
        assert manual["keyId"] in keys, "the hand-made secret must be left alone"
        assert leaked["keyId"] not in keys, "the secret named in removeSecrets is revoked"
        assert len(keys) == 3
        ops = [(e["op"], e.get("keyId")) for e in store.journal()[mark:]]
        published = max(i for i, (op, _) in enumerate(ops) if op == "setSecret")
        assert ops.index(("removePassword", leaked["keyId"])) > published
        assert stack_config(project.project, "np")["deployerObjectId"] in adopted["owners"]
        assert_vault_publishes_live_secrets(session.sandbox.entra.store, hand_made=1)

        # Adopted now: the next run changes nothing and imports nothing.
        quiet = session.preview()
        assert {str(op) for op in quiet.change_summary} == {"same"}
