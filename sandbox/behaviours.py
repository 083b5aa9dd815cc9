"""What the stand-in plugins copy from the real providers, as data, each with its source.

The stand-ins read their type rules from here (which properties they accept, which ones force a
replacement, which are compared as sets, which outputs are unknown during preview, which are
secret, the ID form), and `tests/sandbox/test_standins.py` checks each rule against a running
stand-in. Application and ServicePrincipal take theirs from `sandbox.azuread_schema`. Each named
behaviour says where it comes from and which tests show it: those marked `covers` in
test_standins.py, and those in its `shown_by` (through the engine or the emulator's API).
Versions: the ones the locked SDKs request (`pulumi-plugin.json` of each SDK).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from sandbox import azuread_schema

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


def _bridged_rules(
    resource_type: str,
    schema: tuple[azuread_schema.Attribute, ...],
    id_pattern: re.Pattern[str],
    id_source: str,
    source: str,
) -> TypeRules:
    """The rules of a type whose stand-in keeps its whole state, from its schema table."""
    return TypeRules(
        resource_type=resource_type,
        id_pattern=id_pattern,
        id_source=id_source,
        inputs=frozenset(a.name for a in schema if a.is_input),
        required=frozenset(a.name for a in schema if a.required),
        replace_on=frozenset(a.name for a in schema if a.force_new),
        replace_source=f"{source}: the ForceNew attributes of its schema",
        set_valued=frozenset(a.name for a in schema if a.set_valued),
        computed=frozenset(a.name for a in schema if a.output_only),
        secret_outputs=frozenset(),
        secret_source=SDK_AZUREAD,
    )


APPLICATION: Final = _bridged_rules(
    "azuread:index/application:Application",
    azuread_schema.APPLICATION,
    re.compile(rf"/applications/{_GUID}"),
    f"{TF_AZUREAD}: parse.NewApplicationID, '/applications/<objectId>' since v3",
    azuread_schema.APPLICATION_FILE,
)

SERVICE_PRINCIPAL: Final = _bridged_rules(
    "azuread:index/servicePrincipal:ServicePrincipal",
    azuread_schema.SERVICE_PRINCIPAL,
    re.compile(rf"/servicePrincipals/{_GUID}"),
    f"{TF_AZUREAD_SP}: '/servicePrincipals/<objectId>'",
    azuread_schema.SERVICE_PRINCIPAL_FILE,
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
    inputs=frozenset(
        {"resourceGroupName", "vaultName", "secretName", "properties", "tags", "azureApiVersion"}
    ),
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

TF_AZUREAD_FIC: Final = (
    "hashicorp/terraform-provider-azuread v3.9.0 internal/services/applications/"
    "application_federated_identity_credential_resource.go"
)
TF_AZUREAD_PARSE: Final = (
    "hashicorp/terraform-provider-azuread v3.9.0 internal/services/applications/parse/"
    "credentials.go and object.go"
)

APPLICATION_FEDERATED_IDENTITY_CREDENTIAL: Final = TypeRules(
    resource_type=(
        "azuread:index/applicationFederatedIdentityCredential:ApplicationFederatedIdentityCredential"
    ),
    id_pattern=re.compile(rf"{_GUID}/federatedIdentityCredential/{_GUID}"),
    id_source=(
        f"{TF_AZUREAD_FIC} line 178 (parse.NewCredentialID(objectId, "
        '"federatedIdentityCredential", credentialId)); '
        f"{TF_AZUREAD_PARSE}: CredentialId.String (credentials.go 27-29), "
        "FederatedIdentityCredentialID (44-55), ObjectSubResourceID (object.go 31-59): "
        "'<objectId>/federatedIdentityCredential/<credentialId>', both UUIDs; the SDK's import "
        "example is the same. Not '/applications/...': the TODO on line 177 was never done"
    ),
    inputs=frozenset(
        {"applicationId", "audiences", "description", "displayName", "issuer", "subject"}
    ),
    # Required: application_id (line 49), audiences (57), display_name (69), issuer (77),
    # subject (83); description Optional (89); credential_id Computed (95).
    required=frozenset({"applicationId", "audiences", "displayName", "issuer", "subject"}),
    replace_on=frozenset({"applicationId", "displayName"}),
    replace_source=(
        f"{TF_AZUREAD_FIC}: ForceNew on application_id (line 50) and display_name (line 70) "
        "only; audiences, issuer, subject and description are updated in place (Update, lines "
        "184-213); pulumi-azuread schema.json marks only applicationId and displayName "
        "willReplaceOnChanges"
    ),
    # audiences is a TypeList with MaxItems 1 (lines 56-58): compared in order.
    set_valued=frozenset(),
    computed=frozenset({"credentialId"}),
    secret_outputs=frozenset(),
    secret_source=f"{SDK_AZUREAD}: no secret outputs; nothing Sensitive in the schema",
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
        APPLICATION_FEDERATED_IDENTITY_CREDENTIAL,
    )
}

GET_CLIENT_CONFIG: Final = "azuread:index/getClientConfig:getClientConfig"
GET_VAULT_SECRET: Final = "azure-native:keyvault:getSecret"
GET_APPLICATION: Final = "azuread:index/getApplication:getApplication"
GET_SERVICE_PRINCIPAL: Final = "azuread:index/getServicePrincipal:getServicePrincipal"

# The API version azure-native 3.29.0 writes Microsoft.KeyVault/vaults/secrets with, which its
# Check adds as `azureApiVersion` (SDK keyvault/secret.py: "Uses Azure REST API version
# 2024-11-01").
VAULT_SECRET_API_VERSION: Final = "2024-11-01"


@dataclass(frozen=True)
class Behaviour:
    """A behaviour of a real provider or API that a stand-in or emulator copies; `shown_by`
    names the tests (path::function) that show it through the engine or the emulator's API,
    besides its stand-in test in tests/sandbox/test_standins.py (marked `covers`)."""

    name: str
    source: str
    shown_by: tuple[str, ...] = ()


_PORTAL_TESTS: Final = "tests/engine/test_portal_and_hand_edits.py"
BRIDGE: Final = (
    "pulumi/pulumi-terraform-bridge pkg/tfbridge/provider.go (Check, Diff, Update, Read) and "
    "schema.go (extractInputs, extractSchemaInputs)"
)
RECORDED: Final = (
    "pulumi/pulumi-azuread provider/testdata/recorded/TestProviderUpgrade/sp-password/5.53.5/"
    "grpc.json: the real provider's Check and Create answers"
)


_COPIED_FIRST: Final = (
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
        "vault-secret-create-recovers-soft-deleted",
        f"{AZURE_NATIVE}: pulumi/pulumi-azure-native#4759 (fixing #4282, closed 2026-08-15, "
        "before 3.29.0 of 2026-10-16): Create recovers a soft-deleted secret of the name through "
        "the data plane, then PUTs; Key Vault itself refuses to set a soft-deleted name "
        "(409 Conflict, ObjectIsDeletedButRecoverable)",
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

BEHAVIOURS: Final = (
    *_COPIED_FIRST,
    Behaviour(
        "bridged-check-adds-schema-defaults",
        f"{RECORDED}: `__defaults` [preventDuplicateNames, signInAudience] with false and "
        "AzureADMyOrg; ServicePrincipal accountEnabled true (falsy defaults listed too, as "
        "recorded, though bridge v3.136 drops fresh falsy ones)",
    ),
    Behaviour(
        "bridged-state-has-every-attribute",
        f"{RECORDED}; {azuread_schema.APPLICATION_FILE} Read (lines 1601-1727) and "
        f"{azuread_schema.SERVICE_PRINCIPAL_FILE} Read (lines 601-690): all 35 and 29 attributes",
    ),
    Behaviour(
        "bridged-diff-compares-state-over-every-attribute",
        f"{BRIDGE}: Diff plans the prior state against the config over every attribute (an "
        "Optional attribute left out is a removal, a block of empty values equals none: "
        "applicationDiffSuppress, application_resource.go 845-939); ignoreChanges paths drop "
        "out of the plan and keep their state; the detailed diff names property paths; an "
        "import's inputs are the set attributes other than defaults",
        shown_by=(
            f"{_PORTAL_TESTS}::test_a_registration_made_in_the_portal_keeps_its_settings_when_"
            "adopted",
        ),
    ),
    Behaviour(
        "application-update-writes-whole-object-fields",
        f"{azuread_schema.APPLICATION_FILE} Update, lines 1487-1540: description, display name, "
        "group claims, info URLs, notes, public client, BEAT ID, sign-in audience, SPA, tags, "
        "web and api in every PATCH, from the planned state; app roles, scopes, identifier URIs, "
        f"optional claims and API permissions on change. {azuread_schema.SERVICE_PRINCIPAL_FILE} "
        "Update, lines 548-563: every attribute but owners, always",
        shown_by=(
            f"{_PORTAL_TESTS}::test_a_portal_edit_of_a_team_setting_survives_an_owner_change",
        ),
    ),
    Behaviour(
        "directory-object-delete-fails-when-gone",
        f"{azuread_schema.APPLICATION_FILE} Delete line 1737, "
        f"{azuread_schema.SERVICE_PRINCIPAL_FILE} Delete line 703, "
        "application_password_resource.go 286-288, application_identifier_uri_resource.go "
        "211-232, application_permission_scope_resource.go 350-372: no not-found handling; "
        "the bridge returns the error (provider.go Delete); a refresh drops what is gone",
        shown_by=(
            f"{_PORTAL_TESTS}::test_objects_deleted_by_hand_fail_a_run_without_refresh_and_heal_"
            "with_one",
        ),
    ),
    Behaviour(
        "service-principal-disabled-by-hand-is-drift",
        f"{azuread_schema.SERVICE_PRINCIPAL_FILE} Read line 651 reads accountEnabled, the schema "
        "defaults it to true (line 83): a refresh shows a disabled principal and the update "
        "enables it",
        shown_by=(
            f"{_PORTAL_TESTS}::test_portal_edits_of_the_stacks_settings_are_drift_the_next_run_"
            "repairs",
        ),
    ),
    Behaviour(
        "vault-secret-check-adds-api-version",
        f"{AZURE_NATIVE}: v3 Check adds `azureApiVersion`, the resource's API version; a diff "
        "of old inputs without it takes it from the state",
    ),
    Behaviour(
        "vault-secret-explicit-name-replaced-delete-first",
        f"{AZURE_NATIVE}: provider.go Diff, `deleteBeforeReplace := len(replaces) > 0` unless "
        "`__createBeforeDelete` (only for generated names)",
        shown_by=(
            f"{_PORTAL_TESTS}::test_a_vault_move_writes_the_new_secret_before_the_old_one_goes",
        ),
    ),
    Behaviour(
        "graph-objects-have-their-documented-shape",
        "learn.microsoft.com/graph/api/resources/application and serviceprincipal (v1.0): a new "
        "object's properties and defaults; an undeclared property is refused; the portal's new "
        "registration asks for delegated User.Read",
        shown_by=(
            "tests/sandbox/test_entra_emulator.py::test_applications_have_graphs_shape_and_refuse_"
            "undeclared_properties",
        ),
    ),
    Behaviour(
        "token-needs-an-enabled-service-principal",
        "learn.microsoft.com/entra/identity-platform/reference-error-codes: AADSTS7000229 (no "
        "service principal in the tenant), AADSTS7000112 (application disabled)",
        shown_by=(
            "tests/sandbox/test_entra_emulator.py::test_client_credentials_accept_only_a_live_"
            "secret_of_the_application",
        ),
    ),
    Behaviour(
        "consistency-waits-simulated-on-request",
        "terraform-provider-azuread v3.9.0 internal/helpers/consistency/consistency.go: five "
        "sightings in a row, at least 5 s apart, after a delete and after addPassword "
        "(LKPS_SANDBOX_CONSISTENCY_SECONDS; off by default)",
        shown_by=(f"{_PORTAL_TESTS}::test_a_rotation_day_with_graphs_consistency_waits",),
    ),
    Behaviour(
        "federated-credential-check-validates-like-the-schema",
        f"{TF_AZUREAD_FIC} schema: application_id must parse as '/applications/<id>' "
        "(stable.ValidateApplicationID, line 51), audiences has at most one item (MaxItems 1, "
        "line 58) and none empty (StringIsNotEmpty, line 62), display_name is 1 to 120 "
        "characters (StringLenBetween, line 71); terraform-plugin-sdk v2 helper/schema/schema.go "
        "2108-2114 and helper/validation/strings.go 17-25, 74-84 word the failures; values "
        "still unknown are not validated (schema.go 2103)",
    ),
    Behaviour(
        "federated-credential-create-posts-then-waits",
        f"{TF_AZUREAD_FIC} Create: reads the application first and fails when it is gone "
        "(lines 113-121), POSTs audiences, description (an empty string when unset: "
        "nullable.Value, line 125), issuer, name and subject (lines 123-131; the model adds "
        "'@odata.type', common-types/stable/model_federatedidentitycredential.go 82-84), waits "
        "until Graph shows it five times in a row (lines 146-175), then reads it (line 181); "
        "Graph's refusals (a name or issuer+subject taken, more than 20) fail the create",
    ),
    Behaviour(
        "federated-credential-gone-when-removed-by-hand",
        f"{TF_AZUREAD_FIC} Read, lines 226-232: a 404 from GET /applications/<objectId>/"
        "federatedIdentityCredentials/<id> clears the ID (also when the application itself is "
        "gone); any other failure fails the read; lines 241-248 set every attribute from Graph, "
        "application_id as '/applications/<objectId>' and a null description as ''",
    ),
    Behaviour(
        "federated-credential-update-writes-every-field",
        f"{TF_AZUREAD_FIC} Update, lines 195-213: one PATCH of the credential with id, "
        "audiences, description, issuer, subject and the (immutable) name, all from the "
        "configuration, whichever changed; a credential deleted by hand fails the update "
        "(no not-found handling, line 208)",
    ),
    Behaviour(
        "federated-credential-delete-fails-when-gone",
        f"{TF_AZUREAD_FIC} Delete, lines 266-268: DELETE with no not-found handling (the client "
        "expects 204 or 200 only, vendor go-azure-sdk microsoft-graph/applications/stable/"
        "federatedidentitycredential/method_deletefederatedidentitycredential.go 58-61, and "
        "sets no RetryFunc): a credential or application deleted by hand fails the run until a "
        "refresh drops it; after a delete it waits for the credential to disappear "
        "(lines 270-287, consistency.WaitForDeletion)",
    ),
    Behaviour(
        "federated-credential-import-parses-its-id",
        f"{TF_AZUREAD_FIC} Importer, lines 40-43 (parse.FederatedIdentityCredentialID, "
        f"{TF_AZUREAD_PARSE} credentials.go 44-55, object.go 31-59): an ID other than "
        "'<objectId>/federatedIdentityCredential/<uuid>' fails unwrapped; Read (lines 218-221) "
        "fails on it with 'Parsing federated identity credential with ID'; an import's inputs "
        "are the attributes Read sets",
    ),
)

NOT_EMULATED: Final = (
    "Graph's deleted items (a deleted application stays restorable for 30 days)",
    "Graph permissions and Azure RBAC enforcement: the sandbox reports the rights granted to "
    "its identity (app role assignments, effective vault permissions) but lets it do "
    "everything (403 answers can be switched on per area for tests)",
    "tenant app-management policies (for example a maximum password lifetime)",
    "replication delay between Graph writes and reads (the provider's polling for it can be "
    "simulated: LKPS_SANDBOX_CONSISTENCY_SECONDS)",
    "an application's app roles disabled before they change (the program leaves app roles to "
    "the team)",
    "the portal-only properties the program never reads (keyCredentials, parental controls, "
    "verified publisher, SAML metadata)",
    "every property and resource type the program does not use: they fail loudly",
    "Key Vault networking (firewalls, private endpoints) and purge protection",
)
