"""Runs killed halfway, as a CI runner dies, then the workflow's own command run again.

Each run is `scripts/stack` as a process against the sandbox. The moment of each kill comes from
the emulators' saved state (the Entra journal, the Ocelot lists), never from a sleep. After each
kill, no process of the command is left; after each rerun, the stack is whole: the vault always
published a live credential, each app has at most two of the stack's credentials and every one
of them is held by a resource, other teams' Ocelot entries are untouched, no create is left
pending, and a plain preview shows no changes.
"""

from __future__ import annotations

import json
import os
import shlex
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import pytest
import yaml

from lkps import switches
from sandbox.entra_store import EntraStore
from sandbox.session import FOREIGN_CLIENT_ID
from stack_command.engine import ROOT
from stack_command.pending import held_key_ids
from tests.support.sandbox_harness import (
    applications,
    assert_vault_publishes_live_secrets,
    copy_deployed,
)

pytestmark = pytest.mark.engine

TODAY = datetime.now(UTC).date()
PERIOD = timedelta(days=30)  # the committed np schedule
SETTLE_SECONDS = 15.0


def workflow_arguments(workflow: str, stack: str) -> list[str]:
    """What the workflow's `up` step passes to scripts/stack for `stack`."""
    document = yaml.safe_load((ROOT / ".github" / "workflows" / workflow).read_text())
    for job in document["jobs"].values():
        for step in job.get("steps", []):
            command = str(step.get("run", ""))
            if command.startswith("scripts/stack up"):
                words = shlex.split(command.replace('"$STACK"', stack))
                if stack in words:
                    return words[1:]
    raise AssertionError(f"{workflow} has no `scripts/stack up` step for {stack}")


