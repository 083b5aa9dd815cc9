"""`scripts/stack verify` for agents on Microsoft Entra Agent ID, against the sandbox's Entra
emulator and Ocelot over real HTTP: the blueprint, its principal, the agent identities and the
app role assignment are made with Graph calls as the deployer, the stack's outputs are written
by hand in the shape `program.py` exports, and each test breaks one thing by hand, as a person
would, then puts it back.

The world: MY-LIVEKIT-AGENT on Agent ID (eu, us) with the client MY-LIVEKIT-CLIENT; OTHER-AGENT,
an agent on its app registration with the same client; MOVING-AGENT, on Agent ID with its
registration beside it (`registration: parallel`), then retired.
"""

from __future__ import annotations

import copy
import json
import ssl
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from azure.core.credentials import AccessToken

from components.azure_reads import LiveSources, sandbox_endpoints
from components.ocelot.api import OcelotClient
from lkps import agent_id, rules
from lkps.config import parse_settings
from lkps.rights import ONLY_ON_AGENT_ID, RIGHTS
from lkps.settings import StackSettings
from sandbox.entra import EntraEmulator
from sandbox.entra_store import EntraStore
from sandbox.ocelot import OcelotEmulator, OcelotStore
from sandbox.tls import SandboxCertificate
from stack_command.verify import model
from stack_command.verify.checklist import Context, verify
from stack_command.verify.model import AppReport, Finding, Report
from stack_command.verify.render import as_text
from stack_command.verify.rights import check_rights
from tests.support.harness import stack_config

GRAPH = "/graph/v1.0"
USERS = "https://graph.microsoft.com/v1.0/users/"
DIRECTORY_OBJECTS = "https://graph.microsoft.com/v1.0/directoryObjects/"
BLUEPRINT_CAST = "microsoft.graph.agentIdentityBlueprint"
OCELOT_TOKEN = "CANARY-verify-agent-id-ocelot-token"
SPONSOR_A = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01"
SPONSOR_B = "9a7b6c5d-4e3f-4a1b-9c8d-7e6f5a4b3c21"
BLUEPRINT_BEAT = "BEAT11223344"
OWNERS = [SPONSOR_A, SPONSOR_B]
AGENT = "MY-LIVEKIT-AGENT"
CLIENT = "MY-LIVEKIT-CLIENT"
OTHER = "OTHER-AGENT"
MOVING = "MOVING-AGENT"
NP_EU = rules.lkps_host("eu", "np")
NP_US = rules.lkps_host("us", "np")
SCHEMA = json.loads(
    (Path(__file__).resolve().parents[1] / "stack_command/verify/report.schema.json").read_text()
)
RAW = stack_config("np")
TENANT = str(RAW["tenantId"])
DEPLOYER = str(RAW["deployerObjectId"])
VAULT = RAW["keyVault"]


class _Issuing:
    """A TokenCredential that asks the emulator for the deployer's token for each scope."""

    def __init__(self, entra: EntraEmulator) -> None:
        self.entra = entra

    def get_token(self, *scopes: str, **kwargs: Any) -> AccessToken:
        token, expires_on = self.entra.issue_token(
            self.entra.deployer, scopes[0].removesuffix("/.default")
        )
        return AccessToken(token, expires_on)


@dataclass
class World:
    """The emulators, a Graph client as the deployer, and what was made."""

    entra: EntraEmulator
    ocelot: OcelotEmulator
    graph: httpx.Client
    ids: dict[str, str] = field(default_factory=dict)
    outputs: dict[str, Any] = field(default_factory=dict)

    def ok(self, response: httpx.Response) -> Any:
        assert response.is_success, f"{response.request.method} {response.request.url}: " + (
            response.text
        )
        return response.json() if response.content else None


def _graph_client(entra: EntraEmulator, certificate: SandboxCertificate) -> httpx.Client:
    """Graph as the deployer, with the token the emulator's identity endpoint would give it."""
    token, _ = entra.issue_token(entra.deployer, "https://graph.microsoft.com")
    return httpx.Client(
        base_url=f"{entra.url}{GRAPH}",
        headers={"Authorization": f"Bearer {token}"},
        verify=ssl.create_default_context(cafile=str(certificate.ca_file)),
    )


def _in_days(days: int) -> datetime:
    return datetime.now(UTC).replace(microsecond=0) + timedelta(days=days)


def _iso(moment: datetime) -> str:
    return moment.isoformat().replace("+00:00", "Z")


