"""Adopting an application onboarded by hand: find what exists, so the stack imports it.

The registration is named in the config (`applications[].adopt`); its service principal is
found by client ID; the vault secret is imported when `adopt.vaultSecret` is set. The stack
then imports them with Pulumi's `import` resource option: the preview shows imports and in-place
updates (owners, notes, tags), never a replacement. Client secrets made by hand are listed in
the preview and left alone: the stack adds its own two slots beside them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pulumi
import pulumi_azuread as azuread

from lkps.settings import AdoptionSettings


@dataclass(frozen=True)
class ExistingRegistration:
    """The resource IDs to import for one adopted application."""

    application_id: str
    service_principal_id: str | None
    vault_secret_id: str | None


def find_existing(
    adopt: AdoptionSettings,
    display_name: str,
    vault_secret_arm_id: str,
    entra: pulumi.ProviderResource,
    parent: pulumi.Resource,
) -> ExistingRegistration:
    """Looks the registration up (Graph, through the azuread provider) and checks it is the
    application the config names; a mismatch stops the run before anything changes."""
    opts = pulumi.InvokeOptions(provider=entra, parent=parent)
    try:
        app = azuread.get_application(
            object_id=adopt.object_id, client_id=adopt.client_id, opts=opts
        )
    except Exception as exc:  # the invoke's error names what Graph answered
        raise pulumi.RunError(
            f"adopt: the registration {adopt.object_id or adopt.client_id} of {display_name} "
            f"cannot be read: {exc}"
        ) from None
    if app.display_name != display_name:
        raise pulumi.RunError(
            f"adopt: {adopt.object_id or adopt.client_id} is '{app.display_name}', not "
            f"'{display_name}'; name the registration of this application (or rename it first)"
        )
    try:
        principal = azuread.get_service_principal(client_id=app.client_id, opts=opts)
        principal_id: str | None = f"/servicePrincipals/{principal.object_id}"
    except Exception:  # no service principal yet: the stack creates one
        principal_id = None
        pulumi.log.info(f"{display_name}: has no service principal; one will be created", parent)
    _list_hand_made_secrets(app.object_id, display_name, set(adopt.remove_secrets), parent)
    return ExistingRegistration(
        application_id=f"/applications/{app.object_id}",
        service_principal_id=principal_id,
        vault_secret_id=vault_secret_arm_id if adopt.vault_secret else None,
    )


def _list_hand_made_secrets(
    object_id: str, display_name: str, removed: set[str], parent: pulumi.Resource
) -> None:
    """Says which client secrets exist already, and what happens to each. Graph is read through
    azure-identity and `azure_reads`, imported here: a run where no app adopts never loads them."""
    from azure.identity import DefaultAzureCredential

    from components.azure_reads import (
        LiveSources,
        RefusedError,
        UnreachableError,
        endpoints_from_environment,
    )

    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    sources = LiveSources(credential, endpoints_from_environment())
    try:
        app = sources.application(object_id) or {}
    except (RefusedError, UnreachableError) as exc:
        pulumi.log.warn(f"{display_name}: could not list its existing client secrets: {exc}")
        return
    finally:
        sources.close()
        credential.close()
    for password in app.get("passwordCredentials") or []:
        ends = datetime.fromisoformat(str(password["endDateTime"]).replace("Z", "+00:00"))
        fate = (
            "is revoked in this run, once the vault publishes the stack's secret"
            if str(password["keyId"]).lower() in removed
            else "is left alone until it expires or adopt.removeSecrets names it; consumers "
            "move to the vault secret meanwhile"
        )
        pulumi.log.info(
            f"{display_name}: existing client secret '{password.get('displayName') or ''}' "
            f"(key {password['keyId']}, ends {ends.date().isoformat()}) {fate}",
            parent,
        )
