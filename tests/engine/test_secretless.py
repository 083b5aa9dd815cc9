"""Secretless applications through the real engine and the sandbox: a new app that signs in only
by exchanging a workload's token, the move of a client from its secret to a federated credential
and back with a working credential at every moment, an issuer the policy pack does not allow,
and `verify` on both kinds."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi import automation as auto

from lkps import federation, rules
from lkps.rules import Environment
from stack_command.review.events import PreviewEvents
from stack_command.review.report import build_review
from stack_command.verify import model
from stack_command.verify.render import as_text
from stack_command.verify.runner import run_checklist
from tests.support.sandbox_harness import (
    CANARY_SECRET,
    CANARY_TOKEN,
    SandboxProject,
    Session,
    applications,
    assert_journal_is_safe,
    assert_vault_publishes_live_secrets,
    changes,
)

pytestmark = pytest.mark.engine

GITHUB = "https://token.actions.githubusercontent.com"
CLIENT = "MY-LIVEKIT-CLIENT"
DEPLOY = {
    "name": "github-deploy-np",
    "issuer": GITHUB,
    "subject": "repo:lkps/my-livekit-client:environment:np",
}
WORKER: dict[str, Any] = {
    "name": "MY-LIVEKIT-WORKER",
    "role": "client",
    "beatId": "BEAT11223344",
    "description": "Batch worker that joins LKPS rooms from AKS, without a secret",
    "owners": ["3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"],
    "regions": ["eu"],
    "clientSecret": False,
}


@pytest.fixture(params=["np"])
def deployed(pulumi_cli: str, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Session]:
    """The committed stack (np unless the test names another), as its first up leaves it."""
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    with SandboxProject(tmp_path).deployed(request.param) as session:
        yield session


def _environment(session: Session) -> Environment:
    environment = rules.environment_of_stack(session.stack.name)
    assert environment is not None
    return environment


def _app(config: dict[str, Any], name: str) -> dict[str, Any]:
    return next(app for app in config["applications"] if app["name"] == name)


def _exchange(session: Session, client_id: str, subject: str, issuer: str = GITHUB) -> Any:
    """Entra's token endpoint, asked as a workload of `issuer` signed in as `subject` would."""
    sandbox = session.sandbox
    assert sandbox.workload_issuer is not None
    assertion = sandbox.workload_issuer.mint(issuer, subject, federation.DEFAULT_AUDIENCE)
    return httpx.post(
        f"{sandbox.entra.url}/{sandbox.entra.tenant_id}/oauth2/v2.0/token",
        data={
            "grant_type": "client_credentials",
            "client_id": client_id,
            "scope": rules.lkps_scope(_environment(session)),
            "client_assertion_type": "urn:ietf:params:oauth:client-assertion-type:jwt-bearer",
            "client_assertion": assertion,
        },
    )


def _through_ocelot(session: Session, token: str) -> httpx.Response:
    route = rules.lkps_host("eu", _environment(session))
    return httpx.get(
        f"{session.sandbox.ocelot.gateway_url(route)}/health",
        headers={"Authorization": f"Bearer {token}"},
    )


def _findings(session: Session, token: bool) -> dict[str, dict[str, model.Finding]]:
    report = run_checklist(session.stack, session.sandbox, None, None, token)
    text = as_text(report)
    assert CANARY_SECRET not in text
    assert CANARY_TOKEN not in text
    return {app.name: {f.item: f for f in app.findings} for app in report.applications}


def _no_secret_in_outputs_or_state(session: Session) -> None:
    for text in ("\n".join(session.outputs), session.export_without_secrets()):
        assert CANARY_SECRET not in text
        assert CANARY_TOKEN not in text


