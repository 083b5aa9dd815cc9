"""One command's sandbox: its folder, its plugins, its emulators and the engine's environment.

Per stack, `.sandbox/<stack>/` holds the Entra and Key Vault state (`entra.sqlite`), the Ocelot
state (`ocelot.json`), the `file://` backend (`state/`), the engine's own `PULUMI_HOME` with the
stand-in plugins (`home/`), the stack's work dir (`work/`) and the state passphrase. Emulators run
in the command's process while it runs and stop with it; their state stays on disk.
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import stat
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Final, cast
from urllib.parse import parse_qs, urlsplit

import yaml

from lkps import rules, switches
from lkps.rights import RIGHTS
from sandbox import behaviours
from sandbox.entra import VAULT_PREFIX, EntraEmulator
from sandbox.entra_store import EntraStore, entra_secret_text
from sandbox.ocelot import OcelotEmulator, OcelotStore
from sandbox.standin.client import ENTRA_URL_VARIABLE
from sandbox.standin.server import SANDBOX_MARKER
from sandbox.tls import SandboxCertificate
from sandbox.workload_issuer import WorkloadIssuer

ROOT: Final = Path(__file__).resolve().parents[1]
DEFAULT_HOME: Final = ROOT / ".sandbox"
NAMESPACE: Final = rules.PROJECT
BANNER: Final = (
    "SANDBOX: local stand-ins for Entra ID, Key Vault and Ocelot; nothing is sent to Azure "
    "or Ocelot."
)
# Another team's entry on each route, there before the stack and never to be touched by it.
FOREIGN_CLIENT_ID: Final = "0d0e0f10-1112-4314-9516-171819202122"
PLUGINS: Final = {
    "azuread": behaviours.AZUREAD_VERSION,
    "azure-native": behaviours.AZURE_NATIVE_VERSION,
}
# Variables of the caller's environment that could send the engine's plugins to real Azure.
_CLEARED: Final = (
    "AZURE_CLIENT_ID",
    "AZURE_CLIENT_SECRET",
    "AZURE_TENANT_ID",
    "AZURE_FEDERATED_TOKEN_FILE",
    "AZURE_CLIENT_CERTIFICATE_PATH",
    "AZURE_USERNAME",
    "AZURE_PASSWORD",
    "ARM_CLIENT_ID",
    "ARM_CLIENT_SECRET",
    "ARM_TENANT_ID",
    "ARM_SUBSCRIPTION_ID",
    "ARM_USE_OIDC",
    "ARM_USE_MSI",
    "MSI_ENDPOINT",
    "MSI_SECRET",
    "IMDS_ENDPOINT",
)


def file_backend_url(backend: Path) -> str:
    """A `file://` state backend that survives its writer being killed at any moment.

    The engine's DIY backend writes through gocloud.dev's fileblob, which writes each blob to a
    temporary file and renames it, but writes its metadata sidecar (`<blob>.attrs`) in place,
    with `os.Create` then an encode (gocloud.dev v0.46 blob/fileblob/attrs.go, `setAttrs`). A
    kill between the two leaves an empty sidecar, and every later command fails with "failed to
    load checkpoint: EOF". `metadata=skip` writes no sidecar (fileblob's URL option, passed on
    by the backend's `massageBlobPath`, pulumi pkg/backend/diy/backend.go); the engine needs
    none of what it holds (content type, MD5).
    """
    return f"file://{backend}?metadata=skip"


def sandbox_backend_url(folder: SandboxFolder) -> str:
    """The sandbox's own `file://` state, or `PULUMI_BACKEND_URL` when it names Azure Blob
    Storage on this machine (Azurite). A team's real backend is never used for sandbox stacks,
    which share the real stacks' names."""
    requested = os.environ.get("PULUMI_BACKEND_URL", "")
    if requested.startswith("azblob://"):
        domain = parse_qs(urlsplit(requested).query).get("domain", [""])[0]
        if domain.rsplit(":", 1)[0] in ("127.0.0.1", "localhost"):
            return requested
    return file_backend_url(folder.backend)


def sandbox_home(override: str | None = None) -> Path:
    return Path(override) if override else DEFAULT_HOME


@dataclass
class SandboxFolder:
    """The on-disk part of one stack's sandbox."""

    path: Path
    stack: str

    @property
    def pulumi_home(self) -> Path:
        return self.path / "home"

    @property
    def backend(self) -> Path:
        return self.path / "state"

    @property
    def work_dir(self) -> Path:
        return self.path / "work"

    @property
    def entra_state(self) -> Path:
        return self.path / "entra.sqlite"

    @property
    def ocelot_state(self) -> Path:
        return self.path / "ocelot.json"

    @property
    def certificate(self) -> SandboxCertificate:
        """The emulator's TLS certificate and its CA, made on first use."""
        return SandboxCertificate.ensure(self.path / "tls")

    @property
    def passphrase(self) -> str:
        file = self.path / "passphrase"
        if not file.exists():
            file.write_text(secrets.token_urlsafe(24))
            file.chmod(0o600)
        return file.read_text()

    def prepare(self, project_dir: Path) -> None:
        """Creates the folder once, installs the plugins and lays the stack's work dir."""
        self.path.mkdir(parents=True, exist_ok=True)
        (self.path / SANDBOX_MARKER).write_text(
            "A local lkps-onboarding sandbox: stand-in plugins refuse to run without this file.\n"
        )
        self.backend.mkdir(exist_ok=True)
        # Sidecars an earlier sandbox wrote, perhaps cut short by a kill (see file_backend_url):
        # fileblob reads a blob without one as it is.
        for sidecar in self.backend.rglob("*.attrs"):
            sidecar.unlink()
        install_plugins(self.pulumi_home)
        lay_work_dir(project_dir, self.work_dir, self.stack)

    def wipe(self) -> bool:
        if not self.path.exists():
            return False
        shutil.rmtree(self.path)
        return True