def _secret(world: World, object_id: str, display_name: str) -> dict[str, Any]:
    """A client secret of the application, published to the vault as the stack publishes it;
    the output keys of it."""
    end = _in_days(60)
    password = world.ok(
        world.graph.post(
            f"/applications/{object_id}/addPassword",
            json={
                "passwordCredential": {
                    "displayName": f"{rules.CLIENT_SECRET_DISPLAY_NAME}-{uuid.uuid4().hex[:8]}",
                    "endDateTime": _iso(end),
                }
            },
        )
    )
    name = rules.vault_secret_name(display_name)
    world.entra.store.set_secret(
        VAULT["vaultName"],
        name,
        {
            "value": password["secretText"],
            "contentType": "client secret",
            "attributes": {"exp": int(end.timestamp())},
            "tags": {"keyId": password["keyId"]},
        },
    )
    return {
        "vaultSecretName": name,
        "vaultSecretUri": f"https://{VAULT['vaultName']}.vault.azure.net/secrets/{name}",
        "secretEndDate": _iso(end),
        "nextRotationDate": _iso(_in_days(30)),
    }


def _registration(world: World, name: str, beat_id: str, owners: list[str]) -> dict[str, Any]:
    """An app registration with its service principal and a published client secret, as the
    stack makes one; its output keys."""
    display_name = rules.display_name(name, "np")
    app = world.ok(
        world.graph.post(
            "/applications",
            json={
                "displayName": display_name,
                "signInAudience": rules.SIGN_IN_AUDIENCE,
                "serviceManagementReference": beat_id,
                "owners@odata.bind": [DIRECTORY_OBJECTS + o for o in [*owners, DEPLOYER]],
            },
        )
    )
    principal = world.ok(world.graph.post("/servicePrincipals", json={"appId": app["appId"]}))
    return {
        "displayName": display_name,
        "beatId": beat_id,
        "clientId": app["appId"],
        "objectId": app["id"],
        "servicePrincipalObjectId": principal["id"],
        "credentialKinds": ["clientSecret"],
        **_secret(world, app["id"], display_name),
    }


def _agent_identity(world: World, name: str, blueprint_app_id: str, sponsors: list[str]) -> str:
    made = world.ok(
        world.graph.post(
            "/servicePrincipals/microsoft.graph.agentIdentity",
            json={
                "displayName": rules.display_name(name, "np"),
                "agentIdentityBlueprintId": blueprint_app_id,
                "sponsors@odata.bind": [USERS + s for s in sponsors],
            },
        )
    )
    return str(made["id"])


def _assign(world: World) -> None:
    """The client's assignment of the blueprint's app role, as the stack makes it."""
    made = world.ok(
        world.graph.post(
            f"/servicePrincipals/{world.ids['principal']}/appRoleAssignedTo",
            json={
                "principalId": world.ids["clientPrincipal"],
                "resourceId": world.ids["principal"],
                "appRoleId": world.ids["appRole"],
            },
        )
    )
    world.ids["assignment"] = made["id"]


def _put_entry(world: World, route_id: str, client_id: str, beat_id: str) -> None:
    world.ocelot.store.put(route_id, client_id, beat_id, "lkps-onboarding test", "test")


