"""The Ocelot emulator over TLS. Its data path: an Entra JWT for the route's environment, from a
client on the route's Client Access List, is let through; anything else is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from components.ocelot.api import OcelotClient
from sandbox.entra import EntraEmulator
from sandbox.ocelot import OcelotEmulator, OcelotStore
from sandbox.tls import SandboxCertificate

NP_EU = "eu-livekit-platform-service-np.int.bayer.com"
PROD_EU = "eu-livekit-platform-service.int.bayer.com"
NP_AUDIENCE = "api://livekit-platform-service-np.int.bayer.com"
PROD_AUDIENCE = "api://livekit-platform-service.int.bayer.com"
CLIENT = "6a1f0c2e-8d3b-4e5f-9a7c-1b2d3e4f5a6b"
OBJECT = "5b2e1d3f-9c4a-4f6e-8b7d-2c3e4f5a6b7c"
OTHER = "7c3f2e4a-0d5b-4a7f-9c8e-3d4f5a6b7c8d"


@pytest.fixture
def gateway(entra: EntraEmulator, certificate: SandboxCertificate) -> Iterator[OcelotEmulator]:
    audiences = {"np": NP_AUDIENCE, "prod": PROD_AUDIENCE}

    def route_claims(authorization: str | None, environment: str) -> dict[str, Any] | None:
        return entra.claims(authorization, audiences[environment])

    store = OcelotStore(approval_routes=frozenset({PROD_EU}))
    store.put(NP_EU, CLIENT, "BEAT12345678", "the app", caller="pipeline")
    store.put(PROD_EU, CLIENT, "BEAT12345678", "the app", caller="pipeline")
    with OcelotEmulator(
        store=store, route_claims=route_claims, tls=certificate.server_context()
    ) as running:
        yield running


def _token(entra: EntraEmulator, audience: str, client: str = CLIENT, lifetime: int = 600) -> str:
    token, _ = entra.signer.issue(OBJECT, client, audience, lifetime)
    return token


def _call(gateway: OcelotEmulator, route: str, token: str | None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.post(f"{gateway.gateway_url(route)}/rooms/join", headers=headers, json={})


def test_a_listed_client_with_a_current_token_reaches_lkps_with_identity_headers(
    entra: EntraEmulator, gateway: OcelotEmulator
) -> None:
    assert gateway.gateway_url(NP_EU).startswith("https://127.0.0.1:")
    answer = _call(gateway, NP_EU, _token(entra, NP_AUDIENCE))
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "route": NP_EU,
        "method": "POST",
        "path": "/rooms/join",
        "forwardedHeaders": {
            "X-Ocelot-Client-Id": CLIENT,
            "X-Ocelot-Tenant-Id": entra.tenant_id,
            "X-Ocelot-Object-Id": OBJECT,
        },
    }


@pytest.mark.parametrize(
    ("case", "expected"),
    [
        ("no token", 401),
        ("expired", 401),
        ("another environment's audience", 401),
        ("another signer", 401),
        ("client not on the list", 403),
        ("entry pending approval", 403),
        ("unknown route", 404),
    ],
)
def test_everything_else_is_refused(
    entra: EntraEmulator, gateway: OcelotEmulator, case: str, expected: int
) -> None:
    route, token = NP_EU, _token(entra, NP_AUDIENCE)
    if case == "no token":
        token = ""
    elif case == "expired":
        token = _token(entra, NP_AUDIENCE, lifetime=-60)
    elif case == "another environment's audience":
        token = _token(entra, PROD_AUDIENCE)
    elif case == "another signer":
        header, payload, signature = token.split(".")
        token = f"{header}.{payload}.{signature[::-1]}"
    elif case == "client not on the list":
        token = _token(entra, NP_AUDIENCE, client=OTHER)
    elif case == "entry pending approval":
        route, token = PROD_EU, _token(entra, PROD_AUDIENCE)
    elif case == "unknown route":
        route = "eu-livekit-platform-service-qa.int.bayer.com"
    answer = _call(gateway, route, token)
    assert answer.status_code == expected, answer.text
    if expected == 401:
        assert answer.headers["WWW-Authenticate"] == 'Bearer error="invalid_token"'
    if case == "client not on the list":
        assert answer.json()["error"]["message"] == f"client {OTHER} is not on {NP_EU}'s list"
    if case == "entry pending approval":
        assert (
            answer.json()["error"]["message"] == f"client {CLIENT} is pending on {PROD_EU}'s list"
        )


def test_an_entry_removed_in_the_ui_stops_the_next_call(
    entra: EntraEmulator, gateway: OcelotEmulator
) -> None:
    token = _token(entra, NP_AUDIENCE)
    assert _call(gateway, NP_EU, token).status_code == 200
    gateway.store.remove_out_of_band(NP_EU, CLIENT)
    refused = _call(gateway, NP_EU, token)
    assert refused.status_code == 403
    assert refused.json()["error"]["code"] == "client_not_allowed"


def test_without_a_token_check_every_call_is_refused(certificate: SandboxCertificate) -> None:
    store = OcelotStore()
    store.put(NP_EU, CLIENT, "BEAT12345678", "the app", caller="pipeline")
    with OcelotEmulator(store=store, tls=certificate.server_context()) as unchecked:
        assert _call(unchecked, NP_EU, "anything").status_code == 401


def test_the_ocelot_client_trusts_each_sandbox_a_process_starts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two sandboxes one after the other in one process (two CAs): the client's shared TLS
    context follows the trust store in effect instead of keeping the first one."""
    for name in ("first", "second"):
        certificate = SandboxCertificate.ensure(tmp_path / name)
        for variable, value in certificate.trust.items():
            monkeypatch.setenv(variable, value)
        with OcelotEmulator(
            tokens=frozenset({"static"}), tls=certificate.server_context()
        ) as emulator:
            route = OcelotClient(emulator.base_url, lambda: "static", deadline=5).get_route(NP_EU)
        assert route is not None
        assert route.id == NP_EU
