"""Microsoft Entra Agent ID objects as Pulumi resources: an agent identity blueprint, its blueprint
principal, agent identities of the blueprint, and app role assignments.

Type tokens: `pulumi-python:dynamic/agentid:Blueprint`, `.../agentid:BlueprintPrincipal`,
`.../agentid:AgentIdentity`, `.../agentid:AppRoleAssignment`. The caller names each resource;
wire them in the order Graph needs (`AgentBlueprintPrincipal(blueprint_app_id=blueprint.app_id)`,
then `AgentIdentity(blueprint_app_id=principal.blueprint_app_id, ...)`, so that the agent identity
waits for the principal; an assignment of a blueprint's app role takes the principal's `id`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any, Final

import pulumi
from pulumi.dynamic import Resource

from components.agent_id.provider import (
    AgentAppRoleAssignmentProvider,
    AgentBlueprintPrincipalProvider,
    AgentIdentityBlueprintProvider,
    AgentIdentityProvider,
)
from components.dynamic_resources import pickle_guard

MODULE: Final = "agentid"
BLUEPRINT_TYPE: Final = f"pulumi-python:dynamic/{MODULE}:Blueprint"
BLUEPRINT_PRINCIPAL_TYPE: Final = f"pulumi-python:dynamic/{MODULE}:BlueprintPrincipal"
AGENT_IDENTITY_TYPE: Final = f"pulumi-python:dynamic/{MODULE}:AgentIdentity"
APP_ROLE_ASSIGNMENT_TYPE: Final = f"pulumi-python:dynamic/{MODULE}:AppRoleAssignment"


class AgentIdentityBlueprint(Resource, module=MODULE, name="Blueprint"):
    """An agent identity blueprint, kept by its `unique_name` (immutable: a change replaces it,
    and with it every agent identity of the blueprint).

    `sponsors` are users' object IDs (at least one); `owners` are directory objects' object IDs
    (optional: without them Graph makes the deploying identity the owner; with them it is an
    owner only if listed, and a deployer limited to `Application.ReadWrite.OwnedBy` must be
    listed). Sponsors and owners added outside the stack are kept; those removed from the
    inputs are removed. `service_management_reference` is the BEAT ID.

    `app_roles` (optional) are the blueprint's application permissions, each a mapping of `id`
    (a GUID), `value`, `display_name` and `description`; a role dropped or changed is disabled
    first, then removed or rewritten. App roles added outside the stack are kept.
    """

    unique_name: pulumi.Output[str]
    display_name: pulumi.Output[str]
    sponsors: pulumi.Output[list[str]]
    owners: pulumi.Output[list[str] | None]
    service_management_reference: pulumi.Output[str]
    app_roles: pulumi.Output[list[dict[str, str]] | None]
    app_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        unique_name: pulumi.Input[str],
        display_name: pulumi.Input[str],
        sponsors: pulumi.Input[Sequence[pulumi.Input[str]]],
        service_management_reference: pulumi.Input[str],
        owners: pulumi.Input[Sequence[pulumi.Input[str]]] | None = None,
        app_roles: pulumi.Input[Sequence[pulumi.Input[Mapping[str, pulumi.Input[str]]]]]
        | None = None,
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "unique_name": unique_name,
            "display_name": display_name,
            "sponsors": sponsors,
            "owners": owners,
            "service_management_reference": service_management_reference,
            "app_roles": app_roles,
            "app_id": None,
        }
        with pickle_guard():
            super().__init__(AgentIdentityBlueprintProvider(), name, props, opts)


class AgentBlueprintPrincipal(Resource, module=MODULE, name="BlueprintPrincipal"):
    """The agent identity blueprint principal of the blueprint whose appId is
    `blueprint_app_id`; one that exists already is adopted."""

    blueprint_app_id: pulumi.Output[str]
    display_name: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        blueprint_app_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {"blueprint_app_id": blueprint_app_id, "display_name": None}
        with pickle_guard():
            super().__init__(AgentBlueprintPrincipalProvider(), name, props, opts)


class AgentIdentity(Resource, module=MODULE, name="AgentIdentity"):
    """An agent identity of the blueprint whose appId is `blueprint_app_id` (its blueprint
    principal must exist), sponsored by the users `sponsors`. A change of blueprint replaces
    it."""

    display_name: pulumi.Output[str]
    blueprint_app_id: pulumi.Output[str]
    sponsors: pulumi.Output[list[str]]

    def __init__(
        self,
        name: str,
        display_name: pulumi.Input[str],
        blueprint_app_id: pulumi.Input[str],
        sponsors: pulumi.Input[Sequence[pulumi.Input[str]]],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "display_name": display_name,
            "blueprint_app_id": blueprint_app_id,
            "sponsors": sponsors,
        }
        with pickle_guard():
            super().__init__(AgentIdentityProvider(), name, props, opts)


class AgentAppRoleAssignment(Resource, module=MODULE, name="AppRoleAssignment"):
    """The service principal `principal_id` (an application's or an agent identity) granted the
    app role `app_role_id` of the resource service principal `resource_principal_id`. Every
    input replaces it; an identical assignment that already exists is adopted. The ID is
    Graph's assignment id."""

    resource_principal_id: pulumi.Output[str]
    app_role_id: pulumi.Output[str]
    principal_id: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        resource_principal_id: pulumi.Input[str],
        app_role_id: pulumi.Input[str],
        principal_id: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "resource_principal_id": resource_principal_id,
            "app_role_id": app_role_id,
            "principal_id": principal_id,
        }
        with pickle_guard():
            super().__init__(AgentAppRoleAssignmentProvider(), name, props, opts)
