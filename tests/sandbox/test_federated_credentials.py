"""Federated identity credentials in the Entra emulator, over real HTTP: Graph's
federatedIdentityCredentials on applications, and the token endpoint's workload identity
federation with tokens from the sandbox's local workload issuer."""

from __future__ import annotations

import shutil
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
import yaml
from azure.core.exceptions import ClientAuthenticationError
from azure.identity import ClientAssertionCredential
from cryptography.hazmat.primitives.asymmetric import rsa

from sandbox.entra import EntraEmulator
from sandbox.entra_store import EntraStore
from sandbox.session import ROOT, SandboxFolder, federated_issuers, running
from sandbox.tls import SandboxCertificate
from sandbox.workload_issuer import TOKEN_EXCHANGE_AUDIENCE, WorkloadIssuer
from tests.sandbox.conftest import (
    APIS,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    TENANT,
    VAULT,
    AreaTokens,
    unique,
)

GITHUB = "https://token.actions.githubusercontent.com"
AKS = "https://westeurope.oic.prod-aks.azure.com/fcb2b37b-5da0-466b-9b83-0014b67a7c78/5a1d3e2c-7b4f-4c8e-9d6a-1f2e3d4c5b6a/"
NOWHERE = "https://issuer.not-stood-in.example"
SUBJECT = "repo:bayer-int/lkps-onboarding:environment:np"
LKPS_SCOPE = f"{APIS[1]}/.default"
APPS = "/graph/v1.0/applications"


@pytest.fixture(scope="module")
def issuer(certificate: SandboxCertificate) -> Iterator[WorkloadIssuer]:
    with WorkloadIssuer(certificate, [GITHUB, AKS]) as running_issuer:
        yield running_issuer


@pytest.fixture(scope="module")
def emulator(
    tmp_path_factory: pytest.TempPathFactory,
    certificate: SandboxCertificate,
    issuer: WorkloadIssuer,
) -> Iterator[EntraEmulator]:
    store = EntraStore(tmp_path_factory.mktemp("federated") / "entra.sqlite")
    store.ensure_vault(SUBSCRIPTION, RESOURCE_GROUP, VAULT)
    with EntraEmulator(store, TENANT, certificate, apis=APIS, issuers=issuer) as started:
        yield started


@pytest.fixture
def graph(emulator: EntraEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=emulator.url, auth=AreaTokens(emulator)) as client:
        yield client


def _app(graph: httpx.Client, principal: bool = True) -> dict[str, Any]:
    app: dict[str, Any] = graph.post(APPS, json={"displayName": unique("FIC-NP")}).json()
    if principal:
        graph.post("/graph/v1.0/servicePrincipals", json={"appId": app["appId"]})
    return app


def _credential(name: str, issuer: str = GITHUB, subject: str = SUBJECT, **extra: Any) -> Any:
    return {
        "name": name,
        "issuer": issuer,
        "subject": subject,
        "audiences": [TOKEN_EXCHANGE_AUDIENCE],
        **extra,
    }


def _token(
    emulator: EntraEmulator, client_id: str, scope: str = LKPS_SCOPE, **form: str
) -> httpx.Response:
    return httpx.post(
        f"{emulator.url}/{TENANT}/oauth2/v2.0/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "scope": scope, **form},
    )


def _exchange(emulator: EntraEmulator, client_id: str, assertion: str) -> httpx.Response:
    return _token(
        emulator,
        client_id,
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=assertion,
    )


# -- Graph: federatedIdentityCredentials ----------------------------------------------------------


