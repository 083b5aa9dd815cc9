"""Each rule and behaviour in `sandbox.behaviours`, checked against a running stand-in plugin
over gRPC, with the Entra emulator behind it over HTTP."""

from __future__ import annotations

import ast
import os
import subprocess
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import grpc
import httpx
import pytest
from google.protobuf import empty_pb2
from pulumi.runtime.proto import plugin_pb2, provider_pb2

from sandbox import behaviours
from sandbox.behaviours import BEHAVIOURS, TYPES, TypeRules
from sandbox.entra import EntraEmulator
from sandbox.loopback import ApiError
from sandbox.session import install_plugins
from sandbox.standin.wire import UNKNOWN, Secret, decode
from tests.sandbox.conftest import (
    OWNER_A,
    OWNER_B,
    OWNER_C,
    RESOURCE_GROUP,
    SUBSCRIPTION,
    VAULT,
    AreaTokens,
    Plugin,
    launcher,
    unique,
)

F = TypeVar("F", bound=Callable[..., Any])
COVERED: dict[str, str] = {}
APP = behaviours.APPLICATION.resource_type
SP = behaviours.SERVICE_PRINCIPAL.resource_type
PASSWORD = behaviours.APPLICATION_PASSWORD.resource_type
SECRET = behaviours.VAULT_SECRET.resource_type
URI = behaviours.APPLICATION_IDENTIFIER_URI.resource_type
SCOPE = behaviours.APPLICATION_PERMISSION_SCOPE.resource_type
PRE_AUTHORIZED = behaviours.APPLICATION_PRE_AUTHORIZED.resource_type
FEDERATED = behaviours.APPLICATION_FEDERATED_IDENTITY_CREDENTIAL.resource_type
# What a GitHub Actions workflow presents (learn.microsoft.com/entra/workload-id/workload-
# identity-federation-create-trust): its issuer and Entra's token-exchange audience.
GITHUB_ISSUER = "https://token.actions.githubusercontent.com"
TOKEN_EXCHANGE = "api://AzureADTokenExchange"


def covers(name: str) -> Callable[[F], F]:
    """Marks the test that checks one behaviour of `BEHAVIOURS`."""
    assert name in {b.name for b in BEHAVIOURS}, name

    def mark(test: F) -> F:
        COVERED[name] = test.__name__
        return test

    return mark


def _plugin_of(resource_type: str) -> str:
    return "azure-native" if resource_type.startswith("azure-native:") else "azuread"


def _application(**extra: Any) -> dict[str, Any]:
    return {
        "displayName": unique("MY-LIVEKIT-AGENT-NP"),
        "owners": [OWNER_A, OWNER_B],
        "signInAudience": "AzureADMyOrg",
        "preventDuplicateNames": True,
        "serviceManagementReference": "BEAT12345678",
        "notes": "LKPS agent (np)",
        "tags": ["lkps", "beat:BEAT12345678"],
        **extra,
    }


def _secret_inputs(value: str = "v1", name: str = "my-agent-np-client-secret") -> dict[str, Any]:
    return {
        "resourceGroupName": RESOURCE_GROUP,
        "vaultName": VAULT,
        "secretName": name,
        "properties": {
            "value": Secret(value),
            "contentType": "application/vnd.lkps.client-secret",
            "attributes": {"enabled": True, "expires": 1900000000},
        },
        "tags": {"clientId": "x"},
    }


def _valid_inputs(plugin: Callable[[str], Plugin], resource_type: str) -> dict[str, Any]:
    """Inputs for one resource of each type, creating what it depends on."""
    if resource_type == APP:
        return _application()
    if resource_type == SECRET:
        return _secret_inputs(name=unique("app-np-client-secret"))
    _, app = plugin("azuread").create(APP, _application())
    if resource_type == SP:
        return {"clientId": app["clientId"], "owners": [OWNER_A], "tags": ["lkps"], "notes": "n"}
    application_id = f"/applications/{app['objectId']}"
    if resource_type == URI:
        return {"applicationId": application_id, "identifierUri": f"api://{app['clientId']}"}
    if resource_type == SCOPE:
        return _scope_inputs(application_id)
    if resource_type == FEDERATED:
        return _federated_inputs(application_id)
    if resource_type == PRE_AUTHORIZED:
        scope = _scope_inputs(application_id)
        plugin("azuread").create(SCOPE, scope)
        _, client = plugin("azuread").create(APP, _application())
        return {
            "applicationId": application_id,
            "authorizedClientId": client["clientId"],
            "permissionIds": [scope["scopeId"]],
        }
    return {
        "applicationId": f"/applications/{app['objectId']}",
        "displayName": "lkps-integration-2026-11-27",
        "endDate": "2027-02-25T00:00:00Z",
        "rotateWhenChanged": {"generation": "10"},
    }


def _scope_inputs(application_id: str) -> dict[str, Any]:
    return {
        "applicationId": application_id,
        "scopeId": str(uuid.uuid4()),
        "value": "access_as_client",
        "type": "User",
        "adminConsentDescription": "Lets a client start LKPS sessions with this agent",
        "adminConsentDisplayName": "Start sessions",
        "userConsentDescription": "Lets the app start LKPS sessions with this agent for you",
        "userConsentDisplayName": "Start sessions",
    }


def _federated_inputs(application_id: str, **extra: Any) -> dict[str, Any]:
    return {
        "applicationId": application_id,
        "audiences": [TOKEN_EXCHANGE],
        "displayName": unique("github-main"),
        "issuer": GITHUB_ISSUER,
        "subject": f"repo:bayer/lkps-agent:environment:{unique('np')}",
        "description": "GitHub Actions deploying to np",
        **extra,
    }