def _build(world: World) -> None:
    """Everything one healthy `up` of the settings below would leave, and its outputs."""
    unique_name = agent_id.blueprint_unique_name("np", "np")
    role_id = agent_id.app_role_id(unique_name)
    blueprint = world.ok(
        world.graph.patch(
            f"/applications(uniqueName='{unique_name}')/{BLUEPRINT_CAST}",
            headers={"Prefer": "create-if-missing"},
            json={
                "displayName": agent_id.blueprint_display_name("np", "np"),
                "serviceManagementReference": BLUEPRINT_BEAT,
                "sponsors@odata.bind": [USERS + SPONSOR_A, USERS + SPONSOR_B],
                "appRoles": [
                    {
                        "id": role_id,
                        "value": rules.CLIENT_SCOPE_VALUE,
                        "displayName": "Start LKPS sessions with the agents",
                        "description": "Lets a client app start LKPS sessions with the agents.",
                        "allowedMemberTypes": ["Application"],
                        "isEnabled": True,
                    }
                ],
            },
        )
    )
    principal = world.ok(
        world.graph.post(
            "/servicePrincipals/microsoft.graph.agentIdentityBlueprintPrincipal",
            json={"appId": blueprint["appId"]},
        )
    )
    world.ids.update(
        blueprint=blueprint["id"],
        blueprintAppId=blueprint["appId"],
        principal=principal["id"],
        appRole=role_id,
    )
    bp_secret = _secret(world, blueprint["id"], blueprint["displayName"])
    world.outputs["agentIdBlueprint"] = {
        "uniqueName": unique_name,
        "displayName": blueprint["displayName"],
        "appId": blueprint["appId"],
        "objectId": blueprint["id"],
        "principalObjectId": principal["id"],
        "appRoleId": role_id,
        "beatId": BLUEPRINT_BEAT,
        "sponsors": [SPONSOR_A, SPONSOR_B],
        "credentialKinds": ["clientSecret"],
        **bp_secret,
    }
    agent = _agent_identity(world, AGENT, blueprint["appId"], [SPONSOR_A, SPONSOR_B])
    moving = _agent_identity(world, MOVING, blueprint["appId"], [SPONSOR_A])
    client = _registration(world, CLIENT, "BEAT87654321", OWNERS)
    other = _registration(world, OTHER, "BEAT22334455", OWNERS)
    moving_registration = _registration(world, MOVING, "BEAT33445566", OWNERS)
    world.ids.update(
        agent=agent,
        moving=moving,
        clientPrincipal=client["servicePrincipalObjectId"],
        movingClientId=moving_registration["clientId"],
    )
    _assign(world)
    scope_id = str(uuid.uuid4())
    world.ok(
        world.graph.patch(
            f"/applications/{other['objectId']}",
            json={
                "identifierUris": [rules.agent_identifier_uri(other["clientId"])],
                "api": {
                    "oauth2PermissionScopes": [
                        {
                            "id": scope_id,
                            "value": rules.CLIENT_SCOPE_VALUE,
                            "type": "Admin",
                            "isEnabled": True,
                            "adminConsentDisplayName": "Start LKPS sessions",
                            "adminConsentDescription": "Start LKPS sessions with the agent.",
                        }
                    ],
                    "preAuthorizedApplications": [
                        {"appId": client["clientId"], "delegatedPermissionIds": [scope_id]}
                    ],
                },
            },
        )
    )
    for route_id in (NP_EU, NP_US):
        _put_entry(world, route_id, agent, "BEAT12345678")
    _put_entry(world, NP_EU, client["clientId"], "BEAT87654321")
    _put_entry(world, NP_EU, other["clientId"], "BEAT22334455")
    _put_entry(world, NP_EU, moving, "BEAT33445566")
    _put_entry(world, NP_EU, moving_registration["clientId"], "BEAT33445566")
    world.outputs["applications"] = {
        AGENT: {
            "displayName": rules.display_name(AGENT, "np"),
            "role": "agent",
            "beatId": "BEAT12345678",
            "identity": "agentId",
            "agentIdentityId": agent,
            "sponsors": [SPONSOR_A, SPONSOR_B],
            "routes": [NP_EU, NP_US],
            "ocelot": "api",
            "appRoleAuthorizedClients": [{"name": CLIENT, "clientId": client["clientId"]}],
        },
        CLIENT: {
            **client,
            "role": "client",
            "routes": [NP_EU],
            "ocelot": "api",
            "agents": [AGENT, OTHER],
        },
        OTHER: {
            **other,
            "role": "agent",
            "routes": [NP_EU],
            "ocelot": "api",
            "agentAppId": other["clientId"],
            "clientScope": rules.CLIENT_SCOPE_VALUE,
            "preAuthorizedClients": [
                {"name": CLIENT, "clientId": client["clientId"], "environment": "np"}
            ],
        },
        MOVING: {
            **moving_registration,
            "role": "agent",
            "identity": "agentId",
            "agentIdentityId": moving,
            "sponsors": [SPONSOR_A],
            "registration": "parallel",
            "routes": [NP_EU],
            "ocelot": "api",
        },
    }


