"""The azure-native stand-in: keyvault Secret, written through the emulator's ARM and deleted
through its Key Vault data plane, as azure-native does against Azure."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sandbox import behaviours
from sandbox.standin.client import EntraClient
from sandbox.standin.server import Change, Invoke, ProviderError, ResourceType
from sandbox.standin.wire import UNKNOWN, plain

_ARM_PATH = (
    "/arm/subscriptions/{subscription}/resourceGroups/{resource_group}/providers/"
    "Microsoft.KeyVault/vaults/{vault}/secrets/{name}"
)


def _parse_id(id_: str) -> dict[str, str]:
    parts = id_.strip("/").split("/")
    return {
        "subscription": parts[1],
        "resource_group": parts[3],
        "vault": parts[7],
        "name": parts[9],
    }


class VaultSecret(ResourceType):
    rules = behaviours.VAULT_SECRET

    def __init__(self, client: Callable[[], EntraClient], subscription: Callable[[], str]) -> None:
        super().__init__(client)
        self._subscription = subscription

    def check(self, news: dict[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """Check adds the API version the resource is written with (provider.go applyDefaults,
        v3: `azureApiVersion` when not given)."""
        checked = {"azureApiVersion": behaviours.VAULT_SECRET_API_VERSION, **news}
        return checked, self.failures(checked)

    def diff(
        self,
        state: dict[str, Any],
        old_inputs: dict[str, Any],
        news: dict[str, Any],
        ignore_changes: tuple[str, ...] = (),
    ) -> Change:
        """Old inputs against new ones; a replacement of a secret with an explicit name deletes
        first (provider.go Diff: `deleteBeforeReplace := len(replaces) > 0` unless the name was
        generated, `__createBeforeDelete`)."""
        if "azureApiVersion" not in old_inputs and state.get("azureApiVersion"):
            old_inputs = {**old_inputs, "azureApiVersion": state["azureApiVersion"]}
        change = super().diff(state, old_inputs, news, ignore_changes)
        change.delete_before_replace = bool(change.replaces) and not plain(
            old_inputs.get("__createBeforeDelete")
        )
        return change

    def failures(self, news: dict[str, Any]) -> list[tuple[str, str]]:
        failures = super().failures(news)
        if news.get("secretName") is None:
            failures.append(
                ("secretName", "the sandbox does not autoname vault secrets: set secretName")
            )
        properties = plain(news.get("properties")) or {}
        extra = set(properties) - {"value", "contentType", "attributes"}
        extra |= {f"attributes.{k}" for k in properties.get("attributes") or {}} - {
            "attributes.enabled",
            "attributes.notBefore",
            "attributes.expires",
        }
        failures += [
            (f"properties.{key}", f"the sandbox's stand-in does not emulate 'properties.{key}'")
            for key in sorted(extra)
        ]
        return failures

    def _path(self, inputs: dict[str, Any]) -> str:
        return _ARM_PATH.format(
            subscription=self._subscription(),
            resource_group=plain(inputs["resourceGroupName"]),
            vault=plain(inputs["vaultName"]),
            name=plain(inputs["secretName"]),
        )

    def preview(self, inputs: dict[str, Any]) -> dict[str, Any]:
        properties = plain(inputs.get("properties")) or {}
        return {
            "azureApiVersion": behaviours.VAULT_SECRET_API_VERSION,
            "location": UNKNOWN,
            "name": plain(inputs.get("secretName")),
            "type": "Microsoft.KeyVault/vaults/secrets",
            "tags": inputs.get("tags"),
            "properties": {
                "contentType": properties.get("contentType"),
                "attributes": UNKNOWN,
                "secretUri": UNKNOWN,
                "secretUriWithVersion": UNKNOWN,
            },
        }

    @staticmethod
    def _body(inputs: dict[str, Any]) -> dict[str, Any]:
        properties = plain(inputs.get("properties")) or {}
        attributes = properties.get("attributes") or {}
        return {
            "properties": {
                "value": properties.get("value"),
                "contentType": properties.get("contentType"),
                "attributes": {
                    "enabled": attributes.get("enabled", True),
                    "nbf": attributes.get("notBefore"),
                    "exp": attributes.get("expires"),
                },
            },
            "tags": plain(inputs.get("tags")) or {},
        }

    @staticmethod
    def _outputs(resource: dict[str, Any]) -> dict[str, Any]:
        properties = resource["properties"]
        attributes = properties.get("attributes", {})
        return {
            "azureApiVersion": behaviours.VAULT_SECRET_API_VERSION,
            "location": resource.get("location"),
            "name": resource["name"],
            "type": resource["type"],
            "tags": resource.get("tags") or {},
            "properties": {
                "contentType": properties.get("contentType"),
                "attributes": {
                    "enabled": attributes.get("enabled"),
                    "notBefore": attributes.get("nbf"),
                    "expires": attributes.get("exp"),
                    "created": attributes.get("created"),
                    "updated": attributes.get("updated"),
                },
                "secretUri": properties["secretUri"],
                "secretUriWithVersion": properties["secretUriWithVersion"],
            },
        }

    def create(self, inputs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        path = self._path(inputs)
        existing = self.client.call("read vault secret", "GET", path, missing_ok=True)
        if existing is not None:
            raise ProviderError(
                f"cannot create already existing resource '{existing['id']}': import it to "
                "manage it with Pulumi"
            )
        self._recover_if_soft_deleted(inputs)
        resource = self.client.call("create vault secret", "PUT", path, self._body(inputs))
        return resource["id"], self._outputs(resource)

    def _recover_if_soft_deleted(self, inputs: dict[str, Any]) -> None:
        """pulumi/pulumi-azure-native#4759 (fixing #4282): Create asks the vault's data plane
        for a deleted secret of the name and recovers it before the ARM PUT, so a name deleted
        within the retention period is reused (its old versions come back, the PUT adds one)."""
        vault, name = plain(inputs["vaultName"]), plain(inputs["secretName"])
        deleted = self.client.call(
            "get deleted secret", "GET", f"/keyvault/{vault}/deletedsecrets/{name}", missing_ok=True
        )
        if deleted is not None:
            self.client.call(
                "recover deleted secret", "POST", f"/keyvault/{vault}/deletedsecrets/{name}/recover"
            )

    def read(
        self, id_: str, state: dict[str, Any], inputs: dict[str, Any]
    ) -> tuple[dict[str, Any], dict[str, Any]] | None:
        parts = _parse_id(id_)
        resource = self.client.call(
            "read vault secret", "GET", _ARM_PATH.format(**parts), missing_ok=True
        )
        if resource is None:
            return None
        outputs = self._outputs(resource)
        if not inputs:
            # An import: the inputs ARM can tell (never the value, which it does not return).
            inputs = {
                "resourceGroupName": parts["resource_group"],
                "vaultName": parts["vault"],
                "secretName": parts["name"],
                "properties": {},
                "tags": {},
            }
        old_properties = inputs.get("properties") or {}
        read_properties = outputs["properties"]
        attributes = read_properties["attributes"]
        refreshed = {
            **inputs,
            "tags": outputs["tags"],
            "properties": {
                # ARM never returns the value: the one in state stays, drift is invisible.
                **({"value": old_properties["value"]} if "value" in old_properties else {}),
                "contentType": read_properties["contentType"],
                "attributes": {
                    key: attributes[key]
                    for key in ("enabled", "notBefore", "expires")
                    if attributes.get(key) is not None
                },
            },
        }
        return outputs, {key: refreshed.get(key) for key in inputs}

    def update(
        self, id_: str, state: dict[str, Any], news: dict[str, Any], change: Change
    ) -> dict[str, Any]:
        resource = self.client.call(
            "update vault secret", "PUT", _ARM_PATH.format(**_parse_id(id_)), self._body(news)
        )
        return self._outputs(resource)

    def delete(self, id_: str, state: dict[str, Any]) -> None:
        parts = _parse_id(id_)
        self.client.call(
            "delete vault secret",
            "DELETE",
            f"/keyvault/{parts['vault']}/secrets/{parts['name']}",
            missing_ok=True,
        )


def types(
    client: Callable[[], EntraClient], config: Callable[[], dict[str, Any]]
) -> Mapping[str, ResourceType]:
    def subscription() -> str:
        value = config().get("subscriptionId")
        if not value:
            raise ProviderError("azure-native: no subscriptionId configured on the provider")
        return str(value)

    return {behaviours.VAULT_SECRET.resource_type: VaultSecret(client, subscription)}


def invokes(
    client: Callable[[], EntraClient], config: Callable[[], dict[str, Any]]
) -> Mapping[str, Invoke]:
    def get_secret(args: dict[str, Any]) -> dict[str, Any]:
        """getSecret is an ARM GET of the secret: attributes and tags, never the value; a
        missing secret fails the invoke with ARM's error."""
        path = _ARM_PATH.format(
            subscription=config().get("subscriptionId"),
            resource_group=args.get("resourceGroupName"),
            vault=args.get("vaultName"),
            name=args.get("secretName"),
        )
        resource = client().call("read vault secret", "GET", path)
        return {"id": resource["id"], **VaultSecret._outputs(resource)}

    return {behaviours.GET_VAULT_SECRET: get_secret}
