"""Client secrets of one app that rotate without downtime, the current one kept in Key Vault."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_azuread as azuread
from pulumi_azure_native import keyvault

from components.vault_secret_name import VaultSecretName
from lkps import rules
from lkps.rotation import SLOTS, RotationPlan, SecretGeneration, Slot, epoch_seconds, rfc3339

TYPE_TOKEN: Final = "lkps:credentials:RotatingClientSecret"


@dataclass(frozen=True)
class RotatingClientSecretArgs:
    """The application (resource ID `/applications/<objectId>`), the plan and the vault target;
    `recovered` as in `AppRegistrationArgs`."""

    application_id: pulumi.Input[str]
    plan: RotationPlan
    resource_group_name: str
    vault_name: str
    vault_secret_name: str
    vault_secret_tags: Mapping[str, pulumi.Input[str]]
    protect_vault_secret: bool = False
    purge_deleted_secret: bool = False
    import_vault_secret_id: str | None = None
    vault_resource: str = rules.VAULT_SECRET_RESOURCE
    recovered: Mapping[str, str] = field(default_factory=dict)


class RotatingClientSecret(pulumi.ComponentResource):
    """Two client secrets in alternating slots; the newer one is published to Key Vault.

    A rotation replaces only the slot the vault does not publish (deleting it first, so an app
    never has more than two secrets), then publishes the new secret; the other one keeps working
    meanwhile. A slot the plan leaves empty (an emergency revocation) is deleted by the engine
    at the end of the run, after the vault publishes its successor.
    """

    client_secret: pulumi.Output[str]
    key_id: pulumi.Output[str]
    end_date: pulumi.Output[str]
    next_rotation_date: pulumi.Output[str]
    vault_secret_name: pulumi.Output[str]
    vault_secret_uri: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: RotatingClientSecretArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        if args.plan.change != "none":
            pulumi.log.info(f"{args.vault_secret_name}: {args.plan.describe()}", resource=self)
        passwords = {}
        for slot in SLOTS:
            generation = args.plan.in_slot(slot)
            if generation is None:
                continue
            passwords[slot] = azuread.ApplicationPassword(
                f"{name}-{slot}",
                application_id=args.application_id,
                display_name=f"{rules.CLIENT_SECRET_DISPLAY_NAME}-{generation.starts.isoformat()}",
                end_date=rfc3339(generation.expires),
                rotate_when_changed={"generation": str(generation.number)},
                opts=pulumi.ResourceOptions(parent=self, delete_before_replace=True, protect=False),
            )
        current = args.plan.current
        published = passwords[args.plan.state.published]
        reusable_name = VaultSecretName(
            f"{name}-vault-name",
            vault_name=args.vault_name,
            secret_name=args.vault_secret_name,
            purge_on_delete=args.purge_deleted_secret,
            opts=pulumi.ResourceOptions(parent=self),
        )
        keyvault.Secret(
            f"{name}-{args.vault_resource}",
            resource_group_name=args.resource_group_name,
            vault_name=args.vault_name,
            secret_name=args.vault_secret_name,
            properties=keyvault.SecretPropertiesArgs(
                value=published.value.apply(pulumi.Output.secret),
                content_type=rules.CLIENT_SECRET_CONTENT_TYPE,
                attributes=keyvault.SecretAttributesArgs(
                    enabled=True,
                    not_before=epoch_seconds(current.starts),
                    expires=epoch_seconds(current.expires),
                ),
            ),
            # The key ID names the published credential without revealing it (verification);
            # slot and dates tell the next run which credential the vault publishes.
            tags={
                **args.vault_secret_tags,
                "keyId": published.key_id,
                **rotation_tags(args.plan.state.published, current),
            },
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect_vault_secret,
                depends_on=[reusable_name],
                import_=args.import_vault_secret_id
                or args.recovered.get(f"{name}-{args.vault_resource}"),
            ),
        )
        self.client_secret = published.value.apply(pulumi.Output.secret)
        self.key_id = published.key_id
        self.end_date = pulumi.Output.from_input(rfc3339(current.expires))
        self.next_rotation_date = pulumi.Output.from_input(rfc3339(args.plan.next_rotation))
        self.vault_secret_name = pulumi.Output.from_input(args.vault_secret_name)
        self.vault_secret_uri = pulumi.Output.from_input(
            rules.vault_secret_uri(args.vault_name, args.vault_secret_name)
        )
        self.register_outputs(
            {
                "client_secret": self.client_secret,
                "key_id": self.key_id,
                "end_date": self.end_date,
                "next_rotation_date": self.next_rotation_date,
                "vault_secret_name": self.vault_secret_name,
                "vault_secret_uri": self.vault_secret_uri,
            }
        )


ROTATION_TAGS: Final = ("slot", "generation", "starts", "expires")


def rotation_tags(slot: Slot, generation: SecretGeneration) -> dict[str, str]:
    """The vault secret's record of which credential it publishes (no secret in it)."""
    return {"slot": slot, **{key: str(value) for key, value in generation.to_output().items()}}
