"""All LKPS applications of one environment, with the providers pinned to its tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread

from components.adoption import find_existing
from components.client_authorization import ClientAuthorization, ClientAuthorizationArgs
from components.deployer import check_deployer
from components.federated_credentials import FederatedCredentialSpec
from components.onboarded_application import (
    OcelotKeeping,
    OnboardedApplication,
    OnboardedApplicationArgs,
)
from components.vault_record import published_in_vault
from lkps import rules
from lkps.rotation import RotationPlan, RotationPolicy, RotationState
from lkps.rules import Environment, Region, Role
from lkps.settings import AdoptionSettings

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
    emergency_rotation: date | None = None
    retired: bool = False
    adopt: AdoptionSettings | None = None
    client_secret: bool = True
    federated: Sequence[FederatedCredentialSpec] = ()


@dataclass(frozen=True)
class LkpsEnvironmentArgs:
    """The environment's tenant, subscription, vault, pinned deployer and applications.

    `last_rotation` is what the last run recorded per application (base name); the vault's own
    record of the published credential overrides it, as the last run may have failed midway.
    `break_glass` is the reason a person gives for deploying as another identity than
    `deployer_object_id`, or None. `last_applications` is the last run's record of each
    application: those it lacks that name an existing registration (`adopt`) are imported, and
    so is each object an interrupted run made and never recorded (`recovered`: resource name to
    ID); its vault secret's location says whether the secret moves. `ocelot_by_hand`
    (`ocelot.mode: manual`) leaves the Client Access Lists to people; an application whose last
    run kept its entries through the API first hands them over (`OcelotKeeping`).
    """

    environment: Environment
    tenant_id: str
    subscription_id: str
    resource_group_name: str
    vault_name: str
    deployer_object_id: str
    rotation_policy: RotationPolicy
    today: date
    protect: bool
    applications: Sequence[ApplicationSpec]
    last_rotation: Mapping[str, RotationState] = field(default_factory=dict)
    break_glass: str | None = None
    purge_deleted_secrets: bool = False
    last_applications: Mapping[str, Any] = field(default_factory=dict)
    recovered: Mapping[str, str] = field(default_factory=dict)
    ocelot_by_hand: bool = False


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
        running = azuread.get_client_config(opts=pulumi.InvokeOptions(provider=entra, parent=self))
        check_deployer(args.deployer_object_id, running.object_id, args.break_glass, self)
        self.applications = {}
        self.rotation_plans: dict[str, RotationPlan] = {}
        recorded = published_in_vault(
            {
                app.name: (args.last_rotation[app.name], app.display_name)
                for app in args.applications
                if app.client_secret and app.name in args.last_rotation
            },
            args.resource_group_name,
            args.vault_name,
            opts=pulumi.InvokeOptions(provider=arm, parent=self),
        )
        for app in args.applications:
            owners = sorted({owner.lower() for owner in [*app.owners, args.deployer_object_id]})
            last = recorded.get(app.name)
            plan = args.rotation_policy.advance(last, args.today, app.emergency_rotation)
            if app.client_secret:
                self.rotation_plans[app.name] = plan
            existing = None
            secret_name = rules.vault_secret_name(app.display_name)
            vault_secret_id = rules.vault_secret_arm_id(
                args.subscription_id, args.resource_group_name, args.vault_name, secret_name
            )
            last_record = args.last_applications.get(app.name)
            if app.adopt is not None and last_record is None:
                existing = find_existing(app.adopt, app.display_name, vault_secret_id, entra, self)
            vault_resource = rules.vault_secret_resource(
                last_record if isinstance(last_record, Mapping) else None,
                vault_secret_id,
                rules.vault_secret_uri(args.vault_name, secret_name),
            )
            if last_record is not None and vault_resource != (
                last_record.get("vaultSecretResource") or rules.VAULT_SECRET_RESOURCE
            ):
                pulumi.log.info(
                    f"{secret_name}: moves to {args.vault_name} (resource group "
                    f"{args.resource_group_name}); the new secret is written first, the old one "
                    "deleted at the end of the run",
                    self,
                )
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
                    rotation=plan,
                    protect=args.protect and not app.retired,
                    retired=app.retired,
                    purge_deleted_secret=args.purge_deleted_secrets,
                    existing=existing,
                    vault_secret_id=vault_secret_id,
                    vault_resource=vault_resource,
                    remove_secrets=tuple(app.adopt.remove_secrets) if app.adopt else (),
                    recovered=args.recovered,
                    ocelot=ocelot_keeping(args.ocelot_by_hand, last_record),
                    client_secret=app.client_secret,
                    federated=app.federated,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[entra, arm]),
            )
        self.authorizations = {}
        for app in args.applications:
            if app.retired or (not app.clients and not app.external_clients):
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
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=entra),
            )
        self.register_outputs({})


def ocelot_keeping(by_hand: bool, last_record: Any) -> OcelotKeeping:
    """How this run keeps an application's Ocelot entries, given the mode and what the last run
    recorded (`ocelot`, absent before the mode existed: the API)."""
    if not by_hand:
        return "api"
    if not isinstance(last_record, Mapping) or not last_record.get("routes"):
        return "manual"
    return "handover" if last_record.get("ocelot", "api") == "api" else "manual"
