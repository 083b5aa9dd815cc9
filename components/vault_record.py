"""What the vault says it publishes: the slot and dates tagged on each application's secret."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import date
from typing import Final

import pulumi
from pulumi.runtime.sync_await import _sync_await
from pulumi_azure_native import keyvault

from components.rotating_client_secret import ROTATION_TAGS
from lkps import rules
from lkps.rotation import RotationState, RotationStateError, SecretGeneration, Slot

# The engine's own token for azure-native's getSecret (`keyvault.get_secret` invokes it).
GET_SECRET_TOKEN: Final = "azure-native:keyvault:getSecret"


def published_in_vault(
    last: Mapping[str, tuple[RotationState, str]],
    resource_group_name: str,
    vault_name: str,
    opts: pulumi.InvokeOptions,
) -> dict[str, RotationState]:
    """Each application's last-run record (`last`: by name, with its display name), corrected
    by the vault's tags where they differ: a run that published a new secret and then failed
    did not get to record it in the stack outputs.

    The reads are sent together, not one after another: the plan they feed decides which
    passwords exist, so the program must have them all before it registers anything, and read
    in series they were most of a large stack's evaluation. The SDK's synchronous invoke waits
    on its event loop with `_sync_await`; so does this, for the gathered reads (an SDK internal,
    pinned by the lock file; `tests/test_rotation.py` and the engine tests run it)."""
    names = list(last)
    reads = [
        pulumi.runtime.invoke_async(
            GET_SECRET_TOKEN,
            {
                "resourceGroupName": resource_group_name,
                "secretName": rules.vault_secret_name(last[name][1]),
                "vaultName": vault_name,
            },
            opts=opts,
            typ=keyvault.GetSecretResult,
        )
        for name in names
    ]
    results = _sync_await(asyncio.gather(*reads, return_exceptions=True)) if reads else []
    return {
        name: _corrected(last[name][0], rules.vault_secret_name(last[name][1]), result)
        for name, result in zip(names, results, strict=True)
    }


def _corrected(last: RotationState, name: str, secret: object) -> RotationState:
    if isinstance(secret, BaseException):
        pulumi.log.warn(
            f"{name}: could not read the vault's record of the published secret ({secret}); "
            "using the last run's record"
        )
        return last
    assert isinstance(secret, keyvault.GetSecretResult)
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
