"""What the stand-in plugins copy from the real providers, as data, each with its source.

The stand-ins read their type rules from here (which properties they accept, which ones force a
replacement, which are compared as sets, which outputs are unknown during preview, which are
secret, the ID form), and `tests/sandbox/test_behaviours.py` checks each rule against a running
stand-in. Versions: the ones the locked SDKs request (`pulumi-plugin.json` of each SDK).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

AZUREAD_VERSION: Final = "6.11.1"
AZURE_NATIVE_VERSION: Final = "3.29.0"

# Sources, named once.
TF_AZUREAD: Final = (
    "hashicorp/terraform-provider-azuread internal/services/applications "
    "(application_resource.go, application_password_resource.go), under pulumi-azuread "
    f"{AZUREAD_VERSION}"
)
TF_AZUREAD_SP: Final = (
    "hashicorp/terraform-provider-azuread internal/services/serviceprincipals/"
    "service_principal_resource.go"
)
AZURE_NATIVE: Final = (
    f"pulumi/pulumi-azure-native {AZURE_NATIVE_VERSION}: keyvault Secret "
    "(provider/pkg/resources/customresources/custom_keyvault.go, SDK keyvault/secret.py)"
)
SDK_AZUREAD: Final = f"pulumi_azuread {AZUREAD_VERSION} SDK (the resource's __init__)"
FACTS: Final = "shared/notes/provider-semantics.md"


@dataclass(frozen=True)
class TypeRules:
    """How the real provider treats one resource type."""

    resource_type: str
    id_pattern: re.Pattern[str]
    id_source: str
    inputs: frozenset[str]
    required: frozenset[str]
    replace_on: frozenset[str]
    replace_source: str
    set_valued: frozenset[str]
    computed: frozenset[str]
    secret_outputs: frozenset[str]
    secret_source: str


_GUID = r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"

APPLICATION: Final = TypeRules(
    resource_type="azuread:index/application:Application",
    id_pattern=re.compile(rf"/applications/{_GUID}"),
    id_source=f"{TF_AZUREAD}: parse.NewApplicationID, '/applications/<objectId>' since v3",
    inputs=frozenset(
        {
            "displayName",
            "description",
            "owners",
            "signInAudience",
            "preventDuplicateNames",
            "serviceManagementReference",
            "notes",
            "tags",
        }
    ),
    required=frozenset({"displayName"}),
    replace_on=frozenset({"templateId"}),
    replace_source=f"{TF_AZUREAD}: only template_id is ForceNew; {FACTS}",
    set_valued=frozenset({"owners", "tags"}),
    computed=frozenset(
        {
            "clientId",
            "objectId",
            "publisherDomain",
            "disabledByMicrosoft",
            "logoUrl",
            "appRoleIds",
            "oauth2PermissionScopeIds",
        }
    ),
    secret_outputs=frozenset(),
    secret_source=SDK_AZUREAD,
)

SERVICE_PRINCIPAL: Final = TypeRules(
    resource_type="azuread:index/servicePrincipal:ServicePrincipal",
    id_pattern=re.compile(rf"/servicePrincipals/{_GUID}"),
    id_source=f"{TF_AZUREAD_SP}: '/servicePrincipals/<objectId>'",
    inputs=frozenset({"clientId", "owners", "appRoleAssignmentRequired", "notes", "tags"}),
    required=frozenset({"clientId"}),
    replace_on=frozenset({"clientId"}),
    replace_source=f"{TF_AZUREAD_SP}: client_id is ForceNew; {FACTS}",
    set_valued=frozenset({"owners", "tags"}),
    computed=frozenset(
        {
            "objectId",
            "displayName",
            "applicationTenantId",
            "servicePrincipalNames",
            "signInAudience",
            "type",
        }
    ),
    secret_outputs=frozenset(),
    secret_source=SDK_AZUREAD,
)

APPLICATION_PASSWORD: Final = TypeRules(
    resource_type="azuread:index/applicationPassword:ApplicationPassword",
    id_pattern=re.compile(rf"{_GUID}/password/{_GUID}"),
    id_source=f"{TF_AZUREAD}: parse.CredentialId, '<applicationObjectId>/password/<keyId>'",
    inputs=frozenset(
        {
            "applicationId",
            "displayName",
            "endDate",
            "endDateRelative",
            "startDate",
            "rotateWhenChanged",
        }
    ),
    required=frozenset({"applicationId"}),
    replace_on=frozenset(
        {
            "applicationId",
            "displayName",
            "endDate",
            "endDateRelative",
            "startDate",
            "rotateWhenChanged",
        }
    ),
    replace_source=f"{TF_AZUREAD}: every argument is ForceNew and there is no Update; {FACTS}",
    set_valued=frozenset(),
    computed=frozenset({"keyId", "value"}),
    secret_outputs=frozenset({"value"}),
    secret_source=f"{SDK_AZUREAD}: additional_secret_outputs=['value']; Sensitive in the schema",
)

VAULT_SECRET: Final = TypeRules(
    resource_type="azure-native:keyvault:Secret",
    id_pattern=re.compile(
        r"/subscriptions/[^/]+/resourceGroups/[^/]+/providers/Microsoft\.KeyVault/vaults/[^/]+"
        r"/secrets/[^/]+"
    ),
    id_source=f"{AZURE_NATIVE}: the ARM resource ID",
    inputs=frozenset({"resourceGroupName", "vaultName", "secretName", "properties", "tags"}),
    required=frozenset({"resourceGroupName", "vaultName", "properties"}),
    replace_on=frozenset({"resourceGroupName", "vaultName", "secretName"}),
    replace_source=f"{AZURE_NATIVE}: path parameters force replacement; {FACTS}",
    set_valued=frozenset(),
    computed=frozenset({"location"}),
    secret_outputs=frozenset(),
    secret_source=(
        f"{AZURE_NATIVE}: no additional secret outputs, and ARM never returns the value, so the "
        "output has none"
    ),
)

TF_AZUREAD_API: Final = (
    "hashicorp/terraform-provider-azuread internal/services/applications "
    "(application_identifier_uri_resource.go, application_permission_scope_resource.go, "
    f"application_pre_authorized_resource.go), and the pulumi_azuread {AZUREAD_VERSION} SDK docs"
)

APPLICATION_IDENTIFIER_URI: Final = TypeRules(
    resource_type="azuread:index/applicationIdentifierUri:ApplicationIdentifierUri",
    id_pattern=re.compile(rf"/applications/{_GUID}/identifierUris/[A-Za-z0-9+/=]+"),
    id_source=f"{TF_AZUREAD_API}: '/applications/<objectId>/identifierUris/<base64 URI>'",
    inputs=frozenset({"applicationId", "identifierUri"}),
    required=frozenset({"applicationId", "identifierUri"}),
    replace_on=frozenset({"applicationId", "identifierUri"}),
    replace_source=f"{TF_AZUREAD_API}: both arguments force a new resource",
    set_valued=frozenset(),
    computed=frozenset(),
    secret_outputs=frozenset(),
    secret_source=SDK_AZUREAD,
)

APPLICATION_PERMISSION_SCOPE: Final = TypeRules(
    resource_type="azuread:index/applicationPermissionScope:ApplicationPermissionScope",
    id_pattern=re.compile(rf"/applications/{_GUID}/permissionScopes/{_GUID}"),
    id_source=f"{TF_AZUREAD_API}: '/applications/<objectId>/permissionScopes/<scopeId>'",
    inputs=frozenset(
        {
            "applicationId",
            "scopeId",
            "value",
            "type",
            "adminConsentDescription",
            "adminConsentDisplayName",
            "userConsentDescription",
            "userConsentDisplayName",
        }
    ),
    required=frozenset(
        {"applicationId", "scopeId", "value", "adminConsentDescription", "adminConsentDisplayName"}
    ),
    replace_on=frozenset({"applicationId", "scopeId"}),
    replace_source=f"{TF_AZUREAD_API}: application_id and scope_id force a new resource",
    set_valued=frozenset(),
    computed=frozenset(),
    secret_outputs=frozenset(),
    secret_source=SDK_AZUREAD,
)

APPLICATION_PRE_AUTHORIZED: Final = TypeRules(
    resource_type="azuread:index/applicationPreAuthorized:ApplicationPreAuthorized",
    id_pattern=re.compile(rf"{_GUID}/preAuthorizedApplication/{_GUID}"),
    id_source=f"{TF_AZUREAD_API}: '<objectId>/preAuthorizedApplication/<clientId>'",
    inputs=frozenset({"applicationId", "authorizedClientId", "permissionIds"}),
    required=frozenset({"applicationId", "authorizedClientId", "permissionIds"}),
    replace_on=frozenset({"applicationId", "authorizedClientId"}),
    replace_source=(
        f"{TF_AZUREAD_API}: application_id and authorized_client_id force a new resource"
    ),
    set_valued=frozenset({"permissionIds"}),
    computed=frozenset(),
    secret_outputs=frozenset(),
    secret_source=SDK_AZUREAD,
)

TYPES: Final = {
    rules.resource_type: rules
    for rules in (
        APPLICATION,
        SERVICE_PRINCIPAL,
        APPLICATION_PASSWORD,
        VAULT_SECRET,
        APPLICATION_IDENTIFIER_URI,
        APPLICATION_PERMISSION_SCOPE,
        APPLICATION_PRE_AUTHORIZED,
    )
}

GET_CLIENT_CONFIG: Final = "azuread:index/getClientConfig:getClientConfig"
GET_VAULT_SECRET: Final = "azure-native:keyvault:getSecret"
GET_APPLICATION: Final = "azuread:index/getApplication:getApplication"
GET_SERVICE_PRINCIPAL: Final = "azuread:index/getServicePrincipal:getServicePrincipal"

# The azure-native API version of Microsoft.KeyVault/vaults/secrets in v3 (unverified: the
# provider's default version for the keyvault module; only reported as `azureApiVersion`).
VAULT_SECRET_API_VERSION: Final = "2024-11-01"


@dataclass(frozen=True)
class Behaviour:
    """A behaviour of a real provider or API that a stand-in or emulator copies."""

    name: str
    source: str


BEHAVIOURS: Final = (
    Behaviour(
        "application-owners-replaced-as-a-set",
        f"{TF_AZUREAD}: on update every owner not listed is removed, owners added by hand too",
    ),
    Behaviour(
        "application-create-caller-owner-removed-unless-listed",
        f"{TF_AZUREAD}: create adds the calling identity as owner, then removes it unless listed",
    ),
    Behaviour(
        "application-duplicate-display-name-refused",
        f"{TF_AZUREAD}: prevent_duplicate_names looks the name up (CustomizeDiff and Create) "
        "and fails when an application of that name exists; skipped while the name is unknown",
    ),
    Behaviour(
        "service-principal-exists-refused",
        f"{TF_AZUREAD_SP}: create fails when a service principal exists for the client ID "
        "unless use_existing is set",
    ),
    Behaviour(
        "password-value-only-at-create",
        f"{TF_AZUREAD}: Graph returns secretText only in the addPassword answer; Read keeps the "
        "value from state",
    ),
    Behaviour(
        "password-gone-when-removed-by-hand",
        f"{TF_AZUREAD}: Read clears the ID when no credential has the key ID",
    ),
    Behaviour(
        "preview-create-returns-unknown-computed-outputs",
        "pulumi/pulumi pkg/resource/deploy/step.go: Create with preview=true; bridged and "
        "azure-native providers answer computed outputs as unknown",
    ),
    Behaviour(
        "vault-secret-create-refuses-existing",
        f"{AZURE_NATIVE}: Create reads the resource first and refuses one that exists "
        "(adoption means import)",
    ),
    Behaviour(
        "vault-secret-every-value-change-is-a-new-version",
        "Key Vault: each Set Secret (and each ARM PUT) creates a new version "
        "(learn.microsoft.com/rest/api/keyvault/secrets/set-secret)",
    ),
    Behaviour(
        "vault-secret-value-never-read-back",
        f"{AZURE_NATIVE}: ARM never returns the value, so value drift is invisible",
    ),
    Behaviour(
        "vault-secret-delete-is-soft",
        f"{AZURE_NATIVE}: delete goes through the data plane and soft-deletes "
        "(learn.microsoft.com/azure/key-vault/general/soft-delete-overview)",
    ),
    Behaviour(
        "vault-secret-recreate-within-retention-conflicts",
        "Key Vault: a soft-deleted name cannot be set again until recovered or purged (409 "
        "Conflict, ObjectIsDeletedButRecoverable); azure-native's recover-on-create "
        "(PR #4759) is not assumed in 3.29.0 (unverified)",
    ),
    Behaviour(
        "application-update-drops-separately-managed-identifier-uris",
        "pulumi/pulumi-azuread#1036: an Application update writes its own (empty) identifier "
        "URIs, losing those of ApplicationIdentifierUri, unless identifierUris is in "
        "ignoreChanges",
    ),
    Behaviour(
        "permission-scope-disabled-before-removal",
        f"{TF_AZUREAD_API}: delete disables the scope, then removes it; Graph refuses to remove an "
        "enabled scope (CannotDeleteOrUpdateEnabledEntitlement)",
    ),
    Behaviour(
        "pre-authorization-needs-an-exposed-scope",
        "Graph apiApplication.preAuthorizedApplications: delegatedPermissionIds must be scopes "
        "the application exposes (the emulator's wording of the refusal is its own)",
    ),
    Behaviour(
        "identifier-uri-unique-in-the-tenant",
        "Graph application.identifierUris: unique in the tenant, 'api://' or a verified domain",
    ),
    Behaviour(
        "import-read-derives-inputs",
        "pulumi/pulumi step.go ImportStep: Read with an ID and no inputs must return inputs "
        "(the Terraform bridge derives them from the read state; azure-native from the ARM "
        "resource, never the secret's value, which ARM does not return)",
    ),
    Behaviour(
        "data-sources-find-exactly-one",
        f"{TF_AZUREAD}: data sources azuread_application and azuread_service_principal look an "
        "object up by object ID, client ID or display name and fail when none matches",
    ),
    Behaviour(
        "vault-get-secret-is-an-arm-read",
        f"{AZURE_NATIVE}: getSecret is an ARM GET: attributes and tags, never the value; a "
        "missing secret fails the invoke",
    ),
    Behaviour(
        "application-delete-removes-its-service-principal",
        "Entra: deleting an application deletes its service principal in the home tenant "
        "(learn.microsoft.com/entra/identity-platform/howto-remove-app)",
    ),
)

NOT_EMULATED: Final = (
    "Graph's deleted items (a deleted application stays restorable for 30 days)",
    "Graph permissions and Azure RBAC enforcement: the sandbox reports the rights granted to "
    "its identity (app role assignments, effective vault permissions) but lets it do "
    "everything (403 answers can be switched on per area for tests)",
    "tenant app-management policies (for example a maximum password lifetime)",
    "replication delay between Graph writes and reads",
    "every property and resource type the program does not use: they fail loudly",
    "azure-native's recover-on-create of soft-deleted secrets (PR #4759)",
    "Key Vault networking (firewalls, private endpoints) and purge protection",
)
