"""The whole program through the real engine against the sandbox, as `scripts/stack --sandbox`
runs it, with known canary values for every client secret and token the sandbox hands out."""

from __future__ import annotations

import atexit
import itertools
import json
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Final

import yaml
from pulumi import automation as auto

from lkps import rules, switches
from program import run
from sandbox.entra_store import EntraStore
from sandbox.session import (
    NAMESPACE,
    Sandbox,
    SandboxFolder,
    federated_issuers,
    lay_work_dir,
    running,
    stack_config,
)
from sandbox.tokens import TOKEN_PREFIX
from stack_command.engine import ROOT, open_stack, policy_options, workspace_env

CANARY_SECRET = "CANARY-sandbox-client-secret"
# The first characters of every access token the sandbox issues (see `sandbox.tokens`).
CANARY_TOKEN = TOKEN_PREFIX


def _canaries(prefix: str, width: int) -> Callable[[], str]:
    counter = itertools.count(1)
    return lambda: f"{prefix}-{next(counter):06d}".ljust(width, "x")


# One sequence per test process: a sandbox copied from a deployed one never repeats its values.
_SECRETS: Final = _canaries(CANARY_SECRET, 40)


@dataclass
class Session:
    """One command's worth of sandbox: the emulators are up while the block runs."""

    stack: auto.Stack
    sandbox: Sandbox
    project: Path
    environment: str
    outputs: list[str] = field(default_factory=list)

    def _program(self, today: date | None, break_glass: str | None = None) -> Callable[[], None]:
        """The program on `today`; the policy pack gets the same date, as from `--today`."""
        env = self.stack.workspace.env_vars
        assert isinstance(env, dict)
        env.pop(switches.SIMULATED_DATE, None)
        env.update(switches.simulated_date_env(today))

        def program() -> None:
            run(today=today, break_glass=break_glass)

        return program

    def preview(
        self, today: date | None = None, break_glass: str | None = None, **options: Any
    ) -> auto.PreviewResult:
        policies = policy_options(self.environment)
        return self.stack.preview(
            program=self._program(today, break_glass),
            on_output=self.outputs.append,
            policy_packs=policies["policy_packs"],
            policy_pack_configs=policies["policy_pack_configs"],
            **options,
        )

    def up(
        self, today: date | None = None, break_glass: str | None = None, **options: Any
    ) -> auto.UpResult:
        policies = policy_options(self.environment)
        return self.stack.up(
            program=self._program(today, break_glass),
            on_output=self.outputs.append,
            show_secrets=False,
            policy_packs=policies["policy_packs"],
            policy_pack_configs=policies["policy_pack_configs"],
            **options,
        )

    def refresh(self, today: date | None = None, **options: Any) -> auto.RefreshResult:
        return self.stack.refresh(
            program=self._program(today),
            on_output=self.outputs.append,
            show_secrets=False,
            **options,
        )

    def destroy(self, **options: Any) -> auto.DestroyResult:
        return self.stack.destroy(on_output=self.outputs.append, show_secrets=False, **options)

    def edit_config(self, edit: Callable[[dict[str, Any]], None]) -> None:
        """Changes the stack file of the project, as a pull request would; the sandbox then
        stands in for the issuers it names, as the next command's sandbox would."""
        edit_stack_file(self.project, self.stack.name, edit)
        lay_work_dir(self.project, self.sandbox.folder.work_dir, self.stack.name)
        if self.sandbox.workload_issuer is not None:
            config = stack_config(self.project, self.stack.name)
            for issuer in federated_issuers(config):
                self.sandbox.workload_issuer.stand_in(issuer)

    def export_without_secrets(self) -> str:
        """`pulumi stack export` as a person runs it (the Automation API adds --show-secrets)."""
        env = {**os.environ, **self.sandbox.env}
        return subprocess.run(  # noqa: S603 - the CLI the test command put on PATH
            [shutil.which("pulumi") or "pulumi", "stack", "export", "--stack", self.stack.name],
            cwd=self.sandbox.folder.work_dir,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    def state_text(self) -> str:
        return "\n".join(p.read_text() for p in self.sandbox.folder.backend.rglob("*.json"))

    def deployment(self) -> list[dict[str, Any]]:
        (state_file,) = self.sandbox.folder.backend.rglob(f"stacks/*/{self.stack.name}.json")
        resources: list[dict[str, Any]] = json.loads(state_file.read_text())["checkpoint"][
            "latest"
        ]["resources"]
        return resources


def applications(store: EntraStore) -> dict[str, dict[str, Any]]:
    """The sandbox's app registrations by display name."""
    return {app["displayName"]: app for app in store.list_objects("applications", None, None)}


def assert_vault_publishes_live_secrets(store: EntraStore, hand_made: int = 0) -> None:
    (vault_name,) = store.data["vaults"]
    for name, app in applications(store).items():
        secret = store.get_secret(vault_name, rules.vault_secret_name(name))["value"]
        assert store.live_credential(app["appId"], secret), f"{name}: vault holds a dead secret"
        passwords = len(app["passwordCredentials"])
        assert passwords <= 2 + hand_made, f"{name}: more than two passwords of the stack's"


def assert_journal_is_safe(store: EntraStore) -> None:
    """At no step was a password deleted while a vault published it, nor were there three."""
    journal = store.journal()
    assert journal, "the sandbox recorded no operation"
    for entry in journal:
        if entry["op"] == "removePassword":
            assert entry["publishedIn"] == [], f"deleted while published: {entry}"
        if entry["op"] in ("addPassword", "removePassword"):
            assert entry["passwords"] <= 2, f"three passwords at once: {entry}"
        if entry["op"] == "setSecret":
            assert entry["keyId"] is not None, f"the vault got a value no password has: {entry}"


def edit_stack_file(project: Path, stack: str, edit: Callable[[dict[str, Any]], None]) -> None:
    path = project / f"Pulumi.{stack}.yaml"
    document = yaml.safe_load(path.read_text())
    config = {key.removeprefix(f"{NAMESPACE}:"): value for key, value in document["config"].items()}
    edit(config)
    document["config"] = {f"{NAMESPACE}:{key}": value for key, value in config.items()}
    path.write_text(yaml.safe_dump(document, sort_keys=False))


@dataclass
class SandboxProject:
    """A copy of the project's stack files and a sandbox folder, both in a temp dir."""

    root: Path

    def __post_init__(self) -> None:
        self.project = self.root / "project"
        self.project.mkdir(parents=True, exist_ok=True)
        for name in ("Pulumi.yaml", "Pulumi.np.yaml", "Pulumi.prod.yaml"):
            shutil.copyfile(ROOT / name, self.project / name)
        self.secrets = _SECRETS

    @contextmanager
    def session(
        self,
        stack: str,
        approval_routes: frozenset[str] = frozenset(),
        identity: str | None = None,
    ) -> Iterator[Session]:
        """The sandbox of `stack`, running as its pinned deployer or as `identity`."""
        folder = SandboxFolder(self.root / "sandbox" / stack, stack)
        with running(
            folder,
            self.project,
            secret_text=self.secrets,
            approval_routes=approval_routes,
            identity=identity,
        ) as sandbox:
            yield self._session(sandbox)

    @contextmanager
    def deployed(self, stack: str, today: date | None = None) -> Iterator[Session]:
        """The sandbox of `stack` as one `up` of its committed config on `today` leaves it,
        without running that `up` again: a copy of the folder (state, directory and vault,
        Ocelot, passphrase, certificate), see `copy_deployed`."""
        copy_deployed(stack, self.root / "sandbox" / stack, today)
        with self.session(stack) as session:
            yield session

    @contextmanager
    def session_beside(self, first: Session, stack: str) -> Iterator[Session]:
        """Another stack of the same tenant and Ocelot as `first`'s (two team stacks of one
        environment, as in Azure): its own state, home and work dir, `first`'s emulators."""
        folder = SandboxFolder(self.root / "sandbox" / stack, stack)
        shutil.copytree(first.sandbox.folder.path / "tls", folder.path / "tls", dirs_exist_ok=True)
        folder.prepare(self.project)
        sandbox = Sandbox(folder, first.sandbox.entra, first.sandbox.ocelot)
        yield self._session(sandbox)

    def _session(self, sandbox: Sandbox) -> Session:
        folder = sandbox.folder
        engine = open_stack(
            folder.stack,
            lambda: None,
            folder.work_dir,
            {**workspace_env(), **sandbox.env},
            pulumi_home=folder.pulumi_home,
            secrets_provider="passphrase",
        )
        return Session(engine, sandbox, self.project, folder.stack.split("-", 1)[0])


_DEPLOYED: dict[tuple[str, date], Path] = {}


def copy_deployed(stack: str, destination: Path, today: date | None = None) -> None:
    """Copies to `destination` the sandbox folder of `stack` as one `up` of its committed
    config on `today` (the real date when not given) leaves it. That folder is made on first
    use in this process and removed when the process ends."""
    day = today or datetime.now(UTC).date()
    shutil.copytree(_deployed_folder(stack, day), destination, symlinks=True)


def _deployed_folder(stack: str, day: date) -> Path:
    if (stack, day) not in _DEPLOYED:
        root = Path(tempfile.mkdtemp(prefix=f"lkps-deployed-{stack}-"))
        atexit.register(shutil.rmtree, root, ignore_errors=True)
        template = SandboxProject(root)
        with template.session(stack) as session:
            session.up(today=day)
        _DEPLOYED[stack, day] = root / "sandbox" / stack
    return _DEPLOYED[stack, day]


def changes(result: auto.UpResult | auto.RefreshResult | auto.DestroyResult) -> dict[str, int]:
    summary = result.summary
    assert summary.resource_changes is not None
    return {str(op): count for op, count in summary.resource_changes.items()}


def preview_changes(result: auto.PreviewResult) -> dict[str, int]:
    return {str(op): count for op, count in result.change_summary.items()}
