"""A local Entra ID, Key Vault and ARM: the subset the stack and its tools use, over real HTTP.

Paths (all on 127.0.0.1, over TLS with the sandbox's certificate, see `sandbox.tls`):
- `/graph/v1.0/...`: Microsoft Graph v1.0 applications and service principals (by ID, or by the
  alternate key `(appId='…')`), their owners, `addPassword` and `removePassword`
  (learn.microsoft.com/graph/api/resources/application), an application's
  `federatedIdentityCredentials` (list, create, get/update/delete by ID or name; also through
  `$expand`), with `$filter` (`eq`, `startswith`), `$select`, `$top` and `$count`
  (learn.microsoft.com/graph/query-parameters); and Microsoft Entra Agent ID: agent identity
  blueprints (`applications/microsoft.graph.agentIdentityBlueprint`: create, list, and the upsert
  `PATCH applications(uniqueName='…')/microsoft.graph.agentIdentityBlueprint`), their blueprint
  principals and agent identities (`servicePrincipals/microsoft.graph.agentIdentityBlueprint
  Principal` and `.../microsoft.graph.agentIdentity`: create, list), read, updated and deleted as
  any application or service principal, and their `sponsors` (learn.microsoft.com/graph/api/
  resources/agentidentityblueprint, .../agentidentityblueprintprincipal, .../agentidentity; the
  rules are in `sandbox.entra_store`), added and removed through `{cast}/sponsors/$ref`; a
  blueprint's `appRoles`; app role assignments of a resource service principal
  (`servicePrincipals/{id}/appRoleAssignedTo`: create, list, delete; also listed from the
  assigned principal's `appRoleAssignments`). Not emulated for Agent ID: the token exchange of
  an agent identity (the two-stage exchange through its blueprint's credential,
  learn.microsoft.com/entra/agent-id/identity-platform/agent-autonomous-app-oauth-flow), agent
  users, inheritable permissions, soft delete and the cascade deletion of a blueprint's agent
  identities, app roles in tokens, and Graph's replication delay right after a create;
- `/keyvault/<vault>/...`: Key Vault secrets data plane 7.x: set, get (an empty version is the
  latest), versions, list, update, delete with soft delete, deleted secrets and their list,
  recover and purge (learn.microsoft.com/rest/api/keyvault/secrets), behind Key Vault's
  challenge authentication;
- `/arm/subscriptions/...`: ARM `Microsoft.KeyVault/vaults/secrets` PUT and GET, which is how
  azure-native writes vault secrets (learn.microsoft.com/rest/api/keyvault/keyvault/secrets);
- `/msi/token`: an App Service style managed-identity endpoint (`IDENTITY_ENDPOINT`,
  `IDENTITY_HEADER`), which azure-identity's `DefaultAzureCredential` uses;
- `/<tenant>/oauth2/v2.0/token`: the client credentials flow, which accepts an application's
  client ID and one of its live client secrets, or a JWT from an external issuer one of its
  federated identity credentials trusts (workload identity federation; the issuer's OIDC
  metadata and keys are read from the sandbox's local stand-in, `sandbox.workload_issuer`,
  never from the internet), for a resource the tenant knows;
- `/<tenant>/v2.0/.well-known/openid-configuration` and `/<tenant>/discovery/v2.0/keys`: the
  public OIDC metadata and signing keys that MSAL and resource servers read without a token.

Tokens are JWTs signed by the emulator's key (`sandbox.tokens`); each area accepts only tokens
for its own resource.

Lists come in pages, as Graph's and Key Vault's do: at most `$top` (Graph) or `maxresults` (Key
Vault) items, with an absolute URL to the next page (`@odata.nextLink`, `nextLink`).

The state is a SQLite file (`sandbox.entra_file`), each change saved in one transaction, so it
outlives the process.
Every Graph, Key Vault and ARM call needs a bearer token issued by this emulator. Error bodies
follow the documented shapes (`{"error": {"code", "message"}}`, with Graph's `innerError`);
codes the documentation does not give are marked as this emulator's own.
"""

from __future__ import annotations

import base64
import binascii
import json
import re
import secrets
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any, Final, TypeAlias
from urllib.parse import parse_qs, quote, unquote, urlencode, urlsplit

from lkps import rights
from sandbox import graph_objects
from sandbox.entra_store import ASSIGNED_TO, FEDERATED, EntraStore, Principal
from sandbox.federated_sign_in import AssertionCheck, IssuerResolver, TokenRefusalError, aad_error
from sandbox.loopback import ApiError, LoopbackHandler, LoopbackServer, bound_handler
from sandbox.store_base import now_iso
from sandbox.tls import SandboxCertificate
from sandbox.tokens import TokenSigner

GRAPH_PREFIX: Final = "/graph/v1.0"
VAULT_PREFIX: Final = "/keyvault"
ARM_PREFIX: Final = "/arm"
TOKEN_PATH: Final = "/msi/token"
IDENTITY_HEADER: Final = "X-IDENTITY-HEADER"
TOKEN_LIFETIME_SECONDS: Final = 3600
SKIPTOKEN: Final = "$skiptoken"
GRAPH_RESOURCE: Final = "https://graph.microsoft.com"
VAULT_RESOURCE: Final = "https://vault.azure.net"
ARM_RESOURCE: Final = "https://management.azure.com"
# The audiences each area accepts: the resource URI, and for ARM its classic one, as Azure's
# services accept the forms their resource principal lists.
AUDIENCES: Final = {
    "graph": (GRAPH_RESOURCE, f"{GRAPH_RESOURCE}/", rights.MICROSOFT_GRAPH_APP_ID),
    "keyvault": (VAULT_RESOURCE, f"{VAULT_RESOURCE}/"),
    "arm": (ARM_RESOURCE, f"{ARM_RESOURCE}/", "https://management.core.windows.net/"),
}
# Key Vault's first answer to a request without a valid token: 401 with the challenge that
# tells the client where to get one and for which resource
# (learn.microsoft.com/azure/key-vault/general/authentication-requests-and-responses).
VAULT_CHALLENGE: Final = (
    'Bearer authorization="https://login.microsoftonline.com/{tenant}", resource="{resource}"'
)
_ALTERNATE_KEY: Final = re.compile(
    r"^(applications|servicePrincipals)\((appId|uniqueName)='([^']*)'\)$"
)
# The client assertion type of a certificate or federated credential (learn.microsoft.com/entra/
# identity-platform/v2-oauth2-client-creds-grant-flow, second and third cases).
JWT_BEARER: Final = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


@dataclass(frozen=True)
class Paging:
    """How a service pages a list: the query parameter that sets the page size, its default and
    maximum, the field holding the next page's URL, whether the last page says `null` there, and
    the service's error code for a bad paging parameter."""

    size_parameter: str
    default_size: int
    max_size: int
    next_field: str
    null_on_last_page: bool
    error_code: str


