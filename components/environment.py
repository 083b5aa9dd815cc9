"""All LKPS applications of one environment, with the providers pinned to its tenant."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any, Final, Literal

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread

from components.adoption import find_existing
from components.agent_blueprint import AgentBlueprint, AgentBlueprintArgs
from components.agent_id.resources import AgentAppRoleAssignment
from components.client_authorization import ClientAuthorization, ClientAuthorizationArgs
from components.deployer import check_deployer
from components.federated_credentials import FederatedCredentialSpec
from components.onboarded_application import (
    AgentIdentitySpec,
    OcelotKeeping,
    OnboardedApplication,
    OnboardedApplicationArgs,
)
from components.vault_record import published_in_vault
from lkps import agent_id, rules
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
    # An agent on Microsoft Entra Agent ID (its sponsors), and what it keeps of its app
    # registration while it moves.
    agent_id: bool = False
    sponsors: Sequence[str] = ()
    registration: Literal["active", "retired", "none"] = "active"


@dataclass(frozen=True)
class BlueprintSpec:
    """The stack's agent identity blueprint, made when an agent is on Agent ID."""

    unique_name: str
    display_name: str
    beat_id: str
    sponsors: Sequence[str]
    owners: Sequence[str]
    client_secret: bool = True
    federated: Sequence[FederatedCredentialSpec] = ()
    emergency_rotation: date | None = None


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
    blueprint: BlueprintSpec | None = None


class LkpsEnvironment(pulumi.ComponentResource):
    """Builds every application of the environment, keyed by base name in `applications`, and
    the client authorization of each agent that has clients, in `authorizations`."""

    applications: dict[str, OnboardedApplication]
    authorizations: dict[str, ClientAuthorization]
    blueprint: AgentBlueprint | None
    # Each client's assignment of the blueprint's app role, by client name.
    app_role_assignments: dict[str, AgentAppRoleAssignment]

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
        with_secret = {
            app.name: app.display_name
            for app in args.applications
            if app.client_secret and app.registration != "none"
        }
        blueprint = args.blueprint
        if blueprint is not None and blueprint.client_secret:
            with_secret[agent_id.ROTATION_KEY] = blueprint.display_name
        recorded = published_in_vault(
            {
                key: (args.last_rotation[key], display_name)
                for key, display_name in with_secret.items()
                if key in args.last_rotation
            },
            args.resource_group_name,
            args.vault_name,
            opts=pulumi.InvokeOptions(provider=arm, parent=self),
        )
        self.blueprint = None
        if blueprint is not None:
            self.blueprint = self._blueprint(name, args, blueprint, recorded, [entra, arm])
        for app in args.applications:
            owners = sorted({owner.lower() for owner in [*app.owners, args.deployer_object_id]})
            last = recorded.get(app.name)
            plan = args.rotation_policy.advance(last, args.today, app.emergency_rotation)
            if app.name in with_secret:
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
                    agent_identity=(
                        AgentIdentitySpec(self.blueprint.principal_app_id, app.sponsors)
                        if app.agent_id and self.blueprint is not None
                        else None
                    ),
                    registration=app.registration,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[entra, arm]),
            )
        self.authorizations = {}
        self.app_role_assignments = {}
        for app in args.applications:
            if app.retired or (not app.clients and not app.external_clients):
                continue
            if app.agent_id and self.blueprint is not None:
                for client in app.clients:
                    self._assign_app_role(name, client, args.applications, self.blueprint)
            if app.registration != "active":
                continue
            agent = self.applications[app.name]
            clients: dict[str, pulumi.Input[str]] = {
                client: _registered(self.applications[client].client_id) for client in app.clients
            }
            clients.update(app.external_clients)
            self.authorizations[app.name] = ClientAuthorization(
                f"{name}-{app.display_name.lower()}-clients",
                ClientAuthorizationArgs(
                    application_id=_registered(agent.application_id),
                    agent_client_id=_registered(agent.client_id),
                    agent_display_name=app.display_name,
                    clients=clients,
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self, provider=entra),
            )
        self.register_outputs({})

    def _blueprint(
        self,
        name: str,
        args: LkpsEnvironmentArgs,
        blueprint: BlueprintSpec,
        recorded: Mapping[str, RotationState],
        providers: list[pulumi.ProviderResource],
    ) -> AgentBlueprint:
        plan = None
        if blueprint.client_secret:
            plan = args.rotation_policy.advance(
                recorded.get(agent_id.ROTATION_KEY), args.today, blueprint.emergency_rotation
            )
            self.rotation_plans[agent_id.ROTATION_KEY] = plan
        return AgentBlueprint(
            f"{name}-{blueprint.unique_name}",
            AgentBlueprintArgs(
                unique_name=blueprint.unique_name,
                display_name=blueprint.display_name,
                beat_id=blueprint.beat_id,
                sponsors=blueprint.sponsors,
                owners=sorted({o.lower() for o in [*blueprint.owners, args.deployer_object_id]}),
                environment=args.environment,
                tenant_id=args.tenant_id,
                resource_group_name=args.resource_group_name,
                vault_name=args.vault_name,
                rotation=plan,
                federated=blueprint.federated,
                protect=args.protect,
                parallel=not any(
                    app.agent_id and app.registration != "active" and not app.retired
                    for app in args.applications
                ),
                purge_deleted_secret=args.purge_deleted_secrets,
                recovered=args.recovered,
            ),
            opts=pulumi.ResourceOptions(parent=self, providers=providers),
        )

    def _assign_app_role(
        self,
        name: str,
        client: str,
        applications: Sequence[ApplicationSpec],
        blueprint: AgentBlueprint,
    ) -> None:
        """One assignment per client, however many agents of the blueprint it reaches."""
        if client in self.app_role_assignments:
            return
        display_name = next(a.display_name for a in applications if a.name == client)
        self.app_role_assignments[client] = AgentAppRoleAssignment(
            f"{name}-{display_name.lower()}-agentid-access",
            resource_principal_id=blueprint.principal_object_id,
            app_role_id=blueprint.app_role_id,
            principal_id=_registered(self.applications[client].service_principal_object_id),
            opts=pulumi.ResourceOptions(parent=blueprint),
        )


def _registered(value: pulumi.Output[str] | None) -> pulumi.Output[str]:
    """A client's registration attribute: clients always have a registration."""
    if value is None:
        raise ValueError("a client application has no app registration")
    return value


def ocelot_keeping(by_hand: bool, last_record: Any) -> OcelotKeeping:
    """How this run keeps an application's Ocelot entries, given the mode and what the last run
    recorded (`ocelot`, absent before the mode existed: the API)."""
    if not by_hand:
        return "api"
    if not isinstance(last_record, Mapping) or not last_record.get("routes"):
        return "manual"
    return "handover" if last_record.get("ocelot", "api") == "api" else "manual"
