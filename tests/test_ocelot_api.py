"""The Ocelot adapter's retry rules with a scripted transport, and the emulator's store keeping
client IDs whatever their case; loopback tests cover the rest."""

from __future__ import annotations

import email.utils
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from components.ocelot.api import OcelotClient, OcelotPermanentError, OcelotTransientError
from components.rest import retry_after_seconds
from sandbox.ocelot import OcelotEmulator, OcelotStore
from tests.support.ocelot_fixtures import CANARY_TOKEN, CLIENT, NP_EU, NP_US

ENTRY = {
    "clientId": CLIENT,
    "beatId": "BEAT12345678",
    "description": "d",
    "status": "active",
    "addedAt": "2026-01-01T00:00:00Z",
    "addedBy": "x",
}


def _scripted(answers: list[httpx.Response | Exception]) -> tuple[httpx.MockTransport, list[float]]:
    pending: Iterator[httpx.Response | Exception] = iter(answers)
    times: list[float] = []

    def handle(request: httpx.Request) -> httpx.Response:
        times.append(time.monotonic())
        answer = next(pending)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return httpx.MockTransport(handle), times


def _client(transport: httpx.MockTransport, deadline: float = 10.0) -> OcelotClient:
    return OcelotClient(
        "https://ocelot.test/api", lambda: "t", deadline=deadline, backoff=0.01, transport=transport
    )


def _error(status: int, **headers: str) -> httpx.Response:
    body = {"error": {"code": f"c{status}", "message": f"m{status}"}}
    return httpx.Response(status, json=body, headers=headers)


@pytest.mark.parametrize(
    "retry_after",
    [
        "1",
        # RFC 9110 also allows an HTTP-date; whole seconds, so 2 s from now waits at least 1 s.
        lambda: email.utils.formatdate(time.time() + 2, usegmt=True),
    ],
    ids=["seconds", "http-date"],
)
def test_retry_after_is_honoured_in_seconds_and_as_a_date(
    retry_after: str | Callable[[], str],
) -> None:
    value = retry_after if isinstance(retry_after, str) else retry_after()
    transport, times = _scripted(
        [_error(429, **{"Retry-After": value}), httpx.Response(201, json=ENTRY)]
    )
    entry = _client(transport).put_client(NP_EU, CLIENT, "BEAT12345678", "d")
    assert entry.client_id == CLIENT
    assert len(times) == 2
    assert times[1] - times[0] >= 1.0


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("120", 120.0),
        ("Wed, 21 Oct 2015 07:28:00 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),
        ("soon", None),
    ],
)
def test_retry_after_forms(header: str, expected: float | None) -> None:
    now = email.utils.parsedate_to_datetime("Wed, 21 Oct 2015 07:27:30 GMT").timestamp()
    response = httpx.Response(429, headers={"Retry-After": header})
    assert retry_after_seconds(response, now=lambda: now) == expected


@pytest.mark.parametrize(
    "failure",
    [
        _error(502),
        _error(503),
        _error(504),
        _error(500),
        httpx.ReadTimeout("slow"),
        httpx.ConnectError("refused"),
        httpx.RemoteProtocolError("dropped"),
    ],
    ids=["502", "503", "504", "500", "timeout", "connect", "dropped"],
)
def test_transient_failures_are_retried(failure: httpx.Response | Exception) -> None:
    transport, times = _scripted([failure, failure, httpx.Response(200, json=ENTRY)])
    assert _client(transport).put_client(NP_EU, CLIENT, "BEAT12345678", "d").status == "active"
    assert len(times) == 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 422])
def test_permanent_failures_are_not_retried(status: int) -> None:
    transport, times = _scripted([_error(status), httpx.Response(200, json=ENTRY)])
    with pytest.raises(OcelotPermanentError) as caught:
        _client(transport).put_client(NP_EU, CLIENT, "BEAT12345678", "d")
    assert len(times) == 1
    assert caught.value.status == status
    assert str(caught.value) == (
        f"Ocelot add failed for route {NP_EU}, client ID {CLIENT}: HTTP {status}: "
        f"c{status}: m{status}"
    )