def settings(moving_registration: str = "parallel") -> StackSettings:
    """The np stack's settings with the world's applications."""
    raw = copy.deepcopy(RAW)
    raw["agentId"] = {"beatId": BLUEPRINT_BEAT, "sponsors": [SPONSOR_A, SPONSOR_B]}
    agent, client = raw["applications"]
    assert (agent["name"], client["name"]) == (AGENT, CLIENT)
    agent.update(identity="agentId", sponsors=[SPONSOR_A, SPONSOR_B])
    client["owners"] = OWNERS
    base = {"role": "agent", "owners": OWNERS, "regions": ["eu"]}
    raw["applications"] += [
        {**base, "name": OTHER, "beatId": "BEAT22334455", "clients": [CLIENT]},
        {
            **base,
            "name": MOVING,
            "beatId": "BEAT33445566",
            "identity": "agentId",
            "sponsors": [SPONSOR_A],
            "registration": moving_registration,
        },
    ]
    return parse_settings(raw, "np")


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    certificate = SandboxCertificate.ensure(tmp_path_factory.mktemp("tls"))
    store = EntraStore(tmp_path_factory.mktemp("entra") / "entra.sqlite")
    store.ensure_vault(VAULT["subscriptionId"], VAULT["resourceGroupName"], VAULT["vaultName"])
    with (
        pytest.MonkeyPatch.context() as patch,
        EntraEmulator(store, TENANT, certificate, identity=DEPLOYER) as entra,
        OcelotEmulator(tokens=frozenset({OCELOT_TOKEN}), store=OcelotStore()) as ocelot,
    ):
        for name, value in certificate.trust.items():
            patch.setenv(name, value)
        with _graph_client(entra, certificate) as graph:
            made = World(entra, ocelot, graph)
            _build(made)
            yield made


@pytest.fixture
def sources(world: World) -> Iterator[LiveSources]:
    live = LiveSources(_Issuing(world.entra), sandbox_endpoints(world.entra.url))
    yield live
    live.close()


def check(
    world: World,
    sources: LiveSources,
    stack: StackSettings | None = None,
    outputs: dict[str, Any] | None = None,
) -> Report:
    """The checklist as `scripts/stack verify np --sandbox` reads it, its JSON valid."""
    context = Context(
        stack="np",
        settings=stack or settings(),
        outputs=outputs or world.outputs,
        other_outputs=None,
        sources=sources,
        ocelot=OcelotClient(world.ocelot.base_url, lambda: OCELOT_TOKEN, timeout=5, deadline=5),
        today=date.today(),
        token_check=False,
        sandbox=True,
    )
    report = verify(context)
    jsonschema.validate(report.to_json(), SCHEMA)
    assert as_text(report)
    return report


def app_report(report: Report, name: str) -> AppReport:
    (found,) = [a for a in report.applications if a.name == name]
    return found


def finding(report: Report, item: str, app: str = AGENT) -> Finding:
    (found,) = [f for f in app_report(report, app).findings if f.item == item]
    return found


def failures(report: Report) -> list[tuple[str, str]]:
    return [(a.name, f.item) for a in report.applications for f in a.findings if f.status == "fail"]


def test_a_healthy_agent_on_agent_id_passes_every_automated_item(
    world: World, sources: LiveSources
) -> None:
    report = check(world, sources)
    assert failures(report) == []
    assert report.ok
    agent = app_report(report, AGENT)
    assert agent.client_id == world.ids["agent"]
    assert [(f.item, f.status) for f in agent.findings] == [
        (model.BEAT, "manual"),
        (model.AGENT_ID_BLUEPRINT, "pass"),
        (model.AGENT_IDENTITY, "pass"),
        (model.AGENT_ID_CLIENT_SECRET, "pass"),
        (model.AGENT_ID_CLIENT_AUTHORIZATION, "pass"),
        (model.AGENT_ID_SEPARATE, "manual"),
        (model.OCELOT_USERS, "manual"),
        (model.route_access("eu", model.AGENT_IDENTITY_ENTRY), "pass"),
        (model.route_access("us", model.AGENT_IDENTITY_ENTRY), "pass"),
    ]
    assert "2 sponsor(s), access_as_client app role enabled, principal enabled" in (
        finding(report, model.AGENT_ID_BLUEPRINT).detail
    )
    assert finding(report, model.AGENT_IDENTITY).detail == (
        f"MY-LIVEKIT-AGENT-NP, ID {world.ids['agent']}, of blueprint "
        f"{world.ids['blueprintAppId']}, enabled, 2 sponsor(s)"
    )
    assert "holds live credential" in finding(report, model.AGENT_ID_CLIENT_SECRET).detail
    assert finding(report, model.AGENT_ID_CLIENT_AUTHORIZATION, CLIENT).detail == (
        "assigned the access_as_client app role of MY-LIVEKIT-AGENT's blueprint"
    )


