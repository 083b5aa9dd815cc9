"""`VaultSecretName`: a vault secret's name kept reusable across Key Vault's soft delete.

Key Vault soft-deletes a secret and refuses its name until the deleted secret is recovered or
purged (learn.microsoft.com/azure/key-vault/general/soft-delete-overview); azure-native 3.29.0
does not purge on delete (pulumi-azure-native#1174) and very likely recovers on create (#4759),
which would bring back the old versions, client secrets revoked with the application. This
resource, created before the vault secret and deleted after it:
- on create, purges a soft-deleted secret of that name (its versions hold client secrets that
  were revoked with the application), so that azure-native can create it anew;
- on delete, purges the secret azure-native just soft-deleted when `purge_on_delete` is set
  (`keyVault.purgeDeletedSecrets`), else leaves it for the retention period.
Both go to the Key Vault data plane (7.4) with an Entra token for `https://vault.azure.net`.
"""

from __future__ import annotations

import os
from typing import Any, Final

import httpx
import pulumi
import tenacity
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.dynamic_resources import pickle_guard
from components.entra_auth import entra_token
from lkps import rules

API_VERSION: Final = "7.4"
VAULT_SCOPE: Final = "https://vault.azure.net/.default"
# The sandbox's Key Vault data plane; honoured only for a loopback URL.
SANDBOX_VAULT_URL_VARIABLE: Final = "LKPS_SANDBOX_KEYVAULT_URL"
# A soft delete completes asynchronously; purging before it does answers 409 Conflict.
PURGE_DEADLINE_SECONDS: Final = 120.0


def vault_url(vault_name: str) -> str:
    redirect = os.environ.get(SANDBOX_VAULT_URL_VARIABLE, "")
    if redirect and rules.is_loopback_url(redirect):
        return f"{redirect.rstrip('/')}/{vault_name}"
    return f"https://{vault_name}.vault.azure.net"


class VaultSecretNameError(Exception):
    """Key Vault refused an operation on a deleted secret."""


class _NotDeletedYetError(Exception):
    """The soft delete has not finished: try again."""


def _deleted_secret(client: httpx.Client, name: str) -> bool:
    response = client.get(f"/deletedsecrets/{name}", params={"api-version": API_VERSION})
    if response.status_code == httpx.codes.NOT_FOUND:
        return False
    _raise_for(response, f"read deleted secret {name}")
    return True


def _purge(client: httpx.Client, name: str) -> None:
    response = client.delete(f"/deletedsecrets/{name}", params={"api-version": API_VERSION})
    if response.status_code == httpx.codes.CONFLICT:
        raise _NotDeletedYetError
    if response.status_code != httpx.codes.NOT_FOUND:
        _raise_for(response, f"purge deleted secret {name}")


def _raise_for(response: httpx.Response, action: str) -> None:
    if response.is_success:
        return
    try:
        error = response.json().get("error", {})
        detail = f"{error.get('code')}: {error.get('message')}"
    except ValueError:
        detail = response.reason_phrase
    raise VaultSecretNameError(f"{action}: {response.status_code} {detail}")


def _client(vault_name: str) -> httpx.Client:
    return httpx.Client(
        base_url=vault_url(vault_name),
        headers={"Authorization": f"Bearer {entra_token(VAULT_SCOPE)}"},
        timeout=30.0,
    )


@tenacity.retry(
    retry=tenacity.retry_if_exception_type(_NotDeletedYetError),
    wait=tenacity.wait_exponential(multiplier=0.5, max=10),
    stop=tenacity.stop_after_delay(PURGE_DEADLINE_SECONDS),
    reraise=True,
)
def _purge_when_deleted(client: httpx.Client, name: str) -> None:
    if not _deleted_secret(client, name):
        raise _NotDeletedYetError
    _purge(client, name)


class VaultSecretNameProvider(ResourceProvider):
    """The dynamic provider behind `VaultSecretName`."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        vault, name = props["vault_name"], props["secret_name"]
        with _client(vault) as client:
            if _deleted_secret(client, name):
                _purge(client, name)
        return CreateResult(f"{vault}/{name}", props)

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        keys = ("vault_name", "secret_name", "purge_on_delete")
        changed = [key for key in keys if olds.get(key) != news.get(key)]
        replaces = [key for key in changed if key != "purge_on_delete"]
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=True)

    def update(self, _id: str, _olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        return UpdateResult(news)

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        if not props.get("purge_on_delete"):
            return
        with _client(props["vault_name"]) as client:
            try:
                _purge_when_deleted(client, props["secret_name"])
            except _NotDeletedYetError:
                raise VaultSecretNameError(
                    f"secret {props['secret_name']} was not soft-deleted within "
                    f"{PURGE_DEADLINE_SECONDS:.0f} s; purge it by hand or run up again"
                ) from None


class VaultSecretName(Resource, module="vault", name="VaultSecretName"):
    """Keeps `secret_name` in `vault_name` creatable, and purges it on removal if asked."""

    vault_name: pulumi.Output[str]
    secret_name: pulumi.Output[str]
    purge_on_delete: pulumi.Output[bool]

    def __init__(
        self,
        name: str,
        vault_name: str,
        secret_name: str,
        purge_on_delete: bool,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props = {
            "vault_name": vault_name,
            "secret_name": secret_name,
            "purge_on_delete": purge_on_delete,
        }
        with pickle_guard():
            super().__init__(VaultSecretNameProvider(), name, props, opts)
