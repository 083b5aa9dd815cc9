"""Client-to-agent authorization: agents expose `access_as_client` under their own identifier
URI, and pre-authorize only clients of the stack's environment."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from pulumi_policy import PolicyResource, ReportViolation, StackValidationArgs

from lkps import rules
from policies.context import (
    APPLICATION,
    IDENTIFIER_URI,
    PERMISSION_SCOPE,
    PRE_AUTHORIZED,
    STACK,
    Unknowns,
    require_environment,
)


def _from_application(resource: PolicyResource, key: str) -> set[str]:
    return {
        source.urn
        for source in resource.property_dependencies.get(key, [])
        if source.resource_type == APPLICATION
    }


def _declared_clients(resources: list[PolicyResource], unknowns: Unknowns) -> dict[str, str]:
    """Client ID -> environment of every pre-authorized client the stack's outputs declare."""
    declared: dict[str, str] = {}
    for resource in resources:
        if resource.resource_type != STACK:
            continue
        applications: Any = unknowns.get(resource.props, "applications")
        if not isinstance(applications, Mapping):
            continue
        for name in list(applications.keys()):
            app = unknowns.get(applications, name)
            clients = (
                unknowns.get(app, "preAuthorizedClients") if isinstance(app, Mapping) else None
            )
            if not isinstance(clients, Sequence) or isinstance(clients, str):
                continue
            for index in range(len(clients)):
                client = unknowns.get(clients, index)
                if not isinstance(client, Mapping):
                    continue
                client_id = unknowns.get(client, "clientId")
                if isinstance(client_id, str):
                    declared[client_id.lower()] = str(unknowns.get(client, "environment"))
    return declared


def client_authorization(args: StackValidationArgs, report: ReportViolation) -> None:
    """The scope is `access_as_client`, an identifier URI belongs to its agent, and every
    pre-authorized client is an app of this stack or a declared client of its environment."""
    unknowns = Unknowns()
    resources = list(args.resources)
    stack = next((r for r in resources if r.resource_type == STACK), None)
    environment = require_environment(stack.urn, report) if stack else None
    # Client IDs still unknown in the outputs are those of apps this run creates, which the
    # pre-authorizations reference by dependency: nothing to look up for them.
    declared = _declared_clients(resources, Unknowns())
    for resource in resources:
        if resource.resource_type == PERMISSION_SCOPE:
            value = resource.props.get("value")
            if value != rules.CLIENT_SCOPE_VALUE:
                report(
                    f"permission scope '{resource.name}' is {value!r}; LKPS checks "
                    f"'{rules.CLIENT_SCOPE_VALUE}'",
                    resource.urn,
                )
        elif resource.resource_type == IDENTIFIER_URI:
            owner = _from_application(resource, "applicationId")
            if not owner or _from_application(resource, "identifierUri") != owner:
                report(
                    f"identifier URI '{resource.name}' must be api://<client ID> of the agent "
                    "it is set on",
                    resource.urn,
                )
        elif resource.resource_type == PRE_AUTHORIZED:
            if _from_application(resource, "authorizedClientId"):
                continue
            client_id = unknowns.get(resource.props, "authorizedClientId")
            if not isinstance(client_id, str):
                continue
            where = declared.get(client_id.lower())
            if where is None:
                report(
                    f"pre-authorization '{resource.name}': client {client_id} is neither an app "
                    "of this stack nor a declared external client (externalClients)",
                    resource.urn,
                )
            elif environment and where != environment:
                report(
                    f"pre-authorization '{resource.name}': client {client_id} is declared as "
                    f"{where}; a {environment} agent pre-authorizes only {environment} clients",
                    resource.urn,
                )
    unknowns.raise_if_any()