def test_the_token_of_an_agent_identity_is_a_manual_item(
    world: World, sources: LiveSources
) -> None:
    context = Context(
        stack="np",
        settings=settings(),
        outputs=world.outputs,
        other_outputs=None,
        sources=sources,
        ocelot=OcelotClient(world.ocelot.base_url, lambda: OCELOT_TOKEN, timeout=5, deadline=5),
        today=date.today(),
        token_check=True,
        sandbox=True,
    )
    report = verify(context, only=AGENT)
    token = finding(report, model.AGENT_ID_TOKEN)
    assert token.status == "manual"
    assert "the sandbox does not emulate it" in token.detail
    assert f"fmi_path {world.ids['agent']}" in token.remedy


def test_a_sponsor_removed_by_hand_fails_naming_it(world: World, sources: LiveSources) -> None:
    blueprint_sponsor = (
        f"/applications/{world.ids['blueprint']}/{BLUEPRINT_CAST}/sponsors/{SPONSOR_B}/$ref"
    )
    agent_sponsor = (
        f"/servicePrincipals/{world.ids['agent']}/microsoft.graph.agentIdentity/sponsors/"
        f"{SPONSOR_B}/$ref"
    )
    world.ok(world.graph.delete(blueprint_sponsor))
    try:
        report = check(world, sources)
        blueprint = finding(report, model.AGENT_ID_BLUEPRINT)
        assert blueprint.status == "fail"
        assert f"configured sponsor(s) {SPONSOR_B} are no longer sponsors" in blueprint.detail
        assert blueprint.remedy == "run `scripts/stack up np --sandbox`"
        world.ok(world.graph.delete(agent_sponsor))
        report = check(world, sources)
        agent = finding(report, model.AGENT_IDENTITY)
        assert agent.status == "fail"
        assert agent.detail == (
            f"configured sponsor(s) {SPONSOR_B} are no longer sponsors of it (removed by hand?)"
        )
    finally:
        world.ok(
            world.graph.post(
                blueprint_sponsor.removesuffix(f"/{SPONSOR_B}/$ref") + "/$ref",
                json={"@odata.id": USERS + SPONSOR_B},
            )
        )
        world.ok(
            world.graph.post(
                agent_sponsor.removesuffix(f"/{SPONSOR_B}/$ref") + "/$ref",
                json={"@odata.id": USERS + SPONSOR_B},
            )
        )
    assert failures(check(world, sources)) == []


def test_a_disabled_agent_identity_fails(world: World, sources: LiveSources) -> None:
    path = f"/servicePrincipals/{world.ids['agent']}"
    world.ok(world.graph.patch(path, json={"accountEnabled": False}))
    try:
        report = check(world, sources)
        assert failures(report) == [(AGENT, model.AGENT_IDENTITY)]
        agent = finding(report, model.AGENT_IDENTITY)
        assert agent.detail.startswith("it is disabled: Entra issues it no token")
        assert "find out who disabled the agent identity and why" in agent.remedy
        assert f"servicePrincipals/{world.ids['agent']}" in agent.remedy
    finally:
        world.ok(world.graph.patch(path, json={"accountEnabled": True}))


def test_a_missing_app_role_assignment_fails_for_the_agent_and_its_client(
    world: World, sources: LiveSources
) -> None:
    world.ok(
        world.graph.delete(
            f"/servicePrincipals/{world.ids['principal']}/appRoleAssignedTo/"
            f"{world.ids['assignment']}"
        )
    )
    try:
        report = check(world, sources)
        assert sorted(failures(report)) == [
            (AGENT, model.AGENT_ID_CLIENT_AUTHORIZATION),
            (CLIENT, model.AGENT_ID_CLIENT_AUTHORIZATION),
        ]
        assert finding(report, model.AGENT_ID_CLIENT_AUTHORIZATION).detail == (
            f"not assigned the blueprint's access_as_client app role: {CLIENT}"
        )
        assert finding(report, model.AGENT_ID_CLIENT_AUTHORIZATION, CLIENT).detail == (
            f"not authorized by {AGENT}: it is not assigned the blueprint's access_as_client "
            "app role"
        )
        # The registration's pre-authorization by OTHER-AGENT is another item, still whole.
        assert finding(report, model.CLIENT_AUTHORIZATION, CLIENT).detail == (
            f"pre-authorized by {OTHER}"
        )
    finally:
        _assign(world)


