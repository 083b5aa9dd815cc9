"""`scripts/stack verify` through the sandbox: a healthy stack passes, then one broken state at
a time is found with the right item and remedy, and no secret value is ever shown."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from lkps import rules
from stack_command.verify import model
from stack_command.verify.model import Report
from stack_command.verify.render import as_text
from stack_command.verify.runner import run_checklist
from tests.support.sandbox_harness import CANARY_SECRET, CANARY_TOKEN, SandboxProject, Session

pytestmark = pytest.mark.engine

SCHEMA = json.loads(
    (
        Path(__file__).resolve().parents[2] / "stack_command" / "verify" / "report.schema.json"
    ).read_text()
)
AGENT = "MY-LIVEKIT-AGENT"
NP_EU = rules.lkps_host("eu", "np")
NP_US = rules.lkps_host("us", "np")


def _check(
    session: Session,
    token: bool = False,
    only: str | None = None,
    other: dict[str, Any] | None = None,
) -> Report:
    report = run_checklist(session.stack, session.sandbox, other, only, token)
    document = report.to_json()
    jsonschema.validate(document, SCHEMA)
    for text in (json.dumps(document), as_text(report)):
        assert CANARY_SECRET not in text
        assert CANARY_TOKEN not in text
    return report


def _finding(report: Report, item: str, app: str = AGENT) -> model.Finding:
    (application,) = [a for a in report.applications if a.name == app]
    (found,) = [f for f in application.findings if f.item == item]
    return found


def _only_failure(report: Report, item: str) -> model.Finding:
    failed = [
        (a.name, f.item) for a in report.applications for f in a.findings if f.status == "fail"
    ]
    assert failed == [(AGENT, item)], failed
    return _finding(report, item)


@pytest.fixture
def onboarded(pulumi_cli: str, tmp_path: Path) -> Iterator[Session]:
    """The committed np stack, up in a sandbox whose us route waits for approval."""
    del pulumi_cli
    with SandboxProject(tmp_path).session("np", approval_routes=frozenset({NP_US})) as session:
        session.up()
        yield session


def test_a_healthy_stack_passes_and_each_broken_state_is_found(onboarded: Session) -> None:
    session = onboarded
    store = session.sandbox.entra.store
    ocelot = session.sandbox.ocelot.store
    app = next(
        a
        for a in store.list_objects("applications", None, None)
        if a["displayName"] == "MY-LIVEKIT-AGENT-NP"
    )
    vault, secret_name = "kv-lkps-apps-np", "my-livekit-agent-np-client-secret"

    pending = _only_failure(_check(session), f"{model.ROUTE_ACCESS} (us)")
    assert "waits for approval" in pending.detail
    assert rules.ocelot_ui_url(NP_US) in pending.remedy
    ocelot.approve(NP_US, app["appId"])

    healthy = _check(session, token=True)
    assert healthy.ok
    statuses = {f.item: f.status for f in healthy.applications[0].findings}
    assert statuses[model.BEAT] == statuses[model.OCELOT_USERS] == "manual"
    assert statuses[model.TOKEN] == "pass"
    assert statuses[model.CLIENT_SECRET] == "pass"
    assert _finding(healthy, model.CLIENT_AUTHORIZATION).detail == (
        "pre-authorizes MY-LIVEKIT-CLIENT for access_as_client"
    )
    assert _finding(healthy, model.CLIENT_AUTHORIZATION, "MY-LIVEKIT-CLIENT").detail == (
        "pre-authorized by MY-LIVEKIT-AGENT"
    )

    api = dict(store.get_object("applications", app["id"])["api"])
    store.update_object(
        "applications", app["id"], {"api": {**api, "preAuthorizedApplications": []}}
    )
    unauthorized = _check(session)
    assert _finding(unauthorized, model.CLIENT_AUTHORIZATION).detail == (
        "not pre-authorized: MY-LIVEKIT-CLIENT"
    )
    client_side = _finding(unauthorized, model.CLIENT_AUTHORIZATION, "MY-LIVEKIT-CLIENT")
    assert (client_side.status, client_side.detail) == (
        "fail",
        "not pre-authorized by MY-LIVEKIT-AGENT",
    )
    store.update_object("applications", app["id"], {"api": api})
    assert [a.name for a in _check(session, only="MY-LIVEKIT-CLIENT").applications] == [
        "MY-LIVEKIT-CLIENT"
    ]

    agent_client = app["appId"]
    prod = {"applications": {AGENT: {"clientId": "00000000-0000-4000-8000-00000000abcd"}}}
    separate = _finding(_check(session, other=prod), model.SEPARATE)
    assert separate.status == "pass"
    shared = {"applications": {AGENT: {"clientId": agent_client.upper()}}}
    assert _only_failure(_check(session, other=shared), model.SEPARATE).status == "fail"

    ocelot.put(NP_EU, agent_client, "BEAT99999999", "edited in the UI", "someone@ui")
    other_beat = _finding(_check(session), f"{model.ROUTE_ACCESS} (eu)")
    assert other_beat.status == "warn"
    assert "BEAT99999999" in other_beat.detail
    ocelot.put(NP_EU, agent_client, "BEAT12345678", "restored", "someone@ui")

    current = store.get_secret(vault, secret_name)
    store.set_secret(vault, secret_name, {**current, "value": "not-the-secret"})
    written = _check(session, token=True)
    assert "AADSTS7000215" in _finding(written, model.TOKEN).detail
    assert "its value is another secret" in _finding(written, model.CLIENT_SECRET).detail
    store.set_secret(vault, secret_name, current)

    store.update_secret(vault, secret_name, None, {"attributes": {"enabled": False}})
    assert "is disabled" in _only_failure(_check(session), model.CLIENT_SECRET).detail
    store.update_secret(vault, secret_name, None, {"attributes": {"enabled": True}})

    expires = current["attributes"]["exp"]
    store.update_secret(vault, secret_name, None, {"attributes": {"exp": 1_000_000_000}})
    assert "has expired" in _only_failure(_check(session), model.CLIENT_SECRET).detail
    store.update_secret(vault, secret_name, None, {"attributes": {"exp": expires}})

    ocelot.remove_out_of_band(NP_EU, app["appId"])
    removed = _only_failure(_check(session), f"{model.ROUTE_ACCESS} (eu)")
    assert "is not on" in removed.detail
    assert "scripts/stack up np" in removed.remedy
    ocelot.put(NP_EU, app["appId"], "BEAT12345678", "restored", "someone@ui")

    owner = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
    store.remove_owner("applications", app["id"], owner)
    assert owner in _only_failure(_check(session), model.REGISTRATION).detail
    store.add_owner("applications", app["id"], owner)

    session.sandbox.entra.forbidden.add("graph")
    graph = _check(session)
    assert "Application.Read.All" in _finding(graph, model.REGISTRATION).remedy
    assert not graph.ok
    session.sandbox.entra.forbidden.clear()

    trusted = session.sandbox.ocelot._token_issuer
    session.sandbox.ocelot._token_issuer = None
    refused_route = _check(session)
    finding = _finding(refused_route, f"{model.ROUTE_ACCESS} (eu)")
    assert finding.status == "fail"
    assert "HTTP 401" in finding.detail
    assert "management right" in finding.remedy
    session.sandbox.ocelot._token_issuer = trusted

    published = (store.get_secret(vault, secret_name)["tags"] or {})["keyId"]
    store.remove_password(app["id"], published)
    stale = _only_failure(_check(session), model.CLIENT_SECRET)
    assert published in stale.detail
    assert "which the registration does not have" in stale.detail

    store.delete_object("applications", app["id"])
    deleted = _check(session)
    assert "no app registration" in _finding(deleted, model.REGISTRATION).detail
    assert not deleted.ok


def test_a_credential_of_the_stacks_naming_that_no_resource_holds_is_reported(
    onboarded: Session,
) -> None:
    from stack_command.pending import export_without_secrets, held_key_ids

    session = onboarded
    store = session.sandbox.entra.store
    app = next(
        a
        for a in store.list_objects("applications", None, None)
        if a["displayName"] == "MY-LIVEKIT-AGENT-NP"
    )
    held = frozenset(held_key_ids(export_without_secrets(session.stack)))
    assert {p["keyId"] for p in app["passwordCredentials"]} <= held

    def warnings(report: Report) -> list[model.Finding]:
        (agent,) = [a for a in report.applications if a.name == AGENT]
        return [f for f in agent.findings if f.item == model.CLIENT_SECRET and f.status == "warn"]

    def check(interrupted: bool) -> Report:
        report = run_checklist(
            session.stack, session.sandbox, None, None, False, None, held, interrupted
        )
        jsonschema.validate(report.to_json(), SCHEMA)
        assert CANARY_SECRET not in json.dumps(report.to_json()) + as_text(report)
        return report

    assert warnings(check(False)) == []
    stray = store.add_password(app["id"], {"displayName": f"{rules.CLIENT_SECRET_DISPLAY_NAME}-x"})
    store.add_password(app["id"], {"displayName": "made in the portal"})
    (found,) = warnings(check(False))
    assert found.detail.endswith(stray["keyId"]), "only the one of the stack's naming"
    assert f"az ad app credential delete --id {app['appId']} --key-id {stray['keyId']}" in (
        found.remedy
    )
    (after_a_kill,) = warnings(check(True))
    assert after_a_kill.remedy.startswith("run `scripts/stack up np --sandbox`")