def test_a_credential_is_created_read_by_id_or_name_updated_and_deleted(
    emulator: EntraEmulator, graph: httpx.Client
) -> None:
    app = _app(graph)
    base = f"{APPS}/{app['id']}/federatedIdentityCredentials"
    # The documented example POSTs to the collection with a trailing slash.
    made = graph.post(f"{base}/", json=_credential("github-np", description="CI deploys"))
    assert made.status_code == 201, made.text
    created = made.json()
    assert uuid.UUID(created["id"])
    assert created == {
        "id": created["id"],
        "name": "github-np",
        "issuer": GITHUB,
        "subject": SUBJECT,
        "audiences": [TOKEN_EXCHANGE_AUDIENCE],
        "description": "CI deploys",
    }
    assert graph.get(base).json()["value"] == [created]
    assert graph.get(f"{base}/{created['id']}").json() == created
    assert graph.get(f"{base}/github-np").json() == created
    by_app_id = f"/graph/v1.0/applications(appId='{app['appId']}')/federatedIdentityCredentials"
    assert graph.get(by_app_id).json()["value"] == [created]
    assert graph.get(base, params={"$filter": f"subject eq '{SUBJECT}'"}).json()["value"] == [
        created
    ]
    assert graph.get(base, params={"$filter": "name eq 'other'"}).json()["value"] == []

    changed = graph.patch(
        f"{base}/github-np",
        json={"name": "github-np", "subject": f"{SUBJECT}-2", "description": None},
    )
    assert changed.status_code == 204, changed.text
    assert changed.content == b""
    after = graph.get(f"{base}/{created['id']}").json()
    assert (after["subject"], after["description"], after["name"]) == (
        f"{SUBJECT}-2",
        None,
        "github-np",
    )
    same_id = graph.patch(f"{base}/{created['id']}", json={"id": created["id"], "description": "x"})
    assert same_id.status_code == 204, same_id.text
    other_id = graph.patch(f"{base}/{created['id']}", json={"id": str(uuid.uuid4())})
    assert other_id.status_code == 400
    assert "'id' is read-only" in other_id.json()["error"]["message"]
    renamed = graph.patch(f"{base}/{created['id']}", json={"name": "renamed"})
    assert renamed.status_code == 400
    assert renamed.json()["error"]["code"] == "Request_BadRequest"
    assert graph.get(f"{base}/{created['id']}").json()["name"] == "github-np"

    assert graph.delete(f"{base}/github-np").status_code == 204
    gone = graph.get(f"{base}/{created['id']}")
    assert gone.status_code == 404
    assert gone.json()["error"]["code"] == "Request_ResourceNotFound"
    again = graph.delete(f"{base}/{created['id']}")
    assert again.status_code == 404
    assert again.json()["error"]["code"] == "Request_ResourceNotFound"

    journal = [e for e in emulator.store.journal() if e.get("credentialId") == created["id"]]
    assert [e["op"] for e in journal] == [
        "addFederatedIdentityCredential",
        "updateFederatedIdentityCredential",
        "updateFederatedIdentityCredential",
        "removeFederatedIdentityCredential",
    ]
    assert journal[1]["changed"] == ["description", "subject"]
    assert journal[2]["changed"] == ["description"]
    assert all(e["appId"] == app["appId"] for e in journal)


def test_credentials_are_not_part_of_the_application_only_of_its_relation(
    graph: httpx.Client,
) -> None:
    app = _app(graph)
    made = graph.post(
        f"{APPS}/{app['id']}/federatedIdentityCredentials", json=_credential("github-np")
    ).json()
    shown = graph.get(f"{APPS}/{app['id']}").json()
    assert shown["id"] == app["id"]
    assert "federatedIdentityCredentials" not in shown
    listed = graph.get(APPS, params={"$filter": f"appId eq '{app['appId']}'"}).json()["value"]
    assert [a["id"] for a in listed] == [app["id"]]
    assert "federatedIdentityCredentials" not in listed[0]
    expanded = graph.get(
        f"{APPS}/{app['id']}", params={"$expand": "federatedIdentityCredentials"}
    ).json()
    assert expanded["federatedIdentityCredentials"] == [made]


