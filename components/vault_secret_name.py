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
Both go to the Key Vault data plane through azure-keyvault-secrets' `SecretClient`, with
azure-identity's credential; the client is imported only when a vault is called, so that a
preview's checks do not pay for it.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any, Final

import pulumi
import tenacity
from pulumi.dynamic import CreateResult, DiffResult, Resource, ResourceProvider, UpdateResult

from components.dynamic_resources import pickle_guard
from components.entra_auth import default_credential
from lkps import rules, switches

if TYPE_CHECKING:
    from azure.keyvault.secrets import SecretClient

# A soft delete completes asynchronously; purging before it does answers 409 Conflict.
PURGE_DEADLINE_SECONDS: Final = 120.0


def vault_url(vault_name: str) -> str:
    redirect = switches.sandbox_url(switches.SANDBOX_KEYVAULT_URL)
    if redirect:
        return f"{redirect.rstrip('/')}/{vault_name}"
    return f"https://{vault_name}.vault.azure.net"


class VaultSecretNameError(Exception):
    """Key Vault refused an operation on a deleted secret."""


class _NotDeletedYetError(Exception):
    """The soft delete has not finished: try again."""


_clients_lock = threading.Lock()
_clients: dict[tuple[str, int], SecretClient] = {}


def _client(vault_name: str) -> SecretClient:
    """The provider process's one client of the vault (SDK clients are thread-safe; its
    connections and challenge are reused by every resource of the run). Its challenge
    authentication checks that the vault's host is under the resource the challenge names
    (`*.vault.azure.net`); only a loopback sandbox vault, which is not, goes without that
    check."""
    url, credential = vault_url(vault_name), default_credential()
    # Keyed by the credential too: after `forget_tokens` a client of the old identity is not used.
    key = (url, id(credential))
    with _clients_lock:
        if key not in _clients:
            from azure.keyvault.secrets import SecretClient

            _clients[key] = SecretClient(
                url, credential, verify_challenge_resource=not rules.is_loopback_url(url)
            )
        return _clients[key]


def _failure(action: str, exc: Exception) -> VaultSecretNameError:
    from azure.core.exceptions import HttpResponseError

    if isinstance(exc, HttpResponseError):
        code = exc.error.code if exc.error else exc.reason
        return VaultSecretNameError(f"{action}: {exc.status_code} {code}")
    return VaultSecretNameError(f"{action}: {type(exc).__name__}")


def _deleted_secret(client: SecretClient, name: str) -> bool:
    from azure.core.exceptions import AzureError, ResourceNotFoundError

    try:
        client.get_deleted_secret(name)
    except ResourceNotFoundError:
        return False
    except AzureError as exc:
        raise _failure(f"read deleted secret {name}", exc) from None
    return True


def _purge(client: SecretClient, name: str) -> None:
    from azure.core.exceptions import AzureError, ResourceExistsError, ResourceNotFoundError

    try:
        client.purge_deleted_secret(name)
    except ResourceExistsError:
        raise _NotDeletedYetError from None
    except ResourceNotFoundError:
        return
    except AzureError as exc:
        raise _failure(f"purge deleted secret {name}", exc) from None


@tenacity.retry(
    retry=tenacity.retry_if_exception_type(_NotDeletedYetError),
    wait=tenacity.wait_exponential(multiplier=0.5, max=10),
    stop=tenacity.stop_after_delay(PURGE_DEADLINE_SECONDS),
    reraise=True,
)
def _purge_when_deleted(client: SecretClient, name: str) -> None:
    if not _deleted_secret(client, name):
        raise _NotDeletedYetError
    _purge(client, name)


class VaultSecretNameProvider(ResourceProvider):
    """The dynamic provider behind `VaultSecretName`."""

    def create(self, props: dict[str, Any]) -> CreateResult:
        vault, name = props["vault_name"], props["secret_name"]
        client = _client(vault)
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
        try:
            _purge_when_deleted(_client(props["vault_name"]), props["secret_name"])
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
