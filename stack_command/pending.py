"""The operations an interrupted run left pending, and how the next run settles each.

The engine records every step in flight as a pending operation. Pending updates and deletes
are dropped by the next run; a pending CREATE is carried from checkpoint to checkpoint, with a
warning on every `up`, until a refresh clears or imports it (pulumi/pulumi
pkg/backend/snapshot.go, "propagate them to the new snapshot"; pkg/cmd/pulumi/operations/
refresh.go, `--clear-pending-creates`, `--import-pending-creates`). The object the interrupted
create asked for may or may not exist, and which it is decides what the next run must do:

- an Application, ServicePrincipal or vault Secret that exists is imported under the pending
  URN (creating it again fails: duplicate display name, one service principal per client ID, a
  secret name in use); one that does not exist is simply created again;
- an ApplicationPassword cannot be imported (azuread has no import for it) and Graph's
  addPassword is not idempotent, so the credential it may have made is looked for on the
  registration once the run has published a live secret, and revoked; see `stray_credentials`;
- the stack's dynamic resources are idempotent on create (an Ocelot entry is a PUT by client ID,
  a vault secret name's create purges what it finds, a revocation accepts 404; an agent identity
  blueprint is upserted by its unique name, and its principal, an agent identity of its name
  under the blueprint and an app role assignment that exist are adopted), so the new create
  simply repeats them;
- an identifier URI, permission scope or pre-authorization is part of its registration: one
  the registration has is imported (creating it again fails: "already exists"), with the IDs
  pulumi_azuread documents for `pulumi import`; so is a federated identity credential the
  registration has under the pending one's name (Graph refuses a second of the same name).
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Final

from pulumi import automation as auto

from lkps import resource_types, rules

CREATING: Final = "creating"


@dataclass(frozen=True)
class PendingCreate:
    """A create the engine started and never saw finish."""

    urn: str
    type: str
    inputs: Mapping[str, Any]

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class StrayCredential:
    """A client secret of the stack's naming that no resource of the stack holds."""

    application_object_id: str
    key_id: str
    display_name: str
    end_date_time: str


def export_without_secrets(stack: auto.Stack) -> dict[str, Any]:
    """The stack's last checkpoint as `pulumi stack export` prints it without --show-secrets
    (the Automation API's `export_stack` decrypts every secret)."""
    workspace = stack.workspace
    assert isinstance(workspace, auto.LocalWorkspace)
    env = {**(workspace.env_vars or {})}
    if workspace.pulumi_home:
        env["PULUMI_HOME"] = workspace.pulumi_home
    result = workspace.pulumi_command.run(
        ["stack", "export", "--stack", stack.name], workspace.work_dir, env
    )
    exported: dict[str, Any] = json.loads(result.stdout)
    deployment: dict[str, Any] = exported.get("deployment") or {}
    return deployment


def pending_creates(deployment: Mapping[str, Any]) -> list[PendingCreate]:
    return [
        PendingCreate(
            urn=str(op["resource"]["urn"]),
            type=str(op["resource"]["type"]),
            inputs=op["resource"].get("inputs") or {},
        )
        for op in deployment.get("pending_operations") or []
        if op.get("type") == CREATING
    ]


def held_key_ids(deployment: Mapping[str, Any]) -> set[str]:
    """The key IDs of every client secret a resource of the stack holds."""
    return {
        str(resource["outputs"]["keyId"]).lower()
        for resource in deployment.get("resources") or []
        if resource.get("type") == resource_types.APPLICATION_PASSWORD
        and (resource.get("outputs") or {}).get("keyId")
    }


def _instant(text: object) -> datetime | None:
    try:
        parsed = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def stray_credentials(
    pending: Iterable[PendingCreate],
    held: set[str],
    read_application: Callable[[str], Mapping[str, Any] | None],
) -> list[StrayCredential]:
    """The credentials interrupted creates made: on the registration the pending create names,
    with exactly its display name (the stack's `lkps-integration-<date>`) and end date, and held
    by no resource of the stack. A hand-made secret, one named in `adopt`, or another stack's
    never matches all of these."""
    found: list[StrayCredential] = []
    for create in pending:
        if create.type != resource_types.APPLICATION_PASSWORD:
            continue
        name, end = create.inputs.get("displayName"), _instant(create.inputs.get("endDate"))
        application = str(create.inputs.get("applicationId") or "")
        if not (
            isinstance(name, str)
            and name.startswith(f"{rules.CLIENT_SECRET_DISPLAY_NAME}-")
            and end is not None
            and application.startswith("/applications/")
        ):
            continue
        object_id = application.removeprefix("/applications/")
        for credential in (read_application(object_id) or {}).get("passwordCredentials") or []:
            key_id = str(credential.get("keyId", "")).lower()
            if (
                key_id
                and key_id not in held
                and credential.get("displayName") == name
                and _instant(credential.get("endDateTime")) == end
                and key_id not in {s.key_id for s in found}
            ):
                found.append(
                    StrayCredential(object_id, key_id, name, str(credential["endDateTime"]))
                )
    return found


