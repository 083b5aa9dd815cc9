"""Everything one application needs to call LKPS in one environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final, Literal

import pulumi
from pulumi.runtime.rpc import UNKNOWN

from components.adoption import ExistingRegistration
from components.agent_id.resources import AgentIdentity
from components.app_registration import AppRegistration, AppRegistrationArgs
from components.federated_credentials import (
    FederatedCredentials,
    FederatedCredentialsArgs,
    FederatedCredentialSpec,
)
from components.ocelot.route_access import OcelotRouteAccess
from components.removed_client_secret import RemovedClientSecret
from components.rotating_client_secret import RotatingClientSecret, RotatingClientSecretArgs
from lkps import agent_id, rules
from lkps.rotation import RotationPlan
from lkps.rules import Environment, Region, Role

TYPE_TOKEN: Final = "lkps:onboarding:OnboardedApplication"
# How the stack keeps the application's Client Access List entries: through Ocelot's API;
# letting go of the entries it made (`ocelot.mode` turned to manual: they are marked to stay
# in Ocelot, and the next run forgets them); or not at all (people add them in the UI).
OcelotKeeping = Literal["api", "handover", "manual"]


@dataclass(frozen=True)
class AgentIdentitySpec:
    """An agent's identity on Microsoft Entra Agent ID: an agent identity of the stack's
    blueprint (`blueprint_app_id`, known once the blueprint's principal exists), sponsored by
    `sponsors` (user object IDs)."""

    blueprint_app_id: pulumi.Input[str]
    sponsors: Sequence[str]


@dataclass(frozen=True)
class OnboardedApplicationArgs:
    """One application in one environment; `owners` are Entra object IDs; `recovered` as in
    `AppRegistrationArgs`."""

    display_name: str
    role: Role
    beat_id: str
    description: str
    regions: Sequence[Region]
    environment: Environment
    tenant_id: str
    owners: pulumi.Input[Sequence[str]]
    resource_group_name: str
    vault_name: str
    rotation: RotationPlan
    protect: bool
    retired: bool = False
    purge_deleted_secret: bool = False
    existing: ExistingRegistration | None = None
    vault_secret_id: str = ""
    vault_resource: str = rules.VAULT_SECRET_RESOURCE
    remove_secrets: Sequence[str] = ()
    recovered: Mapping[str, str] = field(default_factory=dict)
    ocelot: OcelotKeeping = "api"
    client_secret: bool = True
    federated: Sequence[FederatedCredentialSpec] = ()
    # An agent on Agent ID has an agent identity; it keeps an app registration only while it
    # moves (`registration`: beside the agent identity, or retired before its removal).
    agent_identity: AgentIdentitySpec | None = None
    registration: Literal["active", "retired", "none"] = "active"


class OnboardedApplication(pulumi.ComponentResource):
    """An app registration, its credentials, and its Ocelot route access.

    The credentials are rotating client secrets published to Key Vault, federated identity
    credentials, or both. Its attributes are what the stack exports for the application; those
    of the client secret are None without one. A retired application keeps its registration and
    credentials, marked and unprotected, but loses its Ocelot access: the first step of removing
    it. An agent on Microsoft Entra Agent ID has an agent identity on the routes instead, and
    keeps its registration (and the registration's entries) only while it moves; its attributes
    of the registration are None without one.
    """

    display_name: pulumi.Output[str]
    client_id: pulumi.Output[str] | None
    object_id: pulumi.Output[str] | None
    application_id: pulumi.Output[str] | None
    service_principal_object_id: pulumi.Output[str] | None
    vault_secret_name: pulumi.Output[str] | None
    vault_secret_uri: pulumi.Output[str] | None
    vault_secret_id: pulumi.Output[str] | None
    vault_secret_resource: pulumi.Output[str] | None
    secret_end_date: pulumi.Output[str] | None
    next_rotation_date: pulumi.Output[str] | None
    route_ids: dict[Region, str]

    def __init__(
        self,
        name: str,
        args: OnboardedApplicationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        self.ocelot = args.ocelot
        self.route_ids = {
            region: rules.lkps_host(region, args.environment)
            for region in ([] if args.retired else args.regions)
        }
        self._description = f"{args.display_name} (LKPS {args.role}), managed by lkps-onboarding"
        self.agent_identity_id: pulumi.Output[str] | None = None
        if args.agent_identity is not None:
            self._add_agent_identity(name, args, args.agent_identity)
        if args.registration == "none":
            self.display_name = pulumi.Output.from_input(args.display_name)
            self.client_id = self.object_id = self.application_id = None
            self.service_principal_object_id = None
            self.federated_credential_ids: Mapping[str, pulumi.Output[str]] = {}
            self._no_client_secret()
            self.register_outputs(
                {"agent_identity_id": self.agent_identity_id, "route_ids": self.route_ids}
            )
            return
        self._add_registration(name, args)

    def _add_agent_identity(
        self, name: str, args: OnboardedApplicationArgs, spec: AgentIdentitySpec
    ) -> None:
        """The agent identity and its Client Access List entries, beside a registration's while
        the agent moves."""
        identity = AgentIdentity(
            f"{name}-agent-identity",
            display_name=args.display_name,
            blueprint_app_id=spec.blueprint_app_id,
            sponsors=list(spec.sponsors),
            # Not while the registration is still on the routes: going back deletes it.
            opts=pulumi.ResourceOptions(
                parent=self, protect=args.protect and args.registration != "active"
            ),
        )
        self.agent_identity_id = identity.id.apply(agent_id.ocelot_client_id)
        if args.ocelot == "manual":
            self.agent_identity_id.apply(
                lambda client_id: self._say_what_to_add(client_id, args.beat_id),
                run_with_unknowns=True,
            )
            return
        for region, route_id in self.route_ids.items():
            OcelotRouteAccess(
                f"{name}-ocelot-{region}{agent_id.ROUTE_ACCESS_SUFFIX}",
                route_id=route_id,
                client_id=self.agent_identity_id,
                beat_id=args.beat_id,
                description=f"{self._description}, Microsoft Entra Agent ID",
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=args.ocelot == "handover"
                ),
            )

    def _no_client_secret(self) -> None:
        self.vault_secret_name = self.vault_secret_uri = self.vault_secret_id = None
        self.vault_secret_resource = self.secret_end_date = self.next_rotation_date = None

    def _add_registration(self, name: str, args: OnboardedApplicationArgs) -> None:
        """The app registration, its credentials and its Client Access List entries."""
        registration_retired = args.retired or args.registration == "retired"
        registration = AppRegistration(
            name,
            AppRegistrationArgs(
                display_name=args.display_name,
                role=args.role,
                beat_id=args.beat_id,
                environment=args.environment,
                owners=args.owners,
                description=args.description,
                protect=args.protect and not registration_retired,
                retired=registration_retired,
                import_application_id=args.existing.application_id if args.existing else None,
                import_service_principal_id=(
                    args.existing.service_principal_id if args.existing else None
                ),
                recovered=args.recovered,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        federated = (
            FederatedCredentials(
                f"{name}-federated",
                FederatedCredentialsArgs(
                    application_id=registration.application_id,
                    credentials=args.federated,
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.federated
            else None
        )
        credentials = (
            RotatingClientSecret(
                f"{name}-secret",
                RotatingClientSecretArgs(
                    application_id=registration.application_id,
                    plan=args.rotation,
                    resource_group_name=args.resource_group_name,
                    vault_name=args.vault_name,
                    vault_secret_name=rules.vault_secret_name(args.display_name),
                    vault_secret_tags={
                        "clientId": registration.client_id,
                        "tenantId": args.tenant_id,
                        "beatId": args.beat_id,
                        "environment": args.environment,
                        "lkpsScope": rules.lkps_scope(args.environment),
                        "displayName": args.display_name,
                        "role": args.role,
                        **({rules.RETIRING_TAG: "true"} if registration_retired else {}),
                        **({rules.FEDERATED_TAG: "true"} if args.federated else {}),
                    },
                    # With federated credentials beside it, the secret may be removed by the
                    # next change: its vault copy is left unprotected for that (README:
                    # Secretless applications).
                    protect_vault_secret=(
                        args.protect and not args.federated and not registration_retired
                    ),
                    purge_deleted_secret=args.purge_deleted_secret,
                    import_vault_secret_id=(
                        args.existing.vault_secret_id if args.existing else None
                    ),
                    vault_resource=args.vault_resource,
                    recovered=args.recovered,
                ),
                opts=pulumi.ResourceOptions(parent=self),
            )
            if args.client_secret
            else None
        )
        for key_id in args.remove_secrets:
            RemovedClientSecret(
                f"{name}-removed-{key_id[:8]}",
                application_object_id=registration.object_id,
                key_id=key_id,
                opts=pulumi.ResourceOptions(
                    parent=self, depends_on=[c for c in (credentials, federated) if c]
                ),
            )
        route_ids = {} if registration_retired else self.route_ids
        description = self._description
        route_access = {
            region: OcelotRouteAccess(
                f"{name}-ocelot-{region}",
                route_id=route_id,
                client_id=registration.client_id,
                beat_id=args.beat_id,
                description=description,
                # A deletion of an entry marked so only drops it from the state (the engine's
                # DeleteStep skips the provider for a retainOnDelete resource).
                opts=pulumi.ResourceOptions(
                    parent=self, retain_on_delete=args.ocelot == "handover"
                ),
            )
            for region, route_id in ({} if args.ocelot == "manual" else route_ids).items()
        }
        if args.ocelot == "handover" and route_access:
            pulumi.log.info(
                "Ocelot by hand (ocelot.mode: manual): the entries this stack made stay in "
                "Ocelot; this run marks them to be kept there, and the next run leaves them to "
                "people",
                resource=self,
            )
        if args.ocelot == "manual" and route_ids:
            registration.client_id.apply(
                lambda client_id: self._say_what_to_add(client_id, args.beat_id),
                run_with_unknowns=True,
            )
        self.display_name = registration.display_name
        self.client_id = registration.client_id
        self.object_id = registration.object_id
        self.application_id = registration.application_id
        self.service_principal_object_id = registration.service_principal_object_id
        self.federated_credential_ids = federated.credential_ids if federated else {}
        if credentials is None:
            self._no_client_secret()
        else:
            self.vault_secret_name = credentials.vault_secret_name
            self.vault_secret_uri = credentials.vault_secret_uri
            self.vault_secret_id = pulumi.Output.from_input(args.vault_secret_id)
            self.vault_secret_resource = pulumi.Output.from_input(args.vault_resource)
            self.secret_end_date = credentials.end_date
            self.next_rotation_date = credentials.next_rotation_date
        self.register_outputs(
            {
                "client_id": self.client_id,
                "display_name": self.display_name,
                "vault_secret_uri": self.vault_secret_uri,
                "route_ids": self.route_ids,
                "agent_identity_id": self.agent_identity_id,
                "route_access_status": {
                    region: access.status for region, access in route_access.items()
                },
            }
        )

    def _say_what_to_add(self, client_id: Any, beat_id: str) -> None:
        """What a person adds in the Ocelot UI for each route (`ocelot.mode: manual`)."""
        known = isinstance(client_id, str) and client_id != UNKNOWN
        shown = client_id if known else "(the client ID this run makes; run preview again after up)"
        for route_id in self.route_ids.values():
            pulumi.log.info(
                f"Ocelot by hand: on route {route_id}, add client ID {shown} with BEAT ID "
                f"{beat_id} and description '{self._description}' in the Ocelot UI: "
                f"{rules.ocelot_ui_url(route_id)}",
                resource=self,
            )