def test_the_twenty_first_credential_is_refused_and_the_list_pages(graph: httpx.Client) -> None:
    app = _app(graph, principal=False)
    base = f"{APPS}/{app['id']}/federatedIdentityCredentials"
    for index in range(20):
        made = graph.post(base, json=_credential(f"cred-{index:02d}", subject=f"s-{index}"))
        assert made.status_code == 201, made.text
    refused = graph.post(base, json=_credential("cred-20", subject="s-20"))
    assert refused.status_code == 400
    assert refused.json()["error"]["code"] == "Request_BadRequest"
    assert "20" in refused.json()["error"]["message"]

    page = graph.get(base, params={"$top": "8"}).json()
    names = [c["name"] for c in page["value"]]
    while "@odata.nextLink" in page:
        page = graph.get(page["@odata.nextLink"]).json()
        names += [c["name"] for c in page["value"]]
    assert names == [f"cred-{index:02d}" for index in range(20)]


@pytest.mark.parametrize(
    ("body", "message"),
    [
        pytest.param(_credential("first", subject="other"), "already exists", id="same-name"),
        pytest.param(_credential("FIRST", subject="other"), "already exists", id="name-any-case"),
        pytest.param(
            _credential("second"), "Issuer and subject combination already exists", id="same-pair"
        ),
        pytest.param(
            {**_credential("second", subject="x"), "audiences": ["api://a", "api://b"]},
            "exactly one audience",
            id="two-audiences",
        ),
        pytest.param(
            {**_credential("second", subject="x"), "audiences": ["x" * 601]},
            "600",
            id="long-audience",
        ),
        pytest.param(_credential("ab", subject="x"), "name 'ab' is invalid", id="short-name"),
        pytest.param(_credential("-ab", subject="x"), "is invalid", id="name-first-char"),
        pytest.param(_credential("a.b.c", subject="x"), "is invalid", id="name-dot"),
        pytest.param(_credential("a" * 121, subject="x"), "is invalid", id="long-name"),
        pytest.param(_credential("second", subject="x" * 601), "600", id="long-subject"),
        pytest.param(
            {k: v for k, v in _credential("second", subject="x").items() if k != "issuer"},
            "'issuer' is required",
            id="no-issuer",
        ),
        pytest.param(
            _credential("second", subject="x", unknown=1), "'unknown' does not exist", id="unknown"
        ),
    ],
)
def test_graphs_rules_refuse_a_credential(
    graph: httpx.Client, body: dict[str, Any], message: str
) -> None:
    app = _app(graph, principal=False)
    base = f"{APPS}/{app['id']}/federatedIdentityCredentials"
    assert graph.post(base, json=_credential("first")).status_code == 201
    refused = graph.post(base, json=body)
    assert refused.status_code == 400, refused.text
    assert refused.json()["error"]["code"] == "Request_BadRequest"
    assert message in refused.json()["error"]["message"]
    assert [c["name"] for c in graph.get(base).json()["value"]] == ["first"]


def test_an_update_may_not_break_the_rules_either(graph: httpx.Client) -> None:
    app = _app(graph, principal=False)
    base = f"{APPS}/{app['id']}/federatedIdentityCredentials"
    graph.post(base, json=_credential("first", subject="one"))
    graph.post(base, json=_credential("second", subject="two"))
    clash = graph.patch(f"{base}/second", json={"subject": "one"})
    assert clash.status_code == 400
    assert "Issuer and subject combination" in clash.json()["error"]["message"]
    two = graph.patch(f"{base}/second", json={"audiences": ["a", "b"]})
    assert two.status_code == 400
    assert graph.get(f"{base}/second").json()["subject"] == "two"
    assert graph.get(f"{base}/second").json()["audiences"] == [TOKEN_EXCHANGE_AUDIENCE]


# -- the workload issuer ---------------------------------------------------------------------------


