"""Naming and environment rules shared by config validation, components and the policy pack."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from typing import Any, Final, Literal

# The Pulumi project, and the namespace of its config keys (`lkps-onboarding:<key>`).
PROJECT: Final = "lkps-onboarding"

Environment = Literal["np", "prod"]
Region = Literal["eu", "us"]
Role = Literal["agent", "client"]

ENVIRONMENTS: Final[tuple[Environment, ...]] = ("np", "prod")
REGIONS: Final[tuple[Region, ...]] = ("eu", "us")
ROLES: Final[tuple[Role, ...]] = ("agent", "client")

BEAT_ID: Final = re.compile(r"BEAT\d{8}")
BEAT_ID_FORM: Final = "'BEAT' followed by 8 digits"

GUID: Final = re.compile(
    r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}"
)
GUID_FORM: Final = "a GUID like 00000000-0000-0000-0000-000000000000"

APP_BASE_NAME: Final = re.compile(r"[A-Z][A-Z0-9]*(?:-[A-Z0-9]+)*")
APP_BASE_NAME_FORM: Final = (
    "uppercase words of letters and digits joined by single hyphens, e.g. 'MY-LIVEKIT-AGENT', "
    "without the '-NP' suffix (it is added in np)"
)
APP_BASE_NAME_MAX_LENGTH: Final = 80

NON_PROD_SUFFIX: Final = "-NP"
NON_PROD_MARKER: Final = re.compile(r"(?i)(?<![a-z0-9])(?:np|nonprod|non-prod)(?![a-z0-9])")

KEY_VAULT_NAME: Final = re.compile(r"[a-zA-Z](?:[a-zA-Z0-9]|-(?!-)){1,22}[a-zA-Z0-9]")
KEY_VAULT_NAME_FORM: Final = (
    "3 to 24 letters, digits and single hyphens, starting with a letter, not ending with a hyphen"
)
RESOURCE_GROUP_NAME: Final = re.compile(r"[-\w.()]{0,89}[-\w()]")
RESOURCE_GROUP_NAME_FORM: Final = (
    "1 to 90 letters, digits, '-', '_', '.', '(' or ')', not ending with '.'"
)

DESCRIPTION_MAX_LENGTH: Final = 200

# Owners listed per application, besides the deploying principal (config `minimumOwners`, and
# the policy `app-owners`).
DEFAULT_MINIMUM_OWNERS: Final = 2
# The longest client secret lifetime Entra accepts and the config allows (`secretLifetimeDays`);
# the policy `client-secret-lifetime` may allow less (`maximumSecretLifetimeDays`).
MAXIMUM_SECRET_LIFETIME_DAYS: Final = 730
# Above this many applications a stack's preview warns and names the split into team stacks
# (config `maxApplications`). Through the sandbox on 2 cores, `up` of a new stack takes 19, 77
# and 289 s at 10, 50 and 100 applications: each application past 50 costs about three times one
# below it, as the engine rewrites the whole state after every step (README: Scale).
DEFAULT_MAX_APPLICATIONS: Final = 50

# The dynamic resource that keeps a client ID on a route's Client Access List.
ROUTE_ACCESS_MODULE: Final = "ocelot"
ROUTE_ACCESS_NAME: Final = "RouteAccess"
ROUTE_ACCESS_TYPE: Final = f"pulumi-python:dynamic/{ROUTE_ACCESS_MODULE}:{ROUTE_ACCESS_NAME}"

# The delegated scope an agent exposes for the clients it pre-authorizes; LKPS checks it.
CLIENT_SCOPE_VALUE: Final = "access_as_client"
EXTERNAL_CLIENT_LABEL: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9 ._-]{0,79}")
EXTERNAL_CLIENT_LABEL_FORM: Final = "1 to 80 letters, digits, spaces, '.', '_' or '-'"

CLIENT_SECRET_DISPLAY_NAME: Final = "lkps-integration"
SIGN_IN_AUDIENCE: Final = "AzureADMyOrg"
# Marks every resource of an application being retired (a tag on registrations, a tag key on
# its vault secret): its Ocelot access is gone and its protection lifted for the removal.
RETIRING_TAG: Final = "lkps-retiring"
# Marks the vault secret of an application that also signs in with federated credentials: its
# protection is lifted so that the change removing the client secret can delete it.
FEDERATED_TAG: Final = "lkps-federated"
# Marks the vault secret of the Agent ID blueprint while no agent relies on its agent identity
# alone (every agent on Agent ID still has its registration on the routes): its protection is
# lifted so that going back can delete the blueprint.
PARALLEL_TAG: Final = "lkps-parallel"
PASSWORD_TYPE_NAME: Final = "azuread:index/applicationPassword:ApplicationPassword"
CLIENT_SECRET_CONTENT_TYPE: Final = "application/vnd.lkps.client-secret"


def is_non_prod_value(value: str) -> bool:
    """Whether a name, host or URL is marked as non-prod (a standalone 'np' or 'nonprod' part)."""
    return NON_PROD_MARKER.search(value) is not None


def fits_environment(value: str, environment: Environment) -> bool:
    """Whether a name, host or URL may be used in `environment`: non-prod values only in np,
    the local emulator's loopback URL only in np, everything else only in prod."""
    if is_loopback_url(value):
        return environment == "np"
    return is_non_prod_value(value) == (environment == "np")


