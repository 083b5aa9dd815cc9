"""What an interrupted run leaves, read as the engine writes it: the lock error, a killed
engine's exit, the pending creates of a checkpoint, and which credentials they made."""

from __future__ import annotations

import signal
import socket
from datetime import UTC, datetime
from typing import Any

from pulumi import automation as auto
from pulumi.automation._cmd import CommandResult

from lkps import resource_types
from stack_command.interruption import StackLock, engine_signal, locks_in
from stack_command.pending import (
    Lookups,
    PendingCreate,
    existing_ids,
    held_key_ids,
    pending_creates,
    stray_credentials,
)

OBJECT_ID = "40159cbf-6d26-4b57-8db6-e01ea3c8424c"
LOCKED = (
    "error: the stack is currently locked by 1 lock(s). Either wait for the other process(es) "
    "to end or delete the lock file with `pulumi cancel`.\n"
    "  file:///tmp/sb/np/state/.pulumi/locks/organization/lkps-onboarding/np/30ea50aa.json: "
    "created by root@runner-7 (pid 13209) at 2026-12-01T21:24:23Z\n"
)


def _error(stderr: str, code: int = 255) -> auto.errors.CommandError:
    return auto.errors.CommandError(CommandResult(stdout="", stderr=stderr, code=code))


def test_a_lock_error_names_each_lock_with_its_owner_and_age() -> None:
    (lock,) = locks_in(_error(LOCKED)) or []
    assert (lock.owner, lock.host, lock.pid) == ("root", "runner-7", 13209)
    assert lock.since == datetime(2026, 12, 1, 21, 24, 23, tzinfo=UTC)
    now = datetime(2026, 12, 1, 21, 54, 23, tzinfo=UTC)
    assert lock.describe(now) == (
        "root@runner-7 (pid 13209) since 2026-12-01 21:24:23 UTC (30 min ago)"
    )
    assert not lock.held_by_a_live_process_here(), "another machine's lock"
    assert locks_in(_error("error: something else")) is None


def test_a_lock_of_a_live_process_on_this_machine_is_live() -> None:
    import os

    here = socket.gethostname()
    mine = StackLock("file:///x", "me", here, os.getpid(), datetime.now(UTC))
    assert mine.held_by_a_live_process_here()
    gone = StackLock("file:///x", "me", here, 2**22 + 1, datetime.now(UTC))
    assert not gone.held_by_a_live_process_here()


def test_a_killed_engine_is_told_from_a_failed_one() -> None:
    assert engine_signal(_error("", code=-9)) is signal.SIGKILL
    assert engine_signal(_error("", code=-15)) is signal.SIGTERM
    assert engine_signal(_error("error: update failed", code=255)) is None


def _password(name: str, end: str, application: str = f"/applications/{OBJECT_ID}") -> Any:
    return {
        "urn": f"urn:pulumi:np::lkps-onboarding::x${resource_types.APPLICATION_PASSWORD}::{name}",
        "type": resource_types.APPLICATION_PASSWORD,
        "inputs": {"applicationId": application, "displayName": name, "endDate": end},
    }


def test_pending_creates_and_held_key_ids_come_from_the_checkpoint() -> None:
    deployment = {
        "resources": [
            {"type": resource_types.APPLICATION_PASSWORD, "outputs": {"keyId": "AAAA"}},
            {"type": resource_types.APPLICATION, "outputs": {"keyId": "not a password"}},
        ],
        "pending_operations": [
            {"type": "creating", "resource": _password("lkps-integration-2026-12-27", "x")},
            {"type": "updating", "resource": _password("lkps-integration-2026-11-27", "y")},
        ],
    }
    (pending,) = pending_creates(deployment)
    assert pending.name == "lkps-integration-2026-12-27"
    assert held_key_ids(deployment) == {"aaaa"}


