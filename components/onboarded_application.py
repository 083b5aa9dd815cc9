"""Everything one application needs to call LKPS in one environment."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import pulumi

from components.app_registration import AppRegistration, AppRegistrationArgs
from components.ocelot.route_access import OcelotRouteAccess
from components.rotating_client_secret import RotatingClientSecret, RotatingClientSecretArgs
from lkps import rules
from lkps.config import ApplicationSettings, KeyVaultSettings
from lkps.rotation import RotationPlan
from lkps.rules import Environment, Region

TYPE_TOKEN: Final = "lkps:onboarding:OnboardedApplication"


@dataclass(frozen=True)
class OnboardedApplicationArgs:
    """One configured application and the environment-wide settings it is built with."""

    application: ApplicationSettings
    environment: Environment
    tenant_id: str
    owners: pulumi.Input[Sequence[str]]
    key_vault: KeyVaultSettings
    rotation: RotationPlan
    protect: bool


class OnboardedApplication(pulumi.ComponentResource):
    """An app registration, rotating client secrets in Key Vault, and its Ocelot route access."""

    registration: AppRegistration
    credentials: RotatingClientSecret
    client_id: pulumi.Output[str]
    route_ids: dict[Region, str]
    route_access: dict[Region, OcelotRouteAccess]

    def __init__(
        self,
        name: str,
        args: OnboardedApplicationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        app = args.application
        display_name = app.display_name(args.environment)
        self.registration = AppRegistration(
            name,
            AppRegistrationArgs(
                display_name=display_name,
                role=app.role,
                beat_id=app.beat_id,
                environment=args.environment,
                owners=args.owners,
                description=app.description,
                protect=args.protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.client_id = self.registration.client_id
        self.credentials = RotatingClientSecret(
            f"{name}-secret",
            RotatingClientSecretArgs(
                application_id=self.registration.application_id,
                plan=args.rotation,
                key_vault=args.key_vault,
                vault_secret_name=rules.vault_secret_name(display_name),
                vault_secret_tags={
                    "clientId": self.client_id,
                    "tenantId": args.tenant_id,
                    "beatId": app.beat_id,
                    "environment": args.environment,
                    "lkpsScope": rules.lkps_scope(args.environment),
                    "displayName": display_name,
                    "role": app.role,
                },
                protect_vault_secret=args.protect,
            ),
            opts=pulumi.ResourceOptions(parent=self),
        )
        self.route_ids = {
            region: rules.lkps_host(region, args.environment) for region in app.regions
        }
        self.route_access = {
            region: OcelotRouteAccess(
                f"{name}-ocelot-{region}",
                route_id=route_id,
                client_id=self.client_id,
                beat_id=app.beat_id,
                description=f"{display_name} (LKPS {app.role}), managed by lkps-onboarding",
                opts=pulumi.ResourceOptions(parent=self),
            )
            for region, route_id in self.route_ids.items()
        }
        self.register_outputs(
            {
                "client_id": self.client_id,
                "display_name": self.registration.display_name,
                "vault_secret_uri": self.credentials.vault_secret_uri,
                "route_ids": self.route_ids,
                "route_access_status": {
                    region: access.status for region, access in self.route_access.items()
                },
            }
        )
