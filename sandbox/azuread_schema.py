"""The schemas of the azuread resources whose whole state the stand-in keeps, as data.

Every top-level property of the pulumi_azuread 6.11.1 SDK's `Application` (35) and
`ServicePrincipal` (29), with the flags terraform-provider-azuread v3.9.0 gives it in its schema
(`Required`, `Optional`, `Computed`, `ForceNew`, `Default`). `line` is the line of the attribute in
the provider's file (`APPLICATION_FILE`, `SERVICE_PRINCIPAL_FILE`, at the v3.9.0 tag). Nested
defaults are those of the blocks' own schemas. The stand-in derives from these tables what Check
fills in, what Diff compares, what Read returns and which outputs a preview leaves unknown.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal

Kind = Literal["string", "bool", "int", "set", "list", "map", "block", "blocks"]

APPLICATION_FILE: Final = (
    "hashicorp/terraform-provider-azuread v3.9.0 "
    "internal/services/applications/application_resource.go"
)
SERVICE_PRINCIPAL_FILE: Final = (
    "hashicorp/terraform-provider-azuread v3.9.0 "
    "internal/services/serviceprincipals/service_principal_resource.go"
)


@dataclass(frozen=True)
class Attribute:
    """One top-level property: its Pulumi name, shape and schema flags."""

    name: str
    kind: Kind
    line: int
    required: bool = False
    optional: bool = False
    computed: bool = False
    force_new: bool = False
    default: Any = None
    nested_defaults: Mapping[str, Any] = field(default_factory=dict)

    @property
    def is_input(self) -> bool:
        return self.required or self.optional

    @property
    def output_only(self) -> bool:
        return self.computed and not self.is_input

    @property
    def set_valued(self) -> bool:
        return self.kind == "set"


def _optional(name: str, kind: Kind, line: int, **flags: Any) -> Attribute:
    return Attribute(name, kind, line, optional=True, **flags)


def _computed(name: str, kind: Kind, line: int) -> Attribute:
    return Attribute(name, kind, line, computed=True)


APPLICATION: Final = (
    _optional("api", "block", 89, nested_defaults={"requestedAccessTokenVersion": 1}),
    _computed("appRoleIds", "map", 261),
    _optional("appRoles", "blocks", 207),
    _computed("clientId", "string", 643),
    _optional("description", "string", 270),
    _optional("deviceOnlyAuthEnabled", "bool", 277),
    _computed("disabledByMicrosoft", "string", 674),
    Attribute("displayName", "string", 82, required=True),
    _optional("fallbackPublicClientEnabled", "bool", 283),
    _optional("featureTags", "blocks", 289, computed=True),
    _optional("groupMembershipClaims", "set", 324),
    _optional("identifierUris", "set", 334),
    _optional("logoImage", "string", 346),
    _computed("logoUrl", "string", 655),
    _optional("marketingUrl", "string", 353),
    _optional("notes", "string", 359),
    _computed("oauth2PermissionScopeIds", "map", 367),
    _optional("oauth2PostResponseRequired", "bool", 376),
    _computed("objectId", "string", 649),
    _optional("optionalClaims", "block", 382),
    _optional("owners", "set", 396),
    _optional("password", "block", 408),
    _optional("preventDuplicateNames", "bool", 661, default=False),
    _optional("privacyStatementUrl", "string", 454),
    _optional("publicClient", "block", 460),
    _computed("publisherDomain", "string", 668),
    _optional("requiredResourceAccesses", "blocks", 481),
    _optional("serviceManagementReference", "string", 518),
    _optional("signInAudience", "string", 524, default="AzureADMyOrg"),
    _optional("singlePageApplication", "block", 532),
    _optional("supportUrl", "string", 553),
    _optional("tags", "set", 559, computed=True),
    _optional("templateId", "string", 571, computed=True, force_new=True),
    _optional("termsOfServiceUrl", "string", 580),
    _optional("web", "block", 586),
)

SERVICE_PRINCIPAL: Final = (
    _optional("accountEnabled", "bool", 79, default=True),
    _optional("alternativeNames", "set", 86),
    _optional("appRoleAssignmentRequired", "bool", 96),
    _computed("appRoleIds", "map", 243),
    _computed("appRoles", "blocks", 241),
    _computed("applicationTenantId", "string", 252),
    Attribute("clientId", "string", 71, required=True, force_new=True),
    _optional("description", "string", 102),
    _computed("displayName", "string", 258),
    _optional("featureTags", "blocks", 109, computed=True),
    _optional("features", "blocks", 144, computed=True),
    _computed("homepageUrl", "string", 264),
    _optional("loginUrl", "string", 181),
    _computed("logoutUrl", "string", 270),
    _optional("notes", "string", 188),
    _optional("notificationEmailAddresses", "set", 195),
    _computed("oauth2PermissionScopeIds", "map", 278),
    _computed("oauth2PermissionScopes", "blocks", 276),
    _computed("objectId", "string", 287),
    _optional("owners", "set", 205),
    _optional("preferredSingleSignOnMode", "string", 216),
    _computed("redirectUris", "list", 293),
    _computed("samlMetadataUrl", "string", 302),
    _optional("samlSingleSignOn", "block", 308),
    _computed("servicePrincipalNames", "list", 326),
    _computed("signInAudience", "string", 335),
    _optional("tags", "set", 223, computed=True),
    _computed("type", "string", 341),
    _optional("useExisting", "bool", 235),
)


def by_name(schema: tuple[Attribute, ...]) -> dict[str, Attribute]:
    return {attribute.name: attribute for attribute in schema}
