"""Microsoft's own clients against a sandbox the real program was deployed to: the emulator's
conformance tests.

After one `up` of the np stack, each test starts the sandbox again (a new emulator run, a new
signing key) and makes the calls the project and a person debugging a sandbox make: Key Vault
through azure-keyvault-secrets, the client credentials flow through msal and azure-identity, the
call to LKPS through Ocelot's data path, and Graph through msgraph-sdk. No call may leave
loopback: the tests refuse to resolve any other host.
"""

from __future__ import annotations

import ast
import asyncio
import contextlib
import io
import os
import shlex
import signal
import socket
import stat
import subprocess
import sys
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import jwt
import msal
import pytest
from azure.core.exceptions import ClientAuthenticationError, ResourceNotFoundError
from azure.identity import ClientSecretCredential, ManagedIdentityCredential
from azure.keyvault.secrets import KeyVaultSecret, SecretClient
from kiota_abstractions.base_request_configuration import RequestConfiguration
from kiota_authentication_azure.azure_identity_authentication_provider import (
    AzureIdentityAuthenticationProvider,
)
from msgraph.generated.applications.applications_request_builder import (
    ApplicationsRequestBuilder,
)
from msgraph.generated.models.o_data_errors.o_data_error import ODataError
from msgraph.generated.models.service_principal import ServicePrincipal
from msgraph.generated.models.user import User
from msgraph.graph_request_adapter import GraphRequestAdapter
from msgraph.graph_service_client import GraphServiceClient
from msgraph_core import GraphClientFactory

from lkps import rules, switches
from sandbox.entra import GRAPH_PREFIX, VAULT_PREFIX
from sandbox.entra_store import EntraStore
from sandbox.session import ROOT, Sandbox, SandboxFolder, running
from tests.support.sandbox_harness import CANARY_SECRET, SandboxProject, changes

pytestmark = pytest.mark.engine

NP_SCOPE = rules.lkps_scope("np")
PROD_SCOPE = rules.lkps_scope("prod")
NP_ROUTES = {
    "eu": "eu-livekit-platform-service-np.int.bayer.com",
    "us": "us-livekit-platform-service-np.int.bayer.com",
}
PROD_EU = "eu-livekit-platform-service.int.bayer.com"
SCRATCH = "conformance-scratch"
AGENT_SECRET = rules.vault_secret_name("MY-LIVEKIT-AGENT-NP")


@pytest.fixture(scope="module")
def deployed(pulumi_cli: str, tmp_path_factory: pytest.TempPathFactory) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    project = SandboxProject(tmp_path_factory.mktemp("clients"))
    with project.session("np") as session:
        assert changes(session.up()) == {"create": 29}
    return project