def _changed(value: Any) -> Any:
    if isinstance(value, bool):
        return not value
    if isinstance(value, list):
        return [*value, "c0ffee00-0000-4000-8000-000000000000"]
    if isinstance(value, dict):
        return {**value, "changed": "yes"}
    return f"{value}-changed" if value is not None else "set"


@pytest.mark.parametrize(
    ("resource_type", "key"),
    [(rules.resource_type, key) for rules in TYPES.values() for key in sorted(rules.inputs)],
)
def test_a_change_replaces_exactly_when_the_real_provider_does(
    plugin: Callable[[str], Plugin], resource_type: str, key: str
) -> None:
    rules = TYPES[resource_type]
    olds = {"displayName": "x", "clientId": "c", "applicationId": "/applications/a"}
    olds |= {"resourceGroupName": "rg", "vaultName": "v", "secretName": "s"}
    olds = {k: v for k, v in olds.items() if k in rules.inputs} | {key: olds.get(key, "old")}
    diff = plugin(_plugin_of(resource_type)).diff(
        resource_type, olds, olds | {key: _changed(olds[key])}
    )
    assert diff.changes == provider_pb2.DiffResponse.DIFF_SOME
    assert list(diff.diffs) == [key]
    assert list(diff.replaces) == ([key] if key in rules.replace_on else []), rules.replace_source


@pytest.mark.parametrize("rules", list(TYPES.values()), ids=list(TYPES))
def test_ids_follow_the_real_form_and_set_valued_inputs_ignore_order(
    plugin: Callable[[str], Plugin], rules: TypeRules
) -> None:
    inputs = _valid_inputs(plugin, rules.resource_type)
    running = plugin(_plugin_of(rules.resource_type))
    id_, outputs = running.create(rules.resource_type, inputs)
    assert rules.id_pattern.fullmatch(id_), f"{id_} ({rules.id_source})"
    for key in sorted(rules.set_valued & inputs.keys()):
        reordered = inputs | {key: list(reversed(inputs[key]))}
        diff = running.diff(rules.resource_type, inputs, reordered)
        assert diff.changes == provider_pb2.DiffResponse.DIFF_NONE, key
    for key in rules.secret_outputs:
        assert isinstance(outputs[key], Secret), rules.secret_source


@covers("preview-create-returns-unknown-computed-outputs")
@pytest.mark.parametrize("rules", list(TYPES.values()), ids=list(TYPES))
def test_a_preview_create_answers_computed_outputs_unknown_and_changes_nothing(
    plugin: Callable[[str], Plugin], entra: EntraEmulator, rules: TypeRules
) -> None:
    inputs = _valid_inputs(plugin, rules.resource_type)
    before = len(entra.store.list_objects("applications", None, None))
    id_, outputs = plugin(_plugin_of(rules.resource_type)).create(
        rules.resource_type, inputs, preview=True
    )
    assert id_ == ""
    for key in rules.computed:
        assert outputs[key] == UNKNOWN, key
    assert len(entra.store.list_objects("applications", None, None)) == before
    if rules is behaviours.VAULT_SECRET:
        assert inputs["secretName"] not in entra.store.data["vaults"][VAULT]["secrets"]


@pytest.mark.parametrize("rules", list(TYPES.values()), ids=list(TYPES))
def test_an_unknown_or_missing_property_fails_check_by_name(
    plugin: Callable[[str], Plugin], rules: TypeRules
) -> None:
    running = plugin(_plugin_of(rules.resource_type))
    failures = running.check(rules.resource_type, {"madeUpProperty": 1}).failures
    reasons = {f.property: f.reason for f in failures}
    assert "'madeUpProperty'" in reasons["madeUpProperty"]
    for key in rules.required:
        assert reasons[key] == f"missing required property '{key}'"


def test_an_unknown_type_or_function_fails_loudly(plugin: Callable[[str], Plugin]) -> None:
    running = plugin("azuread")
    with pytest.raises(grpc.RpcError) as caught:
        running.create("azuread:index/group:Group", {"displayName": "G"})
    assert "does not emulate resource type azuread:index/group:Group" in str(caught.value)
    with pytest.raises(grpc.RpcError) as invoked:
        running.stub.Invoke(provider_pb2.InvokeRequest(tok="azuread:index/getUser:getUser"))
    assert "does not emulate function azuread:index/getUser:getUser" in str(invoked.value)


def test_the_plugins_report_the_versions_the_sdks_request(plugin: Callable[[str], Plugin]) -> None:
    for name, version in (
        ("azuread", behaviours.AZUREAD_VERSION),
        ("azure-native", behaviours.AZURE_NATIVE_VERSION),
    ):
        info = plugin(name).stub.GetPluginInfo(empty_pb2.Empty())
        assert isinstance(info, plugin_pb2.PluginInfo)
        assert info.version == version


