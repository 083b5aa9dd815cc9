"""The Entra, Key Vault and ARM emulator over real HTTP, and the sandbox's state on disk."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import jwt
import pytest
from azure.identity import ManagedIdentityCredential

from lkps import rights
from sandbox.entra import EntraEmulator
from sandbox.entra_store import EntraStore, Principal
from sandbox.ocelot import OcelotStore
from sandbox.tls import SandboxCertificate
from sandbox.tokens import TOKEN_PREFIX
from tests.sandbox.conftest import (
    APIS,
    OCELOT_API,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    TENANT,
    VAULT,
    AreaTokens,
)

ARM_SECRET = (
    f"/arm/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
    f"Microsoft.KeyVault/vaults/{VAULT}/secrets/app-np-client-secret"
)


@pytest.fixture
def emulator(tmp_path: Path, certificate: SandboxCertificate) -> Iterator[EntraEmulator]:
    store = EntraStore(tmp_path / "entra.sqlite")
    store.ensure_vault(SUBSCRIPTION, RESOURCE_GROUP, VAULT)
    with EntraEmulator(store, TENANT, certificate, apis=APIS) as running:
        yield running


def _client(emulator: EntraEmulator) -> httpx.Client:
    return httpx.Client(base_url=emulator.url, auth=AreaTokens(emulator))


def test_calls_without_a_token_or_with_a_wrong_identity_header_are_refused(
    emulator: EntraEmulator,
) -> None:
    answer = httpx.get(f"{emulator.url}/graph/v1.0/applications")
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    wrong = httpx.get(emulator.identity_endpoint, headers={"X-IDENTITY-HEADER": "nope"})
    assert wrong.status_code == 401


def test_azure_identity_gets_a_token_from_the_managed_identity_endpoint(
    emulator: EntraEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    with ManagedIdentityCredential() as credential:
        token = credential.get_token("api://devtools-np.bayer.com/ocelot/.default")
    holder = emulator.holder(f"Bearer {token.token}", "api://devtools-np.bayer.com/ocelot")
    assert holder == emulator.deployer
    assert emulator.holder(f"Bearer {token.token}", "https://graph.microsoft.com") is None


def test_client_credentials_accept_only_a_live_secret_of_the_application(
    emulator: EntraEmulator,
) -> None:
    with _client(emulator) as graph:
        _live_secret_only(emulator, graph)


def _live_secret_only(emulator: EntraEmulator, graph: httpx.Client) -> None:
    app = graph.post("/graph/v1.0/applications", json={"displayName": "APP-NP"}).json()
    made = graph.post(
        f"/graph/v1.0/applications/{app['id']}/addPassword",
        json={"passwordCredential": {"displayName": "p", "endDateTime": "2099-01-01T00:00:00Z"}},
    ).json()
    assert len(made["secretText"]) == 40
    assert made["secretText"][3:6] == "8Q~"
    shown = graph.get(f"/graph/v1.0/applications/{app['id']}").json()
    assert shown["passwordCredentials"][0]["secretText"] is None

    def token(secret: str) -> httpx.Response:
        return httpx.post(
            f"{emulator.url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["appId"],
                "client_secret": secret,
                "scope": "api://livekit-platform-service-np.int.bayer.com/.default",
            },
        )

    missing = token(made["secretText"])
    assert missing.status_code == 400
    assert missing.json()["error_codes"] == [7000229], "no service principal in the tenant"
    sp = graph.post("/graph/v1.0/servicePrincipals", json={"appId": app["appId"]}).json()
    graph.patch(f"/graph/v1.0/servicePrincipals/{sp['id']}", json={"accountEnabled": False})
    disabled = token(made["secretText"])
    assert disabled.json()["error_codes"] == [7000112], "a disabled service principal"
    graph.patch(f"/graph/v1.0/servicePrincipals/{sp['id']}", json={"accountEnabled": True})
    assert token(made["secretText"]).status_code == 200
    refused = token("not-the-secret")
    assert refused.status_code == 401
    assert refused.json()["error_codes"] == [7000215]
    graph.post(
        f"/graph/v1.0/applications/{app['id']}/removePassword", json={"keyId": made["keyId"]}
    )
    assert token(made["secretText"]).status_code == 401


def test_an_expired_secret_gets_7000222_and_a_wrong_or_future_one_7000215(
    emulator: EntraEmulator,
) -> None:
    with _client(emulator) as graph:
        app = graph.post("/graph/v1.0/applications", json={"displayName": "DATED-NP"}).json()
        graph.post("/graph/v1.0/servicePrincipals", json={"appId": app["appId"]})

        def password(start: str, end: str) -> str:
            made = graph.post(
                f"/graph/v1.0/applications/{app['id']}/addPassword",
                json={"passwordCredential": {"startDateTime": start, "endDateTime": end}},
            ).json()
            return str(made["secretText"])

        expired = password("2020-01-01T00:00:00Z", "2021-01-01T00:00:00Z")
        future = password("2098-01-01T00:00:00Z", "2099-01-01T00:00:00Z")
        live = password("2020-01-01T00:00:00Z", "2099-01-01T00:00:00Z")

    def token(secret: str) -> httpx.Response:
        return httpx.post(
            f"{emulator.url}/{TENANT}/oauth2/v2.0/token",
            data={
                "grant_type": "client_credentials",
                "client_id": app["appId"],
                "client_secret": secret,
                "scope": "api://livekit-platform-service-np.int.bayer.com/.default",
            },
        )

    answers = {name: token(s) for name, s in [("expired", expired), ("future", future)]}
    answers["wrong"] = token("not-the-secret")
    assert {name: a.status_code for name, a in answers.items()} == dict.fromkeys(answers, 401)
    assert {name: a.json()["error"] for name, a in answers.items()} == dict.fromkeys(
        answers, "invalid_client"
    )
    assert {name: a.json()["error_codes"] for name, a in answers.items()} == {
        "expired": [7000222],
        "future": [7000215],
        "wrong": [7000215],
    }
    assert (
        answers["expired"]
        .json()["error_description"]
        .startswith("AADSTS7000222: The provided client secret keys are expired.")
    )
    assert token(live).status_code == 200


def test_owners_default_to_the_caller_and_are_a_relation(emulator: EntraEmulator) -> None:
    with _client(emulator) as graph:
        _owners(emulator, graph)


def _owners(emulator: EntraEmulator, graph: httpx.Client) -> None:
    app = graph.post("/graph/v1.0/applications", json={"displayName": "OWNED-NP"}).json()
    owners = graph.get(f"/graph/v1.0/applications/{app['id']}/owners").json()["value"]
    assert [o["id"] for o in owners] == [emulator.deployer.object_id]
    again = graph.post(
        f"/graph/v1.0/applications/{app['id']}/owners/$ref",
        json={"@odata.id": f"https://graph.microsoft.com/v1.0/directoryObjects/{owners[0]['id']}"},
    )
    assert again.status_code == 400
    missing = graph.get("/graph/v1.0/applications/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "Request_ResourceNotFound"


def test_vault_secrets_version_soft_delete_recover_and_purge(emulator: EntraEmulator) -> None:
    with _client(emulator) as client:
        _vault_lifecycle(client)


def _vault_lifecycle(client: httpx.Client) -> None:
    body = {"properties": {"value": "one", "contentType": "text/plain", "attributes": {"exp": 1}}}
    assert client.put(ARM_SECRET, json=body).status_code == 201
    second = client.put(ARM_SECRET, json={"properties": {"value": "two"}})
    assert second.status_code == 200
    assert "value" not in second.json()["properties"]
    data = f"/keyvault/{VAULT}/secrets/app-np-client-secret"
    assert client.get(data).json()["value"] == "two"
    assert len(client.get(f"{data}/versions").json()["value"]) == 2
    client.patch(data, json={"attributes": {"enabled": False}})
    assert client.get(data).status_code == 403
    assert client.delete(data).json()["recoveryId"].endswith("/deletedsecrets/app-np-client-secret")
    assert client.get(ARM_SECRET).status_code == 404
    conflict = client.put(ARM_SECRET, json=body)
    assert conflict.status_code == 409
    assert "deleted but recoverable" in conflict.json()["error"]["message"]
    deleted = f"/keyvault/{VAULT}/deletedsecrets/app-np-client-secret"
    assert client.post(f"{deleted}/recover").status_code == 200
    assert len(client.get(f"{data}/versions").json()["value"]) == 2
    client.delete(data)
    assert client.delete(deleted).status_code == 204
    assert client.put(ARM_SECRET, json=body).status_code == 201


def test_arm_refuses_a_vault_of_another_resource_group(emulator: EntraEmulator) -> None:
    wrong = ARM_SECRET.replace(RESOURCE_GROUP, "rg-somebody-else-np")
    with _client(emulator) as client:
        answer = client.put(wrong, json={"properties": {"value": "x"}})
    assert answer.status_code == 404
    assert answer.json()["error"]["code"] == "ResourceNotFound"


def test_state_survives_a_restart(tmp_path: Path, certificate: SandboxCertificate) -> None:
    store = EntraStore(tmp_path / "entra.sqlite")
    store.ensure_vault(SUBSCRIPTION, RESOURCE_GROUP, VAULT)
    with EntraEmulator(store, TENANT, certificate) as first, _client(first) as client:
        app = client.post("/graph/v1.0/applications", json={"displayName": "KEPT-NP"})
        deployer = first.deployer
    with EntraEmulator(EntraStore(tmp_path / "entra.sqlite"), TENANT, certificate) as second:
        assert second.deployer == deployer
        with _client(second) as client:
            kept = client.get(f"/graph/v1.0/applications/{app.json()['id']}")
        assert kept.json()["displayName"] == "KEPT-NP"


def test_ocelot_state_survives_a_snapshot() -> None:
    route = "us-livekit-platform-service-np.int.bayer.com"
    store = OcelotStore(approval_routes=frozenset({route}))
    store.put(route, "0D0E0F10-1112-4314-9516-171819202122", "BEAT00000001", "d", "someone")
    restored = OcelotStore.restore(store.snapshot())
    assert restored.snapshot() == store.snapshot()
    assert restored.entries(route)["0d0e0f10-1112-4314-9516-171819202122"].status == "pending"


def test_granted_rights_are_reported_as_graph_and_azure_report_them(
    emulator: EntraEmulator,
) -> None:
    deployer = emulator.deployer.object_id
    emulator.store.grant(
        deployer,
        app_roles=["Application.ReadWrite.OwnedBy"],
        actions=["Microsoft.KeyVault/vaults/secrets/*"],
        data_actions=["Microsoft.KeyVault/vaults/secrets/delete"],
    )
    with _client(emulator) as client:
        graph = client.get(
            "/graph/v1.0/servicePrincipals",
            params={"$filter": f"appId eq '{rights.MICROSOFT_GRAPH_APP_ID}'"},
        ).json()["value"][0]
        assigned = client.get(f"/graph/v1.0/servicePrincipals/{deployer}/appRoleAssignments")
        roles = {r["id"]: r["value"] for r in graph["appRoles"]}
        assert [roles[a["appRoleId"]] for a in assigned.json()["value"]] == [
            "Application.ReadWrite.OwnedBy"
        ]
        scope = (
            f"/arm/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
            f"Microsoft.KeyVault/vaults/{VAULT}/providers/Microsoft.Authorization/permissions"
        )
        (block,) = client.get(scope).json()["value"]
        assert block["actions"] == ["Microsoft.KeyVault/vaults/secrets/*"]
        assert block["dataActions"] == ["Microsoft.KeyVault/vaults/secrets/delete"]
    emulator.store.revoke(deployer, "Microsoft.KeyVault/vaults/secrets/delete")
    assert emulator.store.permissions(deployer)["dataActions"] == []


def test_the_journal_records_each_password_and_vault_change_in_order(
    emulator: EntraEmulator,
) -> None:
    store = emulator.store
    app = store.create_application({"displayName": "JOURNAL-NP"}, emulator.deployer)
    first = store.add_password(app["id"], {})
    store.set_secret(VAULT, "journal-np-client-secret", {"value": first["secretText"]})
    second = store.add_password(app["id"], {})
    store.remove_password(app["id"], first["keyId"])
    ops = [(e["op"], e.get("keyId"), e.get("publishedIn")) for e in store.journal()]
    assert ops == [
        ("createApplication", None, None),
        ("addPassword", first["keyId"], None),
        ("setSecret", first["keyId"], None),
        ("addPassword", second["keyId"], None),
        ("removePassword", first["keyId"], [f"{VAULT}/journal-np-client-secret"]),
    ]


def test_applications_have_graphs_shape_and_refuse_undeclared_properties(
    emulator: EntraEmulator,
) -> None:
    person = Principal("5e6f7a8b-9c0d-4e1f-a2b3-c4d5e6f7a8b9", "unused", TENANT)
    app = emulator.store.register_in_portal(
        "PORTAL-NP", person, web={"redirectUris": ["https://a.example.com/cb"]}
    )
    with _client(emulator) as graph:
        shown = graph.get(f"/graph/v1.0/applications/{app['id']}").json()
        assert shown["requiredResourceAccess"][0]["resourceAccess"] == [
            {"id": "e1fe6dd8-ba31-4d61-89e7-88639da4683d", "type": "Scope"}
        ], "the portal's delegated User.Read"
        assert shown["web"]["implicitGrantSettings"] == {
            "enableAccessTokenIssuance": False,
            "enableIdTokenIssuance": False,
        }
        assert shown["spa"] == {"redirectUris": []}
        assert graph.get(
            "/graph/v1.0/servicePrincipals", params={"$filter": f"appId eq '{app['appId']}'"}
        ).json()["value"], "the portal makes the service principal too"

        patched = graph.patch(
            f"/graph/v1.0/applications/{app['id']}", json={"web": {"logoutUrl": "https://a/x"}}
        )
        assert patched.status_code == 204
        web = graph.get(f"/graph/v1.0/applications/{app['id']}").json()["web"]
        assert web["redirectUris"] == ["https://a.example.com/cb"], "complex values merge"
        assert web["logoutUrl"] == "https://a/x"

        refused = graph.patch(f"/graph/v1.0/applications/{app['id']}", json={"colour": "blue"})
        assert refused.status_code == 400
        assert "'colour' does not exist as a declared property" in refused.text


def test_tokens_are_jwts_for_one_resource_and_die_with_the_run(
    tmp_path: Path, certificate: SandboxCertificate
) -> None:
    store = EntraStore(tmp_path / "entra.sqlite")
    with EntraEmulator(store, TENANT, certificate, apis=APIS) as first:
        token, _ = first.issue_token(first.deployer, OCELOT_API)
        assert token.startswith(TOKEN_PREFIX), "the canary the secret tests look for"
        claims = jwt.decode(token, options={"verify_signature": False})
        assert (claims["aud"], claims["oid"], claims["tid"]) == (
            OCELOT_API,
            first.deployer.object_id,
            TENANT,
        )
        assert first.holder(f"Bearer {token}", OCELOT_API) == first.deployer
        assert first.holder(f"Bearer {token}", "https://vault.azure.net") is None
    with EntraEmulator(EntraStore(tmp_path / "entra.sqlite"), TENANT, certificate) as second:
        assert second.holder(f"Bearer {token}", OCELOT_API) is None, "signed by another run's key"