def test_a_missing_ocelot_entry_of_the_agent_identity_fails(
    world: World, sources: LiveSources
) -> None:
    world.ocelot.store.remove_out_of_band(NP_US, world.ids["agent"])
    try:
        report = check(world, sources)
        item = model.route_access("us", model.AGENT_IDENTITY_ENTRY)
        assert failures(report) == [(AGENT, item)]
        assert finding(report, item).detail == f"{world.ids['agent']} is not on {NP_US}'s list"
        assert finding(report, item).remedy.startswith("run `scripts/stack up np --sandbox` to add")
    finally:
        _put_entry(world, NP_US, world.ids["agent"], "BEAT12345678")


def test_an_agent_on_its_app_registration_keeps_its_report(
    world: World, sources: LiveSources
) -> None:
    """The registration's items, in their order and words, and no Agent ID item."""
    other = world.outputs["applications"][OTHER]
    report = check(world, sources)
    found = app_report(report, OTHER)
    assert found.client_id == other["clientId"]
    assert [(f.item, f.status, f.detail) for f in found.findings] == [
        (
            model.BEAT,
            "manual",
            "BEAT22334455 has the BEAT form; the BEAT portal cannot be queried from here",
        ),
        (
            model.REGISTRATION,
            "pass",
            f"OTHER-AGENT-NP, client ID {other['clientId']}, single tenant, 3 owners, service "
            "principal enabled",
        ),
        (
            model.CLIENT_SECRET,
            "pass",
            f"{VAULT['vaultName']}/other-agent-np-client-secret: enabled, expires "
            f"{other['secretEndDate'][:10]}, holds live credential "
            + finding(report, model.CLIENT_SECRET, OTHER).detail.rsplit(" ", 1)[-1],
        ),
        (model.CLIENT_AUTHORIZATION, "pass", f"pre-authorizes {CLIENT} for access_as_client"),
        (model.SEPARATE, "manual", "the prod stack could not be read"),
        (model.OCELOT_USERS, "manual", "a person's membership, not the application's"),
        (model.route_access("eu"), "pass", f"active on {NP_EU}"),
    ]
    # Its client's pre-authorization by it is the item it was; the agent on Agent ID adds one.
    client = [(f.item, f.status) for f in app_report(report, CLIENT).findings]
    assert client == [
        (model.BEAT, "manual"),
        (model.REGISTRATION, "pass"),
        (model.CLIENT_SECRET, "pass"),
        (model.CLIENT_AUTHORIZATION, "pass"),
        (model.AGENT_ID_CLIENT_AUTHORIZATION, "pass"),
        (model.SEPARATE, "manual"),
        (model.OCELOT_USERS, "manual"),
        (model.route_access("eu"), "pass"),
    ]
    assert finding(report, model.CLIENT_AUTHORIZATION, CLIENT).detail == (
        f"pre-authorized by {OTHER}"
    )


def test_while_the_registration_stays_both_identities_are_checked(
    world: World, sources: LiveSources
) -> None:
    report = check(world, sources)
    items = [(f.item, f.status) for f in app_report(report, MOVING).findings]
    assert items == [
        (model.BEAT, "manual"),
        (model.REGISTRATION, "pass"),
        (model.CLIENT_SECRET, "pass"),
        (model.AGENT_ID_BLUEPRINT, "pass"),
        (model.AGENT_IDENTITY, "pass"),
        (model.AGENT_ID_CLIENT_SECRET, "pass"),
        (model.SEPARATE, "manual"),
        (model.AGENT_ID_SEPARATE, "manual"),
        (model.OCELOT_USERS, "manual"),
        (model.route_access("eu"), "pass"),
        (model.route_access("eu", model.AGENT_IDENTITY_ENTRY), "pass"),
    ]


