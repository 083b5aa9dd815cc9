"""The local Key Vault's state: vaults and their secrets with versions, soft delete, recover and
purge (learn.microsoft.com/rest/api/keyvault/secrets), and the ARM secret PUT and GET that
azure-native uses (learn.microsoft.com/rest/api/keyvault/keyvault/secrets)."""

from __future__ import annotations

import time
import uuid
from http import HTTPStatus
from typing import Any, Final

from sandbox.loopback import ApiError
from sandbox.store_base import StoreBase

SOFT_DELETE_RETENTION_DAYS: Final = 90
# The ARM ID of a vault secret, as azure-native names it.
_ARM_SECRET_PATH: Final = (
    "subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.KeyVault/vaults/{vault}"
    "/secrets/{name}"
)


class VaultRecords(StoreBase):
    """The vaults of the local Entra's tenant and their secrets."""

    def ensure_vault(self, subscription_id: str, resource_group: str, vault: str) -> None:
        """The team's existing vault (the stack never creates it)."""
        with self._lock:
            if vault not in self.data["vaults"]:
                self.data["vaults"][vault] = {
                    "subscriptionId": subscription_id,
                    "resourceGroupName": resource_group,
                    "secrets": {},
                    "deleted": {},
                }
                self.save()

    # -- Key Vault --------------------------------------------------------------------------------

    def vault(self, name: str) -> dict[str, Any]:
        found = self.data["vaults"].get(name.lower())
        if found is None:
            raise ApiError(HTTPStatus.NOT_FOUND, "VaultNotFound", f"Vault '{name}' not found.")
        vault: dict[str, Any] = found
        return vault

    def set_secret(self, vault_name: str, name: str, body: dict[str, Any]) -> dict[str, Any]:
        """Set Secret: every call is a new version, which becomes the current one."""
        with self._lock:
            vault = self.vault(vault_name)
            if name in vault["deleted"]:
                raise ApiError(
                    HTTPStatus.CONFLICT,
                    "Conflict",
                    f"Secret {name} is currently in a deleted but recoverable state, and its "
                    "name cannot be reused; in this state, the secret can only be recovered or "
                    "purged.",
                )
            if not isinstance(body.get("value"), str):
                raise ApiError(HTTPStatus.BAD_REQUEST, "BadParameter", "value is required.")
            stamp = int(time.time())
            attributes = body.get("attributes") or {}
            version = {
                "version": uuid.uuid4().hex,
                "value": body["value"],
                "contentType": body.get("contentType"),
                "tags": body.get("tags") or {},
                "attributes": {
                    "enabled": attributes.get("enabled", True),
                    "nbf": attributes.get("nbf"),
                    "exp": attributes.get("exp"),
                    "created": stamp,
                    "updated": stamp,
                    "recoveryLevel": "Recoverable+Purgeable",
                    "recoverableDays": SOFT_DELETE_RETENTION_DAYS,
                },
            }
            vault["secrets"].setdefault(name, []).append(version)
            self._record(
                "setSecret",
                secret=f"{vault_name.lower()}/{name}",
                keyId=self._key_of(body["value"]),
            )
            self.save()
            return _bundle(vault_name, name, version, with_value=True)

    def get_secret(
        self, vault_name: str, name: str, version: str | None = None, with_value: bool = True
    ) -> dict[str, Any]:
        with self._lock:
            found = self._version(vault_name, name, version)
            if with_value and not found["attributes"]["enabled"]:
                raise ApiError(
                    HTTPStatus.FORBIDDEN,
                    "Forbidden",
                    "Operation get is not allowed on a disabled secret.",
                )
            return _bundle(vault_name, name, found, with_value=with_value)

    def secret_versions(self, vault_name: str, name: str) -> list[dict[str, Any]]:
        with self._lock:
            versions = self.vault(vault_name)["secrets"].get(name)
            if not versions:
                raise _secret_not_found(vault_name, name)
            return [_bundle(vault_name, name, v, with_value=False) for v in versions]

    def list_secrets(self, vault_name: str) -> list[dict[str, Any]]:
        """Get Secrets: each secret's current version as a SecretItem (no value, the ID without
        a version; learn.microsoft.com/rest/api/keyvault/secrets/get-secrets)."""
        with self._lock:
            return [
                {
                    **_bundle(vault_name, name, versions[-1], with_value=False),
                    "id": secret_uri(vault_name, name),
                }
                for name, versions in self.vault(vault_name)["secrets"].items()
                if versions
            ]

    def list_deleted_secrets(self, vault_name: str) -> list[dict[str, Any]]:
        """Get Deleted Secrets: DeletedSecretItems
        (learn.microsoft.com/rest/api/keyvault/secrets/get-deleted-secrets)."""
        with self._lock:
            return [
                {**_deleted_bundle(vault_name, name, deleted), "id": secret_uri(vault_name, name)}
                for name, deleted in self.vault(vault_name)["deleted"].items()
            ]

    def update_secret(
        self, vault_name: str, name: str, version: str | None, body: dict[str, Any]
    ) -> dict[str, Any]:
        with self._lock:
            found = self._version(vault_name, name, version)
            for key in ("contentType", "tags"):
                if key in body:
                    found[key] = body[key]
            for key, value in (body.get("attributes") or {}).items():
                if key in ("enabled", "nbf", "exp"):
                    found["attributes"][key] = value
            found["attributes"]["updated"] = int(time.time())
            self.save()
            return _bundle(vault_name, name, found, with_value=False)

    def delete_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        """Soft delete: the secret and all its versions wait for recovery or purge."""
        with self._lock:
            vault = self.vault(vault_name)
            versions = vault["secrets"].pop(name, None)
            if not versions:
                raise _secret_not_found(vault_name, name)
            deleted_at = int(time.time())
            vault["deleted"][name] = {"versions": versions, "deletedDate": deleted_at}
            self._record("deleteSecret", secret=f"{vault_name.lower()}/{name}")
            self.save()
            return _deleted_bundle(vault_name, name, vault["deleted"][name])

    def get_deleted_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        with self._lock:
            deleted = self.vault(vault_name)["deleted"].get(name)
            if deleted is None:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "SecretNotFound",
                    f"Deleted Secret not found: {name}",
                )
            return _deleted_bundle(vault_name, name, deleted)

    def recover_secret(self, vault_name: str, name: str) -> dict[str, Any]:
        with self._lock:
            vault = self.vault(vault_name)
            self.get_deleted_secret(vault_name, name)
            vault["secrets"][name] = vault["deleted"].pop(name)["versions"]
            self.save()
            return _bundle(vault_name, name, vault["secrets"][name][-1], with_value=False)

    def purge_secret(self, vault_name: str, name: str) -> None:
        with self._lock:
            self.get_deleted_secret(vault_name, name)
            del self.vault(vault_name)["deleted"][name]
            self.save()

    def _version(self, vault_name: str, name: str, version: str | None) -> dict[str, Any]:
        versions = self.vault(vault_name)["secrets"].get(name)
        if not versions:
            raise _secret_not_found(vault_name, name)
        if version is None:
            found: dict[str, Any] = versions[-1]
            return found
        for candidate in versions:
            if candidate["version"] == version:
                found = candidate
                return found
        raise _secret_not_found(vault_name, f"{name}/{version}")

    # -- ARM --------------------------------------------------------------------------------------

    def arm_vault(self, subscription: str, resource_group: str, vault_name: str) -> None:
        vault = self.data["vaults"].get(vault_name.lower())
        if (
            vault is None
            or vault["subscriptionId"].lower() != subscription.lower()
            or vault["resourceGroupName"].lower() != resource_group.lower()
        ):
            raise ApiError(
                HTTPStatus.NOT_FOUND,
                "ResourceNotFound",
                f"The Resource 'Microsoft.KeyVault/vaults/{vault_name}' under resource group "
                f"'{resource_group}' was not found.",
            )

    def arm_put_secret(
        self, subscription: str, resource_group: str, vault_name: str, name: str, body: Any
    ) -> tuple[bool, dict[str, Any]]:
        """PUT of Microsoft.KeyVault/vaults/secrets: writes a new version; True when created."""
        with self._lock:
            self.arm_vault(subscription, resource_group, vault_name)
            props = (body or {}).get("properties") or {}
            attributes = props.get("attributes") or {}
            created = name not in self.vault(vault_name)["secrets"]
            self.set_secret(
                vault_name,
                name,
                {
                    "value": props.get("value"),
                    "contentType": props.get("contentType"),
                    "tags": (body or {}).get("tags") or {},
                    "attributes": {
                        "enabled": attributes.get("enabled", True),
                        "nbf": attributes.get("nbf"),
                        "exp": attributes.get("exp"),
                    },
                },
            )
            return created, self.arm_get_secret(subscription, resource_group, vault_name, name)

    def arm_get_secret(
        self, subscription: str, resource_group: str, vault_name: str, name: str
    ) -> dict[str, Any]:
        with self._lock:
            self.arm_vault(subscription, resource_group, vault_name)
            versions = self.vault(vault_name)["secrets"].get(name)
            if not versions:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "ResourceNotFound",
                    f"The Resource 'Microsoft.KeyVault/vaults/{vault_name}/secrets/{name}' "
                    f"under resource group '{resource_group}' was not found.",
                )
            current = versions[-1]
            attributes = current["attributes"]
            return {
                "id": "/"
                + _ARM_SECRET_PATH.format(
                    sub=subscription, rg=resource_group, vault=vault_name, name=name
                ),
                "name": name,
                "type": "Microsoft.KeyVault/vaults/secrets",
                # ARM answers with the vault's region; the sandbox's vaults are in this one.
                "location": "westeurope",
                "tags": current["tags"],
                "properties": {
                    "contentType": current["contentType"],
                    "attributes": {
                        key: attributes[key]
                        for key in ("enabled", "nbf", "exp", "created", "updated")
                        if attributes.get(key) is not None
                    },
                    "secretUri": secret_uri(vault_name, name),
                    "secretUriWithVersion": secret_uri(vault_name, name, current["version"]),
                },
            }