def install_plugins(pulumi_home: Path) -> None:
    """The stand-ins as plugins `azuread` and `azure-native` at the versions the SDKs request,
    in this PULUMI_HOME only (`$PULUMI_HOME/plugins/resource-<name>-v<version>/`)."""
    for name, version in PLUGINS.items():
        folder = pulumi_home / "plugins" / f"resource-{name}-v{version}"
        folder.mkdir(parents=True, exist_ok=True)
        launcher = folder / f"pulumi-resource-{name}"
        launcher.write_text(
            "#!/bin/sh\n"
            f"# The lkps-onboarding sandbox's stand-in for {name} {version}; never the real one.\n"
            f'PYTHONPATH="{ROOT}${{PYTHONPATH:+:$PYTHONPATH}}" '
            f'exec "{sys.executable}" -m sandbox.standin {name} "$@"\n'
        )
        launcher.chmod(launcher.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)


def lay_work_dir(project_dir: Path, work_dir: Path, stack: str) -> None:
    """The project file and the committed stack file, copied unchanged except for the salt the
    sandbox's passphrase provider keeps in the copy."""
    work_dir.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(project_dir / "Pulumi.yaml", work_dir / "Pulumi.yaml")
    committed = project_dir / f"Pulumi.{stack}.yaml"
    copy = work_dir / f"Pulumi.{stack}.yaml"
    salt = None
    if copy.exists():
        salt = (yaml.safe_load(copy.read_text()) or {}).get("encryptionsalt")
    text = committed.read_text()
    if salt:
        text = f"encryptionsalt: {salt}\n{text}"
    copy.write_text(text)


def stack_config(project_dir: Path, stack: str) -> dict[str, Any]:
    """The committed config of a stack, keys without the namespace."""
    raw = yaml.safe_load((project_dir / f"Pulumi.{stack}.yaml").read_text()) or {}
    prefix = f"{NAMESPACE}:"
    return {
        key.removeprefix(prefix): value
        for key, value in (raw.get("config") or {}).items()
        if key.startswith(prefix)
    }


@dataclass
class Sandbox:
    """The running sandbox of one command: emulators up, environment ready for the engine."""

    folder: SandboxFolder
    entra: EntraEmulator
    ocelot: OcelotEmulator
    timings: dict[str, float] = field(default_factory=dict)
    # The stand-in for the external issuers of the stack's federated credentials: `mint` gives
    # the token a workload (a GitHub job, an AKS pod) would present to the token endpoint.
    workload_issuer: WorkloadIssuer | None = None

    @property
    def env(self) -> dict[str, str]:
        """What the engine and its plugins run with: the sandbox's home, backend, emulators."""
        env = dict(
            {
                "PULUMI_HOME": str(self.folder.pulumi_home),
                "PULUMI_BACKEND_URL": sandbox_backend_url(self.folder),
                "PULUMI_CONFIG_PASSPHRASE": self.folder.passphrase,
                "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
                "PULUMI_SKIP_UPDATE_CHECK": "true",
                switches.SANDBOX_DIR: str(self.folder.path),
                ENTRA_URL_VARIABLE: self.entra.url,
                "IDENTITY_ENDPOINT": self.entra.identity_endpoint,
                "IDENTITY_HEADER": self.entra.identity_header,
                switches.SANDBOX_OCELOT_API_URL: self.ocelot.base_url,
                switches.SANDBOX_KEYVAULT_URL: f"{self.entra.url}{VAULT_PREFIX}",
                **self.folder.certificate.trust,
            }
        )
        return env


def grant_documented_rights(store: EntraStore, object_id: str, agent_id: bool = False) -> None:
    """The pinned deployer set up as the README says: every right except those needed only
    for adoption (Application.Read.All), unless an agent is on Agent ID, which needs it too; the
    verify command's getSecret included."""
    needed = [
        right for right in RIGHTS if agent_id or not right.name.startswith("Application.Read.")
    ]
    store.grant(
        object_id,
        app_roles=[r.name for r in needed if r.plane == "graph"],
        actions=[r.name for r in needed if r.plane == "management"],
        data_actions=[r.name for r in needed if r.plane == "data"],
    )


