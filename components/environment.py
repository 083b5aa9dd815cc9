"""All LKPS applications of one environment, with the providers pinned to its tenant."""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Final, cast

import pulumi
import pulumi_azure_native as azure_native
import pulumi_azuread as azuread

from components.onboarded_application import OnboardedApplication, OnboardedApplicationArgs
from lkps.config import StackSettings
from lkps.rotation import RotationPolicy

TYPE_TOKEN: Final = "lkps:onboarding:Environment"


@dataclass(frozen=True)
class LkpsEnvironmentArgs:
    """Validated stack settings and the day that decides which client secrets are current."""

    settings: StackSettings
    today: date


class LkpsEnvironment(pulumi.ComponentResource):
    """Builds every configured application of the environment.

    `route_clients` maps each application name to the Ocelot route IDs of its regions and the
    client ID that must be on each route's Client Access List.
    """

    applications: dict[str, OnboardedApplication]
    route_clients: pulumi.Output[dict[str, dict[str, str]]]

    def __init__(
        self,
        name: str,
        args: LkpsEnvironmentArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        settings = args.settings
        entra = azuread.Provider(
            f"{name}-entra",
            tenant_id=settings.tenant_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        arm = azure_native.Provider(
            f"{name}-arm",
            tenant_id=settings.tenant_id,
            subscription_id=settings.key_vault.subscription_id,
            opts=pulumi.ResourceOptions(parent=self),
        )
        deployer = azuread.get_client_config_output(
            opts=pulumi.InvokeOutputOptions(provider=entra, parent=self)
        )
        rotation = RotationPolicy(
            rotation_days=settings.secret_rotation_days,
            lifetime_days=settings.secret_lifetime_days,
        ).plan(args.today)

        self.applications = {}
        for app in settings.applications:
            owners = deployer.object_id.apply(functools.partial(_with_deployer, app.owners))
            child = f"{name}-{app.display_name(settings.environment).lower()}"
            self.applications[app.name] = OnboardedApplication(
                child,
                OnboardedApplicationArgs(
                    application=app,
                    environment=settings.environment,
                    tenant_id=settings.tenant_id,
                    owners=owners,
                    key_vault=settings.key_vault,
                    rotation=rotation,
                    protect=settings.protect_resources,
                ),
                opts=pulumi.ResourceOptions(parent=self, providers=[entra, arm]),
            )
        route_clients: dict[str, dict[str, pulumi.Output[str]]] = {
            app_name: {route: app.client_id for route in app.route_ids.values()}
            for app_name, app in self.applications.items()
        }
        # from_input resolves nested Outputs, which pulumi.Input's type cannot express.
        self.route_clients = pulumi.Output.from_input(
            cast("pulumi.Input[dict[str, dict[str, str]]]", route_clients)
        )
        self.register_outputs({"route_clients": self.route_clients})


def _with_deployer(owners: Sequence[str], deployer_object_id: str) -> list[str]:
    """Configured owners plus the deploying principal, which must own what it manages."""
    return sorted({*owners, deployer_object_id})