def environment_misfit(value: str, environment: Environment) -> str | None:
    """Why a name, host or URL may not be used in `environment`, or None when it may; the one
    wording that config validation and the policy pack use."""
    if fits_environment(value, environment):
        return None
    if is_loopback_url(value):
        return "is a local emulator and must not be used in prod"
    if environment == "prod":
        return "is a non-prod value and must not be used in prod"
    return (
        "is not marked non-prod; in np it must contain an 'np' or 'nonprod' part "
        "(e.g. 'kv-lkps-np')"
    )


def route_misfit(route_id: object, environment: Environment) -> str | None:
    """Why a route may not be used in `environment`, or None when it may; the one wording that
    the Ocelot provider and the policy pack use."""
    routes = route_ids(environment)
    if route_id in routes:
        return None
    owner = environment_of_route(route_id) if isinstance(route_id, str) else None
    why = f"is a {owner} route" if owner else "is not an LKPS route"
    return f"{why}; a {environment} stack allows {', '.join(routes)}"


def environment_of_stack(stack: str) -> Environment | None:
    """The environment a stack name stands for: `np`, `prod`, `np-<suffix>` or `prod-<suffix>`."""
    return next((e for e in ENVIRONMENTS if stack == e or stack.startswith(f"{e}-")), None)


def counterpart_stack(stack: str) -> str:
    """The same team's stack of the other environment: `np` and `prod`, `np-<team>` and
    `prod-<team>`; the one a registration must not be shared with."""
    environment = environment_of_stack(stack)
    if environment is None:
        raise ValueError(f"stack {stack!r} is not np, prod, np-<team> or prod-<team>")
    other = "prod" if environment == "np" else "np"
    return other + stack.removeprefix(environment)


def stack_of_urn(urn: str) -> str:
    """The stack name in a resource URN (`urn:pulumi:<stack>::<project>::<type>::<name>`)."""
    return urn.removeprefix("urn:pulumi:").split("::", 1)[0]


def is_loopback_url(value: str) -> bool:
    """Whether a URL points at this machine (the sandbox's emulators), over HTTP or HTTPS."""
    return (
        re.fullmatch(r"https?://(?:127\.0\.0\.1|localhost)(?::\d{1,5})?(?:/\S*)?", value)
        is not None
    )


def display_name(base_name: str, environment: Environment) -> str:
    """The Entra display name of an application: `<NAME>-NP` in np, `<NAME>` in prod."""
    return f"{base_name}{NON_PROD_SUFFIX}" if environment == "np" else base_name


