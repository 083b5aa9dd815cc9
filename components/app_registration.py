"""An Entra ID app registration and its service principal for one app in one environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_azuread as azuread

from lkps import ownership, rules
from lkps.rules import Environment, Role

TYPE_TOKEN: Final = "lkps:entra:AppRegistration"


@dataclass(frozen=True)
class AppRegistrationArgs:
    """What an app registration is made of; `owners` are Entra object IDs. `recovered` maps
    resource names to the IDs of objects an interrupted run made and never recorded: imported."""

    display_name: str
    role: Role
    beat_id: str
    environment: Environment
    owners: pulumi.Input[Sequence[str]]
    description: str = ""
    protect: bool = False
    retired: bool = False
    import_application_id: str | None = None
    import_service_principal_id: str | None = None
    recovered: Mapping[str, str] = field(default_factory=dict)


class AppRegistration(pulumi.ComponentResource):
    """A single-tenant Entra application carrying its BEAT ID, and its service principal."""

    client_id: pulumi.Output[str]
    object_id: pulumi.Output[str]
    application_id: pulumi.Output[str]
    service_principal_object_id: pulumi.Output[str]
    display_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        args: AppRegistrationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        tags = [
            "lkps",
            f"lkps-role:{args.role}",
            f"lkps-environment:{args.environment}",
            f"beat:{args.beat_id}",
            *([rules.RETIRING_TAG] if args.retired else []),
        ]
        notes = (
            f"LKPS {args.role} ({args.environment}). BEAT ID: {args.beat_id}. "
            f"Managed by the Pulumi stack lkps-onboarding/{pulumi.get_stack()}, which owns the "
            "name, description, owners, BEAT ID, sign-in audience, notes and tags (portal "
            "edits of these are reverted); API permissions, redirect URIs, app roles, claims "
            "and branding belong to the team."
        )
        application = azuread.Application(
            f"{name}-app",
            display_name=args.display_name,
            description=args.description or None,
            owners=args.owners,
            sign_in_audience=rules.SIGN_IN_AUDIENCE,
            prevent_duplicate_names=True,
            service_management_reference=args.beat_id,
            notes=notes,
            tags=tags,
            # What the stack does not own (lkps.ownership): the team's portal settings, and an
            # agent's identifier URI and API, which are resources of their own (without this an
            # update would drop them, pulumi/pulumi-azuread#1036).
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                ignore_changes=ownership.not_owned(ownership.APPLICATION),
                import_=args.import_application_id or args.recovered.get(f"{name}-app"),
            ),
        )
        service_principal = azuread.ServicePrincipal(
            f"{name}-sp",
            client_id=application.client_id,
            owners=args.owners,
            account_enabled=True,
            app_role_assignment_required=False,
            notes=notes,
            tags=tags,
            opts=pulumi.ResourceOptions(
                parent=self,
                protect=args.protect,
                ignore_changes=ownership.not_owned(ownership.SERVICE_PRINCIPAL),
                import_=args.import_service_principal_id or args.recovered.get(f"{name}-sp"),
            ),
        )
        self.client_id = application.client_id
        self.object_id = application.object_id
        self.application_id = application.id
        self.service_principal_object_id = service_principal.object_id
        self.display_name = application.display_name
        self.register_outputs(
            {
                "client_id": self.client_id,
                "object_id": self.object_id,
                "application_id": self.application_id,
                "service_principal_object_id": self.service_principal_object_id,
                "display_name": self.display_name,
            }
        )