def test_only_a_credential_matching_a_pending_create_exactly_and_held_by_nothing_is_stray() -> None:
    create = PendingCreate(**_password("lkps-integration-2026-12-27", "2027-03-27T00:00:00Z"))
    credentials = [
        # the interrupted create's credential
        {
            "keyId": "1",
            "displayName": "lkps-integration-2026-12-27",
            "endDateTime": "2027-03-27T00:00:00Z",
        },
        # the rerun's credential of the same slot: held by the resource
        {
            "keyId": "2",
            "displayName": "lkps-integration-2026-12-27",
            "endDateTime": "2027-03-27T00:00:00Z",
        },
        # the other slot, held
        {
            "keyId": "3",
            "displayName": "lkps-integration-2026-11-27",
            "endDateTime": "2027-02-25T00:00:00Z",
        },
        # made by hand, same day: another end date
        {
            "keyId": "4",
            "displayName": "lkps-integration-2026-12-27",
            "endDateTime": "2028-12-27T00:00:00Z",
        },
        # made by hand, another name
        {"keyId": "5", "displayName": "portal", "endDateTime": "2027-03-27T00:00:00Z"},
    ]
    read = {OBJECT_ID: {"passwordCredentials": credentials}}.get
    (stray,) = stray_credentials([create], {"2", "3"}, read)
    assert (stray.key_id, stray.application_object_id) == ("1", OBJECT_ID)
    assert stray_credentials([create], {"1", "2", "3"}, read) == []
    hand_named = PendingCreate(**_password("portal", "2027-03-27T00:00:00Z"))
    assert stray_credentials([hand_named], set(), read) == [], "not the stack's naming"


def test_objects_an_interrupted_run_made_are_imported_under_the_documented_ids() -> None:
    def pending(type_: str, name: str, **inputs: Any) -> PendingCreate:
        return PendingCreate(f"urn:pulumi:np::p::{type_}::{name}", type_, inputs)

    app = f"/applications/{OBJECT_ID}"
    creates = [
        pending(resource_types.APPLICATION, "a-app", displayName="A-NP"),
        pending(resource_types.APPLICATION, "b-app", displayName="B-NP"),
        pending(resource_types.SERVICE_PRINCIPAL, "a-sp", clientId="c1"),
        pending(
            resource_types.VAULT_SECRET,
            "a-vault",
            resourceGroupName="rg",
            vaultName="kv",
            secretName="a-np-client-secret",
        ),
        pending(resource_types.IDENTIFIER_URI, "uri", applicationId=app, identifierUri="api://c1"),
        pending(resource_types.PERMISSION_SCOPE, "scope", applicationId=app, scopeId="S1"),
        pending(resource_types.PRE_AUTHORIZED, "pre", applicationId=app, authorizedClientId="c2"),
        pending(resource_types.PRE_AUTHORIZED, "none", applicationId=app, authorizedClientId="c9"),
        pending(resource_types.FEDERATED_CREDENTIAL, "ci", applicationId=app, displayName="ci"),
        pending(resource_types.FEDERATED_CREDENTIAL, "cd", applicationId=app, displayName="cd"),
    ]
    registration = {
        "identifierUris": ["api://c1"],
        "api": {
            "oauth2PermissionScopes": [{"id": "s1"}],
            "preAuthorizedApplications": [{"appId": "C2"}],
        },
    }
    found = existing_ids(
        creates,
        Lookups(
            application_named={"A-NP": {"id": "oa"}}.get,
            application={OBJECT_ID: registration}.get,
            service_principal={"c1": {"id": "os"}}.get,
            vault_secret_exists=lambda vault, name: (vault, name) == ("kv", "a-np-client-secret"),
            subscription_id="sub",
            federated_credentials=lambda object_id: (
                [{"id": "f1", "name": "ci"}] if object_id == OBJECT_ID else []
            ),
        ),
    )
    by_name = {urn.rsplit("::", 1)[-1]: id_ for urn, id_ in found.items()}
    assert by_name == {
        "a-app": "/applications/oa",
        "a-sp": "/servicePrincipals/os",
        "a-vault": "/subscriptions/sub/resourceGroups/rg/providers/Microsoft.KeyVault/vaults/kv"
        "/secrets/a-np-client-secret",
        "uri": f"{app}/identifierUris/YXBpOi8vYzE=",
        "scope": f"{app}/permissionScopes/S1",
        "pre": f"{OBJECT_ID}/preAuthorizedApplication/c2",
        "ci": f"{OBJECT_ID}/federatedIdentityCredential/f1",
    }
