"""Paged lists: the emulator answers Graph's and Key Vault's lists in pages over real HTTP, and
`LiveSources` reads every page, from the origin it started at only."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from contextlib import closing, contextmanager
from typing import Any

import httpx
import pytest
from azure.core.credentials import AccessToken

from components.azure_reads import Endpoints, LiveSources, UnreachableError, sandbox_endpoints
from sandbox.entra import EntraEmulator, skiptoken
from sandbox.graph_objects import GRAPH_DIRECTORY_OBJECT
from tests.sandbox.conftest import VAULT, AreaTokens, unique

GRAPH = "https://graph.microsoft.com/v1.0"
TOKEN = "canary-token-for-paging"


class _Credential:
    """A TokenCredential that hands out one token."""

    def __init__(self, token: str) -> None:
        self.token = token

    def get_token(
        self,
        *scopes: str,
        claims: str | None = None,
        tenant_id: str | None = None,
        enable_cae: bool = False,
        **kwargs: Any,
    ) -> AccessToken:
        return AccessToken(self.token, int(time.time()) + 3600)


class _Issuing:
    """A TokenCredential that asks the emulator for the deployer's token for each scope."""

    def __init__(self, entra: EntraEmulator) -> None:
        self.entra = entra

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires_on = self.entra.issue_token(
            self.entra.deployer, scopes[0].removesuffix("/.default")
        )
        return AccessToken(token, expires_on)


@pytest.fixture(scope="module")
def client(entra: EntraEmulator) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=entra.url, auth=AreaTokens(entra)) as http:
        yield http


@pytest.fixture(scope="module")
def sources(entra: EntraEmulator) -> Iterator[LiveSources]:
    live = LiveSources(_Issuing(entra), sandbox_endpoints(entra.url))
    yield live
    live.close()


def _pages(client: httpx.Client, url: str, next_field: str) -> list[dict[str, Any]]:
    """Every page of a list, following `next_field` as given."""
    pages = [client.get(url).json()]
    while pages[-1].get(next_field):
        pages.append(client.get(pages[-1][next_field]).json())
    return pages


def test_secret_versions_come_in_pages_of_25_and_the_reader_finds_the_newest_on_the_last(
    entra: EntraEmulator, client: httpx.Client, sources: LiveSources
) -> None:
    name = unique("paged-np-client-secret")
    for number in range(60):
        entra.store.set_secret(
            VAULT, name, {"value": f"value-{number}", "tags": {"n": str(number)}}
        )
    made = [v["id"] for v in entra.store.secret_versions(VAULT, name)]

    pages = _pages(client, f"/keyvault/{VAULT}/secrets/{name}/versions?api-version=7.4", "nextLink")

    assert [len(page["value"]) for page in pages] == [25, 25, 10]
    assert [page["nextLink"] is None for page in pages] == [False, False, True]
    assert all(page["nextLink"].startswith(f"{entra.url}/keyvault/") for page in pages[:2])
    assert "api-version=7.4" in pages[0]["nextLink"], "the request's parameters are kept"
    assert [v["id"] for page in pages for v in page["value"]] == made
    assert made[-1] in {v["id"] for v in pages[-1]["value"]}, "the newest is on the last page"
    newest = sources.vault_secret(VAULT, name, with_value=False)
    assert newest is not None
    assert newest.tags == {"n": "59"}

    small = client.get(f"/keyvault/{VAULT}/secrets/{name}/versions?maxresults=7").json()
    assert len(small["value"]) == 7
    assert "maxresults=7" in small["nextLink"]


def test_owners_come_in_pages_of_100_and_the_reader_reads_them_all(
    entra: EntraEmulator, client: httpx.Client, sources: LiveSources
) -> None:
    owners = sorted(str(uuid.uuid4()) for _ in range(150))
    app = entra.store.create_application(
        {
            "displayName": unique("OWNED-BY-MANY-NP"),
            "owners@odata.bind": [GRAPH_DIRECTORY_OBJECT + owner for owner in owners],
        },
        entra.deployer,
    )

    pages = _pages(client, f"/graph/v1.0/applications/{app['id']}/owners", "@odata.nextLink")

    assert [len(page["value"]) for page in pages] == [100, 50]
    assert "@odata.nextLink" not in pages[-1], "Graph's last page has no next link"
    assert [o["id"] for page in pages for o in page["value"]] == owners
    assert sorted(sources.owners(app["id"])) == owners


def test_top_sets_the_page_size_and_the_next_link_keeps_the_filter(
    entra: EntraEmulator, client: httpx.Client, sources: LiveSources
) -> None:
    name = unique("SAME-NAME-NP")
    made = [entra.store.create_application({"displayName": name}, entra.deployer) for _ in range(5)]

    pages = _pages(
        client,
        f"/graph/v1.0/applications?$filter=displayName eq '{name}'&$top=2",
        "@odata.nextLink",
    )

    assert [len(page["value"]) for page in pages] == [2, 2, 1]
    assert [a["id"] for page in pages for a in page["value"]] == [a["id"] for a in made]
    assert "$top=2" in pages[0]["@odata.nextLink"]
    assert sources.application_named(name) is None, "five of that name is not exactly one"