# Graph: server-side pages of 100 directory objects unless `$top` (1 to 999) says otherwise, and an
# `@odata.nextLink` holding an opaque `$skiptoken` while more remain; the last page has no
# `@odata.nextLink` (learn.microsoft.com/graph/paging, learn.microsoft.com/graph/query-parameters).
# How Graph answers a `$top` out of range is not documented: this emulator refuses it. Its error
# code is the emulator's own, as is the one for an invalid skip token (a report of Graph's answer,
# microsoftgraph/microsoft-graph-docs#8612, shows the message "Invalid Skip Token" and no code).
GRAPH_PAGING: Final = Paging("$top", 100, 999, "@odata.nextLink", False, "Request_BadRequest")
# Key Vault: `maxresults` from 1 to 25, 25 when not given; `nextLink` is the next page's URL and
# null on the last page (learn.microsoft.com/rest/api/keyvault/secrets/get-secret-versions). The
# answer to a bad `maxresults` or `$skiptoken` is not documented; the code is the emulator's own.
VAULT_PAGING: Final = Paging("maxresults", 25, 25, "nextLink", True, "BadParameter")


class EntraEmulator(LoopbackServer):
    """Serves an `EntraStore` on 127.0.0.1 over TLS until `stop()`; use as a context manager.

    `apis` are the resource URIs of APIs registered in the tenant outside the stack (LKPS,
    Ocelot), for which a token may be asked; Graph, Key Vault and ARM are always known, and so
    is the identifier URI of any application with a service principal. Tokens are JWTs signed
    by a key made at start (`sandbox.tokens`), so each run of the sandbox asks for new ones.

    `issuers` tells where the external issuers of federated identity credentials are served on
    this machine (`sandbox.workload_issuer`): the token endpoint reads an issuer's OIDC metadata
    and keys there, over HTTPS on loopback with the sandbox's CA, and nowhere else.
    """

    def __init__(
        self,
        store: EntraStore,
        tenant_id: str,
        certificate: SandboxCertificate,
        apis: Iterable[str] = (),
        port: int = 0,
        identity: str | None = None,
        issuers: IssuerResolver | None = None,
    ) -> None:
        self.store = store
        self.assertions = AssertionCheck(store, issuers, certificate.ca_file)
        self.tenant_id = tenant_id
        self.deployer = store.ensure_deployer(tenant_id, identity)
        self.identity_header = secrets.token_hex(16)
        self.signer = TokenSigner(tenant_id)
        self.apis = frozenset(api.rstrip("/").lower() for api in apis)
        self.forbidden: set[str] = set()
        super().__init__(bound_handler(_Handler, self), port, certificate.server_context())

    @property
    def url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    @property
    def identity_endpoint(self) -> str:
        return f"{self.url}{TOKEN_PATH}"

    def knows_resource(self, resource: str) -> bool:
        wanted = resource.rstrip("/").lower()
        if wanted in self.apis or any(
            wanted == audience.rstrip("/").lower()
            for audiences in AUDIENCES.values()
            for audience in audiences
        ):
            return True
        return any(
            wanted == str(uri).rstrip("/").lower()
            and self.store.list_objects("servicePrincipals", "appId", app["appId"])
            for app in self.store.list_objects("applications", None, None)
            for uri in app.get("identifierUris") or []
        )

    def issue_token(self, principal: Principal, resource: str) -> tuple[str, int]:
        """A token for `resource`; Graph tokens carry the Graph app roles granted."""
        roles: tuple[str, ...] = ()
        if resource.rstrip("/") in {a.rstrip("/") for a in AUDIENCES["graph"]}:
            roles = tuple(self.store.app_roles(principal.object_id))
        return self.signer.issue(
            principal.object_id, principal.client_id, resource, TOKEN_LIFETIME_SECONDS, roles
        )

    def claims(self, authorization: str | None, *audiences: str) -> dict[str, Any] | None:
        """The claims of a valid bearer token for one of `audiences`, or None."""
        if not authorization or not authorization.startswith("Bearer "):
            return None
        return self.signer.claims(authorization.removeprefix("Bearer "), audiences)

    def holder(self, authorization: str | None, *audiences: str) -> Principal | None:
        """Who holds a valid bearer token for one of `audiences`, or None."""
        claims = self.claims(authorization, *audiences)
        if claims is None:
            return None
        return Principal(str(claims["oid"]), str(claims["appid"]), str(claims["tid"]))

    def stop(self) -> None:
        super().stop()
        self.assertions.close()

    def check_client_assertion(self, client_id: str, assertion: str) -> dict[str, Any]:
        """The federated identity credential of `client_id` that `assertion` satisfies, or a
        TokenRefusalError with Entra's code (`sandbox.federated_sign_in`)."""
        return self.assertions.check(client_id, assertion)