def lkps_host(region: Region, environment: Environment) -> str:
    """The LKPS host of a region, which is also the id of its Ocelot route."""
    suffix = "-np" if environment == "np" else ""
    return f"{region}-livekit-platform-service{suffix}.int.bayer.com"


def route_ids(environment: Environment) -> tuple[str, ...]:
    """The Ocelot route ids (LKPS hosts) of an environment, one per region."""
    return tuple(lkps_host(region, environment) for region in REGIONS)


def environment_of_route(route_id: str) -> Environment | None:
    """The environment a known LKPS route belongs to, or None for an unknown route."""
    for environment in ENVIRONMENTS:
        if route_id in route_ids(environment):
            return environment
    return None


def ocelot_ui_url(route_id: str) -> str:
    """The Ocelot UI page of a route, where people approve and inspect its Client Access List."""
    host = (
        "devtools-np.bayer.com" if environment_of_route(route_id) == "np" else "devtools.bayer.com"
    )
    return f"https://{host}/ocelot?route={route_id}"


def lkps_scope(environment: Environment) -> str:
    """The token scope an application requests from Entra to call LKPS."""
    suffix = "-np" if environment == "np" else ""
    return f"api://livekit-platform-service{suffix}.int.bayer.com/.default"


def agent_identifier_uri(agent_client_id: str) -> str:
    """The identifier URI an agent exposes its API under: Entra's default form `api://<appId>`,
    which every tenant accepts and which names the agent without a verified domain."""
    return f"api://{agent_client_id}"


def agent_scope(agent_client_id: str) -> str:
    """The delegated scope a client asks for to reach an agent."""
    return f"{agent_identifier_uri(agent_client_id)}/{CLIENT_SCOPE_VALUE}"


def vault_secret_name(app_display_name: str) -> str:
    """The Key Vault secret name holding an application's current client secret."""
    return f"{app_display_name.lower()}-client-secret"


def vault_secret_arm_id(
    subscription_id: str, resource_group_name: str, vault_name: str, secret_name: str
) -> str:
    """The ARM resource ID of a vault secret, as azure-native imports it."""
    return (
        f"/subscriptions/{subscription_id}/resourceGroups/{resource_group_name}/providers/"
        f"Microsoft.KeyVault/vaults/{vault_name}/secrets/{secret_name}"
    )


VAULT_SECRET_RESOURCE: Final = "vault"


def vault_secret_resource(last: Mapping[str, Any] | None, arm_id: str, uri: str) -> str:
    """The name (after the component's) of an application's vault Secret resource.

    azure-native replaces a secret with an explicit name by deleting it first (its Diff sets
    deleteBeforeReplace), so a change of `keyVault.vaultName` or `resourceGroupName` would
    leave consumers without a secret while the run creates its successor. A moved secret gets
    a resource of its own instead, named after where it goes: the engine creates it first and
    deletes the old one at the end of the run. `last` is the application's record from the
    last run (`vaultSecretId`, `vaultSecretResource`; older records have only the URI)."""
    if not last:
        return VAULT_SECRET_RESOURCE
    before = str(last.get("vaultSecretResource") or VAULT_SECRET_RESOURCE)
    recorded_id = last.get("vaultSecretId")
    if isinstance(recorded_id, str):
        same = recorded_id.lower() == arm_id.lower()
    else:
        same = str(last.get("vaultSecretUri") or uri).lower() == uri.lower()
    if same:
        return before
    return f"{VAULT_SECRET_RESOURCE}-at-{hashlib.sha256(arm_id.lower().encode()).hexdigest()[:8]}"


def vault_secret_uri(vault_name: str, secret_name: str) -> str:
    """The versionless URI of a Key Vault secret, which always resolves to its current version."""
    return f"https://{vault_name}.vault.azure.net/secrets/{secret_name}"