def test_the_workload_issuer_serves_discovery_and_keys_for_each_issuer(
    issuer: WorkloadIssuer,
) -> None:
    for stood_in in (GITHUB, AKS):
        local = issuer.resolve(stood_in)
        assert local is not None
        assert local.startswith("https://127.0.0.1:")
        discovery = httpx.get(f"{local}/.well-known/openid-configuration").json()
        assert discovery["issuer"] == stood_in
        assert discovery["jwks_uri"].startswith(f"{issuer.url}/")
        token = issuer.mint(stood_in, SUBJECT)
        key = jwt.PyJWKClient(discovery["jwks_uri"]).get_signing_key_from_jwt(token)
        claims = jwt.decode(
            token, key.key, algorithms=["RS256"], audience=TOKEN_EXCHANGE_AUDIENCE, issuer=stood_in
        )
        assert claims["sub"] == SUBJECT
        assert claims["exp"] - claims["iat"] == 600
        assert claims["nbf"] == claims["iat"]
        assert claims["jti"]
        assert jwt.get_unverified_header(token)["kid"] == issuer.key_id(stood_in)
    assert issuer.jwks(GITHUB)["keys"][0]["kid"] != issuer.jwks(AKS)["keys"][0]["kid"]
    assert issuer.resolve(NOWHERE) is None
    assert httpx.get(f"{issuer.url}/0000000000000000/keys").status_code == 404
    with pytest.raises(KeyError):
        issuer.mint(NOWHERE, SUBJECT)


# -- the token endpoint ----------------------------------------------------------------------------


def _trusting(graph: httpx.Client, issuer: str = GITHUB, **app_options: bool) -> dict[str, Any]:
    """An application with a service principal and one federated credential for `issuer`."""
    app = _app(graph, **app_options)
    graph.post(
        f"{APPS}/{app['id']}/federatedIdentityCredentials",
        json=_credential("workload", issuer=issuer),
    )
    return app


def test_a_token_of_a_trusted_issuer_is_exchanged_for_an_app_only_token(
    emulator: EntraEmulator, graph: httpx.Client, issuer: WorkloadIssuer
) -> None:
    app = _trusting(graph, AKS)
    answer = _exchange(emulator, app["appId"], issuer.mint(AKS, SUBJECT))
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    claims = emulator.claims(f"Bearer {body['access_token']}", APIS[1])
    assert claims is not None
    (principal,) = emulator.store.list_objects("servicePrincipals", "appId", app["appId"])
    assert (claims["appid"], claims["aud"], claims["oid"], claims["tid"]) == (
        app["appId"],
        APIS[1],
        principal["id"],
        TENANT,
    )
    assert emulator.claims(f"Bearer {body['access_token']}", "https://graph.microsoft.com") is None


def _other_key_token(kid: str) -> str:
    """A token with GitHub's claims, signed by a key that is not the stand-in's."""
    now = int(time.time())
    claims = {
        "iss": GITHUB,
        "sub": SUBJECT,
        "aud": TOKEN_EXCHANGE_AUDIENCE,
        "iat": now,
        "nbf": now,
        "exp": now + 600,
    }
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    return jwt.encode(claims, key, algorithm="RS256", headers={"kid": kid})


