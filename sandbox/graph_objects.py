"""The shapes of Graph v1.0 `application` and `servicePrincipal` objects that the Entra emulator
keeps: each writable property with the value Graph gives a new object, and the PATCH rules.

Sources: learn.microsoft.com/graph/api/resources/application and .../serviceprincipal (v1.0
property tables and the JSON representation, which lists every property of a new object);
a property outside the table is refused as Graph refuses it ("Property '<name>' does not exist
as a declared property or extension property."). A PATCH replaces the named properties; a
complex-typed value (`web`, `api`, `info`, ...) is merged one level down and its collections
are replaced whole (OData 4.01 Protocol, 11.4.3 "Update an Entity").
"""

from __future__ import annotations

import copy
from http import HTTPStatus
from typing import Any, Final

from lkps.rights import MICROSOFT_GRAPH_APP_ID

# The `@odata.id` of a directory object in a `$ref` body (owners).
GRAPH_DIRECTORY_OBJECT: Final = "https://graph.microsoft.com/v1.0/directoryObjects/"
USER_READ_SCOPE_ID: Final = "e1fe6dd8-ba31-4d61-89e7-88639da4683d"

# What the portal's "New registration" sets besides the name: delegated User.Read on Microsoft
# Graph (learn.microsoft.com/entra/identity-platform/quickstart-register-app, "API permissions").
PORTAL_REQUIRED_RESOURCE_ACCESS: Final = [
    {
        "resourceAppId": MICROSOFT_GRAPH_APP_ID,
        "resourceAccess": [{"id": USER_READ_SCOPE_ID, "type": "Scope"}],
    }
]

APPLICATION_DEFAULTS: Final[dict[str, Any]] = {
    "api": {
        "acceptMappedClaims": None,
        "knownClientApplications": [],
        "oauth2PermissionScopes": [],
        "preAuthorizedApplications": [],
        "requestedAccessTokenVersion": None,
    },
    "appRoles": [],
    "defaultRedirectUri": None,
    "description": None,
    "disabledByMicrosoftStatus": None,
    "groupMembershipClaims": None,
    "identifierUris": [],
    "info": {
        "logoUrl": None,
        "marketingUrl": None,
        "privacyStatementUrl": None,
        "supportUrl": None,
        "termsOfServiceUrl": None,
    },
    "isDeviceOnlyAuthSupported": None,
    "isFallbackPublicClient": None,
    "keyCredentials": [],
    "notes": None,
    "oauth2RequirePostResponse": False,
    "optionalClaims": None,
    "parentalControlSettings": {"countriesBlockedForMinors": [], "legalAgeGroupRule": "Allow"},
    "publicClient": {"redirectUris": []},
    "requiredResourceAccess": [],
    "serviceManagementReference": None,
    "signInAudience": "AzureADMyOrg",
    "spa": {"redirectUris": []},
    "tags": [],
    "web": {
        "homePageUrl": None,
        "logoutUrl": None,
        "redirectUris": [],
        "implicitGrantSettings": {
            "enableAccessTokenIssuance": False,
            "enableIdTokenIssuance": False,
        },
    },
}
APPLICATION_WRITABLE: Final = frozenset({*APPLICATION_DEFAULTS, "displayName"}) - {
    "disabledByMicrosoftStatus",
    "keyCredentials",
}

SERVICE_PRINCIPAL_DEFAULTS: Final[dict[str, Any]] = {
    "accountEnabled": True,
    "alternativeNames": [],
    "appRoleAssignmentRequired": False,
    "description": None,
    "homepage": None,
    "loginUrl": None,
    "logoutUrl": None,
    "notes": None,
    "notificationEmailAddresses": [],
    "preferredSingleSignOnMode": None,
    "replyUrls": [],
    "samlMetadataUrl": None,
    "samlSingleSignOnSettings": None,
    "tags": [],
}
SERVICE_PRINCIPAL_WRITABLE: Final = frozenset({*SERVICE_PRINCIPAL_DEFAULTS, "appId"})

READ_ONLY: Final = frozenset(
    {"id", "appId", "passwordCredentials", "owners", "publisherDomain", "uniqueName"}
)

