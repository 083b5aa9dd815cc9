"""The CI workflows have the properties the team relies on (actionlint checks their syntax in
the test command): OIDC without stored secrets, pinned actions, least privilege, one run per
stack, prod behind its environment, a daily rotation, and one review comment per stack."""

from __future__ import annotations

import re
from typing import Any

import pytest
import yaml

from review.render import MARKER
from tests.harness import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job["steps"]]


@pytest.mark.parametrize("name", ["preview.yml", "deploy.yml", "rotate.yml"])
def test_every_workflow_pins_actions_signs_in_by_oidc_and_grants_little(name: str) -> None:
    workflow = _load(name)
    text = (WORKFLOWS / name).read_text()
    assert workflow["permissions"] == {"contents": "read"}
    for step in _steps(workflow):
        if "uses" in step:
            assert PINNED.match(step["uses"]), step["uses"]
        if step.get("uses", "").startswith("azure/login@"):
            assert set(step["with"]) == {"client-id", "tenant-id", "subscription-id"}
    for job in workflow["jobs"].values():
        assert job["permissions"]["id-token"] == "write"
        assert job["permissions"]["contents"] == "read"
        assert set(job["permissions"]) <= {"contents", "id-token", "pull-requests", "issues"}
    assert "secrets." not in text, "Azure sign-in is OIDC only: no stored secret"
    # Matrix values reach shell commands through env, never pasted into the script.
    assert "run: scripts/stack up ${{" not in text


def test_pull_requests_preview_both_stacks_and_update_one_comment_each() -> None:
    workflow = _load("preview.yml")
    assert "pull_request" in workflow["on"]
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["np", "prod"]
    assert job["permissions"]["pull-requests"] == "write"
    runs = [step.get("run", "") for step in job["steps"]]
    assert any('scripts/stack review "$STACK" --refresh --output review.md' in run for run in runs)
    (comment,) = [s for s in job["steps"] if s.get("uses", "").startswith("actions/github-script")]
    script = comment["with"]["script"]
    assert MARKER.format(stack="${process.env.STACK}") in script
    assert "updateComment" in script
    assert "createComment" in script
    failing = job["steps"][-1]
    assert failing["if"] == "steps.review.outputs.status != '0'"
    assert "exit 1" in failing["run"]


def test_merges_deploy_np_then_prod_behind_its_environment_one_run_per_stack() -> None:
    workflow = _load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    np, prod = workflow["jobs"]["np"], workflow["jobs"]["prod"]
    assert prod["needs"] == "np"
    assert prod["environment"] == "prod"
    assert np["concurrency"] == {"group": "stack-np", "cancel-in-progress": False}
    assert prod["concurrency"] == {"group": "stack-prod", "cancel-in-progress": False}
    assert any("scripts/stack up prod" in step.get("run", "") for step in prod["steps"])


def test_a_daily_run_rotates_both_stacks_and_reports_failure_in_an_issue() -> None:
    workflow = _load("rotate.yml")
    (schedule,) = workflow["on"]["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert minute.isdigit()
    assert hour.isdigit()
    assert rest == ["*", "*", "*"], "daily"
    (job,) = workflow["jobs"].values()
    assert job["strategy"]["matrix"]["stack"] == ["np", "prod"]
    assert job["concurrency"] == {
        "group": "stack-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }, "shares the deploy workflow's group: one run per stack"
    assert job["permissions"]["issues"] == "write"
    report = job["steps"][-1]
    assert report["if"] == "failure()"
    assert "issues.create" in report["with"]["script"]
    assert "createComment" in report["with"]["script"]


def test_only_the_jobs_that_are_their_stacks_only_run_cancel_a_stale_lock() -> None:
    """--cancel-stale-lock is safe only where a concurrency group makes the job the stack's only
    run: every `up` of deploy and rotate, and no step of the pull-request preview."""
    for name in ("deploy.yml", "rotate.yml"):
        for job in _load(name)["jobs"].values():
            assert str(job["concurrency"]["group"]).startswith("stack-")
            ups = [s["run"] for s in job["steps"] if "scripts/stack up" in s.get("run", "")]
            assert ups, f"{name} runs no up"
            assert all("--cancel-stale-lock" in run for run in ups), ups
    preview = (ROOT / ".github" / "workflows" / "preview.yml").read_text()
    assert "--cancel-stale-lock" not in preview


def test_every_up_and_review_of_the_workflows_refreshes_first() -> None:
    """Hand deletions and portal edits heal instead of failing the run, and the Application's
    update writes the team's settings back as they are now, not as the last state had them."""
    for name in ("deploy.yml", "rotate.yml", "preview.yml"):
        runs = [
            line.strip()
            for job in _load(name)["jobs"].values()
            for step in job["steps"]
            for line in step.get("run", "").splitlines()
            if line.strip().startswith(("scripts/stack up", "scripts/stack review"))
        ]
        assert runs, f"{name} runs no up or review"
        assert all("--refresh" in run and "--no-refresh" not in run for run in runs), runs
