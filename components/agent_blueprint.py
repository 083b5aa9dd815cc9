"""The stack's Microsoft Entra Agent ID blueprint: what the agents on Agent ID sign in through."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi

from components.agent_id.resources import AgentBlueprintPrincipal, AgentIdentityBlueprint
from components.federated_credentials import (
    FederatedCredentials,
    FederatedCredentialsArgs,
    FederatedCredentialSpec,
)
from components.rotating_client_secret import RotatingClientSecret, RotatingClientSecretArgs
from lkps import agent_id, rules
from lkps.rotation import RotationPlan
from lkps.rules import Environment

TYPE_TOKEN: Final = "lkps:agentid:AgentBlueprint"


@dataclass(frozen=True)
class AgentBlueprintArgs:
    """One blueprint per environment and team stack; `rotation` is None without a client
    secret; `owners` are object IDs (the deployer among them); `recovered` as in
    `AppRegistrationArgs`."""

    unique_name: str
    display_name: str
    beat_id: str
    sponsors: Sequence[str]
    owners: Sequence[str]
    environment: Environment
    tenant_id: str
    resource_group_name: str
    vault_name: str
    rotation: RotationPlan | None
    federated: Sequence[FederatedCredentialSpec] = ()
    protect: bool = False
    # No agent relies on its agent identity alone yet: the blueprint may go with a change back.
    parallel: bool = False
    purge_deleted_secret: bool = False
    vault_resource: str = rules.VAULT_SECRET_RESOURCE
    recovered: Mapping[str, str] = field(default_factory=dict)


class AgentBlueprint(pulumi.ComponentResource):
    """An agent identity blueprint with its principal, its `access_as_client` app role, and its
    credentials: a rotating client secret published to Key Vault like an app registration's,
    federated identity credentials, or both. Deleting a blueprint deletes its agent identities
    (Entra's cascade), so it is protected where applications are once an agent relies on it
    alone (`parallel` until then)."""

    app_id: pulumi.Output[str]
    object_id: pulumi.Output[str]
    principal_object_id: pulumi.Output[str]
    principal_app_id: pulumi.Output[str]
    app_role_id: str
    vault_secret_name: pulumi.Output[str] | None
    vault_secret_uri: pulumi.Output[str] | None
    secret_end_date: pulumi.Output[str] | None
    next_rotation_date: pulumi.Output[str] | None
    federated_credential_ids: Mapping[str, pulumi.Output[str]]

    def __init__(
        self,
        name: str,
        args: AgentBlueprintArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.app_role_id = agent_id.app_role_id(args.unique_name)
        blueprint = AgentIdentityBlueprint(
            name,
            unique_name=args.unique_name,
            display_name=args.display_name,
            sponsors=list(args.sponsors),
            owners=list(args.owners),
            service_management_reference=args.beat_id,
            app_roles=[
                {
                    "id": self.app_role_id,
                    "value": rules.CLIENT_SCOPE_VALUE,
                    "display_name": f"Start LKPS sessions with the agents of {args.display_name}",
                    "description": (
                        "Lets a client app start LKPS sessions with the agents on Microsoft "
                        f"Entra Agent ID of {args.display_name}."
                    ),
                }
            ],
            opts=pulumi.ResourceOptions(parent=self, protect=args.protect and not args.parallel),
        )
        principal = AgentBlueprintPrincipal(
            f"{name}-principal",
            blueprint_app_id=blueprint.app_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        application_id = blueprint.id.apply(lambda object_id: f"/applications/{object_id}")
        federated = (
            FederatedCredentials(
                f"{name}-federated",
                FederatedCredentialsArgs(
                    application_id=application_id,
                    credentials=args.federated,
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.federated
            else None
        )
        secret = (
            RotatingClientSecret(
                f"{name}-secret",
                RotatingClientSecretArgs(
                    application_id=application_id,
                    plan=args.rotation,
                    resource_group_name=args.resource_group_name,
                    vault_name=args.vault_name,
                    vault_secret_name=rules.vault_secret_name(args.display_name),
                    vault_secret_tags={
                        "clientId": blueprint.app_id,
                        "tenantId": args.tenant_id,
                        "beatId": args.beat_id,
                        "environment": args.environment,
                        "lkpsScope": rules.lkps_scope(args.environment),
                        "displayName": args.display_name,
                        "role": "agentIdBlueprint",
                        **({rules.FEDERATED_TAG: "true"} if args.federated else {}),
                        **({rules.PARALLEL_TAG: "true"} if args.parallel else {}),
                    },
                    protect_vault_secret=args.protect and not args.federated and not args.parallel,
                    purge_deleted_secret=args.purge_deleted_secret,
                    vault_resource=args.vault_resource,
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.rotation is not None
            else None
        )
        self.app_id = blueprint.app_id
        # An agent identity waits for the principal: Graph refuses one before it exists.
        self.principal_app_id = principal.blueprint_app_id
        self.object_id = blueprint.id
        self.principal_object_id = principal.id
        self.federated_credential_ids = federated.credential_ids if federated else {}
        self.vault_secret_name = secret.vault_secret_name if secret else None
        self.vault_secret_uri = secret.vault_secret_uri if secret else None
        self.secret_end_date = secret.end_date if secret else None
        self.next_rotation_date = secret.next_rotation_date if secret else None
        self.register_outputs({"app_id": self.app_id, "principal": self.principal_object_id})
