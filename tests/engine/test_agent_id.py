"""Agents on Microsoft Entra Agent ID through the real engine and the sandbox: a new agent on an
agent identity from an empty stack, the committed agent's move from its app registration with
its client ID or its agent identity on every route at every moment, a rotation of the
blueprint's client secret, and an agent identity made by hand that the stack adopts."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps import agent_id, resource_types, rules
from lkps.resource_types import AGENT_IDENTITY
from lkps.rotation import today_utc
from lkps.rules import Environment
from sandbox.entra_store import EntraStore
from stack_command.review.events import PreviewEvents
from stack_command.review.report import Review, build_review
from stack_command.verify import model
from stack_command.verify.render import as_text
from stack_command.verify.runner import run_checklist
from tests.support.sandbox_harness import (
    CANARY_SECRET,
    CANARY_TOKEN,
    SandboxProject,
    Session,
    applications,
    assert_journal_is_safe,
    assert_vault_publishes_live_secrets,
    changes,
    edit_stack_file,
    preview_changes,
)

pytestmark = pytest.mark.engine

AGENT = "MY-LIVEKIT-AGENT"
CLIENT = "MY-LIVEKIT-CLIENT"
SPONSOR = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
BLUEPRINT_SPONSOR = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
BLUEPRINT: dict[str, Any] = {"beatId": "BEAT12345678", "sponsors": [BLUEPRINT_SPONSOR]}
AGENT_IDENTITY_TYPE = "#microsoft.graph.agentIdentity"
ROUTES = [rules.lkps_host("eu", "np"), rules.lkps_host("us", "np")]


def _app(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(app for app in config["applications"] if app["name"] == name)


def _on_agent_id(config: dict[str, Any], **agent: Any) -> None:
    config["agentId"] = dict(BLUEPRINT)
    _app(config, AGENT).update(identity="agentId", sponsors=[SPONSOR], **agent)


def _agent_identities(store: EntraStore) -> dict[str, dict[str, Any]]:
    return {
        sp["id"]: sp
        for sp in store.list_objects("servicePrincipals", None, None)
        if sp.get("@odata.type") == AGENT_IDENTITY_TYPE
    }


def _outputs(session: Session) -> dict[str, Any]:
    return {key: value.value for key, value in session.stack.outputs().items()}


def _review(session: Session, names: list[str]) -> Review:
    events = PreviewEvents()
    session.preview(on_event=events)
    environment = _environment(session)
    blueprint = agent_id.blueprint_display_name(session.stack.name, environment)
    return build_review(
        session.stack.name,
        environment,
        [*names, blueprint],
        "https://ocelot.example/api/v1",
        events,
    )


def _no_secret_anywhere(session: Session) -> None:
    for text in ("\n".join(session.outputs), session.export_without_secrets()):
        assert CANARY_SECRET not in text
        assert CANARY_TOKEN not in text


@pytest.fixture
def project(pulumi_cli: str, tmp_path: Path) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return SandboxProject(tmp_path)


@pytest.fixture(params=["np"])
def deployed(project: SandboxProject, request: pytest.FixtureRequest) -> Iterator[Session]:
    """The committed stack (np unless the test names another) as its first up leaves it."""
    with project.deployed(request.param) as session:
        yield session


def _environment(session: Session) -> Environment:
    environment = rules.environment_of_stack(session.stack.name)
    assert environment is not None
    return environment


def test_a_new_agent_on_agent_id_from_an_empty_stack(project: SandboxProject) -> None:
    edit_stack_file(project.project, "np", _on_agent_id)
    with project.session("np") as session:
        deployer = str(session.sandbox.entra.deployer.object_id)
        granted = session.sandbox.entra.store.data["grants"][deployer]["appRoles"]
        assert "Application.Read.All" in granted, "the README's rights for Agent ID"
        planned = preview_changes(session.preview())
        made = changes(session.up())
        assert made == {"create": planned["create"]}, (planned, made)
        store = session.sandbox.entra.store
        outputs = _outputs(session)
        blueprint = outputs["agentIdBlueprint"]
        agent = outputs["applications"][AGENT]
        assert (blueprint["uniqueName"], blueprint["displayName"]) == (
            "lkps-agents-np",
            "LKPS-AGENTS-NP",
        )
        assert blueprint["credentialKinds"] == ["clientSecret"]
        assert agent["identity"] == "agentId"
        assert "clientId" not in agent, "a new agent on Agent ID has no app registration"
        assert "MY-LIVEKIT-AGENT-NP" not in applications(store)

        identity = _agent_identities(store)[agent["agentIdentityId"]]
        assert identity["displayName"] == "MY-LIVEKIT-AGENT-NP"
        assert identity["agentIdentityBlueprintId"] == blueprint["appId"]
        assert [s["id"] for s in identity["sponsors"]] == [SPONSOR]
        assert "passwordCredentials" not in identity or not identity["passwordCredentials"]
        for route in ROUTES:
            assert agent["agentIdentityId"] in session.sandbox.ocelot.store.entries(route)

        # The client holds the blueprint's app role access_as_client.
        client_sp = outputs["applications"][CLIENT]["servicePrincipalObjectId"]
        assignments = store.app_role_assignments_of(client_sp)
        assert [(a["resourceId"], a["appRoleId"]) for a in assignments] == [
            (blueprint["principalObjectId"], blueprint["appRoleId"])
        ]
        assert agent["appRoleAuthorizedClients"][0]["name"] == CLIENT

        # The blueprint's client secret is published like an app registration's.
        assert_vault_publishes_live_secrets(store)
        assert_journal_is_safe(store)

        found = _findings(session)
        for item in (
            model.AGENT_ID_BLUEPRINT,
            model.AGENT_IDENTITY,
            model.AGENT_ID_CLIENT_SECRET,
            model.AGENT_ID_CLIENT_AUTHORIZATION,
        ):
            assert found[AGENT][item].status == "pass", found[AGENT][item]
        agent_routes = [i for i in found[AGENT] if f", {model.AGENT_IDENTITY_ENTRY})" in i]
        assert len(agent_routes) == 2
        assert all(found[AGENT][i].status == "pass" for i in agent_routes)
        assert found[CLIENT][model.AGENT_ID_CLIENT_AUTHORIZATION].status == "pass"

        assert preview_changes(session.preview()) == {"same": made["create"]}
        assert changes(session.refresh()) == {"same": made["create"]}
        assert changes(session.up()) == {"same": made["create"]}
        _no_secret_anywhere(session)

        assert changes(session.destroy()) == {"delete": made["create"]}
        assert _agent_identities(store) == {}
        assert "LKPS-AGENTS-NP" not in applications(store)
        for route in ROUTES:
            assert agent["agentIdentityId"] not in session.sandbox.ocelot.store.entries(route)


def _on_routes_throughout(
    session: Session, client_ids: set[str], listed: dict[str, set[str]]
) -> int:
    """Replays Ocelot's exchanges since the lists were `listed`: on every route, after every
    change, one of `client_ids` is on the Client Access List. Returns how many changes there
    were to those lists."""
    routes = list(listed)
    ocelot = session.sandbox.ocelot
    changed = 0
    for exchange in ocelot.exchanges:
        parts = exchange.path.rsplit("/routes/", 1)[-1].split("/")
        if len(parts) != 3 or exchange.method not in ("PUT", "DELETE"):
            continue
        route, client = parts[0], parts[2].lower()
        if route not in routes or exchange.status is None or exchange.status >= 300:
            continue
        (listed[route].add if exchange.method == "PUT" else listed[route].discard)(client)
        changed += 1
        for each in routes:
            assert listed[each] & client_ids, (each, exchange)
    return changed


@pytest.mark.parametrize("deployed", ["np", "prod"], indirect=True)
def test_the_committed_agent_moves_to_agent_id_on_the_routes_throughout(
    deployed: Session,
) -> None:
    session = deployed
    environment = _environment(session)
    agent_name, client_name = (rules.display_name(n, environment) for n in (AGENT, CLIENT))
    store = session.sandbox.entra.store
    registration = applications(store)[agent_name]["appId"]
    ocelot = session.sandbox.ocelot
    routes = [rules.lkps_host(region, environment) for region in rules.REGIONS]
    for route in routes:
        assert registration in ocelot.store.entries(route)
    listed = {route: set(ocelot.store.entries(route)) for route in routes}
    ocelot.exchanges.clear()

    session.edit_config(_on_agent_id)
    with pytest.raises(auto.CommandError) as refused:
        session.preview()
    assert "applications[0].identity: agentId would delete the app registration" in str(
        refused.value
    )

    session.edit_config(lambda config: _app(config, AGENT).update(registration="parallel"))
    review = _review(session, [agent_name, client_name])
    moved = review.applications[agent_name]
    assert moved.changes[0].startswith("moves to Microsoft Entra Agent ID"), moved.changes
    assert "agent identity (Microsoft Entra Agent ID)" in " ".join(moved.changes)
    assert moved.dangers == []
    assert review.applications[client_name].changes == [
        "may start LKPS sessions with the agents on Agent ID (app role access_as_client)"
    ]
    session.up()
    agent = _outputs(session)["applications"][AGENT]
    assert agent["clientId"] == registration, "the registration stays beside the identity"
    identity = agent["agentIdentityId"]
    for route in routes:
        assert {registration, identity} <= set(ocelot.store.entries(route))

    session.edit_config(lambda config: _app(config, AGENT).update(registration="retired"))
    review = _review(session, [agent_name, client_name])
    retiring = review.applications[agent_name]
    assert retiring.dangers[-1].startswith("app registration retired: the agent reaches LKPS as")
    session.up()
    for route in routes:
        entries = set(ocelot.store.entries(route))
        assert identity in entries
        assert registration not in entries

    def remove_registration(config: dict[str, Any]) -> None:
        _app(config, AGENT).pop("registration")

    session.edit_config(remove_registration)
    session.up()
    assert agent_name not in applications(store)
    agent = _outputs(session)["applications"][AGENT]
    assert "clientId" not in agent
    assert agent["agentIdentityId"] == identity
    protected = {r["type"] for r in session.deployment() if r.get("protect")}
    if environment == "prod":
        assert {AGENT_IDENTITY, resource_types.AGENT_BLUEPRINT} <= protected
    else:
        assert protected == set()

    # Two entries made for the identity, two deleted for the registration.
    assert _on_routes_throughout(session, {registration, identity}, listed) == 4
    assert_journal_is_safe(store)
    assert_vault_publishes_live_secrets(store)
    _no_secret_anywhere(session)


def test_the_blueprint_secret_rotates_and_is_replaced_after_a_leak(deployed: Session) -> None:
    session = deployed
    session.edit_config(lambda config: _on_agent_id(config, registration="parallel"))
    today = today_utc()
    session.up(today=today)
    store = session.sandbox.entra.store
    blueprint = _outputs(session)["agentIdBlueprint"]
    before = {p["keyId"] for p in applications(store)["LKPS-AGENTS-NP"]["passwordCredentials"]}
    assert len(before) == 2
    published_before = _outputs(session)["secretRotation"][agent_id.ROTATION_KEY]["published"]

    result = session.up(today=today + timedelta(days=31))
    assert "replace" in changes(result), changes(result)
    after = {p["keyId"] for p in applications(store)["LKPS-AGENTS-NP"]["passwordCredentials"]}
    assert len(after) == 2
    assert len(before & after) == 1, "exactly one slot rotates"
    rotation = _outputs(session)["secretRotation"][agent_id.ROTATION_KEY]
    assert rotation["published"] != published_before, "the vault publishes the new slot"
    assert _outputs(session)["agentIdBlueprint"]["appId"] == blueprint["appId"]

    # The blueprint's secret may have leaked: every secret made before that day is revoked, the
    # newest only once the vault publishes its successor.
    leaked = today + timedelta(days=32)
    session.edit_config(lambda config: config["agentId"].update(emergencyRotation=leaked))
    session.up(today=leaked)
    emergency = {p["keyId"] for p in applications(store)["LKPS-AGENTS-NP"]["passwordCredentials"]}
    assert emergency, "the blueprint keeps a secret"
    assert not emergency & after, "every secret of before the leak is revoked"
    assert_journal_is_safe(store)
    assert_vault_publishes_live_secrets(store)
    _no_secret_anywhere(session)


def test_an_agent_identity_made_by_hand_is_adopted(deployed: Session) -> None:
    session = deployed
    session.edit_config(lambda config: _on_agent_id(config, registration="parallel"))
    session.up()
    store = session.sandbox.entra.store
    blueprint = _outputs(session)["agentIdBlueprint"]

    # A person made the client's agent identity by hand under the stack's blueprint.
    made = store.create_agent_identity(
        {
            "displayName": "MY-LIVEKIT-HELPER-NP",
            "agentIdentityBlueprintId": blueprint["appId"],
            "sponsors@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{SPONSOR}"],
        },
        session.sandbox.entra.deployer,
    )

    def add_helper(config: dict[str, Any]) -> None:
        helper = {**_app(config, AGENT), "name": "MY-LIVEKIT-HELPER", "clients": []}
        for key in ("registration", "description"):
            helper.pop(key, None)
        config["applications"].append(helper)

    session.edit_config(add_helper)
    session.up()
    helper = _outputs(session)["applications"]["MY-LIVEKIT-HELPER"]
    assert helper["agentIdentityId"] == made["id"], "the hand-made identity is the one kept"
    named = [
        sp
        for sp in _agent_identities(store).values()
        if sp["displayName"] == "MY-LIVEKIT-HELPER-NP"
    ]
    assert len(named) == 1
    assert set(changes(session.up())) == {"same"}

    # A run that made the agent identity and died before the state recorded it leaves what this
    # leaves: the object in Graph, nothing in the state (the next run drops a pending create of a
    # dynamic resource, stack_command/pending.py). The next up finds it and keeps it.
    (urn,) = [
        r["urn"]
        for r in session.deployment()
        if r["type"] == AGENT_IDENTITY
        and r["outputs"].get("display_name") == "MY-LIVEKIT-HELPER-NP"
    ]
    _forget(session, urn)
    assert changes(session.up()).get("create", 0) > 0
    assert _outputs(session)["applications"]["MY-LIVEKIT-HELPER"]["agentIdentityId"] == made["id"]
    identities = _agent_identities(store).values()
    assert [sp["id"] for sp in identities if sp["displayName"] == "MY-LIVEKIT-HELPER-NP"] == [
        made["id"]
    ]
    assert set(changes(session.up())) == {"same"}


def _forget(session: Session, urn: str) -> None:
    """`pulumi state delete` of a resource and what depends on it, as a person runs it."""
    subprocess.run(  # noqa: S603 - the CLI the test command put on PATH
        [
            shutil.which("pulumi") or "pulumi",
            "state",
            "delete",
            urn,
            "--target-dependents",
            "--yes",
            "--stack",
            session.stack.name,
        ],
        cwd=session.sandbox.folder.work_dir,
        env={**os.environ, **session.sandbox.env},
        capture_output=True,
        text=True,
        check=True,
    )


def _findings(session: Session) -> dict[str, dict[str, model.Finding]]:
    report = run_checklist(session.stack, session.sandbox, None, None, False)
    text = as_text(report)
    assert CANARY_SECRET not in text
    assert CANARY_TOKEN not in text
    return {app.name: {f.item: f for f in app.findings} for app in report.applications}


def test_verify_catches_a_removed_sponsor_and_a_disabled_agent_identity(
    deployed: Session,
) -> None:
    session = deployed
    second = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
    session.edit_config(lambda config: _on_agent_id(config, registration="parallel"))
    session.edit_config(lambda config: _app(config, AGENT).update(sponsors=[SPONSOR, second]))
    session.up()
    store = session.sandbox.entra.store
    identity = _outputs(session)["applications"][AGENT]["agentIdentityId"]
    assert all(f.status != "fail" for f in _findings(session)[AGENT].values())

    store.remove_sponsor("servicePrincipals", identity, "microsoft.graph.agentIdentity", second)
    found = _findings(session)[AGENT][model.AGENT_IDENTITY]
    assert found.status == "fail"
    assert second in found.detail

    store.update_object("servicePrincipals", identity, {"accountEnabled": False})
    found = _findings(session)[AGENT][model.AGENT_IDENTITY]
    assert found.status == "fail"
    assert "disabled" in found.detail

    # A refresh sees the sponsor gone and the next up puts it back.
    session.up(refresh=True)
    assert second in {s["id"] for s in _agent_identities(store)[identity]["sponsors"]}


def test_a_blueprint_without_a_secret_signs_in_by_federated_credential(
    project: SandboxProject,
) -> None:
    github = "https://token.actions.githubusercontent.com"
    credential = {"name": "agents-np", "issuer": github, "subject": "repo:lkps/agents:env:np"}

    def secretless(config: dict[str, Any]) -> None:
        _on_agent_id(config)
        config["agentId"].update(clientSecret=False, federatedCredentials=[credential])

    edit_stack_file(project.project, "np", secretless)
    with project.session("np") as session:
        session.up()
        store = session.sandbox.entra.store
        blueprint = _outputs(session)["agentIdBlueprint"]
        assert blueprint["credentialKinds"] == ["federated"]
        assert "vaultSecretName" not in blueprint
        assert agent_id.ROTATION_KEY not in _outputs(session)["secretRotation"]
        made = applications(store)["LKPS-AGENTS-NP"]
        assert made["passwordCredentials"] == []
        (vault,) = store.data["vaults"]
        assert "lkps-agents-np-client-secret" not in {
            s["id"].rsplit("/", 1)[-1] for s in store.list_secrets(vault)
        }
        found = _findings(session)[AGENT]
        assert found[model.AGENT_ID_FEDERATED].status == "pass", found[model.AGENT_ID_FEDERATED]
        assert model.AGENT_ID_CLIENT_SECRET not in found
        assert set(changes(session.up())) == {"same"}


@pytest.mark.parametrize("deployed", ["prod"], indirect=True)
def test_going_back_from_a_parallel_run_deletes_the_agent_identity_and_blueprint(
    deployed: Session,
) -> None:
    session = deployed
    store = session.sandbox.entra.store
    registration = applications(store)[AGENT]["appId"]
    routes = [rules.lkps_host(region, "prod") for region in rules.REGIONS]
    before = session.stack.outputs()["applications"].value
    session.edit_config(lambda config: _on_agent_id(config, registration="parallel"))
    session.up()
    assert len(_agent_identities(store)) == 1

    def back(config: dict[str, Any]) -> None:
        config.pop("agentId")
        for key in ("identity", "sponsors", "registration"):
            _app(config, AGENT).pop(key)

    session.edit_config(back)
    session.up()
    assert _agent_identities(store) == {}
    assert "LKPS-AGENTS" not in applications(store)
    for route in routes:
        assert set(session.sandbox.ocelot.store.entries(route)) & {registration}
    assert session.stack.outputs()["applications"].value == before
    assert "agentIdBlueprint" not in session.stack.outputs()


def test_retiring_an_agent_on_agent_id_in_prod(project: SandboxProject) -> None:
    edit_stack_file(project.project, "prod", _on_agent_id)
    with project.session("prod") as session:
        session.up()
        store = session.sandbox.entra.store
        identity = _outputs(session)["applications"][AGENT]["agentIdentityId"]
        protected = {r["type"] for r in session.deployment() if r.get("protect")}
        assert {AGENT_IDENTITY, resource_types.AGENT_BLUEPRINT} <= protected

        def remove_agent(config: dict[str, Any]) -> None:
            config["applications"] = [a for a in config["applications"] if a["name"] != AGENT]
            config.pop("agentId")

        stack_file = project.project / "Pulumi.prod.yaml"
        deployed = stack_file.read_text()
        session.edit_config(remove_agent)
        with pytest.raises(auto.CommandError) as refused:
            session.preview()
        assert f"applications: '{AGENT}' was removed while its resources are protected" in str(
            refused.value
        )
        stack_file.write_text(deployed)

        session.edit_config(lambda config: _app(config, AGENT).update(retired=True))
        session.up()
        routes = [rules.lkps_host(region, "prod") for region in rules.REGIONS]
        for route in routes:
            assert identity not in session.sandbox.ocelot.store.entries(route)
        assert identity in _agent_identities(store), "a retired agent keeps its identity"

        session.edit_config(remove_agent)
        session.up()
        assert _agent_identities(store) == {}
        assert "LKPS-AGENTS" not in applications(store)
        assert "agentIdBlueprint" not in session.stack.outputs()
