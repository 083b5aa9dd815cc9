"""The CI workflows have the properties the team relies on (actionlint checks their syntax in
the test command): OIDC without stored secrets, pinned actions, least privilege, every stack of
the stack files as a matrix, one run per stack, np before prod per team, prod behind its
environment, a daily rotation, and one review comment per stack."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from lkps import rules
from stack_command.fleet import FleetError, FleetStack, Team, stacks, teams
from stack_command.review.render import MARKER
from tests.support.harness import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"
PINNED = re.compile(r"^[\w.-]+/[\w.-]+@[0-9a-f]{40}$")


def _load(name: str) -> dict[Any, Any]:
    workflow: dict[Any, Any] = yaml.safe_load((WORKFLOWS / name).read_text())
    # YAML 1.1 reads the key `on` as True.
    workflow["on"] = workflow.pop(True, workflow.get("on"))
    return workflow


WORKFLOW_NAMES = ["preview.yml", "deploy.yml", "deploy-team.yml", "rotate.yml"]
FLEET_COMMAND = 'python3 -m stack_command.fleet >> "$GITHUB_OUTPUT"'


def _steps(workflow: dict[str, Any]) -> list[dict[str, Any]]:
    return [step for job in workflow["jobs"].values() for step in job.get("steps", [])]


def _signs_in(job: dict[str, Any]) -> bool:
    return any(s.get("uses", "").startswith("azure/login@") for s in job.get("steps", []))


def test_the_workflows_are_the_ones_checked_here() -> None:
    assert sorted(p.name for p in WORKFLOWS.glob("*.yml")) == sorted(WORKFLOW_NAMES)


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
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
        # A job signs in, or calls a workflow whose jobs do, only with an OIDC token.
        calls = job.get("uses", "").startswith("./.github/workflows/")
        if _signs_in(job) or calls:
            assert job["permissions"]["id-token"] == "write"
        else:
            assert "id-token" not in job["permissions"], "no token for a job that never signs in"
        assert job["permissions"]["contents"] == "read"
        assert set(job["permissions"]) <= {"contents", "id-token", "pull-requests", "issues"}
    assert "secrets." not in text, "Azure sign-in is OIDC only: no stored secret"
    # Matrix values reach shell commands through env, never pasted into the script.
    assert "run: scripts/stack up ${{" not in text


def _fleet_matrix(workflow: dict[str, Any], job_name: str, output: str) -> None:
    """The job's matrix is the `stacks` job's output, and that job runs the fleet listing."""
    job = workflow["jobs"][job_name]
    assert job["needs"] == "stacks"
    assert job["strategy"]["matrix"] == {
        "include": f"${{{{ fromJSON(needs.stacks.outputs.{output}) }}}}"
    }
    assert job["strategy"]["fail-fast"] is False, "one stack's failure leaves the others running"
    lister = workflow["jobs"]["stacks"]
    assert lister["outputs"][output] == f"${{{{ steps.fleet.outputs.{output} }}}}"
    (listing,) = [s for s in lister["steps"] if s.get("id") == "fleet"]
    assert listing["run"] == FLEET_COMMAND


def _fleet_output(root: Path = ROOT) -> dict[str, list[dict[str, str]]]:
    """What the `stacks` job writes to $GITHUB_OUTPUT, from the command it runs."""
    listed = subprocess.run(
        [sys.executable, "-m", "stack_command.fleet"],
        cwd=root,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        check=True,
    )
    lines = dict(line.split("=", 1) for line in listed.stdout.splitlines())
    return {key: json.loads(value) for key, value in lines.items()}


def test_the_matrices_are_the_stack_files_and_name_only_what_the_listing_gives() -> None:
    output = _fleet_output()
    assert output == {
        "stacks": [
            {"stack": "np", "environment": "np", "team": ""},
            {"stack": "prod", "environment": "prod", "team": ""},
        ],
        "teams": [{"team": "", "np": "np", "prod": "prod"}],
    }
    for name, job, key in (
        ("preview.yml", "preview", "stacks"),
        ("rotate.yml", "rotate", "stacks"),
        ("deploy.yml", "team", "teams"),
    ):
        _fleet_matrix(_load(name), job, key)
        used = set(re.findall(r"matrix\.(\w+)", (WORKFLOWS / name).read_text()))
        assert used, name
        assert used <= set(output[key][0]), f"{name} reads {used - set(output[key][0])}"


def test_the_listing_pairs_each_teams_stacks_and_refuses_a_stray_stack_file(
    tmp_path: Path,
) -> None:
    for stack in ("np", "prod", "np-payments", "prod-payments", "np-search", "prod-video"):
        (tmp_path / f"Pulumi.{stack}.yaml").write_text("config: {}\n")
    (tmp_path / "Pulumi.yaml").write_text("name: lkps-onboarding\n")
    fleet = stacks(tmp_path)
    assert [s.stack for s in fleet] == [
        "np",
        "np-payments",
        "np-search",
        "prod",
        "prod-payments",
        "prod-video",
    ]
    assert FleetStack("np-payments", "np", "payments") in fleet
    assert teams(fleet) == [
        Team("", "np", "prod"),
        Team("payments", "np-payments", "prod-payments"),
        Team("search", "np-search", ""),
        Team("video", "", "prod-video"),
    ]
    assert _fleet_output(tmp_path)["teams"][1] == {
        "team": "payments",
        "np": "np-payments",
        "prod": "prod-payments",
    }
    for stray in ("staging", "np-", "prodx"):
        (tmp_path / f"Pulumi.{stray}.yaml").write_text("config: {}\n")
        with pytest.raises(FleetError, match=rf"Pulumi\.{stray}\.yaml: .* np, prod, np-<team>"):
            stacks(tmp_path)
        (tmp_path / f"Pulumi.{stray}.yaml").unlink()


def test_pull_requests_preview_every_stack_and_update_one_comment_each() -> None:
    workflow = _load("preview.yml")
    assert "pull_request" in workflow["on"]
    _fleet_matrix(workflow, "preview", "stacks")
    job = workflow["jobs"]["preview"]
    assert job["environment"] == "${{ matrix.environment }}-preview"
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


def test_merges_deploy_each_team_np_then_prod_behind_its_environment_one_run_per_stack() -> None:
    workflow = _load("deploy.yml")
    assert workflow["on"] == {"push": {"branches": ["main"]}}
    _fleet_matrix(workflow, "team", "teams")
    team = workflow["jobs"]["team"]
    assert team["uses"] == "./.github/workflows/deploy-team.yml"
    assert team["with"] == {"np": "${{ matrix.np }}", "prod": "${{ matrix.prod }}"}

    called = _load("deploy-team.yml")
    assert set(called["on"]["workflow_call"]["inputs"]) == {"np", "prod"}
    np, prod = called["jobs"]["np"], called["jobs"]["prod"]
    assert prod["needs"] == "np"
    assert "needs.np.result == 'success'" in prod["if"], "prod only after the team's np passed"
    assert "!cancelled()" in prod["if"]
    assert (np["environment"], prod["environment"]) == ("np", "prod")
    assert np["concurrency"] == {"group": "stack-${{ inputs.np }}", "cancel-in-progress": False}
    assert prod["concurrency"] == {
        "group": "stack-${{ inputs.prod }}",
        "cancel-in-progress": False,
    }
    for job, stack in ((np, "inputs.np"), (prod, "inputs.prod")):
        (up,) = [s for s in job["steps"] if "scripts/stack up" in s.get("run", "")]
        assert up["env"]["STACK"] == f"${{{{ {stack} }}}}"
        assert up["run"].startswith('scripts/stack up "$STACK"')


def test_a_daily_run_rotates_every_stack_and_reports_failure_in_an_issue() -> None:
    workflow = _load("rotate.yml")
    (schedule,) = workflow["on"]["schedule"]
    minute, hour, *rest = schedule["cron"].split()
    assert minute.isdigit()
    assert hour.isdigit()
    assert rest == ["*", "*", "*"], "daily"
    _fleet_matrix(workflow, "rotate", "stacks")
    job = workflow["jobs"]["rotate"]
    assert job["environment"] == "${{ matrix.environment }}-rotation"
    assert job["concurrency"] == {
        "group": "stack-${{ matrix.stack }}",
        "cancel-in-progress": False,
    }, "the deploy workflow's group for the same stack: one run per stack"
    assert job["permissions"]["issues"] == "write"
    report = job["steps"][-1]
    assert report["if"] == "failure()"
    assert "issues.create" in report["with"]["script"]
    assert "createComment" in report["with"]["script"]


def test_only_the_jobs_that_are_their_stacks_only_run_cancel_a_stale_lock() -> None:
    """--cancel-stale-lock is safe only where a concurrency group makes the job the stack's only
    run: every `up` of deploy and rotate, and no step of the pull-request preview."""
    for name in ("deploy-team.yml", "rotate.yml"):
        for job in _load(name)["jobs"].values():
            ups = [s["run"] for s in job.get("steps", []) if "scripts/stack up" in s.get("run", "")]
            if not _signs_in(job):
                assert not ups
                continue
            assert str(job["concurrency"]["group"]).startswith("stack-")
            assert ups, f"{name} runs no up"
            assert all("--cancel-stale-lock" in run for run in ups), ups
    preview = (ROOT / ".github" / "workflows" / "preview.yml").read_text()
    assert "--cancel-stale-lock" not in preview


def test_every_up_and_review_of_the_workflows_refreshes_first() -> None:
    """Hand deletions and portal edits heal instead of failing the run, and the Application's
    update writes the team's settings back as they are now, not as the last state had them."""
    for name in ("deploy-team.yml", "rotate.yml", "preview.yml"):
        runs = [
            line.strip()
            for job in _load(name)["jobs"].values()
            for step in job.get("steps", [])
            for line in step.get("run", "").splitlines()
            if line.strip().startswith(("scripts/stack up", "scripts/stack review"))
        ]
        assert runs, f"{name} runs no up or review"
        assert all("--refresh" in run and "--no-refresh" not in run for run in runs), runs


@pytest.mark.parametrize(
    ("stack", "counterpart"),
    [("np", "prod"), ("prod", "np"), ("np-payments", "prod-payments"), ("prod-a-b", "np-a-b")],
)
def test_each_teams_stacks_are_each_others_counterpart(stack: str, counterpart: str) -> None:
    """The separate-registrations check of `verify` reads the same team's other stack."""
    assert rules.counterpart_stack(stack) == counterpart
    assert rules.counterpart_stack(counterpart) == stack


def test_a_stack_of_no_environment_has_no_counterpart() -> None:
    with pytest.raises(ValueError, match="'staging' is not np, prod, np-<team> or prod-<team>"):
        rules.counterpart_stack("staging")
