"""Graph objects as terraform-provider-azuread v3.9.0 flattens them into state, and a planned state
as the Graph body its Create and Update send (application_resource.go and
service_principal_resource.go, the flatten*/expand* helpers in applications/applications.go and
serviceprincipals/serviceprincipals.go). Empty Graph values become the empty value of the
attribute's type, as in the provider's recorded Create answer (pulumi/pulumi-azuread
provider/testdata/recorded/TestProviderUpgrade/ad-app)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Graph tags that stand for feature tags (applications.go flattenFeatureTags).
_FEATURE_TAGS = {
    "customSingleSignOn": "WindowsAzureActiveDirectoryCustomSingleSignOnApplication",
    "enterprise": "WindowsAzureActiveDirectoryIntegratedApp",
    "gallery": "WindowsAzureActiveDirectoryGalleryApplicationNonPrimaryV1",
    "hide": "HideApp",
}
_SP_FEATURES = {
    "customSingleSignOnApp": "customSingleSignOn",
    "enterpriseApplication": "enterprise",
    "galleryApplication": "gallery",
}


def _text(value: Any) -> str:
    return "" if value is None else str(value)


def _feature_tags(tags: list[str]) -> dict[str, bool]:
    return {name: tag in tags for name, tag in _FEATURE_TAGS.items()}


def _claims(entries: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    return [
        {
            "name": c.get("name"),
            "source": _text(c.get("source")),
            "essential": bool(c.get("essential")),
            "additionalProperties": list(c.get("additionalProperties") or []),
        }
        for c in entries or []
    ]


def _scope_state(scope: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": scope["id"],
        "adminConsentDescription": _text(scope.get("adminConsentDescription")),
        "adminConsentDisplayName": _text(scope.get("adminConsentDisplayName")),
        "enabled": bool(scope.get("isEnabled", True)),
        "type": _text(scope.get("type")) or "User",
        "userConsentDescription": _text(scope.get("userConsentDescription")),
        "userConsentDisplayName": _text(scope.get("userConsentDisplayName")),
        "value": _text(scope.get("value")),
    }


def _role_state(role: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": role["id"],
        "allowedMemberTypes": list(role.get("allowedMemberTypes") or []),
        "description": _text(role.get("description")),
        "displayName": _text(role.get("displayName")),
        "enabled": bool(role.get("isEnabled", True)),
        "value": _text(role.get("value")),
    }


def application_state(
    app: Mapping[str, Any], owners: list[str], kept: Mapping[str, Any]
) -> dict[str, Any]:
    """Every attribute of the Application resource, from the Graph object; `kept` holds the
    attributes Graph has no property for (`preventDuplicateNames`, `logoImage`, `templateId`,
    `password`), which Read keeps from the prior state."""
    api = app.get("api") or {}
    info = app.get("info") or {}
    web = app.get("web") or {}
    grant = web.get("implicitGrantSettings") or {}
    claims = app.get("optionalClaims") or {}
    scopes = [_scope_state(s) for s in api.get("oauth2PermissionScopes") or []]
    roles = [_role_state(r) for r in app.get("appRoles") or []]
    groups = app.get("groupMembershipClaims")
    tags = list(app.get("tags") or [])
    return {
        "api": {
            "knownClientApplications": list(api.get("knownClientApplications") or []),
            "mappedClaimsEnabled": bool(api.get("acceptMappedClaims")),
            "oauth2PermissionScopes": scopes,
            "requestedAccessTokenVersion": api.get("requestedAccessTokenVersion") or 1,
        },
        "appRoleIds": {r["value"]: r["id"] for r in roles if r["value"]},
        "appRoles": roles,
        "clientId": app["appId"],
        "description": _text(app.get("description")),
        "deviceOnlyAuthEnabled": bool(app.get("isDeviceOnlyAuthSupported")),
        "disabledByMicrosoft": _text(app.get("disabledByMicrosoftStatus")) or "<nil>",
        "displayName": app["displayName"],
        "fallbackPublicClientEnabled": bool(app.get("isFallbackPublicClient")),
        "featureTags": [_feature_tags(tags)],
        "groupMembershipClaims": [g.strip() for g in groups.split(",")] if groups else None,
        "identifierUris": list(app.get("identifierUris") or []) or None,
        "logoImage": _text(kept.get("logoImage")),
        "logoUrl": _text(info.get("logoUrl")),
        "marketingUrl": _text(info.get("marketingUrl")),
        "notes": _text(app.get("notes")),
        "oauth2PermissionScopeIds": {s["value"]: s["id"] for s in scopes if s["value"]},
        "oauth2PostResponseRequired": bool(app.get("oauth2RequirePostResponse")),
        "objectId": app["id"],
        "optionalClaims": {
            "accessTokens": _claims(claims.get("accessToken")),
            "idTokens": _claims(claims.get("idToken")),
            "saml2Tokens": _claims(claims.get("saml2Token")),
        },
        "owners": sorted(owners) or None,
        "password": kept.get("password"),
        "preventDuplicateNames": bool(kept.get("preventDuplicateNames", False)),
        "privacyStatementUrl": _text(info.get("privacyStatementUrl")),
        "publicClient": {
            "redirectUris": list((app.get("publicClient") or {}).get("redirectUris") or [])
        },
        "publisherDomain": app.get("publisherDomain"),
        "requiredResourceAccesses": [
            {
                "resourceAppId": r["resourceAppId"],
                "resourceAccesses": [
                    {"id": a["id"], "type": a["type"]} for a in r.get("resourceAccess") or []
                ],
            }
            for r in app.get("requiredResourceAccess") or []
        ],
        "serviceManagementReference": _text(app.get("serviceManagementReference")),
        "signInAudience": app.get("signInAudience") or "AzureADMyOrg",
        "singlePageApplication": {
            "redirectUris": list((app.get("spa") or {}).get("redirectUris") or [])
        },
        "supportUrl": _text(info.get("supportUrl")),
        "tags": tags,
        "templateId": _text(kept.get("templateId")),
        "termsOfServiceUrl": _text(info.get("termsOfServiceUrl")),
        "web": {
            "homepageUrl": _text(web.get("homePageUrl")),
            "implicitGrant": {
                "accessTokenIssuanceEnabled": bool(grant.get("enableAccessTokenIssuance")),
                "idTokenIssuanceEnabled": bool(grant.get("enableIdTokenIssuance")),
            },
            "logoutUrl": _text(web.get("logoutUrl")),
            "redirectUris": list(web.get("redirectUris") or []),
        },
    }


def _block(value: Any) -> dict[str, Any]:
    return dict(value) if isinstance(value, dict) else {}


def _or_none(value: Any) -> Any:
    return value if value not in ("", None) else None


def _claims_body(entries: Any) -> list[dict[str, Any]]:
    return [
        {
            "name": c.get("name"),
            "source": _or_none(c.get("source")),
            "essential": bool(c.get("essential")),
            "additionalProperties": list(c.get("additionalProperties") or []),
        }
        for c in entries or []
    ]


# Application attribute -> the Graph body it writes.
def application_body(planned: Mapping[str, Any], attribute: str) -> dict[str, Any]:
    """The Graph properties that write one attribute of a planned state."""
    value = planned.get(attribute)
    if attribute in ("displayName", "description", "notes", "serviceManagementReference"):
        return {attribute: _or_none(value)}
    if attribute == "signInAudience":
        return {"signInAudience": value or "AzureADMyOrg"}
    if attribute == "tags":
        return {"tags": list(value or [])}
    if attribute == "identifierUris":
        return {"identifierUris": list(value or [])}
    if attribute == "groupMembershipClaims":
        return {"groupMembershipClaims": ",".join(value) if value else None}
    if attribute == "deviceOnlyAuthEnabled":
        return {"isDeviceOnlyAuthSupported": bool(value)}
    if attribute == "fallbackPublicClientEnabled":
        return {"isFallbackPublicClient": bool(value)}
    if attribute == "oauth2PostResponseRequired":
        return {"oauth2RequirePostResponse": bool(value)}
    if attribute in ("marketingUrl", "privacyStatementUrl", "supportUrl", "termsOfServiceUrl"):
        return {"info": {attribute: _or_none(value)}}
    if attribute == "web":
        web = _block(value)
        grant = _block(web.get("implicitGrant"))
        return {
            "web": {
                "homePageUrl": _or_none(web.get("homepageUrl")),
                "logoutUrl": _or_none(web.get("logoutUrl")),
                "redirectUris": list(web.get("redirectUris") or []),
                "implicitGrantSettings": {
                    "enableAccessTokenIssuance": bool(grant.get("accessTokenIssuanceEnabled")),
                    "enableIdTokenIssuance": bool(grant.get("idTokenIssuanceEnabled")),
                },
            }
        }
    if attribute == "singlePageApplication":
        return {"spa": {"redirectUris": list(_block(value).get("redirectUris") or [])}}
    if attribute == "publicClient":
        return {"publicClient": {"redirectUris": list(_block(value).get("redirectUris") or [])}}
    if attribute == "requiredResourceAccesses":
        return {
            "requiredResourceAccess": [
                {
                    "resourceAppId": r["resourceAppId"],
                    "resourceAccess": [
                        {"id": a["id"], "type": a["type"]} for a in r.get("resourceAccesses") or []
                    ],
                }
                for r in value or []
            ]
        }
    if attribute == "appRoles":
        return {
            "appRoles": [
                {
                    "id": r["id"],
                    "allowedMemberTypes": list(r.get("allowedMemberTypes") or []),
                    "description": r.get("description"),
                    "displayName": r.get("displayName"),
                    "isEnabled": bool(r.get("enabled", True)),
                    "value": _or_none(r.get("value")),
                }
                for r in value or []
            ]
        }
    if attribute == "optionalClaims":
        claims = _block(value)
        if not any(claims.get(k) for k in ("accessTokens", "idTokens", "saml2Tokens")):
            return {"optionalClaims": None}
        return {
            "optionalClaims": {
                "accessToken": _claims_body(claims.get("accessTokens")),
                "idToken": _claims_body(claims.get("idTokens")),
                "saml2Token": _claims_body(claims.get("saml2Tokens")),
            }
        }
    if attribute == "api":
        api = _block(value)
        body: dict[str, Any] = {
            "acceptMappedClaims": bool(api.get("mappedClaimsEnabled")) or None,
            "knownClientApplications": list(api.get("knownClientApplications") or []),
            "requestedAccessTokenVersion": api.get("requestedAccessTokenVersion") or 1,
        }
        if "oauth2PermissionScopes" in api:  # absent: the update leaves them out (line 1519)
            body["oauth2PermissionScopes"] = [
                {
                    "id": s["id"],
                    "adminConsentDescription": s.get("adminConsentDescription"),
                    "adminConsentDisplayName": s.get("adminConsentDisplayName"),
                    "isEnabled": bool(s.get("enabled", True)),
                    "type": s.get("type") or "User",
                    "userConsentDescription": s.get("userConsentDescription"),
                    "userConsentDisplayName": s.get("userConsentDisplayName"),
                    "value": s.get("value"),
                }
                for s in api.get("oauth2PermissionScopes") or []
            ]
        return {"api": body}
    return {}


def service_principal_state(
    sp: Mapping[str, Any], owners: list[str], kept: Mapping[str, Any]
) -> dict[str, Any]:
    """Every attribute of the ServicePrincipal resource, from the Graph object; `kept` holds
    `useExisting`, which Graph has no property for."""
    tags = list(sp.get("tags") or [])
    feature_tags = _feature_tags(tags)
    saml = sp.get("samlSingleSignOnSettings")
    roles = [_role_state(r) for r in sp.get("appRoles") or []]
    scopes = [_scope_state(s) for s in sp.get("oauth2PermissionScopes") or []]
    return {
        "accountEnabled": bool(sp.get("accountEnabled", True)),
        "alternativeNames": list(sp.get("alternativeNames") or []) or None,
        "appRoleAssignmentRequired": bool(sp.get("appRoleAssignmentRequired")),
        "appRoleIds": {r["value"]: r["id"] for r in roles if r["value"]},
        "appRoles": roles,
        "applicationTenantId": sp.get("appOwnerOrganizationId"),
        "clientId": sp["appId"],
        "description": _text(sp.get("description")),
        "displayName": sp.get("displayName"),
        "featureTags": [feature_tags],
        "features": [
            {
                **{name: feature_tags[tag] for name, tag in _SP_FEATURES.items()},
                "visibleToUsers": not feature_tags["hide"],
            }
        ],
        "homepageUrl": _text(sp.get("homepage")),
        "loginUrl": _text(sp.get("loginUrl")),
        "logoutUrl": _text(sp.get("logoutUrl")),
        "notes": _text(sp.get("notes")),
        "notificationEmailAddresses": list(sp.get("notificationEmailAddresses") or []) or None,
        "oauth2PermissionScopeIds": {s["value"]: s["id"] for s in scopes if s["value"]},
        "oauth2PermissionScopes": scopes,
        "objectId": sp["id"],
        "owners": sorted(owners) or None,
        "preferredSingleSignOnMode": _text(sp.get("preferredSingleSignOnMode")),
        "redirectUris": list(sp.get("replyUrls") or []),
        "samlMetadataUrl": _text(sp.get("samlMetadataUrl")),
        "samlSingleSignOn": {"relayState": _text((saml or {}).get("relayState"))},
        # service_principal_resource.go Read, lines 641-649: the names without the client ID.
        "servicePrincipalNames": [
            name for name in sp.get("servicePrincipalNames") or [] if name != sp["appId"]
        ],
        "signInAudience": sp.get("signInAudience"),
        "tags": tags,
        "type": sp.get("servicePrincipalType"),
        "useExisting": kept.get("useExisting"),
    }


def service_principal_body(planned: Mapping[str, Any], attribute: str) -> dict[str, Any]:
    """The Graph properties that write one attribute of a planned service principal."""
    value = planned.get(attribute)
    if attribute in ("description", "notes", "loginUrl", "preferredSingleSignOnMode"):
        return {attribute: _or_none(value)}
    if attribute in ("accountEnabled",):
        return {"accountEnabled": True if value is None else bool(value)}
    if attribute == "appRoleAssignmentRequired":
        return {"appRoleAssignmentRequired": bool(value)}
    if attribute in ("alternativeNames", "notificationEmailAddresses", "tags"):
        return {attribute: list(value or [])}
    if attribute == "samlSingleSignOn":
        block = _block(value)
        return {
            "samlSingleSignOnSettings": {"relayState": _or_none(block.get("relayState"))}
            if block
            else None
        }
    return {}