def secret_uri(vault_name: str, name: str, version: str | None = None) -> str:
    base = f"https://{vault_name}.vault.azure.net/secrets/{name}"
    return f"{base}/{version}" if version else base


def _bundle(
    vault_name: str, name: str, version: dict[str, Any], with_value: bool
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "id": secret_uri(vault_name, name, version["version"]),
        "attributes": {k: v for k, v in version["attributes"].items() if v is not None},
        "tags": version["tags"],
    }
    if version.get("contentType") is not None:
        bundle["contentType"] = version["contentType"]
    if with_value:
        bundle["value"] = version["value"]
    return bundle


def _deleted_bundle(vault_name: str, name: str, deleted: dict[str, Any]) -> dict[str, Any]:
    current = deleted["versions"][-1]
    return {
        **_bundle(vault_name, name, current, with_value=False),
        "recoveryId": f"https://{vault_name}.vault.azure.net/deletedsecrets/{name}",
        "deletedDate": deleted["deletedDate"],
        "scheduledPurgeDate": deleted["deletedDate"] + SOFT_DELETE_RETENTION_DAYS * 86400,
    }


def _secret_not_found(vault_name: str, name: str) -> ApiError:
    return ApiError(
        HTTPStatus.NOT_FOUND,
        "SecretNotFound",
        f"A secret with (name/id) {name} was not found in this key vault ({vault_name}).",
    )