# Microsoft Entra Agent ID (Graph v1.0). Each kind is a type derived from application or
# servicePrincipal, addressed by a type-cast segment (`/applications/microsoft.graph.
# agentIdentityBlueprint`, `/servicePrincipals/microsoft.graph.agentIdentity`, ...) and shown with
# its `@odata.type` (learn.microsoft.com/graph/api/resources/agentidentityblueprint: "Inherits
# from application"; .../agentidentityblueprintprincipal and .../agentidentity: "Inherits from
# servicePrincipal").
BLUEPRINT: Final = "microsoft.graph.agentIdentityBlueprint"
BLUEPRINT_PRINCIPAL: Final = "microsoft.graph.agentIdentityBlueprintPrincipal"
AGENT_IDENTITY: Final = "microsoft.graph.agentIdentity"
AGENT_CASTS: Final = {
    "applications": frozenset({BLUEPRINT}),
    "servicePrincipals": frozenset({BLUEPRINT_PRINCIPAL, AGENT_IDENTITY}),
}
ODATA_TYPE: Final = "@odata.type"
# The writable properties of an agent identity blueprint: the agentIdentityBlueprint resource's
# property table ("While this resource inherits from application, some properties are not
# applicable and return null or default values. These properties are excluded from the table
# below."), less its read-only ones. An application property outside it is refused with
# `AgentBlueprint_IncompatibleProperty` ("A property specified in the request is incompatible
# with agent identity blueprints and can't be set.", learn.microsoft.com/entra/agent-id/
# identity-platform/error-codes).
BLUEPRINT_WRITABLE: Final = frozenset(
    {
        "api",
        "appRoles",
        "description",
        "displayName",
        "groupMembershipClaims",
        "identifierUris",
        "info",
        "optionalClaims",
        "requiredResourceAccess",
        "serviceManagementReference",
        "signInAudience",
        "tags",
        "web",
    }
)
# An agent identity's writable properties: those of the agentIdentity resource's table that are
# not read-only (accountEnabled, displayName, tags); agentIdentityBlueprintId is given on create
# only. A servicePrincipal property outside them is refused with
# `AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty` ("A property specified in the
# request is incompatible with agent identity and can't be set.", error-codes page). Whether
# Graph lets a PATCH change agentIdentityBlueprintId is not documented: refused here.
AGENT_IDENTITY_WRITABLE: Final = frozenset({"accountEnabled", "displayName", "tags"})


class GraphShapeError(Exception):
    """A body Graph would refuse: (status, code, message)."""

    def __init__(self, status: HTTPStatus, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def refuse_unknown(body: dict[str, Any], writable: frozenset[str]) -> None:
    """Graph's refusal of a read-only or undeclared property."""
    for key in body:
        if key in READ_ONLY - {"appId"} or (key == "appId" and "appId" not in writable):
            raise GraphShapeError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                f"Property '{key}' is read-only and cannot be set.",
            )
        if key not in writable and key != "owners@odata.bind":
            raise GraphShapeError(
                HTTPStatus.BAD_REQUEST,
                "Request_BadRequest",
                f"Property '{key}' does not exist as a declared property or extension property.",
            )


def new_application(body: dict[str, Any]) -> dict[str, Any]:
    """A new application's writable properties: Graph's defaults, then the body's."""
    refuse_unknown(body, APPLICATION_WRITABLE)
    made = copy.deepcopy(APPLICATION_DEFAULTS)
    patch(made, {k: v for k, v in body.items() if k != "owners@odata.bind"}, APPLICATION_WRITABLE)
    return made


def new_service_principal(body: dict[str, Any]) -> dict[str, Any]:
    refuse_unknown(body, SERVICE_PRINCIPAL_WRITABLE)
    made = copy.deepcopy(SERVICE_PRINCIPAL_DEFAULTS)
    patch(
        made,
        {k: v for k, v in body.items() if k not in ("owners@odata.bind", "appId")},
        SERVICE_PRINCIPAL_WRITABLE,
    )
    return made


def patch(obj: dict[str, Any], body: dict[str, Any], writable: frozenset[str]) -> None:
    """Applies a PATCH body: complex values merged one level down, everything else replaced."""
    refuse_unknown(body, writable - {"appId"})
    for key, value in body.items():
        current = obj.get(key)
        if isinstance(current, dict) and isinstance(value, dict):
            obj[key] = {**current, **copy.deepcopy(value)}
        else:
            obj[key] = copy.deepcopy(value)
