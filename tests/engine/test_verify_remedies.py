"""Every remedy `verify` prints repairs what it found: break states by hand in the sandbox, run
`verify`, run each remedy as printed (or do what it tells a person to do), and verify again.

The commands run in a copy of the project, so that a remedy that edits a stack file edits the
copy; `scripts/stack X` runs as `python -m stack_command X`, which is what the script execs.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from lkps import rules, switches
from sandbox.entra_store import EntraStore
from sandbox.ocelot.store import OcelotStore
from sandbox.session import NAMESPACE
from stack_command.engine import ROOT
from stack_command.verify import model
from tests.support.sandbox_harness import copy_deployed

pytestmark = pytest.mark.engine

SCHEMA = json.loads((ROOT / "stack_command" / "verify" / "report.schema.json").read_text())
AGENT, CLIENT = "MY-LIVEKIT-AGENT", "MY-LIVEKIT-CLIENT"
VAULT = "kv-lkps-apps-np"
NP_EU = rules.lkps_host("eu", "np")
NP_US = rules.lkps_host("us", "np")
HAND_OWNER = "00000000-0000-4000-8000-0000000000aa"
COMMAND = re.compile(r"`(scripts/stack [^`]+)`")
COPIED = (
    "Pulumi.yaml",
    "Pulumi.np.yaml",
    "Pulumi.prod.yaml",
    "__main__.py",
    "program.py",
    "pyproject.toml",
    "components",
    "lkps",
    "policies",
    "sandbox",
    "scripts",
    "stack_command",
)


@dataclass
class Sandbox:
    """A copy of the project whose np stack is up in its own sandbox folder."""

    project: Path
    root: Path

    def stack(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(  # noqa: S603 - this interpreter, the copy's own module
            [sys.executable, "-m", "stack_command", *args],
            cwd=self.project,
            env={**os.environ, switches.SANDBOX_ROOT: str(self.root)},
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )

    @property
    def entra(self) -> EntraStore:
        """The directory as the last command left it (a store reads its file once)."""
        return EntraStore(self.root / "np" / "entra.sqlite")

    def registration(self, name: str) -> dict[str, Any]:
        (found,) = self.entra.list_objects("applications", "displayName", f"{name}-NP")
        return found

    def edit_ocelot(self, edit: Callable[[OcelotStore], None]) -> None:
        path = self.root / "np" / "ocelot.json"
        store = OcelotStore.restore(json.loads(path.read_text()))
        edit(store)
        store.persist_to(path)

    def edit_config(self, edit: Callable[[dict[str, Any]], None]) -> None:
        path = self.project / "Pulumi.np.yaml"
        document = yaml.safe_load(path.read_text())
        config = {k.removeprefix(f"{NAMESPACE}:"): v for k, v in document["config"].items()}
        edit(config)
        document["config"] = {f"{NAMESPACE}:{k}": v for k, v in config.items()}
        path.write_text(yaml.safe_dump(document, sort_keys=False))

    def verify(self) -> dict[str, Any]:
        checked = self.stack("verify", "np", "--sandbox", "--json")
        assert checked.returncode in (0, 1), checked.stderr
        report: dict[str, Any] = json.loads(checked.stdout)
        jsonschema.validate(report, SCHEMA)
        assert (checked.returncode == 0) == report["ok"]
        return report


def _problems(report: dict[str, Any]) -> dict[tuple[str, str], dict[str, str]]:
    return {
        (app["name"], finding["item"]): finding
        for app in report["applications"]
        for finding in app["findings"]
        if finding["status"] in ("fail", "warn")
    }


@pytest.fixture
def onboarded(pulumi_cli: str, tmp_path: Path) -> Sandbox:
    del pulumi_cli
    project = tmp_path / "project"
    project.mkdir()
    for name in COPIED:
        source = ROOT / name
        if source.is_dir():
            shutil.copytree(source, project / name, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copyfile(source, project / name)
    (project / ".venv").symlink_to(ROOT / ".venv")
    sandbox = Sandbox(project, tmp_path / "sandbox")
    copy_deployed("np", sandbox.root / "np")
    assert _problems(sandbox.verify()) == {}
    return sandbox


def _run_remedies(sandbox: Sandbox, problems: dict[tuple[str, str], dict[str, str]]) -> None:
    """Each distinct command the remedies print, once, in the order they first appear."""
    commands = dict.fromkeys(
        command for finding in problems.values() for command in COMMAND.findall(finding["remedy"])
    )
    assert commands, "a remedy names a command"
    for command in commands:
        words = command.split()
        assert words[:2] == ["scripts/stack", "up"], command
        ran = sandbox.stack(*words[1:])
        assert ran.returncode == 0, ran.stdout + ran.stderr


def _assert_found(
    report: dict[str, Any], expected: dict[tuple[str, str], str]
) -> dict[tuple[str, str], dict[str, str]]:
    problems = _problems(report)
    assert set(problems) == set(expected), problems
    for key, words in expected.items():
        assert words in problems[key]["detail"], (key, problems[key])
        assert problems[key]["remedy"], key
    return problems


def test_portal_edits_the_next_up_repairs(onboarded: Sandbox) -> None:
    """An extra owner, a cleared BEAT ID, a disabled service principal, a pre-authorization
    without its permission, an Ocelot entry disabled in the UI."""
    sandbox = onboarded
    agent, client = sandbox.registration(AGENT), sandbox.registration(CLIENT)
    entra = sandbox.entra
    entra.add_owner("applications", agent["id"], HAND_OWNER)
    entra.update_object("applications", client["id"], {"serviceManagementReference": None})
    (principal,) = entra.list_objects("servicePrincipals", "appId", client["appId"])
    entra.update_object("servicePrincipals", principal["id"], {"accountEnabled": False})
    api = agent["api"]
    entra.update_object(
        "applications",
        agent["id"],
        {
            "api": {
                **api,
                "preAuthorizedApplications": [
                    {**p, "delegatedPermissionIds": []} for p in api["preAuthorizedApplications"]
                ],
            }
        },
    )

    def disable(store: OcelotStore) -> None:
        entries = store._routes[NP_EU].entries
        entries[agent["appId"]] = replace(entries[agent["appId"]], status="disabled")

    sandbox.edit_ocelot(disable)

    problems = _assert_found(
        sandbox.verify(),
        {
            (AGENT, model.REGISTRATION): f"owner(s) added by hand: {HAND_OWNER}",
            (CLIENT, model.BEAT): "records no BEAT ID",
            (CLIENT, model.REGISTRATION): "service principal is disabled",
            (AGENT, model.CLIENT_AUTHORIZATION): "pre-authorized without the access_as_client",
            (CLIENT, model.CLIENT_AUTHORIZATION): f"not pre-authorized by {AGENT}",
            (AGENT, f"{model.ROUTE_ACCESS} (eu)"): "the entry is 'disabled'",
        },
    )
    review = sandbox.stack("review", "np", "--sandbox")
    assert review.returncode in (0, 3), review.stderr
    for drift in (
        f"🔧 drift: owner {HAND_OWNER} was added by hand: this run repairs it",
        "🔧 drift: the BEAT ID was changed by hand to nothing: this run repairs it",
        "🔧 drift: the service principal was disabled by hand: this run repairs it",
        "🔧 drift: a pre-authorized client's permissions were changed by hand",
        f"🔧 drift: the entry on `{NP_EU}` is 'disabled' in Ocelot: this run repairs it",
    ):
        assert drift in review.stdout, review.stdout
    _run_remedies(sandbox, problems)
    assert _problems(sandbox.verify()) == {}
    assert HAND_OWNER not in sandbox.entra.get_object("applications", agent["id"])["owners"]


def test_removed_and_renamed_parts_the_next_up_restores(onboarded: Sandbox) -> None:
    """The agent's identifier URI removed and its vault secret disabled; the client renamed,
    opened to other tenants and its vault secret expired."""
    sandbox = onboarded
    agent, client = sandbox.registration(AGENT), sandbox.registration(CLIENT)
    entra = sandbox.entra
    entra.update_object("applications", agent["id"], {"identifierUris": []})
    entra.update_object(
        "applications",
        client["id"],
        {"displayName": "renamed-in-the-portal", "signInAudience": "AzureADMultipleOrgs"},
    )
    entra.update_secret(
        VAULT, "my-livekit-agent-np-client-secret", None, {"attributes": {"enabled": False}}
    )
    entra.update_secret(
        VAULT, "my-livekit-client-np-client-secret", None, {"attributes": {"exp": 1_000_000_000}}
    )

    problems = _assert_found(
        sandbox.verify(),
        {
            (AGENT, model.CLIENT_AUTHORIZATION): f"identifier URI api://{agent['appId']} is",
            (CLIENT, model.CLIENT_AUTHORIZATION): f"not pre-authorized by {AGENT} (identifier",
            (CLIENT, model.REGISTRATION): "display name is 'renamed-in-the-portal'",
            (AGENT, model.CLIENT_SECRET): "is disabled",
            (CLIENT, model.CLIENT_SECRET): "has expired",
        },
    )
    assert "not single tenant" in problems[(CLIENT, model.REGISTRATION)]["detail"]
    _run_remedies(sandbox, problems)
    assert _problems(sandbox.verify()) == {}


def test_what_the_stack_cannot_see_has_a_remedy_a_person_follows(onboarded: Sandbox) -> None:
    """A vault value that is a revoked credential, and the agent's scope disabled in the
    portal: no refresh sees either; verify says what to do instead."""
    sandbox = onboarded
    agent, client = sandbox.registration(AGENT), sandbox.registration(CLIENT)
    entra = sandbox.entra
    name = "my-livekit-client-np-client-secret"
    current = entra.get_secret(VAULT, name)
    old = entra.add_password(client["id"], {"displayName": "made in the portal"})
    entra.remove_password(client["id"], old["keyId"])
    entra.set_secret(VAULT, name, {**current, "value": old["secretText"]})
    scopes = agent["api"]["oauth2PermissionScopes"]
    entra.update_object(
        "applications",
        agent["id"],
        {"api": {"oauth2PermissionScopes": [{**s, "isEnabled": False} for s in scopes]}},
    )

    report = sandbox.verify()
    problems = _assert_found(
        report,
        {
            (CLIENT, model.CLIENT_SECRET): "its value is another secret",
            (AGENT, model.CLIENT_AUTHORIZATION): "access_as_client scope is disabled",
            (CLIENT, model.CLIENT_AUTHORIZATION): "access_as_client scope is disabled",
        },
    )
    assert old["secretText"][:3] not in json.dumps(report), "no character of a secret"
    today = datetime.now(UTC).date().isoformat()
    rotation = problems[(CLIENT, model.CLIENT_SECRET)]["remedy"]
    assert f"set emergencyRotation: {today}" in rotation
    assert "Pulumi.np.yaml" in rotation

    scope = problems[(AGENT, model.CLIENT_AUTHORIZATION)]["remedy"]
    assert "Expose an API > access_as_client > Edit > State: Enabled" in scope
    assert problems[(CLIENT, model.CLIENT_AUTHORIZATION)]["remedy"] == scope
    # What the Entra admin center does: the application's scopes, the one enabled again.
    sandbox.entra.update_object(
        "applications",
        agent["id"],
        {"api": {"oauth2PermissionScopes": [{**s, "isEnabled": True} for s in scopes]}},
    )

    def emergency(config: dict[str, Any]) -> None:
        (app,) = [a for a in config["applications"] if a["name"] == CLIENT]
        app["emergencyRotation"] = today

    sandbox.edit_config(emergency)
    _run_remedies(sandbox, {(CLIENT, model.CLIENT_SECRET): problems[(CLIENT, model.CLIENT_SECRET)]})
    assert _problems(sandbox.verify()) == {}
    live = {p["keyId"] for p in sandbox.registration(CLIENT)["passwordCredentials"]}
    assert current["tags"]["keyId"] not in live, "the emergency revoked the older secret"


def test_deletions_in_entra_and_ocelot_the_next_up_makes_again(onboarded: Sandbox) -> None:
    """A configured owner removed, the pre-authorization removed, the client's service
    principal deleted, an Ocelot entry removed and another's BEAT ID edited in the UI."""
    sandbox = onboarded
    agent, client = sandbox.registration(AGENT), sandbox.registration(CLIENT)
    entra = sandbox.entra
    owner = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
    entra.remove_owner("applications", agent["id"], owner)
    entra.update_object(
        "applications", agent["id"], {"api": {**agent["api"], "preAuthorizedApplications": []}}
    )
    (principal,) = entra.list_objects("servicePrincipals", "appId", client["appId"])
    entra.delete_object("servicePrincipals", principal["id"])

    def edit(store: OcelotStore) -> None:
        store.remove_out_of_band(NP_EU, client["appId"])
        store.put(NP_US, agent["appId"], "BEAT99999999", "edited in the UI", "someone@ui")

    sandbox.edit_ocelot(edit)

    problems = _assert_found(
        sandbox.verify(),
        {
            (AGENT, model.REGISTRATION): f"configured owner(s) {owner} are not owners",
            (AGENT, model.CLIENT_AUTHORIZATION): f"not pre-authorized: {CLIENT}",
            (CLIENT, model.CLIENT_AUTHORIZATION): f"not pre-authorized by {AGENT}",
            (CLIENT, model.REGISTRATION): "it has no service principal",
            (CLIENT, f"{model.ROUTE_ACCESS} (eu)"): f"is not on {NP_EU}",
            (AGENT, f"{model.ROUTE_ACCESS} (us)"): "the entry carries BEAT99999999",
        },
    )
    review = sandbox.stack("review", "np", "--sandbox")
    assert review.returncode in (0, 3), review.stderr
    for drift in (
        f"🔧 drift: owner {owner} was removed by hand: this run repairs it",
        "🔧 drift: a pre-authorized client was removed by hand: this run repairs it",
        "🔧 drift: the service principal was deleted by hand: this run repairs it",
        f"🔧 drift: the client was removed from `{NP_EU}` in the Ocelot UI: this run repairs it",
        f"🔧 drift: the entry on `{NP_US}` was given BEAT99999999 in the UI: this run repairs it",
    ):
        assert drift in review.stdout, review.stdout
    _run_remedies(sandbox, problems)
    assert _problems(sandbox.verify()) == {}


def test_a_registration_deleted_by_hand_is_made_again(onboarded: Sandbox) -> None:
    sandbox = onboarded
    client = sandbox.registration(CLIENT)
    sandbox.entra.delete_object("applications", client["id"])
    report = sandbox.verify()
    problems = _problems(report)
    assert "no app registration" in problems[(CLIENT, model.REGISTRATION)]["detail"]
    _run_remedies(sandbox, problems)
    assert _problems(sandbox.verify()) == {}
    assert sandbox.registration(CLIENT)["appId"] != client["appId"]
