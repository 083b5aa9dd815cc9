"""Fixtures for the Ocelot tests: a started emulator and a provider configured against it."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components import entra_auth as auth
from components.ocelot.provider import OcelotRouteAccessProvider
from lkps import rules
from sandbox.ocelot import OcelotEmulator, OcelotStore

PROJECT = rules.PROJECT
CANARY_TOKEN = "CANARY-ocelot-token-7b3e91"
NP_EU = "eu-livekit-platform-service-np.int.bayer.com"
NP_US = "us-livekit-platform-service-np.int.bayer.com"
PROD_EU = "eu-livekit-platform-service.int.bayer.com"
CLIENT = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
OTHER_CLIENT = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
FOREIGN_CLIENT = "11111111-2222-4333-8444-555555555555"
SCOPE = "api://devtools-np.bayer.com/ocelot/.default"


def provider_config(
    emulator: OcelotEmulator,
    token: str | None = CANARY_TOKEN,
    environment: str = "np",
    timeout: float = 0.5,
    deadline: float = 20.0,
) -> dict[str, Any]:
    """The stack config as the engine passes it to the provider process."""
    config = {
        f"{PROJECT}:environment": environment,
        f"{PROJECT}:ocelot": json.dumps(
            {
                "apiUrl": emulator.base_url,
                "tokenScope": SCOPE,
                "requestTimeoutSeconds": timeout,
                "retryDeadlineSeconds": deadline,
            }
        ),
    }
    if token is not None:
        config[f"{PROJECT}:ocelotToken"] = token
    return config


def configured_provider(config: dict[str, Any]) -> OcelotRouteAccessProvider:
    provider = OcelotRouteAccessProvider()
    provider.configure(ConfigureRequest(Config(config, PROJECT)))
    return provider


def props(
    route_id: str = NP_EU,
    client_id: str = CLIENT,
    beat_id: str = "BEAT12345678",
    description: str = "MY-LIVEKIT-AGENT-NP (LKPS agent), managed by lkps-onboarding",
) -> dict[str, Any]:
    return {
        "route_id": route_id,
        "client_id": client_id,
        "beat_id": beat_id,
        "description": description,
    }


@pytest.fixture
def emulator() -> Iterator[OcelotEmulator]:
    with OcelotEmulator(
        tokens=frozenset({CANARY_TOKEN}),
        store=OcelotStore(approval_routes=frozenset({NP_US})),
        forbidden_routes=frozenset(),
    ) as running:
        running.store.add_foreign(NP_EU, FOREIGN_CLIENT)
        yield running


@pytest.fixture
def provider(emulator: OcelotEmulator) -> OcelotRouteAccessProvider:
    return configured_provider(provider_config(emulator))


@pytest.fixture(autouse=True)
def _fresh_token_cache() -> Iterator[None]:
    auth.forget_tokens()
    yield
    auth.forget_tokens()