@pytest.mark.parametrize(
    ("case", "code"),
    [
        ("wrong issuer", 700211),
        ("wrong subject", 700213),
        ("subject in another case", 7002138),
        ("wrong audience", 700212),
        ("expired", 700024),
        ("not yet valid", 700024),
        ("signed by another key", 7000272),
        ("another key under the issuer's kid", 700027),
        ("unknown issuer", 7000272),
    ],
)
def test_a_token_that_does_not_match_is_refused_with_entras_code(
    emulator: EntraEmulator,
    graph: httpx.Client,
    issuer: WorkloadIssuer,
    certificate: SandboxCertificate,
    case: str,
    code: int,
) -> None:
    app = _trusting(graph, NOWHERE if case == "unknown issuer" else GITHUB)
    now = int(time.time())
    if case == "unknown issuer":
        # A real issuer the sandbox does not stand in for: another local server signs for it,
        # but the emulator's resolver does not know it.
        with WorkloadIssuer(certificate, [NOWHERE]) as elsewhere:
            assertion = elsewhere.mint(NOWHERE, SUBJECT)
    else:
        assertion = {
            "wrong issuer": lambda: issuer.mint(AKS, SUBJECT),
            "wrong subject": lambda: issuer.mint(GITHUB, f"{SUBJECT}-other"),
            "subject in another case": lambda: issuer.mint(GITHUB, SUBJECT.upper()),
            "wrong audience": lambda: issuer.mint(GITHUB, SUBJECT, "api://AzureADMyOrg"),
            "expired": lambda: issuer.mint(GITHUB, SUBJECT, issued_at=now - 3600),
            "not yet valid": lambda: issuer.mint(GITHUB, SUBJECT, issued_at=now + 600),
            "signed by another key": lambda: _other_key_token("not-a-published-kid"),
            "another key under the issuer's kid": lambda: _other_key_token(issuer.key_id(GITHUB)),
        }[case]()
    answer = _exchange(emulator, app["appId"], assertion)
    assert answer.status_code == 401, answer.text
    body = answer.json()
    assert (body["error"], body["error_codes"]) == ("invalid_client", [code])
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    if case == "unknown issuer":
        assert "sandbox cannot reach issuer" in body["error_description"]
        assert NOWHERE in body["error_description"]


