"""Many provider operations at once against a faulty emulator, as the engine runs them."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

from components.ocelot.provider import OcelotRouteAccessProvider
from sandbox.ocelot import FaultPlan, OcelotEmulator
from tests.support.ocelot_fixtures import (
    CANARY_TOKEN,
    NP_EU,
    NP_US,
    configured_provider,
    props,
    provider_config,
)

ENGINE_PARALLELISM = 16
ENTRIES = 200


def _client_id(index: int) -> str:
    return f"00000000-0000-4000-8000-{index:012d}"


def _foreign(index: int) -> str:
    return f"ffffffff-0000-4000-8000-{index:012d}"


def _parallel(calls: list[Any]) -> list[Any]:
    with ThreadPoolExecutor(max_workers=ENGINE_PARALLELISM) as pool:
        return list(pool.map(lambda call: call(), calls))


def test_entries_land_once_under_transient_faults_and_foreign_ones_survive() -> None:
    faults = FaultPlan.transient(0.3, seed=42, slow_seconds=0.8, retry_after_seconds=0)
    with OcelotEmulator(tokens=frozenset({CANARY_TOKEN}), faults=faults) as emulator:
        for index in range(10):
            emulator.store.add_foreign(NP_EU if index % 2 else NP_US, _foreign(index))
        provider: OcelotRouteAccessProvider = configured_provider(
            provider_config(emulator, timeout=0.4, deadline=60.0)
        )
        wanted = [
            props(route_id=NP_EU if index % 2 else NP_US, client_id=_client_id(index))
            for index in range(ENTRIES)
        ]

        created = _parallel([lambda p=p: provider.create(p) for p in wanted])
        assert len({result.id for result in created}) == ENTRIES
        for route in (NP_EU, NP_US):
            listed = emulator.store.route_json(route)
            assert listed is not None
            client_ids = [entry["clientId"] for entry in listed["clientAccessList"]]
            assert len(client_ids) == len(set(client_ids)) == ENTRIES // 2 + 5
        assert sum(emulator.requests[f"{kind} total"] for kind in ("PUT",)) > ENTRIES

        read = _parallel(
            [
                lambda r=r, p=p: provider.read(r.id, r.outs | p)
                for r, p in zip(created, wanted, strict=True)
            ]
        )
        assert all(result.id for result in read)

        _parallel(
            [
                lambda r=r, p=p: provider.delete(r.id, p)
                for r, p in zip(created, wanted, strict=True)
            ]
        )
        remaining = {**emulator.store.entries(NP_EU), **emulator.store.entries(NP_US)}
        assert set(remaining) == {_foreign(index) for index in range(10)}