def test_a_new_secretless_app_signs_in_by_exchange_through_ocelot_and_passes_verify(
    deployed: Session,
) -> None:
    session = deployed
    elsewhere = {"name": "ci-elsewhere", "issuer": "https://issuer.example.com", "subject": "ci"}
    session.edit_config(
        lambda config: config["applications"].append(
            {**WORKER, "federatedCredentials": [elsewhere]}
        )
    )
    with pytest.raises(auto.CommandError) as refused:
        session.preview()
    assert "federated-credential-issuer" in str(refused.value)
    assert "trusts issuer 'https://issuer.example.com', which is not allowed in np" in str(
        refused.value
    )

    subject = "system:serviceaccount:livekit:my-livekit-worker"
    cluster = "https://westeurope.oic.prod-aks.azure.com/fcb2b37b-5da0-466b-9b83-0014b67a7c78/"
    issuer = cluster + "0b1c2d3e-4f50-4617-8293-a4b5c6d7e8f9/"
    aks = {"name": "aks-weu", "issuer": issuer, "subject": subject}

    def add_worker(config: dict[str, Any]) -> None:
        _app(config, WORKER["name"])["federatedCredentials"] = [aks]

    session.edit_config(add_worker)
    # The new app's registration, service principal, federated credential and Ocelot entry,
    # with their components; no password, vault secret or vault name.
    assert changes(session.up()) == {"create": 7, "same": 29}
    store = session.sandbox.entra.store
    app = applications(store)["MY-LIVEKIT-WORKER-NP"]
    assert app["passwordCredentials"] == []
    (vault,) = store.data["vaults"]
    assert "my-livekit-worker-np-client-secret" not in {
        s["id"].rsplit("/", 1)[-1] for s in store.list_secrets(vault)
    }
    outputs = session.stack.outputs()["applications"].value["MY-LIVEKIT-WORKER"]
    assert outputs["credentialKinds"] == ["federated"]
    assert [(c["name"], c["issuer"], c["subject"]) for c in outputs["federatedCredentials"]] == [
        ("aks-weu", issuer, subject)
    ]

    answer = _exchange(session, app["appId"], subject, issuer)
    assert answer.status_code == 200, answer.text
    through = _through_ocelot(session, answer.json()["access_token"])
    assert through.status_code == 200, through.text
    assert through.json()["forwardedHeaders"]["X-Ocelot-Client-Id"] == app["appId"]
    wrong = _exchange(session, app["appId"], "system:serviceaccount:livekit:another", issuer)
    assert wrong.status_code in (400, 401), wrong.text
    assert "AADSTS700213" in wrong.text or "AADSTS70021" in wrong.text

    found = _findings(session, token=True)
    worker = found["MY-LIVEKIT-WORKER"]
    assert worker[model.FEDERATED].status == "pass", worker[model.FEDERATED]
    assert worker[model.TOKEN].status == "pass", worker[model.TOKEN]
    assert model.CLIENT_SECRET not in worker
    for other in ("MY-LIVEKIT-AGENT", CLIENT):
        assert found[other][model.CLIENT_SECRET].status == "pass"
        assert found[other][model.TOKEN].status == "pass"
        assert model.FEDERATED not in found[other]

    assert changes(session.up()) == {"same": 36}
    _no_secret_in_outputs_or_state(session)


def _up(session: Session, expected: dict[str, int], total: int) -> tuple[float, int]:
    """An up that makes exactly the `expected` changes to a stack of `total` resources, leaving
    the rest as they are; its time and the stack's new number of resources."""
    started = time.monotonic()
    made = changes(session.up())
    took = time.monotonic() - started
    touched = sum(v for k, v in expected.items() if k != "create")
    assert made == {**expected, "same": total - touched}, made
    return took, total + expected.get("create", 0) - expected.get("delete", 0)


def _working_credential_throughout(journal: list[dict[str, Any]], app_id: str, secret: str) -> int:
    """Replays the journal for one application: from its first working credential on, after
    every entry it has a federated credential or a live password that the vault publishes.
    Returns how many entries were about it from then on."""
    passwords: set[str] = set()
    federated: set[str] = set()
    published: str | None = None
    seen = 0
    working = False
    for entry in journal:
        op = entry["op"]
        if entry.get("appId") == app_id:
            if op == "addPassword":
                passwords.add(entry["keyId"])
            elif op == "removePassword":
                passwords.discard(entry["keyId"])
            elif op == "addFederatedIdentityCredential":
                federated.add(entry["credentialId"])
            elif op == "removeFederatedIdentityCredential":
                federated.discard(entry["credentialId"])
        elif entry.get("secret", "").endswith(f"/{secret}"):
            published = entry.get("keyId") if op == "setSecret" else None
        else:
            continue
        now = bool(federated) or published in passwords
        assert now or not working, f"no working credential after {entry}"
        working = working or now
        seen += working
    return seen