def test_the_emulator_fetches_issuer_metadata_on_loopback_only(
    emulator: EntraEmulator, graph: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    class Elsewhere:
        def resolve(self, issuer: str) -> str | None:
            return "https://token.actions.githubusercontent.com"

    app = _trusting(graph, GITHUB)
    assertion = emulator.assertions.issuers.mint(GITHUB, SUBJECT)  # type: ignore[union-attr]
    monkeypatch.setattr(emulator.assertions, "issuers", Elsewhere())
    answer = _exchange(emulator, app["appId"], assertion)
    assert answer.json()["error_codes"] == [7000272]
    assert "is not on this machine" in answer.json()["error_description"]


def test_requests_that_are_not_a_federated_exchange_are_refused(
    emulator: EntraEmulator, graph: httpx.Client, issuer: WorkloadIssuer
) -> None:
    app = _trusting(graph, GITHUB)
    good = issuer.mint(GITHUB, SUBJECT)
    without = _app(graph)
    no_credentials = _exchange(emulator, without["appId"], good)
    assert no_credentials.json()["error_codes"] == [70025]
    not_a_jwt = _exchange(emulator, app["appId"], "not.a.jwt")
    assert (not_a_jwt.status_code, not_a_jwt.json()["error_codes"]) == (400, [50027])
    wrong_type = _token(emulator, app["appId"], client_assertion_type="jwt", client_assertion=good)
    assert (wrong_type.status_code, wrong_type.json()["error_codes"]) == (400, [90023])
    both = _token(
        emulator,
        app["appId"],
        client_secret="a-secret",
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=good,
    )
    assert (both.status_code, both.json()["error_codes"]) == (400, [90023])
    neither = _token(emulator, app["appId"])
    assert neither.json()["error_codes"] == [7000218]
    unknown_client = _exchange(emulator, str(uuid.uuid4()), good)
    assert unknown_client.json()["error_codes"] == [700016]
    bad_scope = _token(
        emulator,
        app["appId"],
        scope=APIS[1],
        client_assertion_type="urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
        client_assertion=good,
    )
    assert bad_scope.json()["error_codes"] == [1002012]
    assert _exchange(emulator, app["appId"], good).status_code == 200


def test_the_exchange_needs_an_enabled_service_principal(
    emulator: EntraEmulator, graph: httpx.Client, issuer: WorkloadIssuer
) -> None:
    app = _trusting(graph, GITHUB, principal=False)
    missing = _exchange(emulator, app["appId"], issuer.mint(GITHUB, SUBJECT))
    assert missing.json()["error_codes"] == [7000229]
    sp = graph.post("/graph/v1.0/servicePrincipals", json={"appId": app["appId"]}).json()
    graph.patch(f"/graph/v1.0/servicePrincipals/{sp['id']}", json={"accountEnabled": False})
    disabled = _exchange(emulator, app["appId"], issuer.mint(GITHUB, SUBJECT))
    assert disabled.json()["error_codes"] == [7000112]


def test_a_deleted_credential_no_longer_lets_the_token_in(
    emulator: EntraEmulator, graph: httpx.Client, issuer: WorkloadIssuer
) -> None:
    app = _trusting(graph, GITHUB)
    assertion = issuer.mint(GITHUB, SUBJECT)
    assert _exchange(emulator, app["appId"], assertion).status_code == 200
    graph.delete(f"{APPS}/{app['id']}/federatedIdentityCredentials/workload")
    assert _exchange(emulator, app["appId"], assertion).json()["error_codes"] == [70025]


def test_azure_identitys_client_assertion_credential_gets_a_token(
    emulator: EntraEmulator, graph: httpx.Client, issuer: WorkloadIssuer
) -> None:
    app = _trusting(graph, GITHUB)
    options: dict[str, Any] = {"authority": emulator.url, "disable_instance_discovery": True}
    minted: list[str] = []

    def github_token() -> str:
        minted.append(issuer.mint(GITHUB, SUBJECT))
        return minted[-1]

    with ClientAssertionCredential(TENANT, app["appId"], github_token, **options) as credential:
        token = credential.get_token(LKPS_SCOPE)
    assert len(minted) == 1
    holder = emulator.holder(f"Bearer {token.token}", APIS[1])
    assert holder is not None
    assert holder.client_id == app["appId"]
    assert token.expires_on > time.time()

    with (
        ClientAssertionCredential(
            TENANT, app["appId"], lambda: issuer.mint(GITHUB, "repo:someone/else"), **options
        ) as wrong,
        pytest.raises(ClientAuthenticationError, match="AADSTS700213"),
    ):
        wrong.get_token(LKPS_SCOPE)


# -- the session -----------------------------------------------------------------------------------


def test_federated_issuers_come_from_the_applications_config_once_each() -> None:
    config = {
        "applications": [
            {"name": "A", "federatedCredentials": [{"name": "gh", "issuer": GITHUB}]},
            {"name": "B"},
            {
                "name": "C",
                "federatedCredentials": [
                    {"name": "aks", "issuer": AKS},
                    {"name": "gh2", "issuer": GITHUB},
                    {"name": "broken"},
                ],
            },
        ]
    }
    assert federated_issuers(config) == [GITHUB, AKS]
    assert federated_issuers({}) == []
    assert federated_issuers({"applications": [{"federatedCredentials": None}]}) == []


def test_a_running_sandbox_stands_in_for_the_stacks_issuers(tmp_path: Path) -> None:
    project = tmp_path / "project"
    project.mkdir()
    shutil.copyfile(ROOT / "Pulumi.yaml", project / "Pulumi.yaml")
    stack = yaml.safe_load((ROOT / "Pulumi.np.yaml").read_text())
    (first, *_) = stack["config"]["lkps-onboarding:applications"]
    first["federatedCredentials"] = [{"name": "github-np", "issuer": GITHUB, "subject": SUBJECT}]
    (project / "Pulumi.np.yaml").write_text(yaml.safe_dump(stack))
    folder = SandboxFolder(tmp_path / "sandbox", "np")
    with running(folder, project) as sandbox:
        workload = sandbox.workload_issuer
        assert workload is not None
        assert workload.issuers == (GITHUB,)
        assert sandbox.entra.assertions.issuers is workload
        person = sandbox.entra.deployer
        store = sandbox.entra.store
        app = store.create_application({"displayName": "SESSION-NP"}, person)
        store.create_service_principal({"appId": app["appId"]}, person)
        store.add_federated_credential(app["id"], _credential("github-np"))
        answer = _exchange(sandbox.entra, app["appId"], workload.mint(GITHUB, SUBJECT))
        assert answer.status_code == 200, answer.text
