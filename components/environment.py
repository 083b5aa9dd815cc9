"""All LKPS applications of one environment, with the providers pinned to its tenant."""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread

from components.client_authorization import ClientAuthorization, ClientAuthorizationArgs
from components.onboarded_application import OnboardedApplication, OnboardedApplicationArgs
from lkps.rotation import RotationPlan
from lkps.rules import Environment, Region, Role

TYPE_TOKEN: Final = "lkps:onboarding:Environment"


@dataclass(frozen=True)
class ApplicationSpec:
    """One application as the environment builds it; `name` is the base name (no `-NP`)."""

    name: str
    display_name: str
    role: Role
    beat_id: str
    description: str
    owners: Sequence[str]
    regions: Sequence[Region]
    clients: Sequence[str] = ()
    external_clients: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class LkpsEnvironmentArgs:
    """The environment's tenant, subscription and vault, its rotation plan and applications."""

    environment: Environment
    tenant_id: str
    subscription_id: str
    resource_group_name: str
    vault_name: str
    rotation: RotationPlan
    protect: bool
    applications: Sequence[ApplicationSpec]


class LkpsEnvironment(pulumi.ComponentResource):
    """Builds every application of the environment, keyed by base name in `applications`, and
    the client authorization of each agent that has clients, in `authorizations`."""

    applications: dict[str, OnboardedApplication]
    authorizations: dict[str, ClientAuthorization]

    def __init__(
        self,
        name: str,
        args: LkpsEnvironmentArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        entra = azuread.Provider(
            f"{name}-entra",
            tenant_id=args.tenant_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        arm = azure_native.Provider(
            f"{name}-arm",
            tenant_id=args.tenant_id,
            subscription_id=args.subscription_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        deployer = azuread.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(provider=entra, parent=self)
        )
        self.applications = {}
        for app in args.applications:
            owners = deployer.object_id.apply(functools.partial(_with_deployer, app.owners))
            self.applications[app.name] = OnboardedApplication(
                f"{name}-{app.display_name.lower()}",
                OnboardedApplicationArgs(
                    display_name=app.display_name,
                    role=app.role,
                    beat_id=app.beat_id,
                    description=app.description,
                    regions=app.regions,
                    environment=args.environment,
                    tenant_id=args.tenant_id,
                    owners=owners,
                    resource_group_name=args.resource_group_name,
                    vault_name=args.vault_name,
                    rotation=args.rotation,
                    protect=args.protect,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[entra, arm]),
            )
        self.authorizations = {}
        for app in args.applications:
            if not app.clients and not app.external_clients:
                continue
            agent = self.applications[app.name]
            clients: dict[str, pulumi.Input[str]] = {
                client: self.applications[client].client_id for client in app.clients
            }
            clients.update(app.external_clients)
            self.authorizations[app.name] = ClientAuthorization(
                f"{name}-{app.display_name.lower()}-clients",
                ClientAuthorizationArgs(
                    application_id=agent.application_id,
                    agent_client_id=agent.client_id,
                    agent_display_name=app.display_name,
                    clients=clients,
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=entra),
            )
        self.register_outputs({})


def _with_deployer(owners: Sequence[str], deployer_object_id: str) -> list[str]:
    """Configured owners plus the deploying principal, which must own what it manages."""
    return sorted({*owners, deployer_object_id})
