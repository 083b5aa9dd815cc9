"""Who owns each property of an app registration and its service principal.

`STACK`: the stack sets it from config on every run; a change made in the portal is drift that
the next run repairs. `RESOURCE`: the stack owns it through a resource of its own (an agent's
identifier URI, scope and pre-authorized clients), so the Application leaves it alone. `TEAM`:
the application's team owns it in the portal; the stack never writes it, an adopted
registration keeps it, and a portal edit survives every later run. Every input property of the
pulumi_azuread 6.11.1 `Application` and `ServicePrincipal` is listed (a test holds the tables
against the SDK's schema); the Application and ServicePrincipal of `AppRegistration` ignore
changes to everything that is not `STACK`'s.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Final, Literal

Owner = Literal["stack", "resource", "team"]
STACK: Final[Owner] = "stack"
RESOURCE: Final[Owner] = "resource"
TEAM: Final[Owner] = "team"

APPLICATION: Final[Mapping[str, tuple[Owner, str]]] = {
    "displayName": (STACK, "<NAME>-NP in np, <NAME> in prod"),
    "description": (STACK, "applications[].description"),
    "owners": (STACK, "applications[].owners and the pinned deployer"),
    "serviceManagementReference": (STACK, "the BEAT ID"),
    "signInAudience": (STACK, "AzureADMyOrg: LKPS takes tokens of the company's tenant only"),
    "notes": (STACK, "says the stack manages the registration and what it owns"),
    "tags": (STACK, "lkps, role, environment, BEAT ID"),
    "featureTags": (STACK, "derived from tags: none"),
    "preventDuplicateNames": (STACK, "true: a second registration of one name is refused"),
    "password": (STACK, "unused: client secrets are ApplicationPassword resources"),
    "templateId": (STACK, "unused: registrations are not made from gallery templates"),
    "identifierUris": (RESOURCE, "an agent's api://<client ID> (ApplicationIdentifierUri)"),
    "api": (RESOURCE, "an agent's scope and pre-authorized clients (their own resources)"),
    "requiredResourceAccesses": (TEAM, "API permissions (the portal adds Graph User.Read)"),
    "web": (TEAM, "web redirect URIs, home page, logout URL, implicit grant"),
    "singlePageApplication": (TEAM, "SPA redirect URIs"),
    "publicClient": (TEAM, "mobile and desktop redirect URIs"),
    "appRoles": (TEAM, "app roles"),
    "optionalClaims": (TEAM, "token claims"),
    "groupMembershipClaims": (TEAM, "group claims"),
    "fallbackPublicClientEnabled": (TEAM, "allow public client flows"),
    "deviceOnlyAuthEnabled": (TEAM, "device-only authentication"),
    "oauth2PostResponseRequired": (TEAM, "POST responses for OAuth 2.0"),
    "logoImage": (TEAM, "branding: logo"),
    "marketingUrl": (TEAM, "branding: marketing URL"),
    "privacyStatementUrl": (TEAM, "branding: privacy statement"),
    "supportUrl": (TEAM, "branding: support URL"),
    "termsOfServiceUrl": (TEAM, "branding: terms of service"),
}

SERVICE_PRINCIPAL: Final[Mapping[str, tuple[Owner, str]]] = {
    "clientId": (STACK, "the registration's client ID"),
    "owners": (STACK, "as the registration's"),
    "accountEnabled": (STACK, "true: a disabled service principal cannot sign in to LKPS"),
    "appRoleAssignmentRequired": (STACK, "false: LKPS grants access by Client Access List"),
    "notes": (STACK, "as the registration's"),
    "tags": (STACK, "as the registration's"),
    "featureTags": (STACK, "derived from tags: none"),
    "features": (STACK, "derived from tags: none"),
    "useExisting": (STACK, "false: an existing service principal is adopted by import"),
    "description": (TEAM, "the enterprise application's description"),
    "alternativeNames": (TEAM, "alternative names"),
    "loginUrl": (TEAM, "sign-on URL"),
    "notificationEmailAddresses": (TEAM, "certificate expiry notifications"),
    "preferredSingleSignOnMode": (TEAM, "single sign-on mode"),
    "samlSingleSignOn": (TEAM, "SAML relay state"),
}


def not_owned(table: Mapping[str, tuple[Owner, str]]) -> list[str]:
    """The properties the stack's resource must leave alone: `ignore_changes`."""
    return sorted(name for name, (owner, _) in table.items() if owner != STACK)
