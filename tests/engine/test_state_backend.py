"""Team state on Azure Blob Storage (Azurite): the stack lives in the container, a second
concurrent `up` of the stack fails fast on the lock and changes nothing, and the state survives
a restart of the storage."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from lkps import switches
from sandbox.entra_store import EntraStore
from stack_command.engine import ROOT
from tests.support.azurite import Azurite

pytestmark = pytest.mark.engine

STACK_BLOB = ".pulumi/stacks/lkps-onboarding/np.json"


@pytest.fixture
def azurite(pulumi_cli: str, tmp_path: Path) -> Iterator[Azurite]:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    storage = Azurite(tmp_path / "azurite")
    storage.start()
    storage.create_container()
    try:
        yield storage
    finally:
        storage.stop()


def _stack(sandbox_root: Path, azurite: Azurite, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(  # noqa: S603 - this interpreter, the project's own module
        [sys.executable, "-m", "stack_command", *args],
        cwd=ROOT,
        env={**os.environ, **azurite.env, switches.SANDBOX_ROOT: str(sandbox_root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )


def _run(sandbox_root: Path, azurite: Azurite, *args: str) -> tuple[int, str]:
    process = _stack(sandbox_root, azurite, *args)
    output, _ = process.communicate(timeout=300)
    return process.returncode, output


def _apps(sandbox_root: Path) -> list[str]:
    store = EntraStore(sandbox_root / "np" / "entra.sqlite")
    return sorted(a["displayName"] for a in store.list_objects("applications", None, None))


def test_the_stack_lives_in_the_container_and_survives_a_restart(
    azurite: Azurite, tmp_path: Path
) -> None:
    code, output = _run(tmp_path / "sandbox", azurite, "up", "np", "--sandbox")
    assert code == 0, output
    assert STACK_BLOB in azurite.blobs()
    assert not (tmp_path / "sandbox" / "np" / "state" / ".pulumi").exists(), "not in file://"
    with azurite.client() as client:
        blob = client.get_blob_client("pulumi-state", STACK_BLOB).download_blob().readall()
    resources = json.loads(blob)["checkpoint"]["latest"]["resources"]
    assert len(resources) == 29 + 2  # the program's resources and the two default providers

    azurite.stop()
    azurite.start()
    code, output = _run(
        tmp_path / "sandbox", azurite, "preview", "np", "--sandbox", "--expect-no-changes"
    )
    assert code == 0, output
    assert "29 unchanged" in output


def test_a_second_concurrent_up_fails_fast_on_the_lock_and_changes_nothing(
    azurite: Azurite, tmp_path: Path
) -> None:
    root = tmp_path / "sandbox"
    first = _stack(root, azurite, "up", "np", "--sandbox")
    deadline = time.monotonic() + 120
    while not any(name.startswith(".pulumi/locks/") for name in azurite.blobs()):
        assert first.poll() is None, "the first up ended before it took the lock"
        assert time.monotonic() < deadline, "the first up never took the lock"
        time.sleep(0.2)
    started = time.monotonic()
    code, second = _run(root, azurite, "up", "np", "--sandbox")
    waited = time.monotonic() - started
    first_output, _ = first.communicate(timeout=300)
    assert first.returncode == 0, first_output
    assert code == 1
    # The backend's lock, named with its owner (the engine's own wording is
    # "the stack is currently locked by 1 lock(s)").
    assert "stack: stack np is locked by " in second
    assert " since " in second
    assert "scripts/stack cancel np --sandbox" in second
    assert waited < 30, f"the second up took {waited:.0f} s to give up"
    assert _apps(root) == ["MY-LIVEKIT-AGENT-NP", "MY-LIVEKIT-CLIENT-NP"]
    history = [b for b in azurite.blobs() if b.startswith(".pulumi/history/")]
    assert len([b for b in history if b.endswith(".history.json")]) == 1
    assert not any(name.startswith(".pulumi/locks/") for name in azurite.blobs())


def test_a_team_backend_is_never_used_for_sandbox_stacks(tmp_path: Path) -> None:
    from sandbox.session import SandboxFolder, file_backend_url, sandbox_backend_url

    folder = SandboxFolder(tmp_path, "np")
    for url in ("azblob://state", "azblob://state?domain=corp.blob.core.windows.net"):
        os.environ["PULUMI_BACKEND_URL"] = url
        try:
            assert sandbox_backend_url(folder) == file_backend_url(folder.backend)
        finally:
            del os.environ["PULUMI_BACKEND_URL"]


def test_the_sandbox_state_survives_a_kill_in_the_middle_of_a_metadata_write(
    pulumi_cli: str, tmp_path: Path
) -> None:
    """fileblob writes its `.attrs` sidecar in place; a kill at the wrong moment leaves it empty
    and the backend then fails every load with "failed to load checkpoint: EOF". The sandbox
    writes none, and drops any an earlier sandbox left."""
    del pulumi_cli
    root = tmp_path / "sandboxes"

    def stack(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - this interpreter, the project's own module
            [sys.executable, "-m", "stack_command", *args, "np", "--sandbox"],
            cwd=ROOT,
            env={**os.environ, switches.SANDBOX_ROOT: str(root)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    up = stack("up")
    assert up.returncode == 0, up.stdout + up.stderr
    backend = root / "np" / "state"
    (checkpoint,) = backend.rglob("stacks/*/np.json")
    assert list(backend.rglob("*.attrs")) == []
    # What an engine killed inside fileblob's setAttrs leaves behind.
    checkpoint.with_name("np.json.attrs").write_text("")
    again = stack("preview")
    assert again.returncode == 0, again.stdout + again.stderr
    assert "failed to load checkpoint" not in again.stderr
    assert list(backend.rglob("*.attrs")) == []