def test_the_deadline_bounds_the_retries() -> None:
    transport, times = _scripted([_error(503)] * 1000)
    started = time.monotonic()
    with pytest.raises(OcelotTransientError, match="HTTP 503: c503: m503"):
        _client(transport, deadline=0.5).get_route(NP_EU)
    assert time.monotonic() - started < 1.5
    assert len(times) > 1


def test_a_non_json_answer_is_a_clear_error() -> None:
    transport, _ = _scripted([httpx.Response(200, text="<html>login</html>")])
    with pytest.raises(OcelotPermanentError, match="HTTP 200: the response is not JSON"):
        _client(transport).get_route(NP_EU)


def test_an_unknown_route_reads_as_none_and_a_missing_entry_deletes_as_false() -> None:
    transport, _ = _scripted([_error(404), _error(404)])
    client = _client(transport)
    assert client.get_route(NP_EU) is None
    assert client.delete_client(NP_EU, CLIENT) is False


def _saved(*items: tuple[str, str, str]) -> dict[str, Any]:
    """A snapshot with NP_EU's entries (client ID, BEAT ID, status) and every other route empty."""
    snapshot = OcelotStore().snapshot()
    snapshot[NP_EU]["clientAccessList"] = [
        {**ENTRY, "clientId": client_id, "beatId": beat_id, "status": status}
        for client_id, beat_id, status in items
    ]
    return snapshot


def test_an_id_restored_in_upper_case_is_one_entry_for_every_operation() -> None:
    store = OcelotStore.restore(_saved((CLIENT.upper(), "BEAT00000001", "pending")))
    assert list(store.entries(NP_EU)) == [CLIENT]
    assert store.entries(NP_EU)[CLIENT].client_id == CLIENT, "shown in lower case"

    result = store.put(NP_EU, CLIENT, "BEAT00000002", "updated", "me")
    assert result is not None
    assert result[1] is False, "a put in another case updates the entry"
    store.approve(NP_EU, CLIENT.upper())
    store.edit_out_of_band(NP_EU, CLIENT.upper(), "edited")
    (entry,) = store.entries(NP_EU).values()
    assert (entry.beat_id, entry.status, entry.description) == ("BEAT00000002", "active", "edited")
    assert store.delete(NP_EU, CLIENT) is True
    assert store.entries(NP_EU) == {}

    again = OcelotStore.restore(_saved((CLIENT.upper(), "BEAT00000001", "active")))
    again.remove_out_of_band(NP_EU, CLIENT)
    assert again.entries(NP_EU) == {}


def test_one_id_saved_twice_in_two_cases_restores_as_one_entry() -> None:
    store = OcelotStore.restore(
        _saved((CLIENT.upper(), "BEAT00000001", "pending"), (CLIENT, "BEAT00000002", "active"))
    )
    (entry,) = store.entries(NP_EU).values()
    assert (entry.client_id, entry.beat_id, entry.status) == (CLIENT, "BEAT00000002", "pending")
    assert [e["clientId"] for e in store.snapshot()[NP_EU]["clientAccessList"]] == [CLIENT]


def test_the_api_treats_an_id_in_any_case_as_one_entry() -> None:
    with (
        OcelotEmulator(tokens=frozenset({CANARY_TOKEN}), store=OcelotStore()) as emulator,
        httpx.Client(
            base_url=emulator.base_url, headers={"Authorization": f"Bearer {CANARY_TOKEN}"}
        ) as api,
    ):
        body = {"beatId": "BEAT12345678", "description": "d"}
        assert api.put(f"/routes/{NP_US}/clients/{CLIENT.upper()}", json=body).status_code == 201
        again = api.put(f"/routes/{NP_US}/clients/{CLIENT}", json=body)
        assert again.status_code == 200
        listed = api.get(f"/routes/{NP_US}").json()["clientAccessList"]
        assert [e["clientId"] for e in listed] == [CLIENT]
        assert api.delete(f"/routes/{NP_US}/clients/{CLIENT.upper()}").status_code == 204
        assert api.get(f"/routes/{NP_US}").json()["clientAccessList"] == []
