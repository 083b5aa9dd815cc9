"""An agent's API for LKPS client authorization: its identifier URI, the delegated scope
`access_as_client`, and one pre-authorization per client allowed to start sessions with it."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Final

import pulumi
import pulumi_azuread as azuread

from lkps import rules

TYPE_TOKEN: Final = "lkps:entra:ClientAuthorization"
_SCOPE_NAMESPACE: Final = uuid.UUID("5f1c2b9e-6a4d-4e8f-9b3a-1c7d2e4f6a80")


def scope_id(agent_display_name: str) -> str:
    """A stable ID for an agent's scope: the same on every run, different for every agent."""
    return str(uuid.uuid5(_SCOPE_NAMESPACE, f"{agent_display_name}/{rules.CLIENT_SCOPE_VALUE}"))


@dataclass(frozen=True)
class ClientAuthorizationArgs:
    """The agent (its resource ID `/applications/<objectId>` and client ID) and its clients,
    keyed by a name for each (a client's base name, or an external client's label);
    `recovered` as in `AppRegistrationArgs`."""

    application_id: pulumi.Input[str]
    agent_client_id: pulumi.Input[str]
    agent_display_name: str
    clients: Mapping[str, pulumi.Input[str]]
    recovered: Mapping[str, str] = field(default_factory=dict)


class ClientAuthorization(pulumi.ComponentResource):
    """Separate azuread resources for the URI, the scope and each pre-authorization, so that the
    agent's Application never depends on its clients' client IDs and removing a client removes
    only its pre-authorization."""

    scope: pulumi.Output[str]
    pre_authorized_client_ids: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        args: ClientAuthorizationArgs,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        super().__init__(TYPE_TOKEN, name, None, opts)
        agent_client_id = pulumi.Output.from_input(args.agent_client_id)
        azuread.ApplicationIdentifierUri(
            f"{name}-uri",
            application_id=args.application_id,
            identifier_uri=agent_client_id.apply(rules.agent_identifier_uri),
            opts=pulumi.ResourceOptions(parent=self, import_=args.recovered.get(f"{name}-uri")),
        )
        scope = azuread.ApplicationPermissionScope(
            f"{name}-scope",
            application_id=args.application_id,
            scope_id=scope_id(args.agent_display_name),
            value=rules.CLIENT_SCOPE_VALUE,
            type="User",
            admin_consent_display_name=f"Start LKPS sessions with {args.agent_display_name}",
            admin_consent_description=(
                f"Lets a pre-authorized client app start LKPS sessions with the agent "
                f"{args.agent_display_name}."
            ),
            user_consent_display_name=f"Start LKPS sessions with {args.agent_display_name}",
            user_consent_description=(
                f"Lets the app start LKPS sessions with the agent {args.agent_display_name} "
                "for you."
            ),
            opts=pulumi.ResourceOptions(parent=self, import_=args.recovered.get(f"{name}-scope")),
        )
        for client_name, client_id in sorted(args.clients.items()):
            resource_name = f"{name}-{_slug(client_name)}"
            azuread.ApplicationPreAuthorized(
                resource_name,
                application_id=args.application_id,
                authorized_client_id=client_id,
                permission_ids=[scope.scope_id],
                opts=pulumi.ResourceOptions(parent=self, import_=args.recovered.get(resource_name)),
            )
        self.scope = agent_client_id.apply(rules.agent_scope)
        self.pre_authorized_client_ids = pulumi.Output.all(*args.clients.values()).apply(
            lambda ids: sorted(str(i).lower() for i in ids)
        )
        self.register_outputs(
            {"scope": self.scope, "pre_authorized_client_ids": self.pre_authorized_client_ids}
        )


def _slug(label: str) -> str:
    return "".join(c if c.isalnum() else "-" for c in label.lower()).strip("-")