@pytest.fixture
def loopback_only(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Every host name a client tried to resolve other than loopback (each is refused)."""
    refused: list[str] = []
    resolve = socket.getaddrinfo

    def loopback_getaddrinfo(host: Any, *args: Any, **kwargs: Any) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name not in ("127.0.0.1", "localhost", "::1"):
            refused.append(name)
            raise socket.gaierror(socket.EAI_NONAME, f"{name} is not loopback")
        return resolve(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", loopback_getaddrinfo)
    return refused


@pytest.fixture
def sandbox(deployed: SandboxProject, loopback_only: list[str]) -> Iterator[Sandbox]:
    folder = SandboxFolder(deployed.root / "sandbox" / "np", "np")
    with running(folder, deployed.project, secret_text=deployed.secrets) as started:
        yield started
    assert loopback_only == []


def _vault(sandbox: Sandbox) -> SecretClient:
    (name,) = sandbox.entra.store.data["vaults"]
    # The challenge names https://vault.azure.net, which 127.0.0.1 is not under: the one check a
    # sandbox vault cannot pass.
    return SecretClient(
        f"{sandbox.entra.url}{VAULT_PREFIX}/{name}",
        ManagedIdentityCredential(),
        verify_challenge_resource=False,
    )


def _published(sandbox: Sandbox, display_name: str) -> KeyVaultSecret:
    with _vault(sandbox) as vault:
        return vault.get_secret(rules.vault_secret_name(display_name))


def test_secret_client_reads_lists_and_manages_the_vault(sandbox: Sandbox) -> None:
    with _vault(sandbox) as vault:
        names = {p.name for p in vault.list_properties_of_secrets()}
        assert names == {AGENT_SECRET, rules.vault_secret_name("MY-LIVEKIT-CLIENT-NP")}

        latest = vault.get_secret(AGENT_SECRET)
        assert latest.value is not None
        assert latest.value.startswith(CANARY_SECRET)
        assert latest.properties.tags is not None
        assert latest.properties.tags["lkpsScope"] == NP_SCOPE
        versions = list(vault.list_properties_of_secret_versions(AGENT_SECRET))
        assert latest.properties.version in {v.version for v in versions}
        for version in versions:
            by_version = vault.get_secret(AGENT_SECRET, version.version)
            assert by_version.properties.version == version.version
            assert by_version.value is not None
            assert by_version.value.startswith(CANARY_SECRET)

        vault.set_secret(SCRATCH, "scratch value", content_type="text/plain")
        deleted = vault.begin_delete_secret(SCRATCH).result()
        assert deleted.recovery_id is not None
        assert SCRATCH in {d.name for d in vault.list_deleted_secrets()}
        with pytest.raises(ResourceNotFoundError):
            vault.get_secret(SCRATCH)
        vault.begin_recover_deleted_secret(SCRATCH).result()
        assert vault.get_secret(SCRATCH).value == "scratch value"

        vault.begin_delete_secret(SCRATCH).result()
        vault.purge_deleted_secret(SCRATCH)
        with pytest.raises(ResourceNotFoundError):
            vault.get_deleted_secret(SCRATCH)
        assert SCRATCH not in {p.name for p in vault.list_properties_of_secrets()}


def test_a_request_without_a_token_gets_key_vaults_challenge(sandbox: Sandbox) -> None:
    (name,) = sandbox.entra.store.data["vaults"]
    answer = httpx.get(
        f"{sandbox.entra.url}{VAULT_PREFIX}/{name}/secrets/{AGENT_SECRET}/",
        params={"api-version": "7.5"},
    )
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"] == (
        f'Bearer authorization="https://login.microsoftonline.com/{sandbox.entra.tenant_id}", '
        'resource="https://vault.azure.net"'
    )


def _jwks_claims(sandbox: Sandbox, token: str, audience: str) -> dict[str, Any]:
    """The token's claims as a resource server reads them: keys from the OIDC metadata."""
    tenant = sandbox.entra.tenant_id
    metadata = httpx.get(
        f"{sandbox.entra.url}/{tenant}/v2.0/.well-known/openid-configuration"
    ).json()
    key = jwt.PyJWKClient(metadata["jwks_uri"]).get_signing_key_from_jwt(token)
    claims: dict[str, Any] = jwt.decode(
        token,
        key.key,
        algorithms=["RS256"],
        audience=audience,
        issuer=f"https://sts.windows.net/{tenant}/",
    )
    return claims


def test_the_deployers_graph_token_carries_the_app_roles_it_was_granted(sandbox: Sandbox) -> None:
    deployer = sandbox.entra.deployer.object_id
    with ManagedIdentityCredential() as credential:
        token = credential.get_token("https://graph.microsoft.com/.default").token
    claims = _jwks_claims(sandbox, token, "https://graph.microsoft.com")
    granted = sandbox.entra.store.app_roles(deployer)
    assert granted
    assert sorted(claims["roles"]) == sorted(granted)
    assert claims["oid"] == deployer


@pytest.mark.parametrize("app", ["MY-LIVEKIT-AGENT-NP", "MY-LIVEKIT-CLIENT-NP"])
def test_the_vaults_secret_signs_in_with_msal_and_ocelot_lets_the_token_through(
    sandbox: Sandbox, app: str
) -> None:
    published = _published(sandbox, app)
    assert published.properties.tags is not None
    client_id, tenant = published.properties.tags["clientId"], published.properties.tags["tenantId"]
    msal_app = msal.ConfidentialClientApplication(
        client_id,
        client_credential=published.value,
        authority=f"{sandbox.entra.url}/{tenant}",
        instance_discovery=False,
    )
    answer = msal_app.acquire_token_for_client(scopes=[NP_SCOPE])
    assert "access_token" in answer, answer.get("error_description")
    token = answer["access_token"]

    claims = _jwks_claims(sandbox, token, NP_SCOPE.removesuffix("/.default"))
    (principal,) = sandbox.entra.store.list_objects("servicePrincipals", "appId", client_id)
    assert (claims["appid"], claims["tid"], claims["oid"]) == (client_id, tenant, principal["id"])
    assert claims["exp"] > claims["iat"]
    assert "roles" not in claims

    regions = ["eu", "us"] if app == "MY-LIVEKIT-AGENT-NP" else ["eu"]
    for region, route in NP_ROUTES.items():
        through = httpx.get(
            f"{sandbox.ocelot.gateway_url(route)}/health",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert through.status_code == (200 if region in regions else 403), through.text
        if through.status_code == 200:
            assert through.json()["forwardedHeaders"]["X-Ocelot-Client-Id"] == client_id

    prod = msal_app.acquire_token_for_client(scopes=[PROD_SCOPE])["access_token"]
    on_np = httpx.get(
        f"{sandbox.ocelot.gateway_url(NP_ROUTES['eu'])}/health",
        headers={"Authorization": f"Bearer {prod}"},
    )
    assert on_np.status_code == 401
    on_prod = httpx.get(
        f"{sandbox.ocelot.gateway_url(PROD_EU)}/health",
        headers={"Authorization": f"Bearer {prod}"},
    )
    assert on_prod.status_code == 403


def test_a_wrong_secret_or_an_unknown_scope_is_refused_with_entras_codes(
    sandbox: Sandbox,
) -> None:
    published = _published(sandbox, "MY-LIVEKIT-CLIENT-NP")
    assert published.properties.tags is not None
    client_id, tenant = published.properties.tags["clientId"], published.properties.tags["tenantId"]
    wrong = msal.ConfidentialClientApplication(
        client_id,
        client_credential=f"{CANARY_SECRET}-wrong",
        authority=f"{sandbox.entra.url}/{tenant}",
        instance_discovery=False,
    ).acquire_token_for_client(scopes=[NP_SCOPE])
    assert wrong["error"] == "invalid_client"
    assert wrong["error_description"].startswith("AADSTS7000215:")

    right = msal.ConfidentialClientApplication(
        client_id,
        client_credential=published.value,
        authority=f"{sandbox.entra.url}/{tenant}",
        instance_discovery=False,
    )
    unknown = right.acquire_token_for_client(scopes=["api://no-such-api.example/.default"])
    assert unknown["error"] == "invalid_resource"
    assert unknown["error_description"].startswith("AADSTS500011:")


def test_client_secret_credential_gets_the_lkps_token_and_refuses_a_wrong_secret(
    sandbox: Sandbox,
) -> None:
    published = _published(sandbox, "MY-LIVEKIT-AGENT-NP")
    assert published.properties.tags is not None
    assert published.value is not None
    client_id, tenant = published.properties.tags["clientId"], published.properties.tags["tenantId"]
    options: dict[str, Any] = {"authority": sandbox.entra.url, "disable_instance_discovery": True}
    with ClientSecretCredential(tenant, client_id, published.value, **options) as credential:
        token = credential.get_token(NP_SCOPE)
    assert _jwks_claims(sandbox, token.token, NP_SCOPE.removesuffix("/.default"))["appid"] == (
        client_id
    )
    with (
        ClientSecretCredential(tenant, client_id, f"{CANARY_SECRET}-wrong", **options) as wrong,
        pytest.raises(ClientAuthenticationError, match="AADSTS7000215"),
    ):
        wrong.get_token(NP_SCOPE)


@asynccontextmanager
async def _graph(sandbox: Sandbox) -> AsyncIterator[GraphServiceClient]:
    """msgraph-sdk as documented, with the sandbox's Graph as its base URL and 127.0.0.1 as a
    host its authentication provider sends the token to."""
    with ManagedIdentityCredential() as credential:
        provider = AzureIdentityAuthenticationProvider(
            credential,
            scopes=["https://graph.microsoft.com/.default"],
            allowed_hosts=["127.0.0.1"],
        )
        # A kept-alive TLS connection outlives the client once kiota's middleware wraps its
        # transport (an unclosed socket at exit); without keep-alive each one closes with its
        # answer.
        unpooled = httpx.AsyncClient(limits=httpx.Limits(max_keepalive_connections=0))
        async with GraphClientFactory.create_with_default_middleware(client=unpooled) as http:
            adapter = GraphRequestAdapter(provider, client=http)
            adapter.base_url = f"{sandbox.entra.url}{GRAPH_PREFIX}"
            yield GraphServiceClient(request_adapter=adapter)


def _applications(**query: Any) -> RequestConfiguration[Any]:
    parameters = ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(**query)
    return RequestConfiguration(query_parameters=parameters)


def test_graph_service_client_finds_the_registrations_their_owners_and_credentials(
    sandbox: Sandbox,
) -> None:
    deployer = sandbox.entra.deployer.object_id

    async def calls() -> None:
        async with _graph(sandbox) as graph:
            by_filter = await graph.applications.get(
                _applications(filter="displayName eq 'MY-LIVEKIT-AGENT-NP'")
            )
            assert by_filter is not None
            assert by_filter.value is not None
            (agent,) = by_filter.value
            assert agent.app_id is not None
            assert agent.id is not None

            prefixed = await graph.applications.get(
                _applications(filter="startswith(displayName,'MY-LIVEKIT-')", select=["appId"])
            )
            assert prefixed is not None
            assert prefixed.value is not None
            assert len(prefixed.value) == 2
            assert all(a.app_id and a.display_name is None for a in prefixed.value)

            counted = RequestConfiguration(
                query_parameters=ApplicationsRequestBuilder.ApplicationsRequestBuilderGetQueryParameters(
                    count=True
                )
            )
            counted.headers.add("ConsistencyLevel", "eventual")
            with_count = await graph.applications.get(counted)
            assert with_count is not None
            assert with_count.odata_count == 2

            by_key = await graph.applications_with_app_id(agent.app_id).get()
            assert by_key is not None
            assert by_key.id == agent.id
            principal = await graph.service_principals_with_app_id(agent.app_id).get()
            assert principal is not None
            assert principal.app_id == agent.app_id

            owners = await graph.applications.by_application_id(agent.id).owners.get()
            assert owners is not None
            assert owners.value is not None
            kinds = {o.id: type(o) for o in owners.value}
            assert kinds.pop(deployer) is ServicePrincipal
            assert set(kinds.values()) == {User}
            assert set(kinds) == {
                "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01",
                "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21",
            }

            assert by_key.password_credentials is not None
            published = _published(sandbox, "MY-LIVEKIT-AGENT-NP").value
            assert published is not None
            key_ids = {str(p.key_id) for p in by_key.password_credentials}
            assert sandbox.entra.store.live_credential(agent.app_id, published) in key_ids
            assert all(p.secret_text is None for p in by_key.password_credentials)

            with pytest.raises(ODataError) as missing:
                await graph.applications_with_app_id("00000000-0000-4000-8000-000000000000").get()
            assert missing.value.error is not None
            assert missing.value.error.code == "Request_ResourceNotFound"
            assert missing.value.error.inner_error is not None

    asyncio.run(calls())


def _readme_snippet() -> str:
    """The Python example of the README's "Pointing Microsoft's clients at the sandbox"."""
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Pointing Microsoft's clients at the sandbox", 1)[1]
    return section.split("```python\n", 1)[1].split("```", 1)[0]


def deployed_apps(folder: Path) -> list[dict[str, Any]]:
    return list(EntraStore(folder / "entra.sqlite").list_objects("applications", None, None))


def test_a_served_sandbox_answers_the_readmes_example(
    deployed: SandboxProject, loopback_only: list[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    root = deployed.root / "sandbox"
    env_file = root / "np" / "serve.env"
    served = subprocess.Popen(
        [sys.executable, "-m", "sandbox.serve", "np"],
        cwd=ROOT,
        env={**os.environ, switches.SANDBOX_ROOT: str(root)},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert served.stdout is not None
        shown: list[str] = []
        while len(shown) < 30 and not (shown and shown[-1].startswith(("serve:", "Traceback"))):
            shown.append(served.stdout.readline() or "serve: ended\n")
        assert shown[-1].startswith("serve: the whole environment is in"), shown
        assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
        values = dict(
            shlex.split(line.removeprefix("export "))[0].split("=", 1)
            for line in env_file.read_text().splitlines()
            if line.startswith("export ")
        )
        assert values["IDENTITY_HEADER"] not in "".join(shown)
        for name, value in values.items():
            monkeypatch.setenv(name, value)

        shell = io.StringIO()
        with contextlib.redirect_stdout(shell):
            exec(compile(_readme_snippet(), "README.md", "exec"), {})  # noqa: S102 - the README's
        forwarded = ast.literal_eval(shell.getvalue())["forwardedHeaders"]
        (app,) = (
            a for a in deployed_apps(root / "np") if a["displayName"] == "MY-LIVEKIT-AGENT-NP"
        )
        assert forwarded["X-Ocelot-Client-Id"] == app["appId"]
    finally:
        served.send_signal(signal.SIGTERM)
        rest, _ = served.communicate(timeout=30)
    assert served.returncode == 0, rest
    assert not env_file.exists()
    assert loopback_only == []
