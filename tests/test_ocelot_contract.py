"""The emulator's answers and the adapter's requests, validated against the OpenAPI document."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse

from components.ocelot.api import OcelotError
from components.ocelot.provider import OcelotRouteAccessProvider
from sandbox.ocelot import FaultPlan, OcelotEmulator
from sandbox.ocelot.server import Exchange
from tests.support.ocelot_fixtures import (
    CANARY_TOKEN,
    CLIENT,
    NP_EU,
    NP_US,
    configured_provider,
    props,
    provider_config,
)

SPEC = Path(__file__).resolve().parent.parent / "components" / "ocelot" / "openapi.yaml"


@pytest.fixture(scope="module")
def openapi() -> OpenAPI:
    return OpenAPI.from_file_path(str(SPEC))


def _request(emulator: OcelotEmulator, exchange: Exchange) -> MockRequest:
    headers = {"Authorization": f"Bearer {CANARY_TOKEN}"} if exchange.bearer else {}
    return MockRequest(
        host_url=f"http://127.0.0.1:{emulator.port}",
        method=exchange.method.lower(),
        path=exchange.path,
        headers=headers,
        data=exchange.body or None,
        content_type=exchange.content_type or "application/json",
    )


def _response(exchange: Exchange) -> MockResponse:
    assert exchange.status is not None
    return MockResponse(
        data=exchange.response_body,
        status_code=exchange.status,
        headers=exchange.response_headers,
        content_type=exchange.response_headers.get("Content-Type", "application/json"),
    )


def _validate_all(openapi: OpenAPI, emulator: OcelotEmulator) -> set[tuple[str, int | None]]:
    seen = set()
    for exchange in list(emulator.exchanges):
        request = _request(emulator, exchange)
        if exchange.status not in (400, 422):  # answers to requests that break the contract
            openapi.validate_request(request)
        if exchange.status is not None:
            openapi.validate_response(request, _response(exchange))
        seen.add((exchange.method, exchange.status))
    return seen


def test_every_provider_operation_matches_the_contract(
    openapi: OpenAPI, emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props())
    provider.create(props())
    assert created.outs is not None
    provider.read(created.id, created.outs)
    provider.update(created.id, props(), props(description="new"))
    provider.create(props(route_id=NP_US))
    provider.delete(created.id, props())
    provider.delete(created.id, props())
    seen = _validate_all(openapi, emulator)
    assert {("PUT", 201), ("PUT", 200), ("GET", 200), ("DELETE", 204), ("DELETE", 404)} <= seen


def test_error_answers_match_the_contract(openapi: OpenAPI, emulator: OcelotEmulator) -> None:
    bad_token = configured_provider(provider_config(emulator, token="wrong"))
    good = configured_provider(provider_config(emulator))
    for call in (
        lambda: bad_token.create(props()),
        lambda: good.create(props(beat_id="BEAT1")),
        lambda: good.create(props(route_id="nowhere.example")),
    ):
        with pytest.raises(OcelotError):
            call()
    with httpx.Client() as http:
        http.put(
            f"{emulator.base_url}/routes/{NP_EU}/clients/{CLIENT}",
            headers={"Authorization": f"Bearer {CANARY_TOKEN}"},
            content=b"{not json",
        )
    seen = _validate_all(openapi, emulator)
    assert {("PUT", 401), ("PUT", 422), ("PUT", 404), ("PUT", 400)} <= seen


def test_injected_faults_match_the_contract(openapi: OpenAPI) -> None:
    faults = FaultPlan(rate_limited=0.3, unavailable=0.3, seed=3)
    with OcelotEmulator(tokens=frozenset({CANARY_TOKEN}), faults=faults) as emulator:
        provider = configured_provider(provider_config(emulator))
        for index in range(6):
            provider.create(props(client_id=f"00000000-0000-4000-8000-{index:012d}"))
        seen = _validate_all(openapi, emulator)
    assert {("PUT", 429), ("PUT", 503), ("PUT", 201)} <= seen
