"""What the vault says it publishes: the slot and dates tagged on each application's secret."""

from __future__ import annotations

from datetime import date

import pulumi
from pulumi_azure_native import keyvault

from components.rotating_client_secret import ROTATION_TAGS
from lkps import rules
from lkps.rotation import RotationState, RotationStateError, SecretGeneration, Slot


def published_in_vault(
    last: RotationState,
    resource_group_name: str,
    vault_name: str,
    display_name: str,
    opts: pulumi.InvokeOptions,
) -> RotationState:
    """The last run's record, corrected by the vault's tags where they differ: a run that
    published a new secret and then failed did not get to record it in the stack outputs."""
    name = rules.vault_secret_name(display_name)
    try:
        secret = keyvault.get_secret(
            resource_group_name=resource_group_name,
            vault_name=vault_name,
            secret_name=name,
            opts=opts,
        )
    except Exception as exc:
        pulumi.log.warn(
            f"{name}: could not read the vault's record of the published secret ({exc}); "
            "using the last run's record"
        )
        return last
    tags = secret.tags or {}
    if not all(key in tags for key in ROTATION_TAGS):
        return last
    slot = tags["slot"]
    if slot not in ("a", "b"):
        raise RotationStateError(f"{name}: tag slot={slot!r} is neither 'a' nor 'b'")
    try:
        published = SecretGeneration(
            int(tags["generation"]),
            date.fromisoformat(tags["starts"]),
            date.fromisoformat(tags["expires"]),
        )
    except ValueError as exc:
        raise RotationStateError(f"{name}: rotation tags cannot be read ({exc})") from None
    checked: Slot = "a" if slot == "a" else "b"
    if last.published == checked and last.slots[checked] == published:
        return last
    return RotationState({**last.slots, checked: published}, checked)
