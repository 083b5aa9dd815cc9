"""The stack's program, the real engine, the real policy pack and Ocelot provider, against the
sandbox's stand-ins and emulators: the scenarios a platform engineer meets."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps import rules
from lkps.resource_types import APPLICATION_PASSWORD, VAULT_SECRET
from lkps.rotation import RotationPolicy, epoch_seconds, rfc3339
from sandbox.entra_store import EntraStore
from sandbox.session import FOREIGN_CLIENT_ID, Sandbox
from tests.support.sandbox_harness import (
    CANARY_SECRET,
    CANARY_TOKEN,
    SandboxProject,
    changes,
    preview_changes,
)

pytestmark = pytest.mark.engine

ROUTE_ACCESS = rules.ROUTE_ACCESS_TYPE
# The committed np schedule (every 30 days, 90-day lifetime), from the real date, so that the
# secrets the emulator hands out are live whatever day the suite runs.
NP_SCHEDULE = RotationPolicy(rotation_days=30, lifetime_days=90)
ROTATION_DAY = NP_SCHEDULE.plan(datetime.now(UTC).date()).next_rotation
BEFORE_ROTATION = ROTATION_DAY - timedelta(days=1)
NP_APPS = ("MY-LIVEKIT-AGENT-NP", "MY-LIVEKIT-CLIENT-NP")
PROD_APPS = ("MY-LIVEKIT-AGENT", "MY-LIVEKIT-CLIENT")


@pytest.fixture
def project(pulumi_cli: str, tmp_path: Path) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return SandboxProject(tmp_path)


def _apps(store: EntraStore) -> dict[str, dict[str, Any]]:
    return {app["displayName"]: app for app in store.list_objects("applications", None, None)}


def _vault(sandbox: Sandbox) -> dict[str, Any]:
    (vault,) = sandbox.entra.store.data["vaults"].values()
    found: dict[str, Any] = vault
    return found


def _published_key_id(sandbox: Sandbox, display_name: str) -> str | None:
    """The key ID of the credential whose value the vault publishes, if it is a live one."""
    store = sandbox.entra.store
    app = _apps(store)[display_name]
    value = store.get_secret(_vault_name(sandbox), rules.vault_secret_name(display_name))["value"]
    return store.live_credential(app["appId"], value)


def _vault_name(sandbox: Sandbox) -> str:
    (name,) = sandbox.entra.store.data["vaults"]
    return str(name)


def _routes(sandbox: Sandbox) -> dict[str, set[str]]:
    snapshot = sandbox.ocelot.store.snapshot()
    return {
        route: {entry["clientId"] for entry in saved["clientAccessList"]}
        for route, saved in snapshot.items()
    }


def _assert_onboarded(
    sandbox: Sandbox, display_names: tuple[str, ...], regions: dict[str, list[str]]
) -> None:
    store = sandbox.entra.store
    apps = _apps(store)
    assert set(apps) == set(display_names)
    deployer = sandbox.entra.deployer.object_id
    for name, app in apps.items():
        assert app["signInAudience"] == "AzureADMyOrg"
        assert app["serviceManagementReference"].startswith("BEAT")
        assert deployer in app["owners"]
        (sp,) = store.list_objects("servicePrincipals", "appId", app["appId"])
        assert set(sp["owners"]) == set(app["owners"])
        assert len(app["passwordCredentials"]) == 2
        assert _published_key_id(sandbox, name) is not None, f"{name}: vault holds no live secret"
        for route in regions[name]:
            assert app["appId"] in _routes(sandbox)[route], f"{name} missing on {route}"


def _np_regions() -> dict[str, list[str]]:
    return {
        "MY-LIVEKIT-AGENT-NP": [rules.lkps_host("eu", "np"), rules.lkps_host("us", "np")],
        "MY-LIVEKIT-CLIENT-NP": [rules.lkps_host("eu", "np")],
    }


def test_a_new_np_stack_previews_ups_and_then_stays_unchanged(project: SandboxProject) -> None:
    with project.session("np") as session:
        preview = session.preview(today=BEFORE_ROTATION)
        planned = preview_changes(preview)
        # The stack, the environment, 2 providers; per app 3 components, the Application, its
        # ServicePrincipal, 2 passwords, the vault secret and its VaultSecretName; 3 Ocelot
        # entries in all; the agent's client authorization: a component, its URI, scope and one
        # pre-authorization.
        assert planned == {"create": 29}, planned
        assert "lkps-onboarding@v0.0.1" in preview.stdout
        assert _apps(session.sandbox.entra.store) == {}

        up = session.up(today=BEFORE_ROTATION)
        assert changes(up) == {"create": 29}
        _assert_onboarded(session.sandbox, NP_APPS, _np_regions())
        outputs = up.outputs["applications"].value
        assert outputs["MY-LIVEKIT-AGENT"]["displayName"] == "MY-LIVEKIT-AGENT-NP"
        expires = NP_SCHEDULE.plan(BEFORE_ROTATION).current.expires
        assert outputs["MY-LIVEKIT-AGENT"]["secretEndDate"] == rfc3339(expires)

    with project.session("np") as later:
        assert changes(later.up(today=BEFORE_ROTATION)) == {"same": 29}
        assert changes(later.refresh(today=BEFORE_ROTATION)) == {"same": 29}
        assert preview_changes(later.preview(today=BEFORE_ROTATION)) == {"same": 29}
        for route, clients in _routes(later.sandbox).items():
            assert FOREIGN_CLIENT_ID in clients, route


def test_prod_previews_and_ups_with_its_committed_config(project: SandboxProject) -> None:
    with project.session("prod") as session:
        assert preview_changes(session.preview(today=BEFORE_ROTATION)) == {"create": 30}
        assert changes(session.up(today=BEFORE_ROTATION)) == {"create": 30}
        regions = {
            "MY-LIVEKIT-AGENT": list(rules.route_ids("prod")),
            "MY-LIVEKIT-CLIENT": list(rules.route_ids("prod")),
        }
        _assert_onboarded(session.sandbox, PROD_APPS, regions)
        protected = [r["type"].rsplit(":", 1)[-1] for r in session.deployment() if r.get("protect")]
        assert sorted(protected) == [
            "Application",
            "Application",
            "Secret",
            "Secret",
            "ServicePrincipal",
            "ServicePrincipal",
        ]
        assert preview_changes(session.preview(today=BEFORE_ROTATION)) == {"same": 30}


def _client_app(config: dict[str, Any]) -> dict[str, Any]:
    app: dict[str, Any] = config["applications"][1]
    assert app["name"] == "MY-LIVEKIT-CLIENT"
    return app


def test_a_description_edit_updates_in_place_and_a_new_app_only_adds(
    project: SandboxProject,
) -> None:
    with project.deployed("np", BEFORE_ROTATION) as session:
        store = session.sandbox.entra.store
        before = {name: app["appId"] for name, app in _apps(store).items()}

        session.edit_config(lambda c: _client_app(c).update(description="Web client, renamed"))
        preview = session.preview(today=BEFORE_ROTATION, diff=True)
        assert preview_changes(preview) == {"same": 28, "update": 1}, preview.stdout
        assert '~ description: "Web client that starts' in preview.stdout
        edited = session.up(today=BEFORE_ROTATION)
        assert changes(edited) == {"same": 28, "update": 1}
        client = _apps(store)["MY-LIVEKIT-CLIENT-NP"]
        assert client["description"] == "Web client, renamed"
        entry = session.sandbox.ocelot.store.entries(rules.lkps_host("eu", "np"))[client["appId"]]
        assert entry.description.startswith("MY-LIVEKIT-CLIENT-NP")

        def add_app(config: dict[str, Any]) -> None:
            config["applications"].append(
                {
                    "name": "MY-NEW-AGENT",
                    "role": "agent",
                    "beatId": "BEAT11223344",
                    "owners": _client_app(config)["owners"],
                    "regions": ["us"],
                }
            )

        session.edit_config(add_app)
        added = session.up(today=BEFORE_ROTATION)
        assert changes(added) == {"same": 29, "create": 10}
        after = _apps(store)
        assert {name: after[name]["appId"] for name in before} == before
        _assert_onboarded(
            session.sandbox,
            (*NP_APPS, "MY-NEW-AGENT-NP"),
            {**_np_regions(), "MY-NEW-AGENT-NP": [rules.lkps_host("us", "np")]},
        )


def test_the_next_rotation_day_replaces_one_password_per_app_and_publishes_it(
    project: SandboxProject,
) -> None:
    with project.deployed("np", BEFORE_ROTATION) as session:
        store = session.sandbox.entra.store
        published = {name: _published_key_id(session.sandbox, name) for name in NP_APPS}
        keys = {
            name: {p["keyId"] for p in app["passwordCredentials"]}
            for name, app in _apps(store).items()
        }

        preview = session.preview(today=ROTATION_DAY)
        assert preview_changes(preview) == {"same": 25, "replace": 2, "update": 2}
        rotated = session.up(today=ROTATION_DAY)
        assert changes(rotated) == {"same": 25, "replace": 2, "update": 2}

        vault = _vault_name(session.sandbox)
        for name in NP_APPS:
            app = _apps(store)[name]
            now = {p["keyId"]: p for p in app["passwordCredentials"]}
            assert len(now) == 2
            assert published[name] in now, f"{name}: the published secret was removed"
            (new_key,) = set(now) - keys[name]
            assert _published_key_id(session.sandbox, name) == new_key
            secret_name = rules.vault_secret_name(name)
            assert len(store.secret_versions(vault, secret_name)) == 2
            current = store.get_secret(vault, secret_name)
            expires = NP_SCHEDULE.plan(ROTATION_DAY).current.expires
            assert now[new_key]["endDateTime"] == rfc3339(expires)
            assert current["attributes"]["exp"] == epoch_seconds(expires)
            assert now[new_key]["displayName"] == f"lkps-integration-{ROTATION_DAY.isoformat()}"

        assert changes(session.up(today=ROTATION_DAY)) == {"same": 29}


def test_hand_deletions_show_in_refresh_and_the_next_up_restores_them(
    project: SandboxProject,
) -> None:
    with project.deployed("np", BEFORE_ROTATION) as session:
        store = session.sandbox.entra.store
        agent = _apps(store)["MY-LIVEKIT-AGENT-NP"]
        unpublished = next(
            p["keyId"]
            for p in agent["passwordCredentials"]
            if p["keyId"] != _published_key_id(session.sandbox, "MY-LIVEKIT-AGENT-NP")
        )
        store.remove_password(agent["id"], unpublished)
        eu = rules.lkps_host("eu", "np")
        session.sandbox.ocelot.store.remove_out_of_band(eu, agent["appId"])

        refreshed = session.refresh(today=BEFORE_ROTATION)
        assert changes(refreshed) == {"same": 27, "delete": 2}
        assert sum(r["type"] == APPLICATION_PASSWORD for r in session.deployment()) == 3
        assert sum(r["type"] == ROUTE_ACCESS for r in session.deployment()) == 2

        restored = session.up(today=BEFORE_ROTATION)
        assert changes(restored) == {"same": 27, "create": 2}
        assert len(_apps(store)["MY-LIVEKIT-AGENT-NP"]["passwordCredentials"]) == 2
        assert agent["appId"] in _routes(session.sandbox)[eu]
        assert _published_key_id(session.sandbox, "MY-LIVEKIT-AGENT-NP") is not None


def test_removing_an_app_and_destroying_np_leave_other_teams_untouched(
    project: SandboxProject,
) -> None:
    with project.deployed("np", BEFORE_ROTATION) as session:
        store = session.sandbox.entra.store
        client_id = _apps(store)["MY-LIVEKIT-CLIENT-NP"]["appId"]
        ours = {app["appId"] for app in _apps(store).values()}
        routes_before = {route: ids - ours for route, ids in _routes(session.sandbox).items()}

        def remove_client(config: dict[str, Any]) -> None:
            config["applications"].pop(1)
            config["applications"][0]["clients"] = []

        session.edit_config(remove_client)
        removed = session.up(today=BEFORE_ROTATION)
        # Its 3 components, Application, ServicePrincipal, 2 passwords, vault secret and its
        # VaultSecretName, 1 entry, and the agent's client authorization (component, URI,
        # scope, pre-authorization).
        assert changes(removed) == {"same": 15, "delete": 14}
        assert set(_apps(store)) == {"MY-LIVEKIT-AGENT-NP"}
        assert store.list_objects("servicePrincipals", "appId", client_id) == []
        assert client_id not in _routes(session.sandbox)[rules.lkps_host("eu", "np")]
        vault = _vault(session.sandbox)
        assert set(vault["secrets"]) == {"my-livekit-agent-np-client-secret"}
        assert set(vault["deleted"]) == {"my-livekit-client-np-client-secret"}

        destroyed = session.destroy()
        assert changes(destroyed) == {"delete": 15}
        assert _apps(store) == {}
        assert store.list_objects("servicePrincipals", None, None) == []
        assert _routes(session.sandbox) == routes_before
        # Key Vault keeps deleted secrets for its retention period (soft delete).
        assert vault["secrets"] == {}
        assert set(vault["deleted"]) == {
            "my-livekit-agent-np-client-secret",
            "my-livekit-client-np-client-secret",
        }


def test_a_policy_violation_fails_the_preview_with_the_policys_message(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        # Within the config's limits (730 days), beyond the np policy's 90 days.
        session.edit_config(lambda c: c.update(secretLifetimeDays=300))
        with pytest.raises(auto.errors.CommandError) as caught:
            session.preview(today=BEFORE_ROTATION)
        output = str(caught.value)
        assert "client-secret-lifetime" in output
        assert "[mandatory]" in output
        assert "at most 90 days are allowed" in output
        assert _apps(session.sandbox.entra.store) == {}


def test_no_client_secret_or_token_appears_in_state_export_output_or_verbose_logs(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        preview = session.preview(today=BEFORE_ROTATION, diff=True)
        up = session.up(today=BEFORE_ROTATION, log_verbosity=9, log_to_std_err=True, log_flow=True)
        refresh = session.refresh(today=BEFORE_ROTATION, log_verbosity=9, log_to_std_err=True)
        rotated = session.up(today=ROTATION_DAY, diff=True)
        store = session.sandbox.entra.store
        vault_value = store.get_secret(
            _vault_name(session.sandbox), "my-livekit-agent-np-client-secret"
        )["value"]
        assert vault_value.startswith(CANARY_SECRET)
        texts = {
            "preview": preview.stdout + preview.stderr,
            "up output": up.stdout + "\n".join(session.outputs),
            "verbose engine log": up.stderr + refresh.stderr,
            "rotation diff": rotated.stdout,
            "state file": session.state_text(),
            "pulumi stack export": session.export_without_secrets(),
            "stack file": (session.sandbox.folder.work_dir / "Pulumi.np.yaml").read_text(),
        }
        assert "RegisterResource" in texts["verbose engine log"]
        for where, text in texts.items():
            assert CANARY_SECRET not in text, f"a client secret appears in the {where}"
            assert CANARY_TOKEN not in text, f"a token appears in the {where}"
        passwords = [r for r in session.deployment() if r["type"] == APPLICATION_PASSWORD]
        assert len(passwords) == 4
        for resource in passwords:
            assert set(resource["outputs"]["value"]) == {
                "4dabf18193072939515e22adb298388d",
                "ciphertext",
            }
        vaults = [r for r in session.deployment() if r["type"] == VAULT_SECRET]
        assert "value" not in json.dumps([r["outputs"] for r in vaults])


def test_clients_are_pre_authorized_one_resource_each_across_stacks_too(
    project: SandboxProject,
) -> None:
    partner = "0d0e0f10-1112-4314-9516-171819202122"
    with project.deployed("np", BEFORE_ROTATION) as session:
        store = session.sandbox.entra.store
        agent = _apps(store)["MY-LIVEKIT-AGENT-NP"]
        client = _apps(store)["MY-LIVEKIT-CLIENT-NP"]
        api = agent["api"]
        assert agent["identifierUris"] == [f"api://{agent['appId']}"]
        (scope,) = api["oauth2PermissionScopes"]
        assert (scope["value"], scope["isEnabled"]) == ("access_as_client", True)
        assert api["preAuthorizedApplications"] == [
            {"appId": client["appId"], "delegatedPermissionIds": [scope["id"]]}
        ]

        def add_partner(config: dict[str, Any]) -> None:
            config["applications"][0]["externalClients"] = [
                {
                    "clientId": partner,
                    "label": "Partner web",
                    "beatId": "BEAT11112222",
                    "environment": "np",
                }
            ]

        session.edit_config(add_partner)
        added = session.up(today=BEFORE_ROTATION)
        assert changes(added) == {"same": 29, "create": 1}
        assert changes(session.up(today=BEFORE_ROTATION)) == {"same": 30}
        pre = _apps(store)["MY-LIVEKIT-AGENT-NP"]["api"]["preAuthorizedApplications"]
        assert {p["appId"] for p in pre} == {client["appId"], partner}
        outputs = added.outputs["applications"].value["MY-LIVEKIT-AGENT"]
        assert [c["clientId"] for c in outputs["preAuthorizedClients"]] == [
            client["appId"],
            partner,
        ]

        session.edit_config(lambda c: c["applications"][0].update(description="Renamed agent"))
        assert changes(session.up(today=BEFORE_ROTATION)) == {"same": 29, "update": 1}
        edited = _apps(store)["MY-LIVEKIT-AGENT-NP"]
        assert edited["description"] == "Renamed agent"
        assert edited["identifierUris"] == [f"api://{agent['appId']}"], "lost on update"

        session.edit_config(lambda c: c["applications"][0].pop("externalClients"))
        removed = session.up(today=BEFORE_ROTATION)
        assert changes(removed) == {"same": 29, "delete": 1}
        pre = _apps(store)["MY-LIVEKIT-AGENT-NP"]["api"]["preAuthorizedApplications"]
        assert [p["appId"] for p in pre] == [client["appId"]]
        assert _apps(store)["MY-LIVEKIT-AGENT-NP"]["api"]["oauth2PermissionScopes"] == [scope]