@dataclass(frozen=True)
class Lookups:
    """What the settling of pending creates reads from Graph and Key Vault."""

    application_named: Callable[[str], Mapping[str, Any] | None]
    application: Callable[[str], Mapping[str, Any] | None]
    service_principal: Callable[[str], Mapping[str, Any] | None]
    vault_secret_exists: Callable[[str, str], bool]
    subscription_id: str
    federated_credentials: Callable[[str], list[dict[str, Any]]] = lambda _object_id: []


def existing_ids(pending: Iterable[PendingCreate], lookups: Lookups) -> dict[str, str]:
    """URN to resource ID of each pending create whose object exists: the IDs the program
    imports them under."""
    found: dict[str, str] = {}
    for create in pending:
        inputs = create.inputs
        setting = _api_setting_id(create, lookups)
        if setting is not None:
            found[create.urn] = setting
        if create.type == resource_types.FEDERATED_CREDENTIAL:
            application = str(inputs.get("applicationId") or "")
            object_id = application.removeprefix("/applications/")
            made = [
                c
                for c in lookups.federated_credentials(object_id)
                if c.get("name") == inputs.get("displayName")
            ]
            if application.startswith("/applications/") and made:
                found[create.urn] = f"{object_id}/federatedIdentityCredential/{made[0]['id']}"
        if create.type == resource_types.APPLICATION:
            app = lookups.application_named(str(inputs.get("displayName", "")))
            if app:
                found[create.urn] = f"/applications/{app['id']}"
        elif create.type == resource_types.SERVICE_PRINCIPAL:
            client_id = inputs.get("clientId")
            principal = lookups.service_principal(client_id) if isinstance(client_id, str) else None
            if principal:
                found[create.urn] = f"/servicePrincipals/{principal['id']}"
        elif create.type == resource_types.VAULT_SECRET:
            group, vault, name = (
                str(inputs.get(k, "")) for k in ("resourceGroupName", "vaultName", "secretName")
            )
            if vault and name and lookups.vault_secret_exists(vault, name):
                found[create.urn] = rules.vault_secret_arm_id(
                    lookups.subscription_id, group, vault, name
                )
    return found


def _api_setting_id(create: PendingCreate, lookups: Lookups) -> str | None:
    """The import ID of a pending identifier URI, permission scope or pre-authorization that its
    registration already has (pulumi_azuread's import docs give the forms)."""
    if create.type not in (
        resource_types.IDENTIFIER_URI,
        resource_types.PERMISSION_SCOPE,
        resource_types.PRE_AUTHORIZED,
    ):
        return None
    application = str(create.inputs.get("applicationId") or "")
    if not application.startswith("/applications/"):
        return None
    object_id = application.removeprefix("/applications/")
    app = lookups.application(object_id) or {}
    api = app.get("api") or {}
    if create.type == resource_types.IDENTIFIER_URI:
        uri = str(create.inputs.get("identifierUri", ""))
        if uri and uri in (app.get("identifierUris") or []):
            return f"{application}/identifierUris/{base64.b64encode(uri.encode()).decode()}"
    elif create.type == resource_types.PERMISSION_SCOPE:
        scope = str(create.inputs.get("scopeId", "")).lower()
        if any(str(s.get("id")).lower() == scope for s in api.get("oauth2PermissionScopes") or []):
            return f"{application}/permissionScopes/{create.inputs['scopeId']}"
    else:
        client = str(create.inputs.get("authorizedClientId", ""))
        authorized = {
            str(p.get("appId")).lower() for p in api.get("preAuthorizedApplications") or []
        }
        if client and client.lower() in authorized:
            return f"{object_id}/preAuthorizedApplication/{client}"
    return None
