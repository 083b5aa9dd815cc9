"""Two team stacks of one environment (`np-alpha`, `np-beta`) run at the same time against one
tenant, one vault and one Ocelot, as two CI jobs would: their entries on the shared LKPS routes
and their vault secrets are per application, so neither run loses the other's."""

from __future__ import annotations

import copy
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps import rules
from stack_command.verify import model
from stack_command.verify.runner import run_checklist
from tests.support.sandbox_harness import (
    CANARY_SECRET,
    SandboxProject,
    Session,
    applications,
    assert_journal_is_safe,
    assert_vault_publishes_live_secrets,
    edit_stack_file,
    preview_changes,
)

pytestmark = pytest.mark.engine

NP_EU = rules.lkps_host("eu", "np")
NP_US = rules.lkps_host("us", "np")
TEAMS = ("alpha", "beta")


def _team_stack_file(project: SandboxProject, team: str) -> str:
    """`Pulumi.np-<team>.yaml`: the np stack file with the team's own two applications."""
    stack = f"np-{team}"
    base = (project.project / "Pulumi.np.yaml").read_text()
    (project.project / f"Pulumi.{stack}.yaml").write_text(base)

    def rename(config: dict[str, Any]) -> None:
        apps = copy.deepcopy(config["applications"])
        prefix = team.upper()
        for app in apps:
            app["name"] = app["name"].replace("MY-LIVEKIT", prefix)
            app["clients"] = [c.replace("MY-LIVEKIT", prefix) for c in app.get("clients", [])]
            if not app["clients"]:
                del app["clients"]
        config["applications"] = apps

    edit_stack_file(project.project, stack, rename)
    return stack


def _at_once(*calls: Callable[[], auto.UpResult]) -> list[auto.UpResult]:
    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(call) for call in calls]]


def _route_clients(session: Session, route_id: str) -> set[str]:
    route = session.sandbox.ocelot.store.route_json(route_id)
    assert route is not None
    return {entry["clientId"].lower() for entry in route["clientAccessList"]}


def test_two_team_stacks_updating_the_same_routes_at_once_lose_nothing(
    pulumi_cli: str, tmp_path: Path
) -> None:
    del pulumi_cli
    project = SandboxProject(tmp_path)
    alpha_stack, beta_stack = (_team_stack_file(project, team) for team in TEAMS)
    with (
        project.session(alpha_stack) as alpha,
        project.session_beside(alpha, beta_stack) as beta,
    ):
        foreign = _route_clients(alpha, NP_EU)
        # One preview first, alone: the provider SDKs import their modules lazily on first use,
        # and two programs in one process (unlike two CI jobs) would race on that import.
        assert preview_changes(alpha.preview()) == {"create": 29}
        created = _at_once(alpha.up, beta.up)
        assert [r.summary.result for r in created] == ["succeeded", "succeeded"]

        store = alpha.sandbox.entra.store
        apps = applications(store)
        assert sorted(apps) == [
            "ALPHA-AGENT-NP",
            "ALPHA-CLIENT-NP",
            "BETA-AGENT-NP",
            "BETA-CLIENT-NP",
        ]
        ids = {name: app["appId"].lower() for name, app in apps.items()}
        assert _route_clients(alpha, NP_EU) == foreign | set(ids.values())
        assert _route_clients(alpha, NP_US) == foreign | {
            ids["ALPHA-AGENT-NP"],
            ids["BETA-AGENT-NP"],
        }
        assert_vault_publishes_live_secrets(store)

        # At once: alpha retires its client while beta's client joins the us route.
        def retire(config: dict[str, Any]) -> None:
            config["applications"] = [a for a in config["applications"] if a["role"] == "agent"]
            del config["applications"][0]["clients"]

        def widen(config: dict[str, Any]) -> None:
            config["applications"][1]["regions"] = ["eu", "us"]

        alpha.edit_config(retire)
        beta.edit_config(widen)
        changed = _at_once(alpha.up, beta.up)
        assert [r.summary.result for r in changed] == ["succeeded", "succeeded"]
        assert _route_clients(alpha, NP_EU) == foreign | {
            ids["ALPHA-AGENT-NP"],
            ids["BETA-AGENT-NP"],
            ids["BETA-CLIENT-NP"],
        }
        assert _route_clients(alpha, NP_US) == foreign | {
            ids["ALPHA-AGENT-NP"],
            ids["BETA-AGENT-NP"],
            ids["BETA-CLIENT-NP"],
        }
        assert sorted(applications(store)) == ["ALPHA-AGENT-NP", "BETA-AGENT-NP", "BETA-CLIENT-NP"]
        assert_vault_publishes_live_secrets(store)
        assert_journal_is_safe(store)

        for session in (alpha, beta):
            assert set(preview_changes(session.preview())) == {"same"}, session.stack.name

        # The separate-registrations check reads the same team's prod stack, not `prod`.
        report = run_checklist(alpha.stack, alpha.sandbox, None, None, False)
        (agent,) = [a for a in report.applications if a.name == "ALPHA-AGENT"]
        (separate,) = [f for f in agent.findings if f.item == model.SEPARATE]
        assert (separate.status, separate.detail) == (
            "manual",
            "the prod-alpha stack could not be read",
        )
        assert [f for a in report.applications for f in a.findings if f.status == "fail"] == []
        text = "\n".join(alpha.outputs + beta.outputs) + alpha.state_text() + beta.state_text()
        assert CANARY_SECRET not in text
