"""The Ocelot dynamic provider against the emulator, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import time
from typing import Any

import pytest
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from components.ocelot.api import OcelotPermanentError
from components.ocelot.provider import OcelotRouteAccessProvider
from sandbox.ocelot import FaultPlan, OcelotEmulator, OcelotStore
from tests.support.ocelot_fixtures import (
    CANARY_TOKEN,
    CLIENT,
    FOREIGN_CLIENT,
    NP_EU,
    NP_US,
    OTHER_CLIENT,
    PROD_EU,
    configured_provider,
    props,
    provider_config,
)

OUTPUT_KEYS = {
    "route_id",
    "client_id",
    "beat_id",
    "description",
    "status",
    "added_at",
    "added_by",
    "ui_url",
}


def test_create_adds_the_entry(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    result = provider.create(props())
    assert result.id == f"{NP_EU}/{CLIENT}"
    assert result.outs is not None
    assert set(result.outs) == OUTPUT_KEYS
    assert result.outs["status"] == "active"
    assert result.outs["ui_url"] == f"https://devtools-np.bayer.com/ocelot?route={NP_EU}"
    entry = emulator.store.entries(NP_EU)[CLIENT]
    assert (entry.beat_id, entry.description) == ("BEAT12345678", props()["description"])
    assert emulator.requests["put_client"] == 1


def test_create_adopts_an_existing_entry(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    emulator.store.add_foreign(NP_EU, CLIENT, beat_id="BEAT12345678")
    result = provider.create(props())
    assert result.outs is not None
    assert result.outs["description"] == props()["description"]
    assert len(emulator.store.entries(NP_EU)) == 2
    again = provider.create(props())
    assert again.id == result.id
    assert len(emulator.store.entries(NP_EU)) == 2


def test_create_on_an_approval_route_is_pending_until_approved(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props(route_id=NP_US))
    assert created.outs is not None
    assert created.outs["status"] == "pending"
    assert created.outs["ui_url"] == f"https://devtools-np.bayer.com/ocelot?route={NP_US}"
    read = provider.read(created.id, created.outs)
    assert read.outs is not None
    assert read.outs["status"] == "pending"
    emulator.store.approve(NP_US, CLIENT)
    read = provider.read(created.id, created.outs)
    assert read.outs is not None
    assert read.outs["status"] == "active"


def test_read_returns_outputs_and_inputs(provider: OcelotRouteAccessProvider) -> None:
    created = provider.create(props())
    assert created.outs is not None
    read = provider.read(created.id, created.outs)
    assert read.id == created.id
    assert read.outs == created.outs
    assert read.inputs == props()
    assert provider.diff(created.id, read.inputs, props()).changes is False


def test_read_after_out_of_band_removal_reports_the_entry_gone(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props())
    assert created.outs is not None
    emulator.store.remove_out_of_band(NP_EU, CLIENT)
    gone = provider.read(created.id, created.outs)
    assert gone.id == ""
    recreated = provider.create(props())
    assert recreated.id == created.id
    assert CLIENT in emulator.store.entries(NP_EU)
    assert FOREIGN_CLIENT in emulator.store.entries(NP_EU)


def test_out_of_band_edit_is_seen_by_refresh_and_repaired_in_place(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props())
    assert created.outs is not None
    emulator.store.edit_out_of_band(NP_EU, CLIENT, "edited by hand")
    read = provider.read(created.id, created.outs)
    assert read.inputs is not None
    assert read.inputs["description"] == "edited by hand"
    diff = provider.diff(created.id, read.inputs, props())
    assert diff.changes is True
    assert diff.replaces == []
    updated = provider.update(created.id, read.inputs, props())
    assert updated.outs is not None
    assert set(updated.outs) == OUTPUT_KEYS
    assert emulator.store.entries(NP_EU)[CLIENT].description == props()["description"]


@pytest.mark.parametrize(
    ("change", "replaces"),
    [
        ({"description": "new words"}, []),
        ({"beat_id": "BEAT99999999"}, []),
        ({"client_id": OTHER_CLIENT}, ["client_id"]),
        ({"route_id": NP_US}, ["route_id"]),
        ({"client_id": UNKNOWN}, ["client_id"]),
        # What the provider host really passes during a preview (pulumi/dynamic/__main__.py).
        ({"client_id": Unknown()}, ["client_id"]),
        ({"description": Unknown()}, []),
    ],
)
def test_diff_compares_real_inputs(
    provider: OcelotRouteAccessProvider, change: dict[str, Any], replaces: list[str]
) -> None:
    olds = props() | {"__provider": "old pickled code", "status": "active"}
    news = props() | change | {"__provider": "new pickled code"}
    diff = provider.diff("id", olds, news)
    assert diff.changes is True
    assert diff.replaces == replaces
    assert diff.delete_before_replace is True


def test_diff_ignores_the_pickled_provider(provider: OcelotRouteAccessProvider) -> None:
    diff = provider.diff("id", props() | {"__provider": "a"}, props() | {"__provider": "b"})
    assert diff.changes is False
    assert diff.replaces == []


def test_update_changes_metadata_in_place_and_returns_full_outputs(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props())
    news = props(beat_id="BEAT99999999", description="renamed")
    updated = provider.update(created.id, props(), news)
    assert updated.outs is not None
    assert set(updated.outs) == OUTPUT_KEYS
    assert updated.outs["beat_id"] == "BEAT99999999"
    assert updated.outs["added_at"] == created.outs["added_at"] if created.outs else False
    entry = emulator.store.entries(NP_EU)[CLIENT]
    assert (entry.beat_id, entry.description) == ("BEAT99999999", "renamed")


def _replace(
    provider: OcelotRouteAccessProvider, old_id: str, olds: dict[str, Any], news: dict[str, Any]
) -> str:
    """A replacement in the order the engine runs it for the provider's diff."""
    diff = provider.diff(old_id, olds, news)
    assert diff.replaces
    if diff.delete_before_replace:
        provider.delete(old_id, olds)
        return provider.create(news).id
    new_id = provider.create(news).id
    provider.delete(old_id, olds)
    return new_id