@pytest.mark.parametrize(
    "query",
    [
        "$skiptoken=not-a-token",
        "$skiptoken=",
        f"$skiptoken={skiptoken('/graph/v1.0/servicePrincipals', 1)}",
        f"$skiptoken={skiptoken('/graph/v1.0/applications', -1)}",
        "$top=0",
        "$top=1000",
        "$top=ten",
    ],
    ids=["garbage", "empty", "another-list", "negative", "top-0", "top-1000", "top-text"],
)
def test_graph_refuses_an_invalid_skip_token_or_page_size(client: httpx.Client, query: str) -> None:
    answer = client.get(f"/graph/v1.0/applications?{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "Request_BadRequest"


@pytest.mark.parametrize(
    "query",
    ["$skiptoken=bm90LWpzb24", "maxresults=26", "maxresults=0"],
    ids=["skiptoken", "maxresults-26", "maxresults-0"],
)
def test_key_vault_refuses_an_invalid_skip_token_or_page_size(
    entra: EntraEmulator, client: httpx.Client, query: str
) -> None:
    name = unique("refused-np-client-secret")
    entra.store.set_secret(VAULT, name, {"value": "v"})
    answer = client.get(f"/keyvault/{VAULT}/secrets/{name}/versions?api-version=7.4&{query}")
    assert answer.status_code == 400
    assert answer.json()["error"]["code"] == "BadParameter"


@contextmanager
def _scripted(pages: dict[str, dict[str, Any]]) -> Iterator[tuple[LiveSources, list[str]]]:
    """LiveSources at Azure's endpoints on a mock transport that answers each URL of `pages` (404
    for any other), and the URLs it was sent, each checked to carry the token."""
    sent: list[str] = []

    def answer(request: httpx.Request) -> httpx.Response:
        sent.append(str(request.url))
        assert request.headers["Authorization"] == f"Bearer {TOKEN}"
        page = pages.get(str(request.url))
        return httpx.Response(200, json=page) if page else httpx.Response(404, json={})

    with closing(
        LiveSources(_Credential(TOKEN), Endpoints(), transport=httpx.MockTransport(answer))
    ) as sources:
        yield sources, sent


OWNERS = f"{GRAPH}/applications/app/owners"


@pytest.mark.parametrize(
    "next_link",
    [
        "https://graph.example.com/v1.0/applications/app/owners?$skiptoken=x",
        "http://graph.microsoft.com/v1.0/applications/app/owners?$skiptoken=x",
        "https://graph.microsoft.com:8443/v1.0/applications/app/owners?$skiptoken=x",
        "/v1.0/applications/app/owners?$skiptoken=x",
    ],
    ids=["another-host", "another-scheme", "another-port", "relative"],
)
def test_a_next_page_elsewhere_is_refused_and_gets_no_token(next_link: str) -> None:
    pages = {OWNERS: {"value": [{"id": "a"}], "@odata.nextLink": next_link}}
    with _scripted(pages) as (sources, sent), pytest.raises(UnreachableError, match="another"):
        sources.owners("app")
    assert sent == [OWNERS], "nothing was sent to the next link"


def test_a_next_page_at_the_same_origin_is_followed_whatever_its_spelling() -> None:
    # Graph's and Key Vault's examples give next links with the default port spelled out.
    spelled = "https://GRAPH.microsoft.com:443/v1.0/applications/app/owners?$skiptoken=t"
    pages: dict[str, dict[str, Any]] = {
        OWNERS: {"value": [{"id": "A"}], "@odata.nextLink": spelled},
        f"{GRAPH}/applications/app/owners?$skiptoken=t": {"value": [{"id": "B"}]},
    }
    with _scripted(pages) as (sources, sent):
        found = sources.owners("app")
    assert found == ["a", "b"]
    assert sent == list(pages)


def test_a_missing_or_repeated_next_page_is_an_error_not_a_short_list() -> None:
    gone = {OWNERS: {"value": [{"id": "a"}], "@odata.nextLink": f"{OWNERS}?$skiptoken=gone"}}
    with _scripted(gone) as (sources, _), pytest.raises(UnreachableError, match="404 for the next"):
        sources.owners("app")
    looping = {OWNERS: {"value": [{"id": "a"}], "@odata.nextLink": OWNERS}}
    with _scripted(looping) as (sources, sent), pytest.raises(UnreachableError, match="before"):
        sources.owners("app")
    assert sent == [OWNERS]