def federated_issuers(config: dict[str, Any]) -> list[str]:
    """The issuers of the federated credentials the stack's applications declare
    (`applications[].federatedCredentials[].issuer`), each once, in order; an application
    without the key has none. Anything malformed is left to the config's own validation."""
    found: list[str] = []
    applications = config.get("applications")
    for app in applications if isinstance(applications, list) else []:
        credentials = app.get("federatedCredentials") if isinstance(app, dict) else None
        for credential in credentials if isinstance(credentials, list) else []:
            issuer = credential.get("issuer") if isinstance(credential, dict) else None
            if isinstance(issuer, str) and issuer.startswith("https://") and issuer not in found:
                found.append(issuer)
    return found


@contextmanager
def _sandbox_process_environment(values: dict[str, str]) -> Iterator[None]:
    """The engine, and a program run inline, inherit this process's environment: take out what
    points at real Azure (an empty value is not enough, azure-identity would try to use it) and
    point azure-identity and Graph reads at the sandbox instead."""
    saved = {name: os.environ.pop(name) for name in _CLEARED if name in os.environ}
    replaced = {name: os.environ.get(name) for name in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for name, value in replaced.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        os.environ.update(saved)


@contextmanager
def running(
    folder: SandboxFolder,
    project_dir: Path = ROOT,
    secret_text: Callable[[], str] | None = None,
    approval_routes: frozenset[str] = frozenset(),
    identity: str | None = None,
) -> Iterator[Sandbox]:
    """Starts the sandbox of `folder`'s stack for the duration of the block, then stops it;
    both emulators save each change as they make it. `secret_text` lets a test know the
    client secrets.

    The sandbox runs as the stack's pinned deployer (`deployerObjectId`), as the pipeline
    would; `identity` runs it as another Entra object instead.
    """
    started = time.perf_counter()
    folder.prepare(project_dir)
    config = stack_config(project_dir, folder.stack)
    store = EntraStore(folder.entra_state, secret_text or entra_secret_text)
    vault = config.get("keyVault") or {}
    if {"subscriptionId", "resourceGroupName", "vaultName"} <= set(vault):
        store.ensure_vault(vault["subscriptionId"], vault["resourceGroupName"], vault["vaultName"])
    tenant = str(config.get("tenantId", "00000000-0000-0000-0000-000000000000"))
    pinned = config.get("deployerObjectId")
    scope = str((config.get("ocelot") or {}).get("tokenScope", "")).removesuffix("/.default")
    # LKPS and Ocelot are registered in the tenant by their owners, not by the stack.
    lkps = [rules.lkps_scope(env).removesuffix("/.default") for env in ("np", "prod")]
    # One local issuer stands in for every issuer the stack's federated credentials trust; the
    # token endpoint reads their metadata from it, never from the internet.
    workload_issuer = WorkloadIssuer(folder.certificate, federated_issuers(config))
    entra = EntraEmulator(
        store,
        tenant,
        folder.certificate,
        apis=[api for api in (scope, *lkps) if api],
        identity=identity or (str(pinned) if pinned else None),
        issuers=workload_issuer,
    )
    if folder.ocelot_state.exists():
        ocelot_store = OcelotStore.restore(json.loads(folder.ocelot_state.read_text()))
    else:
        ocelot_store = OcelotStore(approval_routes=approval_routes)
        for route_id in ocelot_store.snapshot():
            ocelot_store.add_foreign(route_id, FOREIGN_CLIENT_ID)

    def ocelot_token_holder(authorization: str) -> str | None:
        holder = entra.holder(authorization, scope)
        return holder.client_id if holder else None

    def lkps_claims(authorization: str | None, environment: str) -> dict[str, Any] | None:
        scope = rules.lkps_scope(cast(rules.Environment, environment))
        return entra.claims(authorization, scope.removesuffix("/.default"))

    ocelot_store.persist_to(folder.ocelot_state)
    ocelot = OcelotEmulator(
        store=ocelot_store,
        token_issuer=ocelot_token_holder,
        route_claims=lkps_claims,
        tls=folder.certificate.server_context(),
    )
    on_agent_id = any(
        isinstance(app, dict) and app.get("identity") == "agentId"
        for app in config.get("applications") or []
    )
    if pinned and not store.has_grants(str(pinned)):
        grant_documented_rights(store, str(pinned), agent_id=on_agent_id)
    elif pinned and on_agent_id:
        # Agent ID came with a config change: what its README rows add to the setup.
        store.grant(str(pinned), app_roles=["Application.Read.All"])
    sandbox = Sandbox(folder, entra, ocelot, workload_issuer=workload_issuer)
    inline = (ENTRA_URL_VARIABLE, "IDENTITY_ENDPOINT", "IDENTITY_HEADER", *folder.certificate.trust)
    try:
        with workload_issuer, entra, ocelot:
            values = {key: value for key, value in sandbox.env.items() if key in inline}
            with _sandbox_process_environment(values):
                sandbox.timings["start"] = time.perf_counter() - started
                yield sandbox
    finally:
        store.close()
