"""The Microsoft Entra Agent ID dynamic providers against the sandbox's Entra emulator, over
real HTTPS on 127.0.0.1, with the deployer's managed-identity token as the providers get it
(azure-identity through `IDENTITY_ENDPOINT`/`IDENTITY_HEADER`); the retry policy also against
injected faults (an httpx transport in front of the emulator, or `httpx.MockTransport`)."""

from __future__ import annotations

import base64
import itertools
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config
from pulumi.dynamic.dynamic import serialize_provider
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from components import entra_auth, rest
from components.agent_id.graph import (
    GRAPH_SCOPE,
    GraphClient,
    GraphPermanentError,
    GraphTransientError,
)
from components.agent_id.provider import (
    AgentBlueprintPrincipalProvider,
    AgentIdentityBlueprintProvider,
    AgentIdentityProvider,
)
from lkps import rules, switches
from sandbox.entra import EntraEmulator
from sandbox.entra_store import EntraStore
from sandbox.tls import SandboxCertificate

TENANT = "fcb2b37b-5da0-466b-9b83-0014b67a7c78"
USER_A = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
USER_B = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
USER_C = "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
BEAT = "BEAT12345678"
_names = itertools.count(1)

ProviderFactory = Callable[[type], Any]


@pytest.fixture(scope="module")
def entra(tmp_path_factory: pytest.TempPathFactory) -> Iterator[EntraEmulator]:
    """The emulator, trusted and reachable as a provider process in the sandbox reaches it:
    its CA in the trust store, its URL as the sandbox's Entra, its managed-identity endpoint."""
    certificate = SandboxCertificate.ensure(tmp_path_factory.mktemp("tls"))
    store = EntraStore(tmp_path_factory.mktemp("entra") / "entra.sqlite")
    with pytest.MonkeyPatch.context() as patch, EntraEmulator(store, TENANT, certificate) as made:
        for name, value in certificate.trust.items():
            patch.setenv(name, value)
        for name in ("AZURE_CLIENT_ID", "AZURE_TENANT_ID", "AZURE_FEDERATED_TOKEN_FILE"):
            patch.delenv(name, raising=False)
        patch.delenv("MSI_ENDPOINT", raising=False)
        patch.setenv(switches.SANDBOX_ENTRA_URL, made.url)
        patch.setenv("IDENTITY_ENDPOINT", made.identity_endpoint)
        patch.setenv("IDENTITY_HEADER", made.identity_header)
        entra_auth.forget_tokens()
        try:
            yield made
        finally:
            rest.close_pooled_clients()
            entra_auth.forget_tokens()
            made.forbidden.clear()


def _configured(kind: type, settings: dict[str, Any] | None = None) -> Any:
    provider = kind()
    config = {f"{rules.PROJECT}:agentId": json.dumps(settings or {"retryDeadlineSeconds": 10})}
    provider.configure(ConfigureRequest(Config(config, rules.PROJECT)))
    return provider


@pytest.fixture
def blueprints(entra: EntraEmulator) -> AgentIdentityBlueprintProvider:
    provider: AgentIdentityBlueprintProvider = _configured(AgentIdentityBlueprintProvider)
    return provider


@pytest.fixture
def principals(entra: EntraEmulator) -> AgentBlueprintPrincipalProvider:
    provider: AgentBlueprintPrincipalProvider = _configured(AgentBlueprintPrincipalProvider)
    return provider


@pytest.fixture
def agents(entra: EntraEmulator) -> AgentIdentityProvider:
    provider: AgentIdentityProvider = _configured(AgentIdentityProvider)
    return provider


def blueprint_props(**change: Any) -> dict[str, Any]:
    props = {
        "unique_name": f"lkps-agent-np-{next(_names)}",
        "display_name": "LKPS agent NP",
        "sponsors": [USER_A],
        "owners": None,
        "service_management_reference": BEAT,
    }
    return props | change


def _checked(provider: Any, props: dict[str, Any]) -> dict[str, Any]:
    result = provider.check({}, props)
    assert result.failures == [], result.failures
    inputs: dict[str, Any] = result.inputs
    return inputs


