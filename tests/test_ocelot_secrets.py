"""The Ocelot token never leaks, and Entra tokens are fetched once per process and scope."""

from __future__ import annotations

import base64
import logging
import time
from datetime import date

import pytest
from pulumi.dynamic.dynamic import serialize_provider

from components.ocelot.api import OcelotError
from components.ocelot.provider import OcelotRouteAccessProvider
from sandbox.ocelot import OcelotEmulator
from tests.support.harness import run_program, stack_config
from tests.support.ocelot_fixtures import (
    CANARY_TOKEN,
    NP_EU,
    NP_US,
    SCOPE,
    configured_provider,
    props,
    provider_config,
)


def test_the_serialized_provider_holds_no_token(provider: OcelotRouteAccessProvider) -> None:
    provider.create(props())
    serialized = base64.b64decode(serialize_provider(provider))
    assert CANARY_TOKEN.encode() not in serialized
    assert b"components.ocelot.provider" in serialized
    assert len(serialized) < 200
    assert CANARY_TOKEN not in repr(provider.settings)
    assert CANARY_TOKEN not in repr(vars(provider))


def test_the_token_never_reaches_logs_or_errors(
    emulator: OcelotEmulator, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    provider = configured_provider(provider_config(emulator))
    created = provider.create(props())
    assert created.outs is not None
    provider.read(created.id, created.outs)
    provider.delete(created.id, props())
    failures = []
    for call in (
        lambda: provider.create(props(beat_id="BEAT1")),
        lambda: provider.create(props(route_id="nowhere.example")),
    ):
        with pytest.raises(OcelotError) as caught:
            call()
        failures.append(caught.value)
    wrong = configured_provider(provider_config(emulator, token=CANARY_TOKEN + "-expired"))
    with pytest.raises(OcelotError) as caught:
        wrong.create(props())
    failures.append(caught.value)
    assert caplog.records, "debug logging was not captured"
    assert any("HTTP Request" in r.getMessage() for r in caplog.records)
    assert CANARY_TOKEN not in caplog.text
    for failure in failures:
        assert CANARY_TOKEN not in str(failure)
        assert CANARY_TOKEN not in repr(failure.args)


def test_entra_tokens_are_fetched_once_per_process_and_scope(
    emulator: OcelotEmulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("IDENTITY_ENDPOINT", emulator.identity_endpoint)
    monkeypatch.setenv("IDENTITY_HEADER", emulator.identity_header)
    for name in (
        "AZURE_CLIENT_ID",
        "AZURE_TENANT_ID",
        "AZURE_FEDERATED_TOKEN_FILE",
        "MSI_ENDPOINT",
    ):
        monkeypatch.delenv(name, raising=False)
    first = configured_provider(provider_config(emulator, token=None))
    second = configured_provider(provider_config(emulator, token=None))
    for index, provider in enumerate([first, second] * 5):
        provider.create(props(client_id=f"00000000-0000-4000-8000-{index:012d}"))
    assert emulator.requests["token"] == 1
    assert emulator.requests["put_client"] == 10

    other_scope = provider_config(emulator, token=None)
    other_scope["lkps-onboarding:ocelot"] = other_scope["lkps-onboarding:ocelot"].replace(
        SCOPE, "api://other-np.example/.default"
    )
    configured_provider(other_scope).create(props(route_id=NP_US))
    assert emulator.requests["token"] == 2


def test_a_pending_entry_warns_with_the_approval_link() -> None:
    run = run_program(stack_config("np"), "np", date(2026, 11, 10), route_status="pending")
    warnings = [message for level, message in run.engine_log if level == "WARNING"]
    assert len(warnings) == 3
    assert any(f"https://devtools-np.bayer.com/ocelot?route={NP_EU}" in w for w in warnings)
    assert all("waits for approval by the route's owners" in w for w in warnings)
    active = run_program(stack_config("np"), "np", date(2026, 11, 10))
    assert not [message for level, message in active.engine_log if level == "WARNING"]


def test_a_given_credential_is_asked_once_per_source_until_its_token_nears_expiry() -> None:
    from azure.core.credentials import AccessToken

    from components.entra_auth import REFRESH_MARGIN_SECONDS, token_source

    asked: list[str] = []

    class Counting:
        def get_token(self, *scopes: str, **_: object) -> AccessToken:
            asked.append(scopes[0])
            lifetime = REFRESH_MARGIN_SECONDS + (3600 if len(asked) == 1 else 0)
            return AccessToken(f"token-{len(asked)}", int(time.time()) + lifetime)

    source = token_source(SCOPE, None, Counting())
    assert [source() for _ in range(5)] == ["token-1"] * 5
    assert asked == [SCOPE]
    expiring = token_source(SCOPE, None, Counting())
    assert expiring() == "token-2"
    assert expiring() == "token-3", "a token within the refresh margin is asked for again"