class _Handler(LoopbackHandler):
    emulator: EntraEmulator
    server_version = "SandboxEntra/1.0"

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_PUT(self) -> None:
        self._dispatch("PUT")

    def do_PATCH(self) -> None:
        self._dispatch("PATCH")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")

    def _dispatch(self, method: str) -> None:
        url = urlsplit(self.path)
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw) if raw.strip() else {}
        except ValueError:
            body = parse_qs(raw.decode())
        headers: dict[str, str] = {}
        try:
            query = parse_qs(url.query, keep_blank_values=True)
            status, payload = self._route(method, url.path, query, body)
        except ApiError as exc:
            status, headers = exc.status, exc.headers
            error: dict[str, Any] = {"code": exc.code, "message": exc.message}
            if url.path.startswith(GRAPH_PREFIX + "/"):
                # Graph's error resource (learn.microsoft.com/graph/errors).
                error["innerError"] = {
                    "date": now_iso(),
                    "request-id": str(uuid.uuid4()),
                    "client-request-id": self.headers.get("client-request-id") or str(uuid.uuid4()),
                }
            payload = {"error": error}
        self.send_json(status, payload, headers)

    def _route(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[HTTPStatus, Any]:
        emulator = self.emulator
        if path == TOKEN_PATH:
            return self._managed_identity_token(query)
        login = self._login(method, path, body)
        if login is not None:
            return login
        area = path.split("/")[1] if path.count("/") >= 1 else ""
        if area not in AUDIENCES:
            raise ApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {path}")
        caller = emulator.holder(self.headers.get("Authorization"), *AUDIENCES[area])
        if caller is None:
            raise _unauthenticated(area, emulator.tenant_id)
        if area in emulator.forbidden:
            raise ApiError(
                HTTPStatus.FORBIDDEN,
                "Authorization_RequestDenied",
                "Insufficient privileges to complete the operation.",
            )
        if path.startswith(GRAPH_PREFIX + "/"):
            return self._graph(method, path.removeprefix(GRAPH_PREFIX + "/"), query, body, caller)
        if path.startswith(VAULT_PREFIX + "/"):
            return self._vault(method, path.removeprefix(VAULT_PREFIX + "/"), query, body)
        if path.startswith(ARM_PREFIX + "/"):
            return self._arm(method, path.removeprefix(ARM_PREFIX + "/"), body, caller)
        raise ApiError(HTTPStatus.NOT_FOUND, "NotFound", f"no such path {path}")

    def _login(self, method: str, path: str, body: Any) -> tuple[HTTPStatus, Any] | None:
        """The public endpoints of the tenant's authority, which need no token: the OIDC
        metadata (learn.microsoft.com/entra/identity-platform/v2-protocols-oidc#find-your-apps-
        openid-configuration-document-uri), its signing keys and the token endpoint. None for
        any other path."""
        parts = path.strip("/").split("/")
        endpoint = "/".join(parts[1:])
        if endpoint not in (
            "v2.0/.well-known/openid-configuration",
            "discovery/v2.0/keys",
            "oauth2/v2.0/token",
        ):
            return None
        tenant = self.emulator.tenant_id
        if parts[0].lower() != tenant.lower():
            # AADSTS90002 InvalidTenantName (learn.microsoft.com/entra/identity-platform/
            # reference-error-codes); only the sandbox's own tenant is served.
            return HTTPStatus.BAD_REQUEST, aad_error(
                "invalid_tenant",
                90002,
                f"Tenant '{parts[0]}' not found. Check to make sure you have the correct tenant "
                "ID and are signing into the correct cloud.",
            )
        if endpoint == "oauth2/v2.0/token" and method == "POST":
            return self._client_credentials(body)
        if method != "GET":
            raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", method)
        if endpoint == "discovery/v2.0/keys":
            return HTTPStatus.OK, self.emulator.signer.jwks()
        authority = f"{self.emulator.url}/{tenant}"
        return HTTPStatus.OK, {
            "token_endpoint": f"{authority}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": [
                "client_secret_post",
                "private_key_jwt",
                "client_secret_basic",
            ],
            "jwks_uri": f"{authority}/discovery/v2.0/keys",
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "response_types_supported": ["code", "id_token", "code id_token", "id_token token"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "issuer": f"https://login.microsoftonline.com/{tenant}/v2.0",
            "request_uri_parameter_supported": False,
            "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
            "authorization_endpoint": f"{authority}/oauth2/v2.0/authorize",
            "device_authorization_endpoint": f"{authority}/oauth2/v2.0/devicecode",
            "http_logout_supported": True,
            "frontchannel_logout_supported": True,
            "end_session_endpoint": f"{authority}/oauth2/v2.0/logout",
            "claims_supported": ["sub", "iss", "aud", "exp", "iat", "nbf", "oid", "tid", "ver"],
            "tenant_region_scope": "EU",
            "cloud_instance_name": "microsoftonline.com",
            "cloud_graph_host_name": "graph.windows.net",
            "msgraph_host": "graph.microsoft.com",
        }

    def _unknown_resource(self, resource: str) -> tuple[HTTPStatus, Any]:
        # AADSTS500011 InvalidResourceServicePrincipalNotFound, invalid_resource
        # (learn.microsoft.com/entra/identity-platform/reference-error-codes).
        return HTTPStatus.BAD_REQUEST, aad_error(
            "invalid_resource",
            500011,
            f"The resource principal named {resource} was not found in the tenant named "
            f"{self.emulator.tenant_id}. This can happen if the application has not been "
            "installed by the administrator of the tenant or consented to by any user in the "
            "tenant. You might have sent your authentication request to the wrong tenant.",
        )

    def _managed_identity_token(self, query: dict[str, list[str]]) -> tuple[HTTPStatus, Any]:
        emulator = self.emulator
        if self.headers.get(IDENTITY_HEADER) != emulator.identity_header:
            raise ApiError(HTTPStatus.UNAUTHORIZED, "Unauthorized", "invalid identity header")
        resource = query.get("resource", [""])[0]
        if not emulator.knows_resource(resource):
            # What App Service answers for an unknown resource is not documented; the emulator
            # gives Entra's own answer.
            return self._unknown_resource(resource)
        token, expires_on = emulator.issue_token(emulator.deployer, resource)
        return HTTPStatus.OK, {
            "access_token": token,
            "expires_on": str(expires_on),
            "resource": resource,
            "token_type": "Bearer",
            "client_id": emulator.deployer.client_id,
        }

    def _client_credentials(self, form: Any) -> tuple[HTTPStatus, Any]:
        def field(name: str) -> str:
            values = form.get(name) if isinstance(form, dict) else None
            return str(values[0]) if isinstance(values, list) and values else ""

        if field("grant_type") != "client_credentials":
            # AADSTS70003 UnsupportedGrantType: only the client credentials flow is served.
            return HTTPStatus.BAD_REQUEST, aad_error(
                "unsupported_grant_type",
                70003,
                "The app requested an unsupported grant type.",
            )
        client_id, secret, scope = field("client_id"), field("client_secret"), field("scope")
        assertion_type, assertion = field("client_assertion_type"), field("client_assertion")
        apps = self.emulator.store.list_objects("applications", "appId", client_id)
        if not apps:
            return HTTPStatus.BAD_REQUEST, aad_error(
                "unauthorized_client",
                700016,
                f"Application with identifier '{client_id}' was not found in the directory.",
            )
        if secret and (assertion or assertion_type):
            # A secret and an assertion together: Entra's answer is not documented. The
            # emulator refuses with AADSTS90023 InvalidRequest ("The authentication service
            # request isn't valid", reference-error-codes) rather than pick one credential.
            return HTTPStatus.BAD_REQUEST, aad_error(
                "invalid_request",
                90023,
                "The request carries both 'client_secret' and 'client_assertion'; send one "
                "client credential.",
            )
        if not (secret or assertion):
            # AADSTS7000218 (reference-error-codes); its HTTP status is not documented.
            return HTTPStatus.UNAUTHORIZED, aad_error(
                "invalid_client",
                7000218,
                "The request body must contain the following parameter: 'client_assertion' or "
                "'client_secret'.",
            )
        refused = (
            self._client_assertion(client_id, assertion_type, assertion)
            if assertion
            else self._client_secret(client_id, secret)
        )
        if refused is not None:
            return refused
        return self._app_only_token(client_id, apps[0], scope)

    def _client_assertion(
        self, client_id: str, assertion_type: str, assertion: str
    ) -> tuple[HTTPStatus, Any] | None:
        """Workload identity federation: `client_assertion` is a JWT from an external issuer
        that one of the application's federated identity credentials trusts (learn.microsoft.com/
        entra/identity-platform/v2-oauth2-client-creds-grant-flow, "Third case: Access token
        request with a federated credential": "Everything in the request is the same as the
        certificate-based flow, with the crucial exception of the source of the
        client_assertion"). None when it is accepted. Certificate credentials are not served:
        an assertion an application signs itself finds no federated credential."""
        if assertion_type != JWT_BEARER:
            # "The value must be set to urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
            # (same page, second case). Entra's code for another value is not documented: the
            # generic AADSTS90023 InvalidRequest.
            return HTTPStatus.BAD_REQUEST, aad_error(
                "invalid_request",
                90023,
                f"client_assertion_type must be '{JWT_BEARER}', not '{assertion_type}'.",
            )
        try:
            self.emulator.check_client_assertion(client_id, assertion)
        except TokenRefusalError as refusal:
            return refusal.status, refusal.body
        return None

    def _client_secret(self, client_id: str, secret: str) -> tuple[HTTPStatus, Any] | None:
        """A client secret: one of the application's live passwords. None when it is one."""
        key_id, standing = self.emulator.store.credential_standing(client_id, secret)
        if standing == "expired":
            # AADSTS7000222 InvalidClientSecretExpiredKeysProvided, invalid_client, HTTP 401
            # (learn.microsoft.com/entra/identity-platform/reference-error-codes).
            return HTTPStatus.UNAUTHORIZED, aad_error(
                "invalid_client",
                7000222,
                "The provided client secret keys are expired. Create new keys for your app, or "
                "consider using certificate credentials for added security.",
            )
        if key_id is None:
            # AADSTS7000215, invalid client secret, for a value matching no password. The error
            # codes reference documents no code for a password whose startDateTime is still to
            # come, so a not-yet-valid secret gets 7000215 too; what Entra answers is unknown.
            return HTTPStatus.UNAUTHORIZED, aad_error(
                "invalid_client", 7000215, "Invalid client secret provided."
            )
        return None

    def _app_only_token(
        self, client_id: str, app: dict[str, Any], scope: str
    ) -> tuple[HTTPStatus, Any]:
        """The token of an authenticated client, the same whichever credential it used: for one
        `<resource>/.default` scope of a known resource, issued to the application's enabled
        service principal."""
        emulator = self.emulator
        if not scope.endswith("/.default") or " " in scope.strip():
            # AADSTS1002012: the client credentials flow takes one `<resource>/.default` scope
            # (learn.microsoft.com/entra/identity-platform/v2-oauth2-client-creds-grant-flow).
            return HTTPStatus.BAD_REQUEST, aad_error(
                "invalid_scope",
                1002012,
                f"The provided value for scope {scope} is not valid. Client credential flows "
                "must have a scope value with /.default suffixed to the resource identifier "
                "(application ID URI).",
            )
        resource = scope.removesuffix("/.default")
        if not emulator.knows_resource(resource):
            return self._unknown_resource(resource)
        # A token is issued to the application's service principal in the tenant
        # (learn.microsoft.com/entra/identity-platform/reference-error-codes: AADSTS7000229,
        # AADSTS7000112); the descriptions are this emulator's wording.
        principals = emulator.store.list_objects("servicePrincipals", "appId", client_id)
        if not principals:
            return HTTPStatus.BAD_REQUEST, aad_error(
                "invalid_client",
                7000229,
                f"The client application {client_id} is missing service principal in the "
                f"tenant {emulator.tenant_id}.",
            )
        if principals[0].get("accountEnabled") is False:
            return HTTPStatus.BAD_REQUEST, aad_error(
                "unauthorized_client",
                7000112,
                f"Application '{client_id}'({app['displayName']}) is disabled.",
            )
        # An app-only token's oid is the service principal's object ID
        # (learn.microsoft.com/entra/identity-platform/access-token-claims-reference).
        principal = Principal(principals[0]["id"], client_id, emulator.tenant_id)
        token, _ = emulator.issue_token(principal, resource)
        return HTTPStatus.OK, {
            "token_type": "Bearer",
            "expires_in": TOKEN_LIFETIME_SECONDS,
            "ext_expires_in": TOKEN_LIFETIME_SECONDS,
            "access_token": token,
        }

    def _graph(
        self,
        method: str,
        path: str,
        query: dict[str, list[str]],
        body: Any,
        caller: Principal,
    ) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        keyed = _ALTERNATE_KEY.match(parts[0])
        unique_name: str | None = None
        if keyed:
            # Alternate keys (learn.microsoft.com/graph/api/application-get: `/applications
            # (appId='{appId}')`; servicePrincipal-get: `/servicePrincipals(appId='{appId}')`;
            # agentidentityblueprint-upsert: `/applications(uniqueName='{uniqueName}')`).
            kind, key, value = keyed.groups()
            found = store.list_objects(kind, key, value)
            upsert = kind == "applications" and key == "uniqueName"
            if upsert and method == "PATCH" and parts[1:] == [graph_objects.BLUEPRINT]:
                # The upsert finds (or makes) the blueprint itself.
                unique_name = value
            elif not found:
                raise ApiError(
                    HTTPStatus.NOT_FOUND,
                    "Request_ResourceNotFound",
                    f"Resource '{value}' does not exist or one of its queried reference-"
                    "property objects are not present.",
                )
            parts = [kind, found[0]["id"] if found else "", *parts[1:]]
        if parts[0] not in ("applications", "servicePrincipals"):
            raise ApiError(HTTPStatus.NOT_FOUND, "Request_ResourceNotFound", f"no {parts[0]}")
        for route_method, pattern, handle in _GRAPH_ROUTES:
            if route_method not in (method, "*"):
                continue
            matched = _match(pattern, parts)
            if matched is not None:
                request = GraphRequest(method, parts[0], matched, query, body, caller, unique_name)
                return handle(self, request)
        raise ApiError(HTTPStatus.BAD_REQUEST, "Request_BadRequest", f"{method} {path}")

    def _list(self, request: GraphRequest, cast: str | None = None) -> tuple[HTTPStatus, Any]:
        kind, query = request.kind, request.query
        field, value, prefix = _filter(query.get("$filter", [""])[0])
        if field == "agentIdentityBlueprintId":
            # The agentIdentity resource does not say the property "Supports $filter" (its
            # property table, learn.microsoft.com/graph/api/resources/agentidentity), and a
            # client of Graph filters it on the client side; the emulator refuses the filter.
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "Request_UnsupportedQuery",
                "Unsupported filter on agentIdentityBlueprintId: filter the listed agent "
                "identities on the client.",
            )
        if (
            cast is None
            and kind == "servicePrincipals"
            and (field, value) == ("appId", GRAPH_APP_ID)
        ):
            return HTTPStatus.OK, self._page([MICROSOFT_GRAPH_PRINCIPAL], query)
        store = self.emulator.store
        found = [
            _public(o)
            for o in store.list_objects(kind, field, value, prefix)
            if cast is None or o.get(graph_objects.ODATA_TYPE) == f"#{cast}"
        ]
        return HTTPStatus.OK, self._page(
            self._expanded(kind, _selected(kind, found, query), query), query
        )

    def _list_cast(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """List through a type cast: "Does not return other types of application objects"
        (learn.microsoft.com/graph/api/agentidentityblueprint-list), "Does not return other types
        of service principal objects" (agentidentity-list); the same for blueprint principals."""
        return self._list(request, urlsplit(self.path).path.rstrip("/").rsplit("/", 1)[-1])

    def _create_blueprint(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        created = self.emulator.store.create_blueprint(request.body, request.caller)
        return HTTPStatus.CREATED, _public(created)

    def _upsert_blueprint(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`PATCH applications(uniqueName='…')/microsoft.graph.agentIdentityBlueprint`, the upsert:
        "Prefer: create-if-missing. Required for upsert behavior, otherwise the request is
        treated as an update operation." (agentidentityblueprint-upsert). Through the object ID,
        `PATCH applications/{id}/microsoft.graph.agentIdentityBlueprint` updates a blueprint."""
        store = self.emulator.store
        if request.unique_name is None:
            store.update_blueprint(request.object_id, request.body)
            return HTTPStatus.NO_CONTENT, None
        prefer = {p.strip().lower() for p in (self.headers.get("Prefer") or "").split(",")}
        created = store.upsert_blueprint(
            request.unique_name, request.body, request.caller, "create-if-missing" in prefer
        )
        if created is None:
            return HTTPStatus.NO_CONTENT, None
        return HTTPStatus.CREATED, _public(created)

    def _create_blueprint_principal(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        created = self.emulator.store.create_blueprint_principal(request.body, request.caller)
        return HTTPStatus.CREATED, _public(created)

    def _create_agent_identity(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        created = self.emulator.store.create_agent_identity(request.body, request.caller)
        return HTTPStatus.CREATED, _public(created)

    def _sponsors(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`GET {kind}/{id}/{cast}/sponsors` as documented (agentidentityblueprint-list-sponsors,
        agentidentity-list-sponsors), or without the cast."""
        store = self.emulator.store
        cast = request.matched.get("cast")
        if cast is not None:
            store.typed_object(request.kind, request.object_id, cast)
        listed = store.sponsors(request.kind, request.object_id)
        return HTTPStatus.OK, self._page(listed, request.query)

    def _add_sponsor(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`POST {kind}/{id}/{cast}/sponsors/$ref`: 204 (agentidentityblueprint-post-sponsors,
        agentidentity-post-sponsors, agentidentityblueprintprincipal-post-sponsors)."""
        cast = request.matched["cast"]
        self.emulator.store.add_sponsor(request.kind, request.object_id, cast, request.body)
        return HTTPStatus.NO_CONTENT, None

    def _remove_sponsor(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`DELETE {kind}/{id}/{cast}/sponsors/{sponsorId}/$ref`: 204 (agentidentityblueprint-
        delete-sponsors, agentidentity-delete-sponsors)."""
        store = self.emulator.store
        cast, sponsor = request.matched["cast"], request.matched["sponsor"]
        store.remove_sponsor(request.kind, request.object_id, cast, sponsor)
        return HTTPStatus.NO_CONTENT, None

    def _sponsor_without_cast(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """Adding or removing a sponsor without the type cast: every documented path carries
        it (`.../microsoft.graph.agentIdentityBlueprint/sponsors/$ref`, ...) and `sponsors` is a
        relationship of the Agent ID types only, not of application or servicePrincipal. What
        Graph answers without it is not documented: refused (the strict choice), with OData's
        wording for a segment the base type does not have."""
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"Resource not found for the segment 'sponsors' on {request.kind}: add or remove "
            "sponsors through the type cast, e.g. "
            f"{request.kind}/{{id}}/microsoft.graph.agentIdentity/sponsors/$ref.",
        )

    def _principal_credential(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """addPassword and addKey on a service principal. An agent identity "doesn't have
        credentials on its own" (learn.microsoft.com/entra/agent-id/agent-identities): refused
        with the error-codes page's code for a property an agent identity does not take. Other
        service principals' credentials are not served by the emulator."""
        store = self.emulator.store
        target = store.get_object(request.kind, request.object_id)
        action = urlsplit(self.path).path.rsplit("/", 1)[-1]
        if target.get(graph_objects.ODATA_TYPE) == f"#{graph_objects.AGENT_IDENTITY}":
            raise ApiError(
                HTTPStatus.BAD_REQUEST,
                "AgentBlueprintPrincipal_AgentIdentity_IncompatibleProperty",
                "A property specified in the request is incompatible with agent identity and "
                f"can't be set: an agent identity has no credentials of its own ({action}); "
                "add them to its agent identity blueprint.",
            )
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"{request.method} servicePrincipals/{request.object_id}/{action}",
        )

    def _create(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        created = (
            store.create_application(request.body, request.caller)
            if request.kind == "applications"
            else store.create_service_principal(request.body, request.caller)
        )
        return HTTPStatus.CREATED, _public(created)

    def _app_role_assignments(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """The app roles granted to a principal: its Microsoft Graph application permissions
        (`EntraStore.grant`), then the assignments made through appRoleAssignedTo
        (serviceprincipal-list-approleassignments)."""
        object_id = request.object_id
        store = self.emulator.store
        assigned = [
            {
                "appRoleId": rights.GRAPH_APP_ROLES[role],
                "principalId": object_id,
                "resourceId": MICROSOFT_GRAPH_PRINCIPAL["id"],
                "resourceDisplayName": "Microsoft Graph",
            }
            for role in store.app_roles(object_id)
        ]
        if request.kind == "servicePrincipals":
            assigned += store.app_role_assignments_of(object_id)
        return HTTPStatus.OK, self._page(assigned, request.query)

    def _assign_app_role(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`POST servicePrincipals/{id}/appRoleAssignedTo`: 201 with the appRoleAssignment
        (serviceprincipal-post-approleassignedto)."""
        made = self.emulator.store.assign_app_role(request.object_id, request.body)
        return HTTPStatus.CREATED, made

    def _app_role_assigned_to(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        listed = self.emulator.store.app_role_assigned_to(request.object_id)
        return HTTPStatus.OK, self._page(listed, request.query)

    def _unassign_app_role(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        """`DELETE servicePrincipals/{id}/appRoleAssignedTo/{assignmentId}`: 204
        (serviceprincipal-delete-approleassignedto)."""
        key = request.matched["assignment"]
        self.emulator.store.remove_app_role_assignment(request.object_id, key)
        return HTTPStatus.NO_CONTENT, None

    def _get(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        found = _public(self.emulator.store.get_object(request.kind, request.object_id))
        shown = _selected(request.kind, [found], request.query)
        return HTTPStatus.OK, self._expanded(request.kind, shown, request.query)[0]

    def _update(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        self.emulator.store.update_object(request.kind, request.object_id, request.body)
        return HTTPStatus.NO_CONTENT, None

    def _delete(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        self.emulator.store.delete_object(request.kind, request.object_id)
        return HTTPStatus.NO_CONTENT, None

    def _owners(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        owners = store.get_object(request.kind, request.object_id)["owners"]
        listed = [{"@odata.type": store.object_type(o), "id": o} for o in owners]
        return HTTPStatus.OK, self._page(listed, request.query)

    def _add_owner(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        owner = str(request.body.get("@odata.id", "")).rsplit("/", 1)[-1]
        self.emulator.store.add_owner(request.kind, request.object_id, owner)
        return HTTPStatus.NO_CONTENT, None

    def _remove_owner(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        owner = request.matched["owner"]
        self.emulator.store.remove_owner(request.kind, request.object_id, owner)
        return HTTPStatus.NO_CONTENT, None

    def _add_password(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        credential = request.body.get("passwordCredential") or {}
        return HTTPStatus.OK, self.emulator.store.add_password(request.object_id, credential)

    def _remove_password(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        self.emulator.store.remove_password(request.object_id, str(request.body.get("keyId", "")))
        return HTTPStatus.NO_CONTENT, None

    def _federated_credentials(self, request: GraphRequest) -> tuple[HTTPStatus, Any]:
        rest = request.matched["*"].split("/") if request.matched["*"] else []
        return self._federated(request.method, request.object_id, rest, request.query, request.body)

    def _expanded(
        self, kind: str, objects: list[dict[str, Any]], query: dict[str, list[str]]
    ) -> list[dict[str, Any]]:
        """The objects with their federated identity credentials when the query asks for them
        with `$expand=federatedIdentityCredentials` (learn.microsoft.com/graph/api/resources/
        application: "Supports $expand and $filter"); other expansions are not served."""
        expand = {e.strip() for e in query.get("$expand", [""])[-1].split(",")}
        if kind != "applications" or FEDERATED not in expand:
            return objects
        store = self.emulator.store
        return [
            {**obj, FEDERATED: store.federated_credentials(str(obj["id"]))}
            if obj.get("id")
            else obj
            for obj in objects
        ]

    def _federated(
        self,
        method: str,
        object_id: str,
        rest: list[str],
        query: dict[str, list[str]],
        body: Any,
    ) -> tuple[HTTPStatus, Any]:
        """`/applications/{id}/federatedIdentityCredentials[/{id or name}]`: List, Create (201
        with the object), Get, Update (204) and Delete (204) of Graph v1.0
        (learn.microsoft.com/graph/api/resources/federatedidentitycredential, methods)."""
        store = self.emulator.store
        if rest in (
            [],
            [""],
        ):  # the documented example POSTs to `.../federatedIdentityCredentials/`
            if method == "GET":
                listed = store.federated_credentials(object_id)
                field, value, prefix = _filter(query.get("$filter", [""])[0])
                if field is not None:
                    # name and subject: "Supports $filter (eq)" (federatedIdentityCredential
                    # resource); any other filter is refused.
                    if field not in ("name", "subject") or prefix:
                        raise ApiError(
                            HTTPStatus.BAD_REQUEST,
                            "Request_UnsupportedQuery",
                            f"Unsupported filter on federatedIdentityCredentials: {field}",
                        )
                    wanted = str(value).lower()
                    listed = [c for c in listed if str(c[field]).lower() == wanted]
                return HTTPStatus.OK, self._page(listed, query)
            if method == "POST":
                return HTTPStatus.CREATED, store.add_federated_credential(object_id, body)
        elif len(rest) == 1:
            if method == "GET":
                return HTTPStatus.OK, store.get_federated_credential(object_id, rest[0])
            if method == "PATCH":
                store.update_federated_credential(object_id, rest[0], body)
                return HTTPStatus.NO_CONTENT, None
            if method == "DELETE":
                store.remove_federated_credential(object_id, rest[0])
                return HTTPStatus.NO_CONTENT, None
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"{method} applications/{object_id}/{FEDERATED}/{'/'.join(rest)}",
        )

    def _vault(
        self, method: str, path: str, query: dict[str, list[str]], body: Any
    ) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        vault, collection, rest = parts[0], parts[1] if len(parts) > 1 else "", parts[2:]
        if rest[1:] == [""]:
            # An empty version segment is the latest version (Get Secret: "If not specified, the
            # latest version of the secret is returned"); the SDK sends `secrets/{name}/`.
            rest = rest[:1]
        if collection in ("secrets", "deletedsecrets") and not rest and method == "GET":
            listed = (
                store.list_secrets(vault)
                if collection == "secrets"
                else store.list_deleted_secrets(vault)
            )
            return HTTPStatus.OK, self._page(listed, query, VAULT_PAGING)
        if collection == "secrets" and rest:
            name = rest[0]
            if len(rest) == 1:
                if method == "PUT":
                    return HTTPStatus.OK, store.set_secret(vault, name, body)
                if method == "GET":
                    return HTTPStatus.OK, store.get_secret(vault, name)
                if method == "DELETE":
                    return HTTPStatus.OK, store.delete_secret(vault, name)
            if len(rest) == 2 and rest[1] == "versions" and method == "GET":
                versions = store.secret_versions(vault, name)
                return HTTPStatus.OK, self._page(versions, query, VAULT_PAGING)
            if len(rest) == 2 and method == "GET":
                return HTTPStatus.OK, store.get_secret(vault, name, rest[1])
            if len(rest) in (1, 2) and method == "PATCH":
                version = rest[1] if len(rest) == 2 else None
                return HTTPStatus.OK, store.update_secret(vault, name, version, body)
        if collection == "deletedsecrets" and rest:
            name = rest[0]
            if len(rest) == 1 and method == "GET":
                return HTTPStatus.OK, store.get_deleted_secret(vault, name)
            if len(rest) == 1 and method == "DELETE":
                store.purge_secret(vault, name)
                return HTTPStatus.NO_CONTENT, None
            if len(rest) == 2 and rest[1] == "recover" and method == "POST":
                return HTTPStatus.OK, store.recover_secret(vault, name)
        raise ApiError(HTTPStatus.BAD_REQUEST, "BadParameter", f"{method} {path}")

    def _arm(self, method: str, path: str, body: Any, caller: Principal) -> tuple[HTTPStatus, Any]:
        store = self.emulator.store
        parts = [unquote(p) for p in path.split("/")]
        if parts[-3:] == ["providers", "Microsoft.Authorization", "permissions"]:
            # Permissions - List For Resource: the caller's effective RBAC permissions.
            store.arm_vault(parts[1], parts[3], parts[7])
            return HTTPStatus.OK, {"value": [store.permissions(caller.object_id)]}
        shape = ["subscriptions", "", "resourceGroups", "", "providers", "Microsoft.KeyVault"]
        shape += ["vaults", "", "secrets", ""]
        if len(parts) != len(shape) or any(
            want and got.lower() != want.lower() for want, got in zip(shape, parts, strict=True)
        ):
            raise ApiError(HTTPStatus.NOT_FOUND, "InvalidResourceType", f"no ARM path {path}")
        subscription, resource_group, vault, name = parts[1], parts[3], parts[7], parts[9]
        if method == "PUT":
            created, resource = store.arm_put_secret(
                subscription, resource_group, vault, name, body
            )
            return (HTTPStatus.CREATED if created else HTTPStatus.OK), resource
        if method == "GET":
            return HTTPStatus.OK, store.arm_get_secret(subscription, resource_group, vault, name)
        raise ApiError(HTTPStatus.METHOD_NOT_ALLOWED, "MethodNotAllowed", method)

    def _page(
        self, items: list[Any], query: dict[str, list[str]], paging: Paging = GRAPH_PAGING
    ) -> dict[str, Any]:
        """One page of `items` as the service answers it: where `$skiptoken` points, at most the
        page size, and the absolute URL of the next page (this path, with the request's other
        query parameters and a new skip token) while more remain."""
        path = urlsplit(self.path).path
        size = _page_size(query, paging)
        start = _skipped(query, path, paging)
        answer: dict[str, Any] = {"value": items[start : start + size]}
        if paging is GRAPH_PAGING and query.get("$count", [""])[-1].lower() == "true":
            # `$count` on directory objects is an advanced query: it needs `ConsistencyLevel:
            # eventual` (learn.microsoft.com/graph/aad-advanced-queries); the refusal's wording
            # without it is Graph's.
            if (self.headers.get("ConsistencyLevel") or "").lower() != "eventual":
                raise ApiError(
                    HTTPStatus.BAD_REQUEST,
                    "Request_BadRequest",
                    "$count is not currently supported.",
                )
            answer["@odata.count"] = len(items)
        if start + size < len(items):
            again = {k: v[-1] for k, v in query.items() if k != SKIPTOKEN}
            again[SKIPTOKEN] = skiptoken(path, start + size)
            answer[paging.next_field] = (
                f"{self.emulator.url}{path}?{urlencode(again, safe='$', quote_via=quote)}"
            )
        elif paging.null_on_last_page:
            answer[paging.next_field] = None
        return answer


@dataclass(frozen=True)
class GraphRequest:
    """A Graph call matched to its route: the collection, the placeholders the route named
    (`id`, `owner`, and `*` for the rest of the path), the query, body and caller."""

    method: str
    kind: str
    matched: dict[str, str]
    query: dict[str, list[str]]
    body: Any
    caller: Principal
    # The uniqueName of `PATCH applications(uniqueName='…')/microsoft.graph.agentIdentityBlueprint`.
    unique_name: str | None = None

    @property
    def object_id(self) -> str:
        return self.matched["id"]


_GraphHandler: TypeAlias = Callable[["_Handler", GraphRequest], tuple[HTTPStatus, Any]]
_ANY_KIND: Final = "{kind}"
# The Graph v1.0 calls served, first match wins (learn.microsoft.com/graph/api/resources/
# application and /serviceprincipal, their owners, addPassword and removePassword, and
# federatedIdentityCredentials): method ("*" for any), path segments ("{name}" a placeholder,
# "*" the rest of the path), handler.
_GRAPH_ROUTES: Final[tuple[tuple[str, tuple[str, ...], _GraphHandler], ...]] = (
    # Microsoft Entra Agent ID: the type-cast collections come before `{kind}/{id}`.
    ("GET", ("applications", graph_objects.BLUEPRINT), _Handler._list_cast),
    ("POST", ("applications", graph_objects.BLUEPRINT), _Handler._create_blueprint),
    ("GET", ("servicePrincipals", graph_objects.BLUEPRINT_PRINCIPAL), _Handler._list_cast),
    (
        "POST",
        ("servicePrincipals", graph_objects.BLUEPRINT_PRINCIPAL),
        _Handler._create_blueprint_principal,
    ),
    ("GET", ("servicePrincipals", graph_objects.AGENT_IDENTITY), _Handler._list_cast),
    ("POST", ("servicePrincipals", graph_objects.AGENT_IDENTITY), _Handler._create_agent_identity),
    ("PATCH", ("applications", "{id}", graph_objects.BLUEPRINT), _Handler._upsert_blueprint),
    ("GET", (_ANY_KIND, "{id}", "{cast}", "sponsors"), _Handler._sponsors),
    ("GET", (_ANY_KIND, "{id}", "sponsors"), _Handler._sponsors),
    ("POST", (_ANY_KIND, "{id}", "{cast}", "sponsors", "$ref"), _Handler._add_sponsor),
    (
        "DELETE",
        (_ANY_KIND, "{id}", "{cast}", "sponsors", "{sponsor}", "$ref"),
        _Handler._remove_sponsor,
    ),
    ("POST", (_ANY_KIND, "{id}", "sponsors", "$ref"), _Handler._sponsor_without_cast),
    (
        "DELETE",
        (_ANY_KIND, "{id}", "sponsors", "{sponsor}", "$ref"),
        _Handler._sponsor_without_cast,
    ),
    ("POST", ("servicePrincipals", "{id}", ASSIGNED_TO), _Handler._assign_app_role),
    ("GET", ("servicePrincipals", "{id}", ASSIGNED_TO), _Handler._app_role_assigned_to),
    (
        "DELETE",
        ("servicePrincipals", "{id}", ASSIGNED_TO, "{assignment}"),
        _Handler._unassign_app_role,
    ),
    ("POST", ("servicePrincipals", "{id}", "addPassword"), _Handler._principal_credential),
    ("POST", ("servicePrincipals", "{id}", "addKey"), _Handler._principal_credential),
    ("GET", (_ANY_KIND,), _Handler._list),
    ("POST", (_ANY_KIND,), _Handler._create),
    ("GET", (_ANY_KIND, "{id}"), _Handler._get),
    ("PATCH", (_ANY_KIND, "{id}"), _Handler._update),
    ("DELETE", (_ANY_KIND, "{id}"), _Handler._delete),
    ("GET", (_ANY_KIND, "{id}", "appRoleAssignments"), _Handler._app_role_assignments),
    ("GET", (_ANY_KIND, "{id}", "owners"), _Handler._owners),
    ("POST", (_ANY_KIND, "{id}", "owners", "$ref"), _Handler._add_owner),
    ("DELETE", (_ANY_KIND, "{id}", "owners", "{owner}", "$ref"), _Handler._remove_owner),
    ("*", ("applications", "{id}", FEDERATED, "*"), _Handler._federated_credentials),
    ("POST", ("applications", "{id}", "addPassword"), _Handler._add_password),
    ("POST", ("applications", "{id}", "removePassword"), _Handler._remove_password),
)


def _match(pattern: tuple[str, ...], parts: list[str]) -> dict[str, str] | None:
    """The placeholders of `pattern` in `parts`, or None when the path is another one."""
    matched: dict[str, str] = {}
    for index, segment in enumerate(pattern):
        if segment == "*":
            matched["*"] = "/".join(parts[index:])
            return matched
        if index >= len(parts):
            return None
        if segment.startswith("{") and segment.endswith("}"):
            matched[segment[1:-1]] = parts[index]
        elif segment != parts[index]:
            return None
    return matched if len(parts) == len(pattern) else None


GRAPH_APP_ID: Final = rights.MICROSOFT_GRAPH_APP_ID
# Microsoft Graph's service principal in every tenant, with its application permissions.
MICROSOFT_GRAPH_PRINCIPAL: Final = {
    "id": "5f0a1c2d-3e4f-4a5b-8c6d-7e8f9a0b1c2d",
    "appId": GRAPH_APP_ID,
    "displayName": "Microsoft Graph",
    "appRoles": [
        {"id": role_id, "value": name, "allowedMemberTypes": ["Application"]}
        for name, role_id in rights.GRAPH_APP_ROLES.items()
    ],
}


def _public(obj: dict[str, Any]) -> dict[str, Any]:
    """A directory object as Graph returns it: owners, an Agent ID object's sponsors, a service
    principal's appRoleAssignedTo and federated identity credentials are relations of their own
    (an application's `federatedIdentityCredentials` come only from the navigation property or
    `$expand`, learn.microsoft.com/graph/api/resources/application, relationships), and a
    password's secret text is never returned after addPassword."""
    shown = {
        k: v for k, v in obj.items() if k not in ("owners", "sponsors", FEDERATED, ASSIGNED_TO)
    }
    if "passwordCredentials" in shown:
        shown["passwordCredentials"] = [
            {k: v for k, v in p.items() if k != "sandboxSecret"} for p in obj["passwordCredentials"]
        ]
    return shown


_STARTSWITH: Final = re.compile(r"^startswith\(\s*(\w+)\s*,\s*'((?:[^']|'')*)'\s*\)$")


def _filter(expression: str) -> tuple[str | None, str | None, bool]:
    """`$filter=<field> eq '<value>'` or `startswith(<field>,'<value>')`, the forms Graph
    supports by default on the properties read here (learn.microsoft.com/graph/filter-query-
    parameter): the field, the value and whether it is a prefix. Other forms are refused."""
    if not expression:
        return None, None, False
    starts = _STARTSWITH.match(expression.strip())
    if starts:
        return starts.group(1), starts.group(2).replace("''", "'"), True
    field, _, rest = expression.partition(" eq ")
    if not rest.startswith("'") or not rest.endswith("'"):
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_UnsupportedQuery",
            'the emulator supports only "<field> eq \'<value>\'" and "startswith(<field>, '
            f"'<value>')\" filters, not {expression!r}",
        )
    return field.strip(), rest[1:-1].replace("''", "'"), False


_PROPERTIES: Final = {
    "applications": frozenset(
        {*graph_objects.APPLICATION_DEFAULTS, *graph_objects.READ_ONLY, "displayName"}
    )
    - {"owners"},
    "servicePrincipals": frozenset(
        {
            *graph_objects.SERVICE_PRINCIPAL_DEFAULTS,
            *graph_objects.READ_ONLY,
            "displayName",
            "agentIdentityBlueprintId",
            "servicePrincipalType",
        }
    )
    - {"owners", "uniqueName"},
}


def _selected(
    kind: str, objects: list[dict[str, Any]], query: dict[str, list[str]]
) -> list[dict[str, Any]]:
    """The objects with only the properties `$select` names (all of them without it); a name
    the type does not have is refused, as Graph refuses it."""
    given = query.get("$select", [""])[-1]
    if not given:
        return objects
    names = [name.strip() for name in given.split(",") if name.strip()]
    unknown = [name for name in names if name not in _PROPERTIES[kind]]
    if unknown:
        single = "application" if kind == "applications" else "servicePrincipal"
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            "Request_BadRequest",
            f"Could not find a property named '{unknown[0]}' on type 'microsoft.graph.{single}'.",
        )
    return [{name: obj.get(name) for name in names} for obj in objects]


def _unauthenticated(area: str, tenant_id: str) -> ApiError:
    """The answer to a request without a valid token for the area's resource."""
    if area == "keyvault":
        return ApiError(
            HTTPStatus.UNAUTHORIZED,
            "Unauthorized",
            "AKV10000: Request is missing a Bearer or PoP token.",
            {"WWW-Authenticate": VAULT_CHALLENGE.format(tenant=tenant_id, resource=VAULT_RESOURCE)},
        )
    return ApiError(
        HTTPStatus.UNAUTHORIZED, "InvalidAuthenticationToken", "Access token is empty or invalid."
    )


def skiptoken(path: str, offset: int) -> str:
    """An opaque skip token: where the next page of the list at `path` starts (base64url JSON;
    the real services' tokens are opaque too, and clients must not build or read them)."""
    raw = json.dumps({"list": path, "offset": offset}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _skipped(query: dict[str, list[str]], path: str, paging: Paging) -> int:
    """How many items the request's skip token skips (0 without one). A token this emulator did
    not make, or made for another list, is refused."""
    if SKIPTOKEN not in query:
        return 0
    token = query[SKIPTOKEN][-1]
    try:
        decoded = json.loads(base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)))
    except (ValueError, binascii.Error):
        decoded = None
    offset = decoded.get("offset") if isinstance(decoded, dict) else None
    if (
        not isinstance(offset, int)
        or isinstance(offset, bool)
        or offset < 0
        or decoded.get("list") != path
    ):
        raise ApiError(HTTPStatus.BAD_REQUEST, paging.error_code, "Invalid Skip Token")
    return offset


def _page_size(query: dict[str, list[str]], paging: Paging) -> int:
    if paging.size_parameter not in query:
        return paging.default_size
    given = query[paging.size_parameter][-1]
    size = int(given) if given.isascii() and given.isdigit() else 0
    if not 1 <= size <= paging.max_size:
        raise ApiError(
            HTTPStatus.BAD_REQUEST,
            paging.error_code,
            f"Invalid page size specified: '{given}'. {paging.size_parameter} must be between 1 "
            f"and {paging.max_size} inclusive.",
        )
    return size
