"""`scripts/stack` as a person runs it: a process, its output and its exit code."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import jsonschema
import pytest

from lkps import switches
from lkps.rights import RIGHTS
from lkps.rotation import RotationPolicy
from sandbox.entra_store import EntraStore
from sandbox.session import BANNER, stack_config
from stack_command.cli import main
from stack_command.engine import ROOT
from stack_command.verify.model import SEPARATE
from tests.support.sandbox_harness import copy_deployed

pytestmark = pytest.mark.engine


def _stack(sandbox_root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(  # noqa: S603 - this interpreter, the project's own module
        [sys.executable, "-m", "stack_command", *args],
        cwd=ROOT,
        env={**os.environ, switches.SANDBOX_ROOT: str(sandbox_root)},
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


def test_the_sandbox_run_of_the_main_job_and_its_exit_codes(
    pulumi_cli: str, tmp_path: Path
) -> None:
    del pulumi_cli
    up = _stack(tmp_path, "up", "np", "--sandbox")
    assert up.returncode == 0, up.stderr
    lines = up.stdout.strip().splitlines()
    assert lines[0] == BANNER
    assert lines[-1].startswith(BANNER)
    assert "sandbox: started in" in up.stderr
    assert "Updating (np):" in up.stdout
    assert "+ 29 created" in up.stdout
    assert "✅ lkps-onboarding@v0.0.1" in up.stdout
    assert (tmp_path / "np" / "entra.sqlite").is_file()

    again = _stack(tmp_path, "preview", "np", "--sandbox", "--expect-no-changes", "--diff")
    assert again.returncode == 0, again.stderr
    assert "29 unchanged" in again.stdout

    checked = _stack(tmp_path, "verify", "np", "--sandbox", "--json")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    report = json.loads(checked.stdout)
    jsonschema.validate(
        report, json.loads((ROOT / "stack_command" / "verify" / "report.schema.json").read_text())
    )
    assert report["ok"] is True
    assert report["counts"]["fail"] == 0
    assert [app["displayName"] for app in report["applications"]] == [
        "MY-LIVEKIT-AGENT-NP",
        "MY-LIVEKIT-CLIENT-NP",
    ]
    separate = [
        f for app in report["applications"] for f in app["findings"] if f["item"] == SEPARATE
    ]
    assert {f["status"] for f in separate} == {"manual"}, "prod is not up yet"
    assert _stack(tmp_path, "up", "prod", "--sandbox").returncode == 0
    both = json.loads(_stack(tmp_path, "verify", "np", "--sandbox", "--json").stdout)
    separate = [f for app in both["applications"] for f in app["findings"] if f["item"] == SEPARATE]
    assert [f["status"] for f in separate] == ["pass", "pass"], separate

    text = _stack(tmp_path, "verify", "np", "--sandbox", "--app", "MY-LIVEKIT-CLIENT")
    assert text.returncode == 0, text.stdout + text.stderr
    assert "MY-LIVEKIT-CLIENT-NP  client ID" in text.stdout
    assert "every automated item passes" in text.stdout

    rotation = RotationPolicy(30, 90).plan(datetime.now(UTC).date()).next_rotation
    changed = _stack(
        tmp_path,
        "preview",
        "np",
        "--sandbox",
        "--expect-no-changes",
        "--today",
        rotation.isoformat(),
    )
    assert changed.returncode == 1
    assert "+-2 to replace" in changed.stdout
    # The CLI names the reason on stderr, or the stack command does when the CLI says nothing.
    assert "stack: preview of np failed: " in changed.stderr
    assert (
        "no changes were expected for preview but changes were proposed" in changed.stderr
        or "the engine found changes, and --expect-no-changes was given" in changed.stderr
    )

    reset = _stack(tmp_path, "reset", "np", "--sandbox")
    assert reset.returncode == 0
    assert not (tmp_path / "np").exists()


def test_the_rotation_workflows_command_heals_a_service_principal_deleted_by_hand(
    pulumi_cli: str, tmp_path: Path
) -> None:
    """As `rotate.yml` runs it (`up --refresh --cancel-stale-lock`) on a rotation day, after
    someone deleted the client's service principal in the portal. Without the refresh the run
    succeeds, as on Azure, and leaves the client unable to get a token for LKPS."""
    del pulumi_cli
    copy_deployed("np", tmp_path / "np")
    client = "MY-LIVEKIT-CLIENT-NP"
    store = EntraStore(tmp_path / "np" / "entra.sqlite")
    (app,) = store.list_objects("applications", "displayName", client)
    (sp,) = store.list_objects("servicePrincipals", "appId", app["appId"])
    store.delete_object("servicePrincipals", sp["id"])
    day = RotationPolicy(30, 90).plan(datetime.now(UTC).date()).next_rotation.isoformat()

    stale = _stack(tmp_path, "up", "np", "--sandbox", "--no-refresh", "--today", day)
    assert stale.returncode == 0, stale.stdout + stale.stderr
    assert not EntraStore(tmp_path / "np" / "entra.sqlite").list_objects(
        "servicePrincipals", "appId", app["appId"]
    )
    broken = _stack(
        tmp_path, "verify", "np", "--sandbox", "--app", "MY-LIVEKIT-CLIENT", "--token", "--json"
    )
    assert broken.returncode != 0
    assert "7000229" in broken.stdout, broken.stdout

    healed = _stack(
        tmp_path, "up", "np", "--sandbox", "--refresh", "--cancel-stale-lock", "--today", day
    )
    assert healed.returncode == 0, healed.stdout + healed.stderr
    (again,) = EntraStore(tmp_path / "np" / "entra.sqlite").list_objects(
        "servicePrincipals", "appId", app["appId"]
    )
    assert again["id"] != sp["id"]
    checked = _stack(
        tmp_path, "verify", "np", "--sandbox", "--app", "MY-LIVEKIT-CLIENT", "--token", "--json"
    )
    assert checked.returncode == 0, checked.stdout + checked.stderr


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["up", "np", "--sandbox", "--bogus"], "unrecognized arguments: --bogus"),
        (["up", "np", "--today", "2026-12-27"], "outside the sandbox it is for previews only"),
        (["reset", "np"], "use `reset <stack> --sandbox`"),
        (["up", "dev", "--sandbox"], "must be np, prod, np-<suffix> or prod-<suffix>"),
        (["up", "np-other", "--sandbox"], "there is no Pulumi.np-other.yaml"),
        (["up", "np", "--sandbox", "--json"], "unrecognized arguments: --json"),
    ],
)
def test_a_wrong_command_line_says_what_is_allowed(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        main(argv)
    assert exited.value.code == 2
    assert message in capsys.readouterr().err


def test_the_rights_check_names_each_missing_right_and_what_needs_it(
    pulumi_cli: str, tmp_path: Path
) -> None:
    del pulumi_cli
    granted = _stack(tmp_path, "rights", "np", "--sandbox")
    assert granted.returncode == 0, granted.stdout + granted.stderr
    for right in RIGHTS:
        assert right.name in granted.stdout
    assert "All rights present." in granted.stdout

    store = EntraStore(tmp_path / "np" / "entra.sqlite")
    deployer = stack_config(ROOT, "np")["deployerObjectId"]
    store.revoke(deployer, "Microsoft.KeyVault/vaults/secrets/write")
    store.revoke(deployer, "Application.ReadWrite.OwnedBy")
    missing = _stack(tmp_path, "rights", "np", "--sandbox")
    assert missing.returncode == 1
    lines = [line for line in missing.stdout.splitlines() if "MISSING" in line]
    assert len(lines) == 2, missing.stdout
    assert "Microsoft.KeyVault/vaults/secrets/write" in lines[1]
    assert "azure-native writes the vault secret with an ARM PUT" in lines[1]
    assert "Application.ReadWrite.OwnedBy" in lines[0]
    assert "2 right(s) missing or unknown." in missing.stdout


def test_a_client_secret_cannot_be_replaced_by_hand(tmp_path: Path) -> None:
    urn = (
        "urn:pulumi:np::lkps-onboarding::lkps:onboarding:Environment$"
        "azuread:index/applicationPassword:ApplicationPassword::lkps-x-np-secret-a"
    )
    refused = _stack(tmp_path, "up", "np", "--sandbox", "--replace", urn)
    assert refused.returncode == 2
    assert "emergencyRotation" in refused.stderr
    assert "Traceback" not in refused.stderr


def test_review_as_a_process_writes_the_report_and_exits_by_what_it_found(
    pulumi_cli: str, tmp_path: Path
) -> None:
    del pulumi_cli
    report = tmp_path / "review.md"
    new = _stack(tmp_path, "review", "np", "--sandbox", "--output", str(report))
    assert new.returncode == 0, new.stdout + new.stderr
    assert report.read_text().startswith("<!-- lkps-onboarding-review:np -->")
    assert "✅ routine changes only" in report.read_text()
    assert "Previewing update (np):" in new.stderr, "the engine's output goes to the log"
    prod = _stack(tmp_path, "review", "prod", "--sandbox")
    assert prod.returncode == 3, prod.stdout + prod.stderr
    assert "this changes prod" in prod.stdout