def _blueprint(
    blueprints: AgentIdentityBlueprintProvider, **change: Any
) -> tuple[str, dict[str, Any]]:
    made = blueprints.create(_checked(blueprints, blueprint_props(**change)))
    assert made.outs is not None
    return made.id, made.outs


def _app(entra: EntraEmulator, object_id: str) -> dict[str, Any]:
    found: dict[str, Any] = entra.store.get_object("applications", object_id)
    return found


def _ops(entra: EntraEmulator, op: str) -> int:
    return sum(1 for entry in entra.store.journal() if entry["op"] == op)


# -- blueprints ----------------------------------------------------------------------------------


def test_blueprint_create_read_update_delete(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    props = _checked(blueprints, blueprint_props(sponsors=[USER_B.upper(), USER_A]))
    made = blueprints.create(props)
    assert made.outs is not None
    app = _app(entra, made.id)
    assert app["@odata.type"] == "#microsoft.graph.agentIdentityBlueprint"
    assert app["uniqueName"] == props["unique_name"]
    assert app["serviceManagementReference"] == BEAT
    assert made.outs == props | {"app_id": app["appId"]}
    assert "id" not in made.outs
    assert sorted(s["id"] for s in entra.store.sponsors("applications", made.id)) == sorted(
        [USER_A, USER_B]
    )
    # Without owners, Graph makes the deploying identity the owner.
    assert app["owners"] == [entra.deployer.object_id]

    read = blueprints.read(made.id, made.outs)
    assert (read.id, read.outs, read.inputs) == (made.id, made.outs, props)
    assert blueprints.diff(made.id, read.outs or {}, props).changes is False

    news = props | {
        "display_name": "LKPS agent NP 2",
        "service_management_reference": "BEAT87654321",
    }
    updated = blueprints.update(made.id, made.outs, news)
    assert updated.outs == news | {"app_id": app["appId"]}
    app = _app(entra, made.id)
    assert (app["displayName"], app["serviceManagementReference"]) == (
        "LKPS agent NP 2",
        "BEAT87654321",
    )
    creates = [e for e in entra.store.journal() if e["op"] == "createAgentIdentityBlueprint"]
    assert [e["uniqueName"] for e in creates].count(props["unique_name"]) == 1

    blueprints.delete(made.id, updated.outs or {})
    assert entra.store.list_objects("applications", "uniqueName", props["unique_name"]) == []
    blueprints.delete(made.id, updated.outs or {})  # already gone: fine


def test_blueprint_create_repeats_safely(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    """A run interrupted after Graph made the blueprint runs the create again: it finds the
    same blueprint by uniqueName, and brings it to the inputs, without a second one."""
    props = _checked(blueprints, blueprint_props())
    first = blueprints.create(props)
    before = _ops(entra, "createAgentIdentityBlueprint")
    again = blueprints.create(props | {"display_name": "LKPS agent NP renamed"})
    assert again.id == first.id
    assert first.outs is not None
    assert again.outs == first.outs | {"display_name": "LKPS agent NP renamed"}
    assert _ops(entra, "createAgentIdentityBlueprint") == before
    assert len(entra.store.list_objects("applications", "uniqueName", props["unique_name"])) == 1
    assert _app(entra, first.id)["displayName"] == "LKPS agent NP renamed"


def test_blueprint_owners_and_sponsors_are_reconciled_keeping_foreign_ones(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints, owners=[USER_B, entra.deployer.object_id])
    assert sorted(_app(entra, object_id)["owners"]) == sorted([USER_B, entra.deployer.object_id])
    entra.store.add_owner("applications", object_id, USER_A)  # added by hand: kept
    news = outs | {"owners": sorted([USER_C, entra.deployer.object_id])}
    news.pop("app_id")
    updated = blueprints.update(object_id, outs, news)
    assert updated.outs is not None
    assert updated.outs["owners"] == news["owners"]
    assert sorted(_app(entra, object_id)["owners"]) == sorted(
        [USER_A, USER_C, entra.deployer.object_id]
    )
    # Refresh sees a declared owner removed by hand, as a difference to repair.
    entra.store.remove_owner("applications", object_id, USER_C)
    read = blueprints.read(object_id, updated.outs)
    assert read.inputs is not None
    assert read.inputs["owners"] == [entra.deployer.object_id]
    assert blueprints.diff(object_id, read.inputs, news).changes is True


def test_blueprint_read_after_a_hand_deletion_is_gone_and_create_makes_it_again(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints)
    entra.store.delete_object("applications", object_id)
    gone = blueprints.read(object_id, outs)
    assert (gone.id, gone.outs) == ("", {})
    inputs = {k: v for k, v in outs.items() if k != "app_id"}
    again = blueprints.create(inputs)
    assert again.id != object_id
    assert _app(entra, again.id)["uniqueName"] == outs["unique_name"]


def test_blueprint_read_by_unique_name_when_the_id_is_not_a_blueprint(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    object_id, outs = _blueprint(blueprints)
    read = blueprints.read("00000000-0000-4000-8000-000000000000", outs)
    assert read.id == object_id


# -- blueprint principals ------------------------------------------------------------------------


def test_principal_create_read_update_delete(
    entra: EntraEmulator,
    blueprints: AgentIdentityBlueprintProvider,
    principals: AgentBlueprintPrincipalProvider,
) -> None:
    _, outs = _blueprint(blueprints)
    props = _checked(principals, {"blueprint_app_id": outs["app_id"].upper()})
    assert props == {"blueprint_app_id": outs["app_id"]}
    made = principals.create(props)
    sp = entra.store.get_object("servicePrincipals", made.id)
    assert sp["@odata.type"] == "#microsoft.graph.agentIdentityBlueprintPrincipal"
    assert sp["appId"] == outs["app_id"]
    assert made.outs == {"blueprint_app_id": outs["app_id"], "display_name": outs["display_name"]}
    read = principals.read(made.id, made.outs or {})
    assert (read.id, read.outs, read.inputs) == (made.id, made.outs, props)
    assert principals.update(made.id, made.outs or {}, props).outs == made.outs
    principals.delete(made.id, props)
    assert entra.store.list_objects("servicePrincipals", "appId", outs["app_id"]) == []
    assert principals.read(made.id, props).id == ""
    principals.delete(made.id, props)  # already gone: fine


def test_principal_create_adopts_an_existing_one(
    entra: EntraEmulator,
    blueprints: AgentIdentityBlueprintProvider,
    principals: AgentBlueprintPrincipalProvider,
) -> None:
    _, outs = _blueprint(blueprints)
    existing = entra.store.create_blueprint_principal({"appId": outs["app_id"]}, entra.deployer)
    made = principals.create({"blueprint_app_id": outs["app_id"]})
    assert made.id == existing["id"]
    again = principals.create({"blueprint_app_id": outs["app_id"]})
    assert again.id == existing["id"]
    assert len(entra.store.list_objects("servicePrincipals", "appId", outs["app_id"])) == 1


def test_principal_of_a_plain_application_is_refused_naming_it(
    entra: EntraEmulator, principals: AgentBlueprintPrincipalProvider
) -> None:
    plain = entra.store.create_application({"displayName": "plain"}, entra.deployer)
    with pytest.raises(GraphPermanentError) as caught:
        principals.create({"blueprint_app_id": plain["appId"]})
    text = str(caught.value)
    assert f"blueprint principal of appId {plain['appId']}" in text
    assert "HTTP 400 AgentBlueprintPrincipal_requireAgentBlueprint" in text


# -- agent identities ----------------------------------------------------------------------------


@pytest.fixture
def blueprint_app_id(
    blueprints: AgentIdentityBlueprintProvider, principals: AgentBlueprintPrincipalProvider
) -> str:
    _, outs = _blueprint(blueprints)
    principals.create({"blueprint_app_id": outs["app_id"]})
    app_id: str = outs["app_id"]
    return app_id


def test_agent_identity_create_read_update_delete(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    props = _checked(
        agents,
        {
            "display_name": "agent-np-1",
            "blueprint_app_id": blueprint_app_id,
            "sponsors": [USER_B, USER_A],
        },
    )
    made = agents.create(props)
    assert made.outs == props
    agent = entra.store.get_object("servicePrincipals", made.id)
    assert agent["@odata.type"] == "#microsoft.graph.agentIdentity"
    assert agent["agentIdentityBlueprintId"] == blueprint_app_id
    assert sorted(s["id"] for s in entra.store.sponsors("servicePrincipals", made.id)) == sorted(
        [USER_A, USER_B]
    )
    read = agents.read(made.id, props)
    assert (read.id, read.outs, read.inputs) == (made.id, props, props)

    news = props | {"display_name": "agent-np-2"}
    assert agents.diff(made.id, props, news).replaces == []
    updated = agents.update(made.id, props, news)
    assert updated.outs == news
    assert entra.store.get_object("servicePrincipals", made.id)["displayName"] == "agent-np-2"

    agents.delete(made.id, news)
    assert agents.read(made.id, news).id == ""
    agents.delete(made.id, news)  # already gone: fine


def test_agent_identity_read_after_a_hand_deletion_is_gone(
    entra: EntraEmulator, agents: AgentIdentityProvider, blueprint_app_id: str
) -> None:
    props = {"display_name": "agent-np", "blueprint_app_id": blueprint_app_id, "sponsors": [USER_A]}
    made = agents.create(props)
    entra.store.delete_object("servicePrincipals", made.id)
    gone = agents.read(made.id, props)
    assert (gone.id, gone.outs) == ("", {})


def test_agent_identity_without_a_principal_fails_naming_it(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider, agents: AgentIdentityProvider
) -> None:
    _, outs = _blueprint(blueprints)
    props = {"display_name": "orphan", "blueprint_app_id": outs["app_id"], "sponsors": [USER_A]}
    with pytest.raises(GraphPermanentError) as caught:
        agents.create(props)
    assert "Graph create failed for agent identity 'orphan'" in str(caught.value)
    assert "HTTP 400 AgentIdentity_AgentBlueprintPrincipalDoesNotExist" in str(caught.value)


def test_agent_identity_sponsor_change_adds_and_removes_through_the_relation() -> None:
    """Sponsors after create go through `sponsors/$ref` (agentidentity-post-sponsors,
    agentidentity-delete-sponsors), which the emulator does not serve: a recorded exchange.
    Only a sponsor the stack declared is removed; one added by hand stays."""
    seen: list[tuple[str, str, Any]] = []
    agent_id = "5a5a5a5a-0000-4000-8000-000000000001"

    def answer(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content) if request.content else None
        seen.append((request.method, request.url.path, body))
        if request.method == "GET" and request.url.path.endswith("/sponsors"):
            return httpx.Response(200, json={"value": [{"id": USER_A}, {"id": USER_C}]})
        if request.method == "GET":
            return httpx.Response(
                200,
                json={
                    "@odata.type": "#microsoft.graph.agentIdentity",
                    "id": agent_id,
                    "displayName": "agent",
                    "agentIdentityBlueprintId": USER_C,
                },
            )
        return httpx.Response(204)

    provider = _configured(AgentIdentityProvider)
    client = GraphClient(
        "https://graph.example/v1.0", lambda: "t", transport=httpx.MockTransport(answer)
    )
    provider.client = lambda: client
    olds = {"display_name": "agent", "blueprint_app_id": USER_C, "sponsors": [USER_A]}
    news = olds | {"sponsors": [USER_B]}
    updated = provider.update(agent_id, olds, news)
    assert updated.outs == news
    base = f"/v1.0/servicePrincipals/{agent_id}/microsoft.graph.agentIdentity/sponsors"
    writes = [(m, p, b) for m, p, b in seen if m != "GET"]
    assert writes == [
        ("POST", f"{base}/$ref", {"@odata.id": f"https://graph.microsoft.com/v1.0/users/{USER_B}"}),
        ("DELETE", f"{base}/{USER_A}/$ref", None),
    ]


# -- check and diff ------------------------------------------------------------------------------


PROVIDERS: dict[type, tuple[dict[str, Any], str]] = {
    AgentIdentityBlueprintProvider: (blueprint_props(unique_name="lkps-agent-np"), "unique_name"),
    AgentBlueprintPrincipalProvider: ({"blueprint_app_id": USER_C}, "blueprint_app_id"),
    AgentIdentityProvider: (
        {"display_name": "agent", "blueprint_app_id": USER_C, "sponsors": [USER_A]},
        "blueprint_app_id",
    ),
}


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
@pytest.mark.parametrize("unknown", [UNKNOWN, Unknown()], ids=["string", "object"])
def test_unknown_inputs_pass_check_and_diff_as_changes(kind: type, unknown: Any) -> None:
    provider = _configured(kind)
    props, replacing = PROVIDERS[kind]
    for key in props:
        news = props | {key: unknown}
        checked = provider.check({}, news)
        assert checked.failures == [], (key, checked.failures)
        assert checked.inputs[key] is unknown
        diff = provider.diff("id", props | {"__provider": "a"}, news | {"__provider": "b"})
        assert diff.changes is True
        assert diff.replaces == ([key] if key == replacing else [])
        assert diff.delete_before_replace is False
    if "sponsors" in props:
        news = props | {"sponsors": [USER_A, unknown]}
        assert provider.check({}, news).failures == []
        assert provider.diff("id", props, news).changes is True


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
def test_diff_ignores_the_pickled_provider_and_outputs(kind: type) -> None:
    provider = _configured(kind)
    props, _ = PROVIDERS[kind]
    olds = props | {"__provider": "old code", "app_id": "x"}
    diff = provider.diff("id", olds, props | {"__provider": "new code"})
    assert (diff.changes, diff.replaces) == (False, [])


@pytest.mark.parametrize(
    ("change", "prop", "reason"),
    [
        ({"unique_name": "has space"}, "unique_name", "'has space' must be 1 to 120"),
        ({"display_name": ""}, "display_name", "must be a non-empty string"),
        ({"sponsors": []}, "sponsors", "must be a non-empty list of user object IDs"),
        ({"sponsors": ["bob"]}, "sponsors", "'bob' must be a GUID"),
        ({"owners": ["x"]}, "owners", "'x' must be a GUID"),
        ({"service_management_reference": "B1"}, "service_management_reference", "'B1' must be"),
    ],
)
def test_blueprint_check_names_the_failing_property(
    change: dict[str, Any], prop: str, reason: str
) -> None:
    provider = _configured(AgentIdentityBlueprintProvider)
    result = provider.check({}, blueprint_props(**change))
    assert [(f.property, f.reason[: len(reason)]) for f in result.failures] == [(prop, reason)]


def test_configure_names_a_bad_setting() -> None:
    with pytest.raises(ValueError, match=r"lkps-onboarding:agentId.retryDeadlineSeconds: must"):
        _configured(AgentIdentityProvider, {"retryDeadlineSeconds": 0})
    with pytest.raises(ValueError, match="unknown key"):
        _configured(AgentIdentityProvider, {"token": "x"})
    with pytest.raises(RuntimeError, match="before configure"):
        AgentIdentityProvider().client()


# -- retries and errors --------------------------------------------------------------------------


class _FaultsFirst(httpx.BaseTransport):
    """Answers the first requests matching `when` with `faults`, then passes everything on to
    the emulator over real HTTPS."""

    def __init__(self, faults: list[httpx.Response], when: Callable[[httpx.Request], bool]) -> None:
        self.faults = faults
        self.when = when
        self.sent: list[str] = []
        self.real = httpx.HTTPTransport(verify=rest.tls_context())

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if self.faults and self.when(request):
            self.sent.append(f"fault {request.method}")
            return self.faults.pop(0)
        self.sent.append(f"real {request.method}")
        return self.real.handle_request(request)

    def close(self) -> None:
        self.real.close()


@contextmanager
def _graph_client(
    entra: EntraEmulator, transport: httpx.BaseTransport, deadline: float
) -> Iterator[GraphClient]:
    client = GraphClient(
        f"{entra.url}/graph/v1.0",
        entra_auth.token_source(GRAPH_SCOPE, None),
        deadline=deadline,
        backoff=0.05,
        transport=transport,
    )
    try:
        yield client
    finally:
        client.close()


def test_a_429_is_retried_after_its_retry_after(entra: EntraEmulator) -> None:
    throttled = httpx.Response(
        429,
        headers={"Retry-After": "1"},
        json={"error": {"code": "TooManyRequests", "message": "slow down"}},
    )
    transport = _FaultsFirst([throttled], lambda r: r.method == "PATCH")
    name = f"lkps-throttled-{next(_names)}"
    started = time.monotonic()
    with _graph_client(entra, transport, deadline=10) as client:
        made = client.upsert_blueprint(
            name,
            {
                "displayName": "t",
                "sponsors@odata.bind": [f"https://graph.microsoft.com/v1.0/users/{USER_A}"],
            },
        )
    assert time.monotonic() - started >= 1.0
    assert transport.sent == ["fault PATCH", "real PATCH"]
    assert made is not None
    assert made["uniqueName"] == name
    assert len(entra.store.list_objects("applications", "uniqueName", name)) == 1


def test_the_replication_400_after_a_create_is_retried(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    _, outs = _blueprint(blueprints)
    not_yet = httpx.Response(
        400,
        json={
            "error": {
                "code": "Request_BadRequest",
                "message": f"Object with id {outs['app_id']} not found",
            }
        },
    )
    transport = _FaultsFirst([not_yet, not_yet], lambda r: r.method == "POST")
    with _graph_client(entra, transport, deadline=10) as client:
        made = client.create_blueprint_principal(outs["app_id"])
    assert transport.sent == ["fault POST", "fault POST", "real POST"]
    assert made["appId"] == outs["app_id"]


def test_retries_stop_at_the_deadline_naming_the_object_and_graphs_answer() -> None:
    calls: list[str] = []

    def unavailable(request: httpx.Request) -> httpx.Response:
        calls.append(request.method)
        return httpx.Response(
            503, json={"error": {"code": "serviceNotAvailable", "message": "try later"}}
        )

    client = GraphClient(
        "https://graph.example/v1.0",
        lambda: "CANARY-graph-token",
        deadline=1.0,
        backoff=0.05,
        transport=httpx.MockTransport(unavailable),
    )
    started = time.monotonic()
    with pytest.raises(GraphTransientError) as caught:
        client.upsert_blueprint("lkps-agent-np", {"displayName": "x"})
    assert time.monotonic() - started < 2.5
    assert len(calls) >= 3
    assert str(caught.value) == (
        "Graph upsert failed for agent identity blueprint 'lkps-agent-np': "
        "HTTP 503 serviceNotAvailable: try later"
    )


def test_a_refusal_fails_fast_naming_the_object_without_the_token(
    entra: EntraEmulator, blueprints: AgentIdentityBlueprintProvider
) -> None:
    props = _checked(blueprints, blueprint_props())
    token = entra_auth.entra_token(GRAPH_SCOPE)
    entra.forbidden.add("graph")
    try:
        started = time.monotonic()
        with pytest.raises(GraphPermanentError) as caught:
            blueprints.create(props)
        assert time.monotonic() - started < 1.0
    finally:
        entra.forbidden.discard("graph")
    text = str(caught.value)
    assert f"agent identity blueprint {props['unique_name']!r}" in text
    assert "HTTP 403 Authorization_RequestDenied: Insufficient privileges" in text
    assert token not in text
    assert token not in repr(caught.value.args)


# -- pickling and imports ------------------------------------------------------------------------


@pytest.mark.parametrize("kind", list(PROVIDERS), ids=lambda k: k.__name__)
def test_the_provider_pickles_small_by_reference(entra: EntraEmulator, kind: type) -> None:
    provider = _configured(kind)
    provider.client()  # settings and a client in use: none of it goes into state
    token = entra_auth.entra_token(GRAPH_SCOPE)
    serialized = base64.b64decode(serialize_provider(provider))
    assert b"components.agent_id.provider" in serialized
    assert kind.__name__.encode() in serialized
    assert len(serialized) < 200
    assert token.encode() not in serialized


def test_importing_the_providers_loads_no_azure_sdk() -> None:
    code = (
        "import sys, components.agent_id.provider as p; "
        "p.AgentIdentityProvider().check({}, {}); "
        "print(sorted(m for m in ('azure.identity', 'msal', 'azure.keyvault.secrets', "
        "'components.azure_reads') if m in sys.modules))"
    )
    out = subprocess.run(  # noqa: S603 - this interpreter, a fixed snippet
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=True,
        cwd=Path(__file__).resolve().parents[1],
    )
    assert out.stdout.strip() == "[]"
