"""A running Entra emulator, and stand-in plugins started as the engine starts them."""

from __future__ import annotations

import itertools
import os
import subprocess
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from pulumi.runtime.proto import provider_pb2, provider_pb2_grpc

from lkps import switches
from sandbox import behaviours
from sandbox.entra import AUDIENCES, EntraEmulator
from sandbox.entra_store import EntraStore
from sandbox.session import install_plugins
from sandbox.standin.client import ENTRA_URL_VARIABLE
from sandbox.standin.server import SANDBOX_MARKER
from sandbox.standin.wire import decode, encode
from sandbox.tls import SandboxCertificate

TENANT = "fcb2b37b-5da0-466b-9b83-0014b67a7c78"
SUBSCRIPTION = "4d5c7a0e-3b1f-4e8a-9c2d-6f7e8a9b0c1d"
RESOURCE_GROUP = "rg-lkps-onboarding-np"
VAULT = "kv-lkps-apps-np"
OWNER_A = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
OWNER_B = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
OWNER_C = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"


OCELOT_API = "api://devtools-np.bayer.com/ocelot"
# The APIs registered in the tenant outside the stack: Ocelot and LKPS.
APIS = (OCELOT_API, "api://livekit-platform-service-np.int.bayer.com")


@pytest.fixture(scope="session", autouse=True)
def certificate(tmp_path_factory: pytest.TempPathFactory) -> Iterator[SandboxCertificate]:
    """The emulator's certificate, trusted by this process (and the plugins it starts) as a
    sandbox command trusts it."""
    made = SandboxCertificate.ensure(tmp_path_factory.mktemp("tls"))
    saved = {name: os.environ.get(name) for name in made.trust}
    os.environ.update(made.trust)
    yield made
    for name, value in saved.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


@pytest.fixture(scope="module")
def entra(
    tmp_path_factory: pytest.TempPathFactory, certificate: SandboxCertificate
) -> Iterator[EntraEmulator]:
    store = EntraStore(tmp_path_factory.mktemp("entra") / "entra.sqlite")
    store.ensure_vault(SUBSCRIPTION, RESOURCE_GROUP, VAULT)
    with EntraEmulator(store, TENANT, certificate, apis=APIS) as running:
        yield running


class AreaTokens(httpx.Auth):
    """The deployer's managed-identity token for the resource of each request's area."""

    def __init__(self, emulator: EntraEmulator) -> None:
        self.emulator = emulator
        self.tokens: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        area = request.url.path.split("/")[1]
        resource = AUDIENCES[area][0]
        if resource not in self.tokens:
            self.tokens[resource] = httpx.get(
                self.emulator.identity_endpoint,
                params={"resource": resource, "api-version": "2019-08-01"},
                headers={"X-IDENTITY-HEADER": self.emulator.identity_header},
            ).json()["access_token"]
        request.headers["Authorization"] = f"Bearer {self.tokens[resource]}"
        yield request


