"""The Entra emulator's state on disk: what a change writes, what a reopened store reads, and
what a process killed while saving leaves behind."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

from sandbox.entra_file import EntraFile
from sandbox.entra_store import EntraStore, Principal
from stack_command.engine import ROOT
from tests.sandbox.conftest import RESOURCE_GROUP, SUBSCRIPTION, VAULT

PERSON = Principal("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "unused", "tenant")


def _filled(path: Path, apps: int) -> EntraStore:
    store = EntraStore(path)
    store.ensure_deployer("tenant", PERSON.object_id)
    store.grant(PERSON.object_id, app_roles=["Application.ReadWrite.OwnedBy"])
    store.ensure_vault(SUBSCRIPTION, RESOURCE_GROUP, VAULT)
    for index in range(apps):
        app = store.create_application({"displayName": f"APP-{index:03d}"}, PERSON)
        store.create_service_principal({"appId": app["appId"]}, PERSON)
        password = store.add_password(app["id"], {"displayName": "slot a"})
        store.set_secret(VAULT, f"app-{index:03d}", {"value": password["secretText"]})
    return store


def test_a_reopened_store_reads_what_every_change_saved(tmp_path: Path) -> None:
    store = _filled(tmp_path / "entra.sqlite", apps=3)
    (first, *_) = store.list_objects("applications", None, None)
    store.delete_object("applications", first["id"])
    store.delete_secret(VAULT, "app-001")
    store.revoke(PERSON.object_id, "Application.ReadWrite.OwnedBy")

    again = EntraStore(tmp_path / "entra.sqlite")
    assert again.data == store.data
    assert [entry["op"] for entry in again.journal()] == [e["op"] for e in store.journal()]
    assert again.list_deleted_secrets(VAULT)[0]["id"].endswith("/app-001")


def test_a_sandbox_saved_as_json_is_read_once_and_kept_here(tmp_path: Path) -> None:
    before = _filled(tmp_path / "old.sqlite", apps=2).data
    (tmp_path / "entra.json").write_text(json.dumps(before))

    assert EntraStore(tmp_path / "entra.sqlite").data == before
    assert not (tmp_path / "entra.json").exists()
    assert (tmp_path / "entra.json.migrated").exists()
    assert EntraStore(tmp_path / "entra.sqlite").data == before


def test_one_change_writes_its_own_rows_not_the_whole_store(tmp_path: Path) -> None:
    store = _filled(tmp_path / "entra.sqlite", apps=40)
    on_disk = EntraFile(tmp_path / "entra.sqlite")
    on_disk.load()
    app = store.list_objects("applications", None, None)[7]

    store.update_object("applications", app["id"], {"notes": "edited"})
    # The application's row and one journal entry at most, of 40 apps' worth of rows.
    assert on_disk.save(store.data) <= 2
    store.set_secret(VAULT, "app-007", {"value": "another value"})
    assert on_disk.save(store.data) == 2  # that secret's versions, and the journal entry
    assert on_disk.save(store.data) == 0


def test_federated_credentials_outlive_a_reopen_in_their_applications_row(tmp_path: Path) -> None:
    store = _filled(tmp_path / "entra.sqlite", apps=2)
    first, second = store.list_objects("applications", None, None)
    credential = {
        "name": "github-np",
        "issuer": "https://token.actions.githubusercontent.com",
        "subject": "repo:org/repo:environment:np",
        "audiences": ["api://AzureADTokenExchange"],
    }
    made = store.add_federated_credential(first["id"], credential)
    kept = store.add_federated_credential(
        first["id"], {**credential, "name": "kept", "subject": "s"}
    )
    store.update_federated_credential(first["id"], "github-np", {"description": "CI"})
    store.remove_federated_credential(first["id"], kept["id"])

    again = EntraStore(tmp_path / "entra.sqlite")
    assert again.data == store.data
    assert again.federated_credentials(first["id"]) == [{**made, "description": "CI"}]
    assert again.federated_credentials(second["id"]) == []
    assert [e["op"] for e in again.journal() if "credentialId" in e] == [
        "addFederatedIdentityCredential",
        "addFederatedIdentityCredential",
        "updateFederatedIdentityCredential",
        "removeFederatedIdentityCredential",
    ]
    # A credential is part of its application's row: adding one writes that row and one
    # journal entry.
    on_disk = EntraFile(tmp_path / "entra.sqlite")
    on_disk.load()
    store.add_federated_credential(second["id"], {**credential, "name": "other"})
    assert on_disk.save(store.data) == 2


_WRITER = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from sandbox.entra_file import EntraFile

    file = EntraFile(Path(sys.argv[1]))
    data = file.load()
    data["vaults"]["v"] = {"secrets": {}, "deleted": {}}
    generation = 0
    while True:
        generation += 1
        data["deployer"] = {"generation": generation}
        data["vaults"]["v"]["secrets"][f"s{generation % 7}"] = [{"generation": generation}]
        data.setdefault("journal", []).append({"op": "save", "generation": generation})
        file.save(data)
        if generation == 20:
            print("saving", flush=True)
    """
)


def test_a_process_killed_while_saving_leaves_its_last_whole_save(tmp_path: Path) -> None:
    path = tmp_path / "entra.sqlite"
    for wait in (0.05, 0.3):
        writer = subprocess.Popen(  # noqa: S603 - this interpreter, a script of the test's own
            [sys.executable, "-c", _WRITER, str(path)],
            cwd=ROOT,
            env={**os.environ, "PYTHONPATH": str(ROOT)},
            stdout=subprocess.PIPE,
            text=True,
        )
        assert writer.stdout is not None
        assert writer.stdout.readline() == "saving\n"
        time.sleep(wait)
        writer.send_signal(signal.SIGKILL)
        writer.wait(timeout=30)
        writer.stdout.close()

        data = EntraFile(path).load()
        generation = data["deployer"]["generation"]
        assert generation > 20
        last = data["journal"][-1]
        assert last == {"op": "save", "generation": generation}
        newest = max(v[0]["generation"] for v in data["vaults"]["v"]["secrets"].values())
        assert newest == generation, "a save was cut in half"