@pytest.mark.parametrize(
    "news", [props(client_id=OTHER_CLIENT), props(route_id=NP_US)], ids=["client", "route"]
)
def test_a_replacement_adds_the_new_entry_and_removes_the_old(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider, news: dict[str, Any]
) -> None:
    created = provider.create(props())
    _replace(provider, created.id, props(), provider.check(props(), news).inputs)
    assert news["client_id"] in emulator.store.entries(news["route_id"])
    assert set(emulator.store.entries(NP_EU)) - {OTHER_CLIENT} == {FOREIGN_CLIENT}


def test_a_replacement_onto_the_same_entry_keeps_it(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    """A client ID unknown at plan time may resolve to the same entry: it must survive."""
    created = provider.create(props())
    diff = provider.diff(created.id, props(), props(client_id=UNKNOWN))
    assert diff.replaces == ["client_id"]
    assert diff.delete_before_replace, "create-then-delete would remove the entry just added"
    provider.delete(created.id, props())
    provider.create(props())
    assert CLIENT in emulator.store.entries(NP_EU)


def test_delete_removes_only_its_entry_and_tolerates_absence(
    emulator: OcelotEmulator, provider: OcelotRouteAccessProvider
) -> None:
    created = provider.create(props())
    provider.create(props(client_id=OTHER_CLIENT))
    provider.delete(created.id, props())
    entries = emulator.store.entries(NP_EU)
    assert CLIENT not in entries
    assert OTHER_CLIENT in entries
    assert FOREIGN_CLIENT in entries
    provider.delete(created.id, props())
    assert set(emulator.store.entries(NP_EU)) == {OTHER_CLIENT, FOREIGN_CLIENT}


@pytest.mark.parametrize(
    ("change", "prop", "reason"),
    [
        ({"route_id": PROD_EU}, "route_id", f"'{PROD_EU}' is a prod route; a np stack allows"),
        ({"route_id": "example.com"}, "route_id", "'example.com' is not an LKPS route"),
        ({"client_id": "not-a-guid"}, "client_id", "'not-a-guid' must be a GUID"),
        ({"beat_id": "BEAT1"}, "beat_id", "'BEAT1' must be 'BEAT' followed by 8 digits"),
        ({"description": "x" * 201}, "description", "must be a string of at most 200"),
    ],
)
def test_check_names_the_failing_property(
    provider: OcelotRouteAccessProvider, change: dict[str, Any], prop: str, reason: str
) -> None:
    result = provider.check({}, props() | change)
    assert [(f.property, f.reason[: len(reason)]) for f in result.failures] == [(prop, reason)]


def test_check_in_a_prod_stack_refuses_np_routes(emulator: OcelotEmulator) -> None:
    prod = configured_provider(provider_config(emulator, environment="prod"))
    result = prod.check({}, props(route_id=NP_EU))
    assert [f.property for f in result.failures] == ["route_id"]
    assert "is a np route; a prod stack allows" in result.failures[0].reason
    assert prod.check({}, props(route_id=PROD_EU)).failures == []


def test_check_passes_unknowns_and_normalizes_the_client_id(
    provider: OcelotRouteAccessProvider,
) -> None:
    unknown = provider.check({}, props(client_id=UNKNOWN) | {"status": None})
    assert unknown.failures == []
    assert set(unknown.inputs) == set(props())
    for value in (Unknown(), UNKNOWN):
        news = props() | {"client_id": value, "description": value}
        assert provider.check({}, news).failures == []
    upper = provider.check({}, props(client_id=CLIENT.upper()))
    assert upper.failures == []
    assert upper.inputs["client_id"] == CLIENT


def _assert_fails_fast(emulator: OcelotEmulator, call: Any, status: int, message: str) -> None:
    before = sum(v for k, v in emulator.requests.items() if k.endswith("total"))
    started = time.monotonic()
    with pytest.raises(OcelotPermanentError) as caught:
        call()
    elapsed = time.monotonic() - started
    text = str(caught.value)
    assert f"HTTP {status}" in text
    assert message in text
    assert NP_EU in text or "route" in text
    assert CANARY_TOKEN not in text
    assert elapsed < 1.0
    assert sum(v for k, v in emulator.requests.items() if k.endswith("total")) == before + 1


def test_permanent_errors_fail_fast_naming_route_client_status_and_message() -> None:
    with OcelotEmulator(
        tokens=frozenset({CANARY_TOKEN}), forbidden_routes=frozenset({NP_EU})
    ) as emulator:
        provider = configured_provider(provider_config(emulator))
        _assert_fails_fast(
            emulator,
            lambda: provider.create(props()),
            403,
            f"Ocelot add failed for route {NP_EU}, client ID {CLIENT}: HTTP 403: forbidden: "
            f"static-token-holder may not manage route {NP_EU}",
        )
        _assert_fails_fast(
            emulator,
            lambda: provider.create(props(route_id=NP_US, beat_id="BEAT1")),
            422,
            f"client ID {CLIENT}: HTTP 422: invalid_beat_id",
        )
        _assert_fails_fast(
            emulator,
            lambda: provider.create(props(route_id="nowhere.example")),
            404,
            "route_not_found",
        )
        bad_token = configured_provider(provider_config(emulator, token="wrong-token"))
        _assert_fails_fast(
            emulator,
            lambda: bad_token.create(props(route_id=NP_US)),
            401,
            "unauthorized: missing or invalid token",
        )


def test_transient_errors_are_retried_until_they_pass() -> None:
    faults = FaultPlan(unavailable=0.5, seed=7)
    with OcelotEmulator(tokens=frozenset({CANARY_TOKEN}), faults=faults) as emulator:
        provider = configured_provider(provider_config(emulator))
        for index in range(8):
            client = f"00000000-0000-4000-8000-{index:012d}"
            provider.create(props(client_id=client))
        assert len(emulator.store.entries(NP_EU)) == 8
        assert emulator.requests["PUT total"] > 8


def test_retries_stop_at_the_deadline() -> None:
    with OcelotEmulator(
        tokens=frozenset({CANARY_TOKEN}), faults=FaultPlan(unavailable=1.0)
    ) as emulator:
        provider = configured_provider(provider_config(emulator, deadline=1.5))
        started = time.monotonic()
        with pytest.raises(Exception, match="HTTP 503: unavailable: try later") as caught:
            provider.create(props())
        assert time.monotonic() - started < 1.5 + 1.0
        assert f"client ID {CLIENT}" in str(caught.value)
        assert emulator.requests["PUT total"] >= 3


def test_a_missing_provider_config_names_the_key(emulator: OcelotEmulator) -> None:
    config = provider_config(emulator)
    del config["lkps-onboarding:ocelot"]
    with pytest.raises(ValueError, match="ocelot: is required"):
        configured_provider(config)


def test_store_is_not_shared_between_emulators() -> None:
    first, second = OcelotStore(), OcelotStore()
    first.add_foreign(NP_EU, CLIENT)
    assert second.entries(NP_EU) == {}
