"""The azuread stand-in reads every page of a Graph list, as terraform-provider-azuread does, and
follows `@odata.nextLink` only back to the emulator it was started against."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from sandbox import behaviours
from sandbox.entra import EntraEmulator
from sandbox.standin.azuread import GRAPH, graph_list
from sandbox.standin.client import EntraClient
from sandbox.standin.server import ProviderError
from sandbox.standin.wire import decode
from tests.sandbox.conftest import OWNER_A, OWNER_C, Plugin, sandbox_env, unique

APP = behaviours.APPLICATION.resource_type
SP = behaviours.SERVICE_PRINCIPAL.resource_type
COLLECTIONS = {APP: "applications", SP: "servicePrincipals"}
MANY = 120  # more than Graph's default page of 100


@pytest.fixture
def graph(
    entra: EntraEmulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[EntraClient]:
    """The stand-in's client, in this process, pointed at the emulator as the plugin's is."""
    for name, value in sandbox_env(tmp_path, entra).items():
        monkeypatch.setenv(name, value)
    client = EntraClient()
    yield client
    client._http.close()  # EntraClient has no close(): the plugin keeps it for its lifetime


def _inputs(
    plugin: Callable[[str], Plugin], resource_type: str, owners: list[str]
) -> dict[str, Any]:
    """Inputs as Check hands them to the engine (the provider's defaults filled in)."""
    running = plugin("azuread")
    given: dict[str, Any] = {"displayName": unique("paged-owners-np"), "owners": owners}
    if resource_type == SP:
        _, app = running.create(APP, {**given, "owners": [OWNER_A]})
        given = {"clientId": app["clientId"], "owners": owners}
    checked: dict[str, Any] = decode(running.check(resource_type, given).inputs)
    return checked


@pytest.mark.parametrize("resource_type", [APP, SP])
def test_owners_past_the_first_page_are_read_and_synced_without_re_adding_or_keeping_any(
    plugin: Callable[[str], Plugin], entra: EntraEmulator, resource_type: str
) -> None:
    running, collection = plugin("azuread"), COLLECTIONS[resource_type]
    owners = sorted(str(uuid.uuid4()) for _ in range(MANY))
    inputs = _inputs(plugin, resource_type, owners)

    id_, outputs = running.create(resource_type, inputs)
    object_id = outputs["objectId"]
    assert outputs["owners"] == owners
    assert sorted(entra.store.get_object(collection, object_id)["owners"]) == owners

    # An owner added by hand is the 121st, on the second page of the owners list.
    entra.store.add_owner(collection, object_id, OWNER_C)
    _, state, refreshed = running.read(resource_type, id_, outputs, inputs)
    assert state["owners"] == sorted([*owners, OWNER_C])
    assert running.diff(resource_type, state, inputs, old_inputs=refreshed).diffs == ["owners"]

    # Owners on both pages stay, one on the second page goes, one comes: a reader of one page
    # would re-add the second page's owners (Graph refuses that) and keep the hand-added one.
    wanted = sorted([*owners[:-1], str(uuid.uuid4())])
    updated = running.update(
        resource_type, id_, state, {**inputs, "owners": wanted}, old_inputs=refreshed
    )
    assert updated["owners"] == wanted
    assert sorted(entra.store.get_object(collection, object_id)["owners"]) == wanted


def test_a_lookup_finds_the_objects_on_the_second_page(
    entra: EntraEmulator, graph: EntraClient
) -> None:
    name = unique("paged-lookup-np")
    made = [
        entra.store.create_application({"displayName": name}, entra.deployer)["id"]
        for _ in range(101)
    ]
    path = f"{GRAPH}/applications?$filter=displayName eq '{name}'"  # as the stand-in asks
    first_page = graph.call("list", "GET", path)
    assert len(first_page["value"]) == 100
    assert made[-1] not in {a["id"] for a in first_page["value"]}

    found = graph_list(graph, "list", path)

    assert sorted(a["id"] for a in found) == sorted(made)
    assert {a["displayName"] for a in found} == {name}


@pytest.mark.parametrize(
    "elsewhere",
    [
        "http://{host}:{port}",
        "https://{host}:{other_port}",
        "https://graph.microsoft.com",
        "",
    ],
    ids=["other-scheme", "other-port", "other-host", "relative"],
)
def test_a_next_page_elsewhere_than_the_emulator_is_refused_unread(
    entra: EntraEmulator,
    graph: EntraClient,
    monkeypatch: pytest.MonkeyPatch,
    elsewhere: str,
) -> None:
    while len(entra.store.list_objects("applications", None, None)) <= 100:
        entra.store.create_application(
            {"displayName": unique("paged-elsewhere-np")}, entra.deployer
        )
    emulator = urlsplit(entra.url)
    origin = elsewhere.format(
        host=emulator.hostname, port=emulator.port, other_port=(emulator.port or 0) + 1
    )
    asked: list[str] = []
    real_call = graph.call

    def redirected(operation: str, method: str, path: str, body: Any = None) -> Any:
        asked.append(path)
        answer = real_call(operation, method, path, body)
        link = urlsplit(answer["@odata.nextLink"])
        answer["@odata.nextLink"] = f"{origin}{link.path}?{link.query}"
        return answer

    monkeypatch.setattr(graph, "call", redirected)
    path = f"{GRAPH}/applications"

    with pytest.raises(ProviderError, match=r"list: Graph's next page .* is not on https://"):
        graph_list(graph, "list", path)

    assert asked == [path]