@pytest.mark.parametrize("deployed", ["np", "prod"], indirect=True)
def test_a_client_moves_from_its_secret_to_a_federated_credential_and_back(
    deployed: Session,
) -> None:
    session = deployed
    environment = _environment(session)
    agent, client = (rules.display_name(n, environment) for n in ("MY-LIVEKIT-AGENT", CLIENT))
    store = session.sandbox.entra.store
    app = applications(store)[client]
    secret_name = rules.vault_secret_name(client)
    (vault,) = store.data["vaults"]
    timings: dict[str, float] = {}

    def both_at_once(config: dict[str, Any]) -> None:
        _app(config, CLIENT).update(federatedCredentials=[DEPLOY], clientSecret=False)

    session.edit_config(both_at_once)
    with pytest.raises(auto.CommandError) as refused:
        session.preview()
    assert "applications[1].clientSecret: false removes the client secret" in str(refused.value)

    def add_federated(config: dict[str, Any]) -> None:
        _app(config, CLIENT).pop("clientSecret")

    session.edit_config(add_federated)
    total = 29 if environment == "np" else 30
    # The credential and its component; the vault secret is marked lkps-federated.
    timings["add the federated credential"], total = _up(session, {"create": 2, "update": 1}, total)
    assert len(applications(store)[client]["passwordCredentials"]) == 2
    answer = _exchange(session, app["appId"], DEPLOY["subject"])
    assert answer.status_code == 200, answer.text

    def remove_secret(config: dict[str, Any]) -> None:
        _app(config, CLIENT)["clientSecret"] = False

    session.edit_config(remove_secret)
    events = PreviewEvents()
    session.preview(on_event=events)
    review = build_review(environment, environment, [agent, client], "x", events)
    assert review.applications[client].dangers == [
        "client secret of slot a revoked",
        "client secret of slot b revoked",
        "vault secret deleted",
        f"client secret removed: the app now signs in with {GITHUB}/{DEPLOY['subject']} only",
    ]
    # Both passwords, the vault secret, its vault name and their component.
    timings["remove the client secret"], total = _up(session, {"delete": 5}, total)
    assert applications(store)[client]["passwordCredentials"] == []
    assert secret_name in {s["id"].rsplit("/", 1)[-1] for s in store.list_deleted_secrets(vault)}
    answer = _exchange(session, app["appId"], DEPLOY["subject"])
    assert answer.status_code == 200, answer.text
    found = _findings(session, token=True)[CLIENT]
    assert found[model.FEDERATED].status == "pass"
    assert found[model.TOKEN].status == "pass", found[model.TOKEN]

    def back_to_the_secret(config: dict[str, Any]) -> None:
        client = _app(config, CLIENT)
        client.pop("clientSecret")
        client.pop("federatedCredentials")

    session.edit_config(back_to_the_secret)
    timings["back to the client secret"], total = _up(session, {"create": 5, "delete": 2}, total)
    assert_vault_publishes_live_secrets(store)
    assert_journal_is_safe(store)
    found = _findings(session, token=True)[CLIENT]
    assert found[model.CLIENT_SECRET].status == "pass"
    assert found[model.TOKEN].status == "pass"
    refused_now = _exchange(session, app["appId"], DEPLOY["subject"])
    assert refused_now.status_code in (400, 401), refused_now.text

    assert _working_credential_throughout(store.journal(), app["appId"], secret_name) >= 8
    _no_secret_in_outputs_or_state(session)
    print(
        f"{environment}: up of each migration step:", {k: f"{v:.1f} s" for k, v in timings.items()}
    )