def test_a_retired_registration_must_be_off_the_routes(world: World, sources: LiveSources) -> None:
    outputs = copy.deepcopy(world.outputs)
    outputs["applications"][MOVING]["registration"] = "retired"
    retired = settings(moving_registration="retired")
    client_id = world.ids["movingClientId"]
    item = model.route_access("eu", model.RETIRED_REGISTRATION_ENTRY)
    report = check(world, sources, retired, outputs)
    assert failures(report) == [(MOVING, item)]
    assert finding(report, item, MOVING).detail == (
        f"the retired registration {client_id} is still on {NP_EU}'s list (active)"
    )
    assert [f.item for f in app_report(report, MOVING).findings] == [
        model.BEAT,
        model.AGENT_ID_BLUEPRINT,
        model.AGENT_IDENTITY,
        model.AGENT_ID_CLIENT_SECRET,
        model.AGENT_ID_SEPARATE,
        model.OCELOT_USERS,
        item,
        model.route_access("eu", model.AGENT_IDENTITY_ENTRY),
    ]
    world.ocelot.store.remove_out_of_band(NP_EU, client_id)
    try:
        report = check(world, sources, retired, outputs)
        assert failures(report) == []
        assert finding(report, item, MOVING).detail == (
            f"{client_id} is off {NP_EU}: the retired registration no longer calls LKPS"
        )
    finally:
        _put_entry(world, NP_EU, client_id, "BEAT33445566")


def test_the_blueprint_deleted_by_hand_fails_every_agent_on_it(
    world: World, sources: LiveSources
) -> None:
    """A blueprint that is gone, as outputs that name another object would show it."""
    outputs = copy.deepcopy(world.outputs)
    gone = str(uuid.uuid4())
    outputs["agentIdBlueprint"]["objectId"] = gone
    report = check(world, sources, outputs=outputs)
    assert finding(report, model.AGENT_ID_BLUEPRINT).detail == (
        f"no agent identity blueprint {gone} in Entra (deleted by hand? Entra then deletes its "
        "agent identities too)"
    )
    assert (AGENT, model.AGENT_ID_CLIENT_AUTHORIZATION) in failures(report)
    assert (MOVING, model.AGENT_ID_BLUEPRINT) in failures(report)


def test_a_disabled_app_role_fails_the_blueprint_and_the_authorization(
    world: World, sources: LiveSources
) -> None:
    path = f"/applications/{world.ids['blueprint']}"
    roles = [
        {k: v for k, v in role.items() if k != "origin"}
        for role in world.ok(world.graph.get(path))["appRoles"]
    ]
    world.ok(world.graph.patch(path, json={"appRoles": [{**r, "isEnabled": False} for r in roles]}))
    try:
        report = check(world, sources)
        disabled = "its access_as_client app role is disabled: its clients lose their authorization"
        assert disabled in finding(report, model.AGENT_ID_BLUEPRINT).detail
        assert finding(report, model.AGENT_ID_CLIENT_AUTHORIZATION, CLIENT).detail == (
            f"not authorized by {AGENT}: {disabled}"
        )
    finally:
        world.ok(world.graph.patch(path, json={"appRoles": roles}))


def test_the_rights_check_names_agent_id_permissions_only_for_a_stack_on_agent_id(
    world: World, sources: LiveSources
) -> None:
    agent_id_rights = [r for r in RIGHTS if r.optional_when == ONLY_ON_AGENT_ID]
    assert {r.name for r in agent_id_rights} == {
        "AgentIdentityBlueprint.ReadWrite.All",
        "AgentIdentityBlueprintPrincipal.Create",
        "AgentIdentity.ReadWrite.All",
        "AgentIdentity.DeleteRestore.All",
        "AppRoleAssignment.ReadWrite.All",
    }
    granted = [r.name for r in RIGHTS if r.plane == "graph"]
    granted.remove("AgentIdentity.DeleteRestore.All")
    world.entra.store.grant(DEPLOYER, app_roles=granted)
    try:
        on_agent_id = {c.right.name: c for c in check_rights(sources, settings())}
        assert on_agent_id["AgentIdentity.DeleteRestore.All"].status == "missing"
        assert on_agent_id["AgentIdentity.DeleteRestore.All"].detail == (
            "Agent ID: removing an agent's agent identity"
        )
        assert on_agent_id["AppRoleAssignment.ReadWrite.All"].status == "granted"
        role = on_agent_id["Agent ID Administrator"]
        assert (role.status, role.right.plane) == ("not needed", "role")
        assert role.detail.startswith("not the deployer's; needed by a person who adds")
        registration_only = {
            c.right.name: c for c in check_rights(sources, parse_settings(RAW, "np"))
        }
        assert registration_only["AgentIdentity.DeleteRestore.All"].status == "not needed"
        assert registration_only["AgentIdentity.DeleteRestore.All"].detail == ONLY_ON_AGENT_ID
        assert "Agent ID Administrator" not in registration_only
    finally:
        for name in granted:
            world.entra.store.revoke(DEPLOYER, name)