@dataclass
class Plugin:
    """A stand-in plugin process and a gRPC stub on the port it printed."""

    process: subprocess.Popen[str]
    stub: provider_pb2_grpc.ResourceProviderStub
    name: str
    channel: grpc.Channel

    def check(self, resource_type: str, news: dict[str, Any]) -> Any:
        return self.stub.Check(
            provider_pb2.CheckRequest(
                urn=_urn(resource_type), type=resource_type, news=encode(news), olds=encode({})
            )
        )

    def diff(
        self,
        resource_type: str,
        olds: dict[str, Any],
        news: dict[str, Any],
        old_inputs: dict[str, Any] | None = None,
        ignore_changes: tuple[str, ...] = (),
    ) -> Any:
        """Diff of the state `olds` (and `old_inputs`, the same unless given) with `news`."""
        return self.stub.Diff(
            provider_pb2.DiffRequest(
                id="x",
                urn=_urn(resource_type),
                type=resource_type,
                olds=encode(olds),
                old_inputs=encode(olds if old_inputs is None else old_inputs),
                news=encode(news),
                ignoreChanges=list(ignore_changes),
            )
        )

    def create(
        self, resource_type: str, inputs: dict[str, Any], preview: bool = False
    ) -> tuple[str, dict[str, Any]]:
        answer = self.stub.Create(
            provider_pb2.CreateRequest(
                urn=_urn(resource_type),
                type=resource_type,
                properties=encode(inputs),
                preview=preview,
            )
        )
        return answer.id, decode(answer.properties)

    def read(
        self, resource_type: str, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[str, dict[str, Any], dict[str, Any]]:
        answer = self.stub.Read(
            provider_pb2.ReadRequest(
                id=id_,
                urn=_urn(resource_type),
                type=resource_type,
                properties=encode(state),
                inputs=encode(inputs),
            )
        )
        return answer.id, decode(answer.properties), decode(answer.inputs)

    def update(
        self,
        resource_type: str,
        id_: str,
        olds: dict[str, Any],
        news: dict[str, Any],
        ignore_changes: tuple[str, ...] = (),
        old_inputs: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        answer = self.stub.Update(
            provider_pb2.UpdateRequest(
                id=id_,
                urn=_urn(resource_type),
                type=resource_type,
                olds=encode(olds),
                old_inputs=encode(olds if old_inputs is None else old_inputs),
                news=encode(news),
                ignoreChanges=list(ignore_changes),
            )
        )
        return decode(answer.properties)

    def invoke(self, token: str, args: dict[str, Any]) -> dict[str, Any]:
        answer = self.stub.Invoke(provider_pb2.InvokeRequest(tok=token, args=encode(args)))
        return decode(getattr(answer, "return"))

    def delete(self, resource_type: str, id_: str, state: dict[str, Any]) -> None:
        self.stub.Delete(
            provider_pb2.DeleteRequest(
                id=id_, urn=_urn(resource_type), type=resource_type, properties=encode(state)
            )
        )


def unique(prefix: str) -> str:
    """A display or secret name no other test of the module uses."""
    return f"{prefix}-{next(_names)}"


_names = itertools.count(1)


def _urn(resource_type: str) -> str:
    return f"urn:pulumi:np::lkps-onboarding::{resource_type}::test"


def sandbox_env(folder: Path, entra: EntraEmulator) -> dict[str, str]:
    return {
        switches.SANDBOX_DIR: str(folder),
        ENTRA_URL_VARIABLE: entra.url,
        "IDENTITY_ENDPOINT": entra.identity_endpoint,
        "IDENTITY_HEADER": entra.identity_header,
    }


def launcher(home: Path, name: str) -> Path:
    version = behaviours.AZUREAD_VERSION if name == "azuread" else behaviours.AZURE_NATIVE_VERSION
    return home / "plugins" / f"resource-{name}-v{version}" / f"pulumi-resource-{name}"


@pytest.fixture(scope="module")
def plugin(
    tmp_path_factory: pytest.TempPathFactory, entra: EntraEmulator
) -> Iterator[Callable[[str], Plugin]]:
    """Starts each stand-in once per module from the launcher the sandbox installs, inside a
    sandbox folder, as the engine starts it."""
    folder = tmp_path_factory.mktemp("sandbox")
    (folder / SANDBOX_MARKER).write_text("test sandbox\n")
    install_plugins(folder / "home")
    started: dict[str, Plugin] = {}

    def start(name: str) -> Plugin:
        if name in started:
            return started[name]
        process = subprocess.Popen(  # noqa: S603 - the launcher installed above
            [str(launcher(folder / "home", name)), "127.0.0.1:0"],
            stdout=subprocess.PIPE,
            text=True,
            env={**os.environ, **sandbox_env(folder, entra)},
        )
        assert process.stdout is not None
        port = int(process.stdout.readline())
        channel = grpc.insecure_channel(f"127.0.0.1:{port}")
        stub = provider_pb2_grpc.ResourceProviderStub(channel)
        config = {"subscriptionId": SUBSCRIPTION} if name == "azure-native" else {}
        stub.Configure(provider_pb2.ConfigureRequest(args=encode(config), acceptSecrets=True))
        running = Plugin(process, stub, name, channel)
        started[name] = running
        return running

    yield start
    for running in started.values():
        running.channel.close()
        running.process.kill()
        running.process.wait()
        assert running.process.stdout is not None
        running.process.stdout.close()