def test_get_client_config_names_the_running_identity(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    answer = plugin("azuread").stub.Invoke(
        provider_pb2.InvokeRequest(tok=behaviours.GET_CLIENT_CONFIG)
    )
    result = dict(getattr(answer, "return").items())
    assert result == {
        "clientId": entra.deployer.client_id,
        "objectId": entra.deployer.object_id,
        "tenantId": entra.deployer.tenant_id,
    }


def test_a_stand_in_refuses_to_start_outside_the_sandbox(tmp_path: Path) -> None:
    install_plugins(tmp_path / "home")
    env = {k: v for k, v in os.environ.items() if not k.startswith("LKPS_SANDBOX")}
    for name in ("azuread", "azure-native"):
        done = subprocess.run(  # noqa: S603 - the launcher installed above
            [str(launcher(tmp_path / "home", name))],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 1
        assert done.stdout == ""
        assert f"stand-in for {name}; it never talks to Azure" in done.stderr


@covers("application-create-caller-owner-removed-unless-listed")
def test_create_keeps_the_caller_as_owner_only_when_listed(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    deployer = entra.deployer.object_id
    _, without = running.create(APP, _application(owners=[OWNER_A]))
    assert without["owners"] == [OWNER_A]
    _, listed = running.create(APP, _application(owners=[OWNER_A, deployer]))
    assert sorted(listed["owners"]) == sorted([OWNER_A, deployer])


@covers("application-owners-replaced-as-a-set")
def test_an_update_removes_every_owner_not_listed_even_one_added_by_hand(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    inputs = _application()
    id_, outputs = running.create(APP, inputs)
    entra.store.add_owner("applications", outputs["objectId"], OWNER_C)
    _, state, refreshed = running.read(APP, id_, outputs, inputs)
    assert OWNER_C in state["owners"]
    assert running.diff(APP, state, inputs, old_inputs=refreshed).diffs == ["owners"]
    updated = running.update(APP, id_, state, inputs, old_inputs=refreshed)
    assert sorted(updated["owners"]) == sorted([OWNER_A, OWNER_B])
    assert OWNER_C not in entra.store.get_object("applications", outputs["objectId"])["owners"]


@covers("application-duplicate-display-name-refused")
def test_a_duplicate_display_name_is_refused_at_preview_unless_unknown(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    taken = unique("MANUAL-APP-NP")
    entra.store.create_application({"displayName": taken}, entra.deployer)
    running = plugin("azuread")
    for preview in (True, False):
        with pytest.raises(grpc.RpcError) as caught:
            running.create(APP, _application(displayName=taken), preview=preview)
        assert "must be imported" in str(caught.value)
    running.create(APP, _application(displayName=UNKNOWN), preview=True)
    running.create(APP, _application(displayName=taken, preventDuplicateNames=False))


@covers("service-principal-exists-refused")
def test_a_second_service_principal_for_one_client_id_is_refused(
    plugin: Callable[[str], Plugin],
) -> None:
    inputs = _valid_inputs(plugin, SP)
    running = plugin("azuread")
    running.create(SP, inputs)
    with pytest.raises(grpc.RpcError) as caught:
        running.create(SP, inputs)
    assert 'A resource with the ID "/servicePrincipals/' in str(caught.value)
    assert "needs to be imported" in str(caught.value)


@covers("password-value-only-at-create")
@covers("password-gone-when-removed-by-hand")
def test_a_password_value_exists_only_in_state_and_a_hand_removal_reads_as_gone(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    inputs = _valid_inputs(plugin, PASSWORD)
    running = plugin("azuread")
    id_, outputs = running.create(PASSWORD, inputs)
    object_id, _, key_id = id_.split("/")
    stored = entra.store.get_object("applications", object_id)["passwordCredentials"]
    assert (
        entra.store.live_credential(
            entra.store.get_object("applications", object_id)["appId"], outputs["value"].value
        )
        == key_id
    )
    read_id, state, _ = running.read(PASSWORD, id_, outputs, inputs)
    assert read_id == id_
    assert state["value"] == outputs["value"]
    assert len(stored) == 1
    entra.store.remove_password(object_id, key_id)
    gone_id, _, _ = running.read(PASSWORD, id_, outputs, inputs)
    assert gone_id == ""


@covers("vault-secret-create-refuses-existing")
def test_creating_a_vault_secret_that_exists_is_refused(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    name = unique("manual-np-client-secret")
    entra.store.set_secret(VAULT, name, {"value": "by hand"})
    with pytest.raises(grpc.RpcError) as caught:
        plugin("azure-native").create(SECRET, _secret_inputs(name=name))
    assert "cannot create already existing resource" in str(caught.value)


@covers("vault-secret-every-value-change-is-a-new-version")
@covers("vault-secret-value-never-read-back")
def test_each_value_change_is_a_version_and_the_value_is_never_read_back(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azure-native")
    name = unique("versioned-np-client-secret")
    inputs = _secret_inputs("v1", name)
    id_, outputs = running.create(SECRET, inputs)
    assert "value" not in outputs["properties"]
    assert outputs["properties"]["secretUri"] == f"https://{VAULT}.vault.azure.net/secrets/{name}"
    running.update(SECRET, id_, inputs, _secret_inputs("v2", name))
    assert len(entra.store.secret_versions(VAULT, name)) == 2
    current = entra.store.get_secret(VAULT, name)
    entra.store.set_secret(VAULT, name, {**current, "value": "edited by hand"})
    _, state, refreshed = running.read(SECRET, id_, outputs, _secret_inputs("v2", name))
    assert refreshed["properties"]["value"] == Secret("v2")
    assert running.diff(SECRET, refreshed, _secret_inputs("v2", name)).changes == (
        provider_pb2.DiffResponse.DIFF_NONE
    )
    assert state["properties"]["secretUriWithVersion"].endswith(
        entra.store.secret_versions(VAULT, name)[-1]["id"].rsplit("/", 1)[-1]
    )


@covers("vault-secret-delete-is-soft")
@covers("vault-secret-create-recovers-soft-deleted")
def test_a_deleted_vault_secret_is_soft_deleted_and_recovered_by_the_next_create(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azure-native")
    name = unique("retired-np-client-secret")
    id_, outputs = running.create(SECRET, _secret_inputs("v1", name=name))
    running.delete(SECRET, id_, outputs)
    vault = entra.store.data["vaults"][VAULT]
    assert name not in vault["secrets"]
    assert name in vault["deleted"]
    with pytest.raises(ApiError) as refused:
        entra.store.set_secret(VAULT, name, {"value": "v2"})
    assert "deleted but recoverable state" in refused.value.message
    running.create(SECRET, _secret_inputs("v2", name=name))
    assert name not in vault["deleted"]
    versions = entra.store.secret_versions(VAULT, name)
    assert len(versions) == 2, "the recovered version and the new one"
    assert entra.store.get_secret(VAULT, name)["value"] == "v2"


@covers("application-delete-removes-its-service-principal")
def test_deleting_an_application_deletes_its_service_principal(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    id_, app = running.create(APP, _application())
    running.create(SP, {"clientId": app["clientId"], "owners": [OWNER_A]})
    running.delete(APP, id_, app)
    assert entra.store.list_objects("servicePrincipals", "appId", app["clientId"]) == []


@covers("application-update-drops-separately-managed-identifier-uris")
def test_an_application_update_drops_identifier_uris_unless_they_are_ignored(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    inputs = _application()
    id_, app = running.create(APP, inputs)
    uri = {"applicationId": id_, "identifierUri": f"api://{app['clientId']}"}
    running.create(URI, uri)
    _, state, refreshed = running.read(APP, id_, app, inputs)
    assert state["identifierUris"] == [uri["identifierUri"]]
    renamed = inputs | {"description": "first edit"}
    kept = running.update(
        APP, id_, state, renamed, ignore_changes=("identifierUris", "api"), old_inputs=refreshed
    )
    assert entra.store.get_object("applications", app["objectId"])["identifierUris"] == [
        uri["identifierUri"]
    ]
    running.update(APP, id_, kept, renamed | {"description": "second edit"}, old_inputs=renamed)
    assert entra.store.get_object("applications", app["objectId"])["identifierUris"] == []


@covers("permission-scope-disabled-before-removal")
def test_a_scope_is_disabled_before_it_is_removed(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    inputs = _valid_inputs(plugin, SCOPE)
    running = plugin("azuread")
    id_, outputs = running.create(SCOPE, inputs)
    object_id = id_.split("/")[2]
    app = entra.store.get_object("applications", object_id)
    with pytest.raises(ApiError) as refused:
        entra.store.update_object(
            "applications", object_id, {"api": {**app["api"], "oauth2PermissionScopes": []}}
        )
    assert refused.value.code == "CannotDeleteOrUpdateEnabledEntitlement"
    renamed = running.update(SCOPE, id_, inputs, inputs | {"adminConsentDisplayName": "Renamed"})
    assert renamed["adminConsentDisplayName"] == "Renamed"
    running.delete(SCOPE, id_, outputs)
    assert entra.store.get_object("applications", object_id)["api"]["oauth2PermissionScopes"] == []
    gone_id, _, _ = running.read(SCOPE, id_, outputs, inputs)
    assert gone_id == ""


@covers("pre-authorization-needs-an-exposed-scope")
def test_a_pre_authorization_must_name_an_exposed_scope_and_updates_in_place(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    inputs = _valid_inputs(plugin, PRE_AUTHORIZED)
    running = plugin("azuread")
    with pytest.raises(grpc.RpcError) as caught:
        running.create(PRE_AUTHORIZED, inputs | {"permissionIds": [str(uuid.uuid4())]})
    assert "does not expose" in str(caught.value)
    id_, outputs = running.create(PRE_AUTHORIZED, inputs)
    assert running.diff(PRE_AUTHORIZED, inputs, inputs | {"permissionIds": []}).replaces == []
    object_id = id_.split("/")[0]
    api = entra.store.get_object("applications", object_id)["api"]
    assert api["preAuthorizedApplications"] == [
        {"appId": inputs["authorizedClientId"], "delegatedPermissionIds": inputs["permissionIds"]}
    ]
    running.delete(PRE_AUTHORIZED, id_, outputs)
    api = entra.store.get_object("applications", object_id)["api"]
    assert api["preAuthorizedApplications"] == []


@covers("identifier-uri-unique-in-the-tenant")
def test_an_identifier_uri_is_unique_in_the_tenant(plugin: Callable[[str], Plugin]) -> None:
    inputs = _valid_inputs(plugin, URI)
    running = plugin("azuread")
    id_, outputs = running.create(URI, inputs)
    _, other = running.create(APP, _application())
    with pytest.raises(grpc.RpcError) as caught:
        running.create(URI, inputs | {"applicationId": f"/applications/{other['objectId']}"})
    assert "already exists" in str(caught.value)
    read_id, _, _ = running.read(URI, id_, outputs, inputs)
    assert read_id == id_
    running.delete(URI, id_, outputs)
    assert running.read(URI, id_, outputs, inputs)[0] == ""


def test_the_wrong_subscription_or_vault_is_not_found(plugin: Callable[[str], Plugin]) -> None:
    running = plugin("azure-native")
    with pytest.raises(grpc.RpcError) as caught:
        running.create(SECRET, _secret_inputs() | {"vaultName": "kv-other-np"})
    assert "404" in str(caught.value)
    assert "kv-other-np" in str(caught.value)


def test_every_behaviour_has_its_test() -> None:
    shown = {behaviour.name for behaviour in BEHAVIOURS if behaviour.shown_by}
    assert set(COVERED) | shown == {behaviour.name for behaviour in BEHAVIOURS}
    assert all(behaviour.source for behaviour in BEHAVIOURS)
    root = Path(__file__).resolve().parents[2]
    for behaviour in BEHAVIOURS:
        for test in behaviour.shown_by:
            path, _, function = test.partition("::")
            tree = ast.parse((root / path).read_text())
            names = {node.name for node in ast.walk(tree) if isinstance(node, ast.FunctionDef)}
            assert function in names, f"{behaviour.name}: {test} does not exist"


@covers("import-read-derives-inputs")
def test_an_import_reads_inputs_from_what_exists(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    azuread = plugin("azuread")
    app_id, app = azuread.create(APP, _application(description="by hand"))
    found_id, _, inputs = azuread.read(APP, app_id, {}, {})
    assert found_id == app_id
    assert inputs["displayName"] == app["displayName"]
    assert inputs["description"] == "by hand"
    assert sorted(inputs["owners"]) == sorted([OWNER_A, OWNER_B])
    name = unique("adopted-np-client-secret")
    entra.store.set_secret(VAULT, name, {"value": "by hand", "tags": {"k": "v"}})
    secret_id = (
        f"/subscriptions/{SUBSCRIPTION}/resourceGroups/{RESOURCE_GROUP}/providers/"
        f"Microsoft.KeyVault/vaults/{VAULT}/secrets/{name}"
    )
    _, _, secret = plugin("azure-native").read(SECRET, secret_id, {}, {})
    assert (secret["vaultName"], secret["secretName"]) == (VAULT, name)
    assert "value" not in secret["properties"]


@covers("data-sources-find-exactly-one")
def test_data_sources_find_an_existing_registration(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    azuread = plugin("azuread")
    _, app = azuread.create(APP, _application())
    found = azuread.invoke(behaviours.GET_APPLICATION, {"clientId": app["clientId"]})
    assert found["objectId"] == app["objectId"]
    assert found["displayName"] == app["displayName"]
    with pytest.raises(grpc.RpcError, match="No service principal found"):
        azuread.invoke(behaviours.GET_SERVICE_PRINCIPAL, {"clientId": app["clientId"]})
    azuread.create(SP, {"clientId": app["clientId"], "owners": [OWNER_A]})
    principal = azuread.invoke(behaviours.GET_SERVICE_PRINCIPAL, {"clientId": app["clientId"]})
    assert principal["clientId"] == app["clientId"]


@covers("vault-get-secret-is-an-arm-read")
def test_get_secret_reads_tags_and_never_the_value(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    native = plugin("azure-native")
    name = unique("read-np-client-secret")
    native.create(SECRET, _secret_inputs("v1", name))
    args = {"resourceGroupName": RESOURCE_GROUP, "vaultName": VAULT, "secretName": name}
    found = native.invoke(behaviours.GET_VAULT_SECRET, args)
    assert found["tags"] == {"clientId": "x"}
    assert "value" not in found["properties"]
    with pytest.raises(grpc.RpcError, match="not found"):
        native.invoke(behaviours.GET_VAULT_SECRET, {**args, "secretName": "missing"})


# The real provider's answers, from pulumi/pulumi-azuread provider/testdata/recorded/
# TestProviderUpgrade/sp-password/5.53.5/grpc.json (commit 9d922321): Check and Create of an
# Application with only a display name and of its ServicePrincipal. `applicationId` was dropped
# from v6; IDs, tenant and domain differ by nature; `__meta` is the bridge's own.
RECORDED_APPLICATION_CHECK = {
    "__defaults": ["preventDuplicateNames", "signInAudience"],
    "displayName": "example",
    "preventDuplicateNames": False,
    "signInAudience": "AzureADMyOrg",
}
RECORDED_APPLICATION_STATE = {
    "api": {
        "knownClientApplications": [],
        "mappedClaimsEnabled": False,
        "oauth2PermissionScopes": [],
        "requestedAccessTokenVersion": 1,
    },
    "appRoleIds": {},
    "appRoles": [],
    "description": "",
    "deviceOnlyAuthEnabled": False,
    "disabledByMicrosoft": "<nil>",
    "displayName": "example",
    "fallbackPublicClientEnabled": False,
    "featureTags": [
        {"customSingleSignOn": False, "enterprise": False, "gallery": False, "hide": False}
    ],
    "groupMembershipClaims": None,
    "identifierUris": None,
    "logoImage": "",
    "logoUrl": "",
    "marketingUrl": "",
    "notes": "",
    "oauth2PermissionScopeIds": {},
    "oauth2PostResponseRequired": False,
    "optionalClaims": {"accessTokens": [], "idTokens": [], "saml2Tokens": []},
    "owners": None,
    "password": None,
    "preventDuplicateNames": False,
    "privacyStatementUrl": "",
    "publicClient": {"redirectUris": []},
    "requiredResourceAccesses": [],
    "serviceManagementReference": "",
    "signInAudience": "AzureADMyOrg",
    "singlePageApplication": {"redirectUris": []},
    "supportUrl": "",
    "tags": [],
    "templateId": "",
    "termsOfServiceUrl": "",
    "web": {
        "homepageUrl": "",
        "implicitGrant": {"accessTokenIssuanceEnabled": False, "idTokenIssuanceEnabled": False},
        "logoutUrl": "",
        "redirectUris": [],
    },
}
RECORDED_SERVICE_PRINCIPAL_STATE = {
    "accountEnabled": True,
    "alternativeNames": None,
    "appRoleAssignmentRequired": False,
    "appRoleIds": {},
    "appRoles": [],
    "description": "",
    "displayName": "example",
    "featureTags": [
        {"customSingleSignOn": False, "enterprise": False, "gallery": False, "hide": False}
    ],
    "features": [
        {
            "customSingleSignOnApp": False,
            "enterpriseApplication": False,
            "galleryApplication": False,
            "visibleToUsers": True,
        }
    ],
    "homepageUrl": "",
    "loginUrl": "",
    "logoutUrl": "",
    "notes": "",
    "notificationEmailAddresses": None,
    "oauth2PermissionScopeIds": {},
    "oauth2PermissionScopes": [],
    "owners": None,
    "preferredSingleSignOnMode": "",
    "redirectUris": [],
    "samlMetadataUrl": "",
    "samlSingleSignOn": {"relayState": ""},
    "servicePrincipalNames": [],
    "signInAudience": "AzureADMyOrg",
    "tags": [],
    "type": "Application",
    "useExisting": None,
}
IDENTITIES = {"clientId", "objectId", "publisherDomain", "applicationTenantId"}


@covers("bridged-check-adds-schema-defaults")
@covers("bridged-state-has-every-attribute")
def test_check_and_create_answer_as_the_recorded_real_provider(
    plugin: Callable[[str], Plugin],
) -> None:
    running = plugin("azuread")
    name = unique("example")
    checked = decode(running.check(APP, {"displayName": name}).inputs)
    assert checked == RECORDED_APPLICATION_CHECK | {"displayName": name}
    _, app = running.create(APP, checked)
    assert set(app) - {"__defaults"} == set(RECORDED_APPLICATION_STATE) | IDENTITIES - {
        "applicationTenantId"
    }
    shown = {k: v for k, v in app.items() if k not in IDENTITIES | {"__defaults"}}
    assert shown == RECORDED_APPLICATION_STATE | {"displayName": name}
    assert len(set(app) - {"__defaults"}) == 35, "the SDK's Application has 35 properties"

    sp_checked = decode(running.check(SP, {"clientId": app["clientId"]}).inputs)
    assert sp_checked == {
        "__defaults": ["accountEnabled"],
        "accountEnabled": True,
        "clientId": app["clientId"],
    }
    _, sp = running.create(SP, sp_checked)
    shown = {k: v for k, v in sp.items() if k not in IDENTITIES | {"__defaults"}}
    assert shown == RECORDED_SERVICE_PRINCIPAL_STATE | {"displayName": name}
    assert len(set(sp) - {"__defaults"}) == 29, "the SDK's ServicePrincipal has 29 properties"


@covers("bridged-diff-compares-state-over-every-attribute")
def test_an_imported_portal_registration_diffs_every_attribute_unless_ignored(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    made = entra.store.register_in_portal(
        unique("PORTAL-NP"), entra.deployer, web={"redirectUris": ["https://a.example.com/cb"]}
    )
    id_ = f"/applications/{made['id']}"
    found, state, imported = running.read(APP, id_, {}, {})
    assert found == id_
    assert imported["requiredResourceAccesses"] == state["requiredResourceAccesses"]
    assert imported["web"]["redirectUris"] == ["https://a.example.com/cb"]
    assert "signInAudience" not in imported, "a value equal to its default is left out"
    news = decode(running.check(APP, _application(displayName=made["displayName"])).inputs)
    diff = running.diff(APP, state, news, old_inputs=imported)
    assert {"requiredResourceAccesses", "web"} <= set(diff.diffs)
    assert diff.hasDetailedDiff
    kinds = {path: d.kind for path, d in diff.detailedDiff.items()}
    assert kinds["requiredResourceAccesses"] == provider_pb2.PropertyDiff.DELETE
    assert kinds["web"] == provider_pb2.PropertyDiff.DELETE
    assert "tags[0]" in kinds or "tags" in kinds
    ignored = running.diff(
        APP, state, news, old_inputs=imported, ignore_changes=("requiredResourceAccesses", "web")
    )
    assert not {"requiredResourceAccesses", "web"} & set(ignored.diffs)


@covers("application-update-writes-whole-object-fields")
def test_an_update_writes_the_web_block_from_the_prior_state_every_time(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    inputs = decode(running.check(APP, _application()).inputs)
    id_, state = running.create(APP, inputs)
    entra.store.update_object(
        "applications", state["objectId"], {"web": {"redirectUris": ["https://b.example.com/cb"]}}
    )
    running.update(
        APP, id_, state, inputs | {"owners": [OWNER_A]}, ignore_changes=("web",), old_inputs=inputs
    )
    live = entra.store.get_object("applications", state["objectId"])
    assert live["owners"] == [OWNER_A]
    assert live["web"]["redirectUris"] == [], "written back from the state, which predates it"


@covers("directory-object-delete-fails-when-gone")
def test_deleting_what_was_deleted_by_hand_fails_with_the_providers_message(
    plugin: Callable[[str], Plugin], entra: EntraEmulator
) -> None:
    running = plugin("azuread")
    app_id, app = running.create(APP, _application())
    sp_id, sp = running.create(SP, {"clientId": app["clientId"], "owners": [OWNER_A]})
    pw_id, pw = running.create(
        PASSWORD, {"applicationId": app_id, "endDate": "2099-01-01T00:00:00Z"}
    )
    uri = {"applicationId": app_id, "identifierUri": f"api://{app['clientId']}"}
    uri_id, _ = running.create(URI, uri)
    scope = _scope_inputs(app_id)
    scope_id, _ = running.create(SCOPE, scope)
    entra.store.remove_password(app["objectId"], pw["keyId"])
    entra.store.update_object("applications", app["objectId"], {"identifierUris": []})
    api = entra.store.get_object("applications", app["objectId"])["api"]
    entra.store.update_object(
        "applications",
        app["objectId"],
        {
            "api": {
                **api,
                "oauth2PermissionScopes": [
                    {**api["oauth2PermissionScopes"][0], "isEnabled": False}
                ],
            }
        },
    )
    entra.store.update_object(
        "applications", app["objectId"], {"api": {**api, "oauth2PermissionScopes": []}}
    )
    entra.store.delete_object("servicePrincipals", sp["objectId"])
    expected = [
        (PASSWORD, pw_id, pw, f'Removing password credential "{pw["keyId"]}" from Application'),
        (URI, uri_id, uri, "could not identify existing identifier URI"),
        (SCOPE, scope_id, scope, "could not identify existing permission scope"),
        (SP, sp_id, sp, f'Deleting Service Principal (Service Principal: "{sp["objectId"]}")'),
    ]
    for kind, id_, state, message in expected:
        with pytest.raises(grpc.RpcError) as caught:
            running.delete(kind, id_, state)
        assert message in str(caught.value), kind
    entra.store.delete_object("applications", app["objectId"])
    with pytest.raises(grpc.RpcError) as gone:
        running.delete(APP, app_id, app)
    assert f'deleting Application (Application: "{app["objectId"]}")' in str(gone.value)
    assert "Request_ResourceNotFound" in str(gone.value)


@covers("vault-secret-check-adds-api-version")
@covers("vault-secret-explicit-name-replaced-delete-first")
def test_a_vault_secret_gets_its_api_version_and_is_deleted_before_a_replacement(
    plugin: Callable[[str], Plugin],
) -> None:
    running = plugin("azure-native")
    inputs = _secret_inputs(name=unique("moved-np-client-secret"))
    checked = decode(running.check(SECRET, inputs).inputs)
    assert checked["azureApiVersion"] == behaviours.VAULT_SECRET_API_VERSION
    moved = running.diff(SECRET, checked, checked | {"vaultName": "kv-other-np"})
    assert list(moved.replaces) == ["vaultName"]
    assert moved.deleteBeforeReplace is True
    tagged = running.diff(SECRET, checked, checked | {"tags": {"clientId": "y"}})
    assert not tagged.replaces
    assert tagged.deleteBeforeReplace is False


@pytest.fixture
def graph(entra: EntraEmulator) -> Iterator[httpx.Client]:
    """Graph v1.0 of the emulator, as the deployer, for changes made by hand."""
    with httpx.Client(base_url=f"{entra.url}/graph/v1.0", auth=AreaTokens(entra)) as client:
        yield client


def _federated_credential(
    plugin: Callable[[str], Plugin], **extra: Any
) -> tuple[str, dict[str, Any], dict[str, Any], str]:
    """A federated credential made by the stand-in on a new application: its ID, inputs,
    outputs and the Graph path of the credential."""
    running = plugin("azuread")
    app_id, _ = running.create(APP, _application())
    inputs = _federated_inputs(app_id, **extra)
    id_, outputs = running.create(FEDERATED, inputs)
    object_id, _, credential_id = id_.split("/")
    return (
        id_,
        inputs,
        outputs,
        f"/applications/{object_id}/federatedIdentityCredentials/{credential_id}",
    )


@covers("federated-credential-check-validates-like-the-schema")
def test_a_federated_credential_is_checked_as_its_schema_validates(
    plugin: Callable[[str], Plugin],
) -> None:
    running = plugin("azuread")
    app_id = f"/applications/{uuid.uuid4()}"

    def reasons(**changed: Any) -> dict[str, list[str]]:
        found: dict[str, list[str]] = {}
        for failure in running.check(FEDERATED, _federated_inputs(app_id, **changed)).failures:
            found.setdefault(failure.property, []).append(failure.reason)
        return found

    assert reasons() == {}
    object_id = app_id.rsplit("/", 1)[-1]
    bare = reasons(applicationId=object_id)["applicationId"]
    assert bare[0].startswith(f'parsing "{object_id}": parsing the Application ID'), bare
    assert reasons(audiences=[TOKEN_EXCHANGE, "api://other"])["audiences"] == [
        "Too many list items: Attribute audiences supports 1 item maximum, but config has 2 "
        "declared."
    ]
    assert reasons(audiences=[""])["audiences"] == [
        'expected "audiences.0" to not be an empty string, got '
    ]
    long_name = "n" * 121
    assert reasons(displayName=long_name)["displayName"] == [
        f"expected length of display_name to be in the range (1 - 120), got {long_name}"
    ]
    assert reasons(displayName="")["displayName"] == [
        "expected length of display_name to be in the range (1 - 120), got "
    ]
    assert reasons(applicationId=UNKNOWN, audiences=[UNKNOWN, UNKNOWN], displayName=UNKNOWN) == {}


@covers("federated-credential-create-posts-then-waits")
def test_a_federated_credential_is_created_on_its_application_and_read_back(
    plugin: Callable[[str], Plugin], entra: EntraEmulator, graph: httpx.Client
) -> None:
    running = plugin("azuread")
    app_id, app = running.create(APP, _application())
    inputs = {k: v for k, v in _federated_inputs(app_id).items() if k != "description"}
    planned_id, planned = running.create(FEDERATED, inputs, preview=True)
    assert (planned_id, planned) == ("", {**inputs, "credentialId": UNKNOWN})
    id_, outputs = running.create(FEDERATED, inputs)
    object_id, _, credential_id = id_.split("/")
    assert object_id == app["objectId"]
    assert outputs == {
        **inputs,
        "applicationId": app_id,
        "credentialId": credential_id,
        "description": "",
    }
    live = graph.get(f"/applications/{object_id}/federatedIdentityCredentials/{credential_id}")
    assert live.status_code == 200
    assert live.json()["name"] == inputs["displayName"]
    assert live.json()["description"] == "", "sent as an empty string (nullable.Value, line 125)"

    for taken in ({"displayName": inputs["displayName"]}, {"subject": inputs["subject"]}):
        with pytest.raises(grpc.RpcError) as refused:
            running.create(FEDERATED, _federated_inputs(app_id, **taken))
        message = str(refused.value)
        assert (
            f'Adding federated identity credential for Application (Application: "{object_id}")'
            in message
        )
        assert "unexpected status 400 (400 Bad Request) with error: Request_BadRequest" in message
    listed = graph.get(f"/applications/{object_id}/federatedIdentityCredentials").json()
    assert [c["id"] for c in listed["value"]] == [credential_id]

    entra.store.delete_object("applications", object_id)
    with pytest.raises(grpc.RpcError) as gone:
        running.create(FEDERATED, _federated_inputs(app_id))
    assert f'retrieving Application (Application: "{object_id}")' in str(gone.value)


@covers("federated-credential-gone-when-removed-by-hand")
def test_a_federated_credential_removed_by_hand_reads_as_gone(
    plugin: Callable[[str], Plugin], entra: EntraEmulator, graph: httpx.Client
) -> None:
    running = plugin("azuread")
    id_, inputs, outputs, path = _federated_credential(plugin)
    found, state, refreshed = running.read(FEDERATED, id_, outputs, inputs)
    assert (found, state, refreshed) == (id_, outputs, inputs)
    edited = graph.patch(path, json={"description": "edited in the portal"})
    assert edited.status_code == 204
    _, drifted, refreshed = running.read(FEDERATED, id_, outputs, inputs)
    assert drifted["description"] == refreshed["description"] == "edited in the portal"
    assert graph.delete(path).status_code == 204
    assert running.read(FEDERATED, id_, outputs, inputs)[0] == ""

    other_id, other_inputs, other_outputs, _ = _federated_credential(plugin)
    entra.store.delete_object("applications", other_id.split("/")[0])
    assert running.read(FEDERATED, other_id, other_outputs, other_inputs)[0] == ""


@covers("federated-credential-update-writes-every-field")
def test_a_federated_credential_updates_in_place_writing_every_field(
    plugin: Callable[[str], Plugin], graph: httpx.Client
) -> None:
    running = plugin("azuread")
    id_, inputs, outputs, path = _federated_credential(plugin)
    described = inputs | {"description": "GitHub Actions deploying to np and prod"}
    diff = running.diff(FEDERATED, outputs, described, old_inputs=inputs)
    assert (list(diff.diffs), list(diff.replaces)) == (["description"], [])
    # ForceNew only on application_id (line 50) and display_name (line 70).
    for key, value in {
        "applicationId": f"/applications/{uuid.uuid4()}",
        "displayName": "github-prod",
        "audiences": ["api://other-exchange"],
        "issuer": "https://gitlab.example.com",
        "subject": "repo:x:ref:main",
        "description": "other",
    }.items():
        changed = running.diff(FEDERATED, outputs, inputs | {key: value}, old_inputs=inputs)
        assert list(changed.diffs) == [key]
        assert list(changed.replaces) == ([key] if key in ("applicationId", "displayName") else [])

    hand = graph.patch(path, json={"subject": "repo:bayer/lkps-agent:ref:refs/heads/edited"})
    assert hand.status_code == 204
    updated = running.update(FEDERATED, id_, outputs, described, old_inputs=inputs)
    live = graph.get(path).json()
    assert live["description"] == described["description"]
    assert live["subject"] == inputs["subject"], "written from the configuration (line 200)"
    assert updated == {**outputs, "description": described["description"]}

    assert graph.delete(path).status_code == 204
    with pytest.raises(grpc.RpcError) as gone:
        running.update(FEDERATED, id_, updated, inputs, old_inputs=described)
    credential_id = id_.rsplit("/", 1)[-1]
    assert f'Updating federated identity credential with ID "{credential_id}"' in str(gone.value)
    assert "unexpected status 404 (404 Not Found)" in str(gone.value)


@covers("federated-credential-delete-fails-when-gone")
def test_deleting_a_federated_credential_that_is_gone_fails(
    plugin: Callable[[str], Plugin], entra: EntraEmulator, graph: httpx.Client
) -> None:
    running = plugin("azuread")
    id_, _, outputs, path = _federated_credential(plugin)
    running.delete(FEDERATED, id_, outputs)
    assert graph.get(path).status_code == 404
    object_id, _, credential_id = id_.split("/")
    with pytest.raises(grpc.RpcError) as again:
        running.delete(FEDERATED, id_, outputs)
    assert (
        f'Removing Application Id Federated Identity Credential (Application: "{object_id}"\n'
        f'Federated Identity Credential: "{credential_id}"): unexpected status 404 (404 Not '
        "Found) with error: Request_ResourceNotFound"
    ) in again.value.details()

    other_id, _, other_outputs, _ = _federated_credential(plugin)
    entra.store.delete_object("applications", other_id.split("/")[0])
    with pytest.raises(grpc.RpcError) as orphaned:
        running.delete(FEDERATED, other_id, other_outputs)
    assert "unexpected status 404 (404 Not Found)" in orphaned.value.details()


@covers("federated-credential-import-parses-its-id")
def test_a_federated_credential_imports_by_its_id_and_refuses_other_forms(
    plugin: Callable[[str], Plugin],
) -> None:
    running = plugin("azuread")
    id_, inputs, outputs, _ = _federated_credential(plugin, description="")
    found, state, imported = running.read(FEDERATED, id_, {}, {})
    assert (found, state) == (id_, outputs)
    assert imported == {k: v for k, v in inputs.items() if k != "description"}

    object_id, _, credential_id = id_.split("/")
    refused = {
        f"/applications/{object_id}/federatedIdentityCredential/{credential_id}": (
            "Object Resource ID should be in the format {objectId}/{type}/{subId} - but got "
            f'"/applications/{object_id}/federatedIdentityCredential/{credential_id}"'
        ),
        f"{object_id}/federatedIdentityCredentials/{credential_id}": (
            "Type in {objectID}/{type}/{subID} was expected to be federatedIdentityCredential, "
            "got federatedIdentityCredentials"
        ),
        f"{object_id}/federatedIdentityCredential/{inputs['displayName']}": (
            f'Object Sub Resource ID isn\'t a valid UUID ("{inputs["displayName"]}"): uuid '
            "string is wrong length"
        ),
    }
    for wrong, reason in refused.items():
        with pytest.raises(grpc.RpcError) as caught:
            running.read(FEDERATED, wrong, {}, {})
        assert caught.value.details() == (
            f"unable to parse Federated Identity Credential ID: {reason}"
        )
    with pytest.raises(grpc.RpcError) as wrapped:
        running.read(FEDERATED, f"{object_id}/password/{credential_id}", outputs, inputs)
    assert wrapped.value.details().startswith(
        f'Parsing federated identity credential with ID "{object_id}/password/{credential_id}": '
        "unable to parse Federated Identity Credential ID: Type in"
    )