class Sandboxes:
    """`scripts/stack` as processes, with their sandboxes under one root."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.logs = root / "logs"
        self.logs.mkdir(parents=True)
        self._count = 0

    def folder(self, stack: str) -> Path:
        return self.root / stack

    def start(
        self, *args: str, env: dict[str, str] | None = None
    ) -> tuple[subprocess.Popen[str], Path]:
        self._count += 1
        log = self.logs / f"{self._count:02d}-{args[0]}-{args[1]}.log"
        out: TextIO = log.open("w")
        process = subprocess.Popen(  # noqa: S603 - this interpreter, the project's own module
            [sys.executable, "-m", "stack_command", *args],
            cwd=ROOT,
            env={**os.environ, switches.SANDBOX_ROOT: str(self.root), **(env or {})},
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,
        )
        out.close()
        return process, log

    def run(self, *args: str) -> tuple[int, str]:
        process, log = self.start(*args)
        code = process.wait(timeout=600)
        return code, log.read_text()

    def journal(self, stack: str) -> list[dict[str, Any]]:
        return EntraStore(self.folder(stack) / "entra.sqlite").journal()

    def our_ocelot_entries(self, stack: str) -> int:
        try:
            routes = json.loads((self.folder(stack) / "ocelot.json").read_text())
        except (FileNotFoundError, json.JSONDecodeError):
            return 0
        return sum(
            1
            for route in routes.values()
            for entry in route["clientAccessList"]
            if "managed by lkps-onboarding" in entry["description"]
        )

    def processes(self) -> list[str]:
        """Every live process started with this root in its environment (the command, its
        engine, the plugins)."""
        found = []
        marker = str(self.root).encode()
        for environ in Path("/proc").glob("[0-9]*/environ"):
            try:
                if marker not in environ.read_bytes():
                    continue
                stat = (environ.parent / "stat").read_text()
                command = (environ.parent / "cmdline").read_bytes().replace(b"\0", b" ")
            except OSError:
                continue
            if stat[stat.rfind(")") + 2 :].split()[0] != "Z":
                found.append(f"{environ.parent.name}: {command.decode(errors='replace')}")
        return found

    def assert_nothing_left_running(self) -> None:
        deadline = time.monotonic() + SETTLE_SECONDS
        while self.processes() and time.monotonic() < deadline:
            time.sleep(0.2)
        assert self.processes() == [], "processes of the interrupted command are still running"


def _engine_of(command: subprocess.Popen[str]) -> int | None:
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        parent = int(text[text.rfind(")") + 2 :].split()[1])
        if parent == command.pid and text[text.find("(") + 1 : text.rfind(")")] == "pulumi":
            return int(stat.parent.name)
    return None


def interrupt_when(
    process: subprocess.Popen[str], moment: Callable[[], bool], how: str = "kill group"
) -> None:
    """Interrupts the command as soon as `moment()` holds: SIGKILL of its process group (a
    runner that dies), SIGKILL of its engine alone, or SIGTERM of the command (a cancelled job)."""
    deadline = time.monotonic() + 300
    while process.poll() is None and time.monotonic() < deadline:
        if moment():
            if how == "kill group":
                os.killpg(process.pid, signal.SIGKILL)
            elif how == "kill engine":
                engine = _engine_of(process)
                assert engine is not None, "the command runs no engine"
                os.kill(engine, signal.SIGKILL)
            else:
                os.kill(process.pid, signal.SIGTERM)
            process.wait(timeout=120)
            return
        time.sleep(0.02)
    pytest.fail(f"the run ended (exit {process.poll()}) before the moment to interrupt it came")


def after(sandboxes: Sandboxes, stack: str, operation: str) -> Callable[[], bool]:
    """True once the emulator journals `operation` after now."""
    mark = len(sandboxes.journal(stack))
    return lambda: any(e["op"] == operation for e in sandboxes.journal(stack)[mark:])


def state_of(sandboxes: Sandboxes, stack: str) -> dict[str, Any]:
    (path,) = (sandboxes.folder(stack) / "state").rglob(f"stacks/*/{stack}.json")
    latest: dict[str, Any] = json.loads(path.read_text())["checkpoint"]["latest"]
    return latest


def assert_recovered(sandboxes: Sandboxes, stack: str, day: date, rerun: tuple[int, str]) -> None:
    code, output = rerun
    assert code == 0, output
    store = EntraStore(sandboxes.folder(stack) / "entra.sqlite")
    for entry in store.journal():
        if entry["op"] == "removePassword":
            assert entry["publishedIn"] == [], f"deleted while published: {entry}"
        if entry["op"] == "setSecret":
            assert entry["keyId"] is not None, f"the vault got a value no password has: {entry}"
    assert_vault_publishes_live_secrets(store)
    state = state_of(sandboxes, stack)
    assert not state.get("pending_operations"), state.get("pending_operations")
    held = held_key_ids(state)
    for name, app in applications(store).items():
        keys = {p["keyId"] for p in app["passwordCredentials"]}
        assert keys <= held, f"{name} has credentials no resource holds: {keys - held}"
    routes = json.loads((sandboxes.folder(stack) / "ocelot.json").read_text())
    for route_id, route in routes.items():
        foreign = [e for e in route["clientAccessList"] if e["clientId"] == FOREIGN_CLIENT_ID]
        assert [e["description"] for e in foreign] == ["added in the Ocelot UI"], route_id
    quiet = sandboxes.run(
        "preview", stack, "--sandbox", "--today", day.isoformat(), "--expect-no-changes"
    )
    assert quiet[0] == 0, quiet[1]


@pytest.fixture
def sandboxes(pulumi_cli: str, tmp_path: Path) -> Sandboxes:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return Sandboxes(tmp_path / "sandboxes")


def _workflow_up(workflow: str, stack: str) -> list[str]:
    """The workflow's `up` of `stack`, against the sandbox."""
    words = [*workflow_arguments(workflow, stack), "--sandbox"]
    assert "--cancel-stale-lock" in words
    return words


def test_a_first_deployment_killed_after_its_first_registration(sandboxes: Sandboxes) -> None:
    deploy_np = _workflow_up("deploy-team.yml", "np")
    process, _ = sandboxes.start(*deploy_np, "--today", TODAY.isoformat())
    interrupt_when(process, after(sandboxes, "np", "createApplication"))
    sandboxes.assert_nothing_left_running()
    made = [e for e in sandboxes.journal("np") if e["op"] == "createApplication"]
    assert made, "the kill came before any registration was made"
    assert_recovered(
        sandboxes, "np", TODAY, sandboxes.run(*deploy_np, "--today", TODAY.isoformat())
    )
    apps = applications(EntraStore(sandboxes.folder("np") / "entra.sqlite"))
    assert len(apps) == 2
    assert apps[made[0]["displayName"]]["appId"] == made[0]["appId"], (
        "the registration the killed run made was replaced, not taken over"
    )
    code, output = sandboxes.run("verify", "np", "--sandbox", "--json")
    assert code == 0, output
    assert "no resource holds" not in output


