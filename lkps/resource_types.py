"""Type tokens of the stack's resources, as the engine, policies and reviews name them."""

from __future__ import annotations

from typing import Final

from lkps import rules

APPLICATION: Final = "azuread:index/application:Application"
# An app registration without owners, notes or tags: held to the Application's rules.
APPLICATION_REGISTRATION: Final = "azuread:index/applicationRegistration:ApplicationRegistration"
SERVICE_PRINCIPAL: Final = "azuread:index/servicePrincipal:ServicePrincipal"
APPLICATION_PASSWORD: Final = rules.PASSWORD_TYPE_NAME
SERVICE_PRINCIPAL_PASSWORD: Final = (
    "azuread:index/servicePrincipalPassword:ServicePrincipalPassword"
)
VAULT_SECRET: Final = "azure-native:keyvault:Secret"
ROUTE_ACCESS: Final = rules.ROUTE_ACCESS_TYPE
STACK: Final = "pulumi:pulumi:Stack"
IDENTIFIER_URI: Final = "azuread:index/applicationIdentifierUri:ApplicationIdentifierUri"
PERMISSION_SCOPE: Final = "azuread:index/applicationPermissionScope:ApplicationPermissionScope"
PRE_AUTHORIZED: Final = "azuread:index/applicationPreAuthorized:ApplicationPreAuthorized"
FEDERATED_CREDENTIAL: Final = (
    "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
)
# Microsoft Entra Agent ID, kept by the stack's dynamic providers (components/agent_id).
AGENT_BLUEPRINT: Final = "pulumi-python:dynamic/agentid:Blueprint"
BLUEPRINT_PRINCIPAL: Final = "pulumi-python:dynamic/agentid:BlueprintPrincipal"
AGENT_IDENTITY: Final = "pulumi-python:dynamic/agentid:AgentIdentity"
APP_ROLE_ASSIGNMENT: Final = "pulumi-python:dynamic/agentid:AppRoleAssignment"
