"""`ocelot.mode: manual`: the stack makes no Ocelot call and says what a person adds in the UI;
`verify` checks what people added; switching to `api` adopts their entries."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from lkps import rules
from stack_command.verify import model
from stack_command.verify.model import Report
from stack_command.verify.runner import run_checklist
from tests.support.sandbox_harness import SandboxProject, Session, edit_stack_file

pytestmark = pytest.mark.engine

AGENT, CLIENT = "MY-LIVEKIT-AGENT", "MY-LIVEKIT-CLIENT"
ROUTES = {
    (AGENT, "eu"): rules.lkps_host("eu", "np"),
    (AGENT, "us"): rules.lkps_host("us", "np"),
    (CLIENT, "eu"): rules.lkps_host("eu", "np"),
}
BEATS = {AGENT: "BEAT12345678", CLIENT: "BEAT87654321"}


def _mode(mode: str) -> Any:
    def edit(config: dict[str, Any]) -> None:
        config["ocelot"] = {**config["ocelot"], "mode": mode}

    return edit


def _routes(report: Report) -> dict[tuple[str, str], model.Finding]:
    return {
        (app.name, finding.item.rsplit("(", 1)[-1].rstrip(")")): finding
        for app in report.applications
        for finding in app.findings
        if finding.item.startswith(model.ROUTE_ACCESS)
    }


def _route_resources(session: Session) -> list[str]:
    return [r["urn"] for r in session.deployment() if r["type"].endswith("ocelot:RouteAccess")]


def test_by_hand_then_through_the_api(pulumi_cli: str, tmp_path: Path) -> None:
    del pulumi_cli
    project = SandboxProject(tmp_path)
    edit_stack_file(project.project, "np", _mode("manual"))
    with project.session("np") as session:
        ocelot = session.sandbox.ocelot
        foreign = {route: dict(ocelot.store.entries(route)) for route in set(ROUTES.values())}

        preview = session.preview()
        assert "Ocelot by hand: on route" in preview.stdout
        assert "(the client ID this run makes" in preview.stdout
        up = session.up()
        assert _route_resources(session) == []
        assert sum(ocelot.requests.values()) == 0, ocelot.requests
        assert {r: ocelot.store.entries(r) for r in foreign} == foreign
        outputs = up.outputs["applications"].value
        client_ids = {name: outputs[name]["clientId"] for name in (AGENT, CLIENT)}
        again = session.preview()
        for (name, _), route in ROUTES.items():
            assert (
                f"Ocelot by hand: on route {route}, add client ID {client_ids[name]} with BEAT ID "
                f"{BEATS[name]}"
            ) in again.stdout
            assert rules.ocelot_ui_url(route) in again.stdout

        missing = _routes(run_checklist(session.stack, session.sandbox, None, None, False))
        assert set(missing) == set(ROUTES)
        for (name, region), finding in missing.items():
            assert finding.status == "fail"
            route = ROUTES[(name, region)]
            assert finding.remedy == (
                f"add client ID {client_ids[name]} with BEAT ID {BEATS[name]} to {route} in the "
                f"Ocelot UI: {rules.ocelot_ui_url(route)}"
            )
            ocelot.store.put(route, client_ids[name].upper(), BEATS[name], "by hand", "someone@ui")
        kept = _routes(run_checklist(session.stack, session.sandbox, None, None, False))
        assert {f.status for f in kept.values()} == {"pass"}
        assert all("kept by hand" in f.detail for f in kept.values())

        session.sandbox.ocelot._token_issuer = None
        unreadable = _routes(run_checklist(session.stack, session.sandbox, None, None, False))
        assert {f.status for f in unreadable.values()} == {"manual"}
        assert all(f.remedy.startswith("check: add client ID") for f in unreadable.values())

    edit_stack_file(project.project, "np", _mode("api"))
    with project.session("np") as session:
        ocelot = session.sandbox.ocelot
        session.up()
        assert len(_route_resources(session)) == len(ROUTES)
        for (name, _), route in ROUTES.items():
            entries = [e for e in ocelot.store.entries(route).values() if e.beat_id == BEATS[name]]
            (entry,) = entries
            assert entry.added_by == "someone@ui", "adopted, not added a second time"
            assert entry.client_id == client_ids[name].lower()
        through_api = _routes(run_checklist(session.stack, session.sandbox, None, None, False))
        assert {f.status for f in through_api.values()} == {"pass"}
        assert not any("kept by hand" in f.detail for f in through_api.values())


def test_turning_to_manual_hands_the_entries_over_without_removing_them(
    pulumi_cli: str, tmp_path: Path
) -> None:
    """From `api` to `manual`: the first run marks the stack's entries to stay in Ocelot, the
    second forgets them without a call to Ocelot; LKPS access never stops."""
    del pulumi_cli
    project = SandboxProject(tmp_path)
    with project.deployed("np") as session:
        entries = {route: session.sandbox.ocelot.store.entries(route) for route in ROUTES.values()}
    edit_stack_file(project.project, "np", _mode("manual"))

    with project.session("np") as session:
        ocelot = session.sandbox.ocelot
        handover = session.up()
        assert "the entries this stack made stay in Ocelot" in handover.stdout
        assert len(_route_resources(session)) == len(ROUTES)
        assert all(
            r["retainOnDelete"]
            for r in session.deployment()
            if r["urn"] in _route_resources(session)
        )
        assert ocelot.store.writes["put"] == ocelot.store.writes["delete"] == 0
        outputs = handover.outputs["applications"].value
        assert {outputs[name]["ocelot"] for name in (AGENT, CLIENT)} == {"handover"}

    with project.session("np") as session:
        ocelot = session.sandbox.ocelot
        preview = session.preview(refresh=False)
        assert "Ocelot by hand: on route" in preview.stdout
        forgets = session.up(refresh=False)
        assert _route_resources(session) == []
        assert sum(ocelot.requests.values()) == 0, ocelot.requests
        assert {r: ocelot.store.entries(r) for r in entries} == entries
        assert {forgets.outputs["applications"].value[n]["ocelot"] for n in (AGENT, CLIENT)} == {
            "manual"
        }
        report = _routes(run_checklist(session.stack, session.sandbox, None, None, False))
        assert {f.status for f in report.values()} == {"pass"}