def test_rotation_days_killed_after_a_new_secret_then_after_its_publication(
    sandboxes: Sandboxes,
) -> None:
    copy_deployed("np", sandboxes.folder("np"), TODAY)
    rotate_np = _workflow_up("rotate.yml", "np")

    # A rotation day, killed once Graph has made the first new client secret.
    day = TODAY + PERIOD
    process, _ = sandboxes.start(*rotate_np, "--today", day.isoformat())
    interrupt_when(process, after(sandboxes, "np", "addPassword"))
    sandboxes.assert_nothing_left_running()
    code, output = sandboxes.run(*rotate_np, "--today", day.isoformat())
    assert "lock is stale: cancelling it" in output
    assert_recovered(sandboxes, "np", day, (code, output))

    # The next rotation day, killed once the vault publishes the first new secret.
    day += PERIOD
    process, _ = sandboxes.start(*rotate_np, "--today", day.isoformat())
    interrupt_when(process, after(sandboxes, "np", "setSecret"))
    sandboxes.assert_nothing_left_running()
    assert_recovered(sandboxes, "np", day, sandboxes.run(*rotate_np, "--today", day.isoformat()))


def test_a_killed_engine_a_cancelled_job_and_a_lock_left_behind(sandboxes: Sandboxes) -> None:
    copy_deployed("np", sandboxes.folder("np"), TODAY)
    rotate_np = _workflow_up("rotate.yml", "np")

    # Only the engine dies: the command says so, and what to run.
    day = TODAY + PERIOD
    process, log = sandboxes.start(*rotate_np, "--today", day.isoformat())
    interrupt_when(process, after(sandboxes, "np", "addPassword"), how="kill engine")
    assert process.returncode == 1
    assert "the Pulumi engine was killed (SIGKILL)" in log.read_text()
    assert "scripts/stack cancel np --sandbox" in log.read_text()
    sandboxes.assert_nothing_left_running()
    assert_recovered(sandboxes, "np", day, sandboxes.run(*rotate_np, "--today", day.isoformat()))

    # The job is cancelled (SIGTERM to the command): the engine stops cleanly, no lock left.
    # With the provider's wait for Graph after addPassword (1 s polls here, at least 5 s on
    # Azure) the signal lands, as it would on Azure, while that step is still in flight.
    day += PERIOD
    process, log = sandboxes.start(
        *rotate_np, "--today", day.isoformat(), env={switches.SANDBOX_CONSISTENCY_SECONDS: "1"}
    )
    interrupt_when(process, after(sandboxes, "np", "addPassword"), how="terminate")
    assert process.returncode == 128 + signal.SIGTERM, log.read_text()
    assert "interrupted by SIGTERM" in log.read_text()
    sandboxes.assert_nothing_left_running()
    assert not _locked(sandboxes, "np")
    plain_up = [word for word in rotate_np if word != "--cancel-stale-lock"]
    assert_recovered(sandboxes, "np", day, sandboxes.run(*plain_up, "--today", day.isoformat()))

    # Without the workflow's flag, a lock left behind stops the run and says how to go on.
    process, _ = sandboxes.start(*rotate_np, "--today", day.isoformat())
    interrupt_when(process, lambda: _engine_of(process) is not None and _locked(sandboxes, "np"))
    code, output = sandboxes.run(*plain_up, "--today", day.isoformat())
    assert code == 1
    assert "stack np is locked by" in output
    assert "scripts/stack cancel np --sandbox" in output
    assert sandboxes.run("cancel", "np", "--sandbox")[0] == 0
    assert_recovered(sandboxes, "np", day, sandboxes.run(*plain_up, "--today", day.isoformat()))


def test_prods_first_deployment_killed_during_its_ocelot_changes(sandboxes: Sandboxes) -> None:
    deploy_prod = _workflow_up("deploy-team.yml", "prod")
    process, _ = sandboxes.start(*deploy_prod, "--today", TODAY.isoformat())
    interrupt_when(process, lambda: sandboxes.our_ocelot_entries("prod") > 0)
    sandboxes.assert_nothing_left_running()
    assert_recovered(
        sandboxes, "prod", TODAY, sandboxes.run(*deploy_prod, "--today", TODAY.isoformat())
    )


def _locked(sandboxes: Sandboxes, stack: str) -> bool:
    return bool(list((sandboxes.folder(stack) / "state" / ".pulumi" / "locks").rglob("*.json")))
