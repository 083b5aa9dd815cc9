"""Stack settings: the schema of the `lkps-onboarding:` config namespace and its validation.

All problems of a stack's config are reported at once, one line each, naming the key and the
allowed form, before any resource is registered.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import date
from typing import Annotated, Any, Final, Literal, TypeVar

import pulumi
from pulumi.runtime import config as runtime_config
from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)
from pydantic.alias_generators import to_camel

from lkps import federation, rules
from lkps.rules import Environment, Region, Role

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """Invalid stack config; `problems` holds one line per problem, each naming its key."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{subject} has {len(problems)} config problem(s):\n{lines}")


def _matching(pattern: Any, form: str) -> AfterValidator:
    def check(value: str) -> str:
        if not pattern.fullmatch(value):
            raise ValueError(f"must be {form}")
        return value

    return AfterValidator(check)


def _https_url(value: str) -> str:
    if rules.is_loopback_url(value):
        return value.rstrip("/")
    if not value.startswith("https://") or len(value) <= len("https://") or " " in value:
        raise ValueError("must be an https:// URL (http:// only on 127.0.0.1, for the emulator)")
    return value.rstrip("/")


def _token_scope(value: str) -> str:
    if not (value.startswith(("api://", "https://")) and value.endswith("/.default")):
        raise ValueError("must be a scope like 'api://<app id URI>/.default'")
    return value


def _unique(values: list[Any]) -> list[Any]:
    duplicates = sorted({str(v) for v in values if values.count(v) > 1})
    if duplicates:
        raise ValueError(f"must not repeat a value (repeated: {', '.join(duplicates)})")
    return values


# GUIDs compare case-insensitively everywhere: Entra returns them in lowercase.
Guid = Annotated[str, _matching(rules.GUID, rules.GUID_FORM), AfterValidator(str.lower)]
BeatId = Annotated[str, _matching(rules.BEAT_ID, rules.BEAT_ID_FORM)]
AppBaseName = Annotated[
    str,
    Field(max_length=rules.APP_BASE_NAME_MAX_LENGTH),
    _matching(rules.APP_BASE_NAME, rules.APP_BASE_NAME_FORM),
]
HttpsUrl = Annotated[str, AfterValidator(_https_url)]
TokenScope = Annotated[str, AfterValidator(_token_scope)]


class _Settings(BaseModel):
    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        frozen=True,
        strict=False,
    )


class KeyVaultSettings(_Settings):
    """The team's existing Key Vault that receives the current client secret of every app."""

    subscription_id: Guid
    resource_group_name: Annotated[
        str, _matching(rules.RESOURCE_GROUP_NAME, rules.RESOURCE_GROUP_NAME_FORM)
    ]
    vault_name: Annotated[str, _matching(rules.KEY_VAULT_NAME, rules.KEY_VAULT_NAME_FORM)]
    # Whether a removed application's vault secret is purged at once, or kept soft-deleted for
    # the vault's retention period (recoverable by hand; purged if the app is added again).
    purge_deleted_secrets: bool = False


class OcelotAccessSettings(BaseModel):
    """The part of the stack config that the Ocelot provider reads in its own process: the same
    keys and forms as in `StackSettings`, nothing passed through the resource."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, frozen=True)

    environment: Environment
    ocelot: OcelotSettings
    ocelot_token: SecretStr | None = None


class OcelotSettings(_Settings):
    """Where Ocelot's management API is, which Entra scope its tokens are for, and patience.
    `mode` is `api` (the stack keeps each Client Access List entry through the API) or `manual`
    (a person adds the entries in the Ocelot UI, as the onboarding page's Step 3.2 describes;
    the stack makes no Ocelot call and says what to add)."""

    mode: Literal["api", "manual"] = "api"
    api_url: HttpsUrl
    token_scope: TokenScope
    request_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 10.0
    retry_deadline_seconds: Annotated[float, Field(gt=0, le=3600)] = 120.0


class ExternalClient(_Settings):
    """A client app of another team or stack, pre-authorized on an agent by its client ID."""

    client_id: Guid
    label: Annotated[str, _matching(rules.EXTERNAL_CLIENT_LABEL, rules.EXTERNAL_CLIENT_LABEL_FORM)]
    beat_id: BeatId
    environment: Environment


class AdoptionSettings(_Settings):
    """A registration onboarded by hand that the stack takes over (imports) instead of
    creating: by its object ID or client ID, optionally its existing vault secret, and the key
    IDs of hand-made client secrets to revoke once the vault publishes the stack's own."""

    object_id: Guid | None = None
    client_id: Guid | None = None
    vault_secret: bool = False
    remove_secrets: Annotated[list[Guid], AfterValidator(_unique)] = []

    @model_validator(mode="after")
    def _one_id(self) -> AdoptionSettings:
        if (self.object_id is None) == (self.client_id is None):
            raise ValueError("must name the registration by exactly one of objectId or clientId")
        return self


def _issuer(value: str) -> str:
    if not value.startswith("https://") or len(value) <= len("https://") or " " in value:
        raise ValueError("must be an https:// URL (the issuer's 'iss' claim, exactly)")
    if len(value) > federation.MAX_VALUE_LENGTH:
        raise ValueError(f"must have at most {federation.MAX_VALUE_LENGTH} characters")
    return value


def _non_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("must not be empty (the workload token's 'sub' claim, exactly)")
    return value


def _one_audience(values: list[str]) -> list[str]:
    if len(values) != 1 or not values[0].strip():
        raise ValueError(
            f"must be one audience (Graph takes exactly one per credential; for Entra's own "
            f"exchange, {federation.DEFAULT_AUDIENCE})"
        )
    return values


class FederatedCredentialSettings(_Settings):
    """A trusted issuer's workload token the application may exchange for its own token:
    matched on issuer, subject and audience exactly (Graph's federatedIdentityCredential)."""

    name: Annotated[str, _matching(federation.NAME, federation.NAME_FORM)]
    issuer: Annotated[str, AfterValidator(_issuer)]
    subject: Annotated[
        str, Field(max_length=federation.MAX_VALUE_LENGTH), AfterValidator(_non_blank)
    ]
    # Graph takes exactly one audience per credential.
    audiences: Annotated[
        list[Annotated[str, Field(max_length=federation.MAX_VALUE_LENGTH)]],
        AfterValidator(_one_audience),
    ] = [federation.DEFAULT_AUDIENCE]
    description: Annotated[str, Field(max_length=rules.DESCRIPTION_MAX_LENGTH)] = ""


class ApplicationSettings(_Settings):
    """One application onboarded to LKPS: an AI agent or a client app.

    An agent may pre-authorize clients (`clients`: names in this stack; `externalClients`: by
    client ID); a client may instead name the agents it calls (`agents`). Both give the same
    pre-authorizations.
    """

    name: AppBaseName
    role: Role
    beat_id: BeatId
    owners: Annotated[list[Guid], AfterValidator(_unique)]
    regions: Annotated[list[Region], Field(min_length=1), AfterValidator(_unique)]
    description: Annotated[str, Field(max_length=rules.DESCRIPTION_MAX_LENGTH)] = ""
    clients: Annotated[list[AppBaseName], AfterValidator(_unique)] = []
    external_clients: list[ExternalClient] = []
    agents: Annotated[list[AppBaseName], AfterValidator(_unique)] = []
    emergency_rotation: date | None = None
    retired: bool = False
    adopt: AdoptionSettings | None = None
    # Its credentials: a rotating client secret published to the vault (the default), federated
    # identity credentials, or both while it moves from one to the other.
    client_secret: bool = True
    federated_credentials: Annotated[
        list[FederatedCredentialSettings], Field(max_length=federation.MAX_PER_APPLICATION)
    ] = []

    def display_name(self, environment: Environment) -> str:
        return rules.display_name(self.name, environment)


class StackSettings(_Settings):
    """Everything one stack (one environment) is built from."""

    environment: Environment
    tenant_id: Guid
    deployer_object_id: Guid
    key_vault: KeyVaultSettings
    ocelot: OcelotSettings
    secret_lifetime_days: Annotated[int, Field(ge=2, le=rules.MAXIMUM_SECRET_LIFETIME_DAYS)]
    secret_rotation_days: Annotated[int, Field(ge=1, le=365)]
    minimum_owners: Annotated[int, Field(ge=1, le=20)] = rules.DEFAULT_MINIMUM_OWNERS
    max_applications: Annotated[int, Field(ge=1, le=1000)] = rules.DEFAULT_MAX_APPLICATIONS
    protect: bool | None = None
    ocelot_token: SecretStr | None = None
    applications: Annotated[list[ApplicationSettings], Field(min_length=1)]

    def authorized_clients(self) -> dict[str, list[str]]:
        """Each agent's pre-authorized clients of this stack, from both spellings, by name."""
        pairs = {(app.name, client) for app in self.applications for client in app.clients}
        pairs |= {(agent, app.name) for app in self.applications for agent in app.agents}
        return {
            app.name: sorted(client for agent, client in pairs if agent == app.name)
            for app in self.applications
            if app.role == "agent"
        }

    @property
    def protect_resources(self) -> bool:
        """Whether app registrations and vault secrets are protected; by default only in prod."""
        return self.environment == "prod" if self.protect is None else self.protect


def _key(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be an object with keys",
    "model_attributes_type": "must be an object with keys",
    "dict_type": "must be an object with keys",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_parsing": "must be a date, YYYY-MM-DD",
    "date_type": "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date, YYYY-MM-DD",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        relation = "at least" if kind == "greater_than_equal" else "at most"
        return f"must be {relation} {bound}"
    if kind in ("too_short", "too_long", "string_too_long"):
        if "min_length" in ctx:
            return f"must have at least {ctx['min_length']} item(s)"
        unit = "item(s)" if isinstance(error.get("input"), list) else "character(s)"
        return f"must have at most {ctx['max_length']} {unit}"
    return _MESSAGES.get(kind, str(error["msg"]))


def _known_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        nested = [t for t in _model_types(field.annotation if field else None)]
        if not nested:
            return ""
        model = nested[0]
    return ", ".join(f.alias or name for name, f in model.model_fields.items())


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _model_types(arg)]


def _describe(error: Mapping[str, Any], secret_keys: set[str]) -> str:
    key = _key(error["loc"])
    message = _message(error)
    if error["type"] == "extra_forbidden":
        message += f" (known keys: {_known_keys(tuple(error['loc']))})"
    if error["type"] in ("missing", "extra_forbidden") or key.split(".")[0] in secret_keys:
        return f"{key}: {message}"
    value = error.get("input")
    shown = value if isinstance(value, str | int | float | bool) else json.dumps(value)
    return f"{key}: {shown!r} {message}"


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _consistency_problems(raw: Mapping[str, Any], stack: str) -> list[str]:
    """Rules across keys, checked on the raw values so that they are reported with field errors."""
    problems: list[str] = []
    environment = raw.get("environment")
    if environment in rules.ENVIRONMENTS and rules.environment_of_stack(stack) != environment:
        problems.append(
            f"environment: '{environment}' does not match stack '{stack}' "
            f"(a stack of environment '{environment}' is named '{environment}' "
            f"or '{environment}-<suffix>')"
        )

    lifetime, rotation = raw.get("secretLifetimeDays"), raw.get("secretRotationDays")
    if isinstance(lifetime, int) and isinstance(rotation, int) and lifetime < 2 * rotation:
        problems.append(
            f"secretLifetimeDays: {lifetime} must be at least twice secretRotationDays "
            f"({2 * rotation}), so that the previous secret outlives the next rotation"
        )

    apps = [_as_dict(app) for app in _as_list(raw.get("applications"))]
    seen: dict[str, int] = {}
    for index, app in enumerate(apps):
        name = app.get("name")
        if isinstance(name, str):
            if name.upper() in seen:
                problems.append(
                    f"applications[{index}].name: '{name}' is already used by "
                    f"applications[{seen[name.upper()]}]; each application needs its own name"
                )
            seen.setdefault(name.upper(), index)
            if name.upper().endswith(rules.NON_PROD_SUFFIX):
                problems.append(
                    f"applications[{index}].name: '{name}' must not end with "
                    f"'{rules.NON_PROD_SUFFIX}'; the suffix is added in np and never used in prod"
                )

    if environment == "prod" and raw.get("protect") is False:
        problems.append(
            "protect: false is not allowed in prod; prod registrations and vault secrets stay "
            "protected (retire one application with applications[].retired instead)"
        )

    minimum = raw.get("minimumOwners", rules.DEFAULT_MINIMUM_OWNERS)
    deployer = str(raw.get("deployerObjectId", "")).lower()
    if isinstance(minimum, int):
        for index, app in enumerate(apps):
            owners = app.get("owners")
            if isinstance(owners, list):
                owners = {str(owner).lower() for owner in owners} - {deployer}
            if isinstance(owners, set) and len(owners) < minimum:
                problems.append(
                    f"applications[{index}].owners: has {len(owners)} owner(s) besides the "
                    f"deployer, must have at least {minimum} (minimumOwners) distinct Entra "
                    "object IDs"
                )

    known = next((e for e in rules.ENVIRONMENTS if e == environment), None)
    if known is not None:
        problems.extend(_environment_problems(raw, known))
    problems.extend(_authorization_problems(apps, known))
    problems.extend(_retirement_problems(apps))
    problems.extend(_credential_problems(apps))
    return problems


def _credential_problems(apps: list[dict[str, Any]]) -> list[str]:
    """Every application keeps a way to sign in; federated credentials are unique by name and
    by issuer and subject, as Graph refuses a second one of either."""
    problems: list[str] = []
    for index, app in enumerate(apps):
        federated = [_as_dict(c) for c in _as_list(app.get("federatedCredentials"))]
        if app.get("clientSecret") is False:
            if not federated:
                problems.append(
                    f"applications[{index}].clientSecret: false needs at least one entry in "
                    f"applications[{index}].federatedCredentials; without either the "
                    "application could not sign in"
                )
            if app.get("emergencyRotation") is not None:
                problems.append(
                    f"applications[{index}].emergencyRotation: the application has no client "
                    "secret to rotate (clientSecret: false); remove the key"
                )
            if _as_dict(app.get("adopt")).get("vaultSecret") is True:
                problems.append(
                    f"applications[{index}].adopt.vaultSecret: true takes over a vault secret, "
                    "but the application has no client secret (clientSecret: false)"
                )
        names: dict[str, int] = {}
        pairs: dict[tuple[str, str], int] = {}
        for position, credential in enumerate(federated):
            where = f"applications[{index}].federatedCredentials[{position}]"
            name, issuer, subject = (
                credential.get("name"),
                credential.get("issuer"),
                credential.get("subject"),
            )
            if isinstance(name, str):
                if name.lower() in names:
                    problems.append(
                        f"{where}.name: '{name}' is already used by "
                        f"federatedCredentials[{names[name.lower()]}]; names are unique per "
                        "application"
                    )
                names.setdefault(name.lower(), position)
            if isinstance(issuer, str) and isinstance(subject, str):
                pair = (issuer, subject)
                if pair in pairs:
                    problems.append(
                        f"{where}: issuer '{issuer}' and subject '{subject}' are already "
                        f"federatedCredentials[{pairs[pair]}]; each pair is trusted once per "
                        "application"
                    )
                pairs.setdefault(pair, position)
    return problems


def credential_hints(settings: StackSettings) -> list[str]:
    """Federated credentials whose subject does not have its well-known issuer's form."""
    return [
        f"applications[{index}].federatedCredentials[{position}].subject: {hint}"
        for index, app in enumerate(settings.applications)
        for position, credential in enumerate(app.federated_credentials)
        if (hint := federation.subject_hint(credential.issuer, credential.subject))
    ]


def _retirement_problems(apps: list[dict[str, Any]]) -> list[str]:
    """A retired application loses its LKPS access: no other application may still rely on it."""
    retired = {app.get("name") for app in apps if app.get("retired") is True}
    return [
        f"applications[{index}].{key}[{position}]: '{other}' is retired; remove it here first "
        "(or in the same change)"
        for index, app in enumerate(apps)
        if app.get("retired") is not True
        for key in ("clients", "agents")
        for position, other in enumerate(_as_list(app.get(key)))
        if other in retired
    ]


def _article(role: Any) -> str:
    return f"an {role}" if role == "agent" else f"a {role}"


def _authorization_problems(
    apps: list[dict[str, Any]], environment: Environment | None
) -> list[str]:
    """Who may pre-authorize whom: agents name clients, clients name agents, within the stack,
    and external clients of the stack's environment only."""
    roles = {app.get("name"): app.get("role") for app in apps if isinstance(app.get("name"), str)}
    problems: list[str] = []
    for index, app in enumerate(apps):
        name, role = app.get("name"), app.get("role")
        for key, owner, wanted in (("clients", "agent", "client"), ("agents", "client", "agent")):
            names = _as_list(app.get(key))
            if role not in rules.ROLES:
                continue
            if names and role != owner:
                problems.append(
                    f"applications[{index}].{key}: only {owner}s have {key}; '{name}' is a {role}"
                )
                continue
            for position, other in enumerate(names):
                where = f"applications[{index}].{key}[{position}]"
                if other == name:
                    problems.append(f"{where}: '{other}' is this application itself")
                elif other not in roles:
                    known = sorted(str(n) for n in roles)
                    shown = ", ".join(known[:10]) + (
                        f" and {len(known) - 10} more" if len(known) > 10 else ""
                    )
                    problems.append(
                        f"{where}: '{other}' is not an application of this stack (known: {shown})"
                    )
                elif roles[other] != wanted:
                    problems.append(
                        f"{where}: '{other}' is {_article(roles[other])}, not {_article(wanted)}"
                    )
        externals = _as_list(app.get("externalClients"))
        if externals and role == "client":
            problems.append(
                f"applications[{index}].externalClients: only agents have clients; "
                f"'{name}' is a {role}"
            )
        seen: set[str] = set()
        for position, external in enumerate(_as_dict(e) for e in externals):
            where = f"applications[{index}].externalClients[{position}]"
            client_id = str(external.get("clientId", "")).lower()
            if client_id in seen:
                problems.append(f"{where}.clientId: '{client_id}' is listed twice")
            seen.add(client_id)
            other = external.get("environment")
            if environment and other in rules.ENVIRONMENTS and other != environment:
                problems.append(
                    f"{where}.environment: '{other}' client in a {environment} stack; "
                    "np and prod never mix"
                )
    return problems


def _environment_problems(raw: Mapping[str, Any], environment: Environment) -> list[str]:
    values = {
        "keyVault.resourceGroupName": _as_dict(raw.get("keyVault")).get("resourceGroupName"),
        "keyVault.vaultName": _as_dict(raw.get("keyVault")).get("vaultName"),
        "ocelot.apiUrl": _as_dict(raw.get("ocelot")).get("apiUrl"),
        "ocelot.tokenScope": _as_dict(raw.get("ocelot")).get("tokenScope"),
    }
    problems = []
    for key, value in values.items():
        misfit = rules.environment_misfit(value, environment) if isinstance(value, str) else None
        if misfit:
            problems.append(f"{key}: '{value}' {misfit}")
    return problems


def _validate(
    model: type[M], raw: Mapping[str, Any], secret_keys: Iterable[str]
) -> tuple[M | None, list[str]]:
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        hidden = set(secret_keys)
        return None, [_describe(error, hidden) for error in exc.errors(include_url=False)]


def parse_settings(
    raw: Mapping[str, Any], stack: str, secret_keys: Iterable[str] = ()
) -> StackSettings:
    """Validate raw config values (camelCase keys, no namespace); raise ConfigError listing all."""
    settings, problems = _validate(StackSettings, raw, secret_keys)
    problems.extend(_consistency_problems(raw, stack))
    if "ocelotToken" in raw and "ocelotToken" not in set(secret_keys):
        problems.append(
            "ocelotToken: must be stored encrypted: "
            "pulumi config set --secret ocelotToken (then rotate the exposed token)"
        )
    if problems or settings is None:
        raise ConfigError(f"stack '{stack}'", list(dict.fromkeys(problems)))
    return settings


def parse_ocelot_access_settings(raw: Mapping[str, Any]) -> OcelotAccessSettings:
    """Validate the config the Ocelot provider needs; raise ConfigError listing all problems."""
    settings, problems = _validate(OcelotAccessSettings, raw, secret_keys={"ocelotToken"})
    if problems or settings is None:
        raise ConfigError("the Ocelot provider's stack config", problems)
    return settings


def ocelot_access_settings(get: Callable[[str], Any]) -> OcelotAccessSettings:
    """The Ocelot provider's settings, read in its own process from the stack config that the
    engine hands it (`get(key)` without the namespace): the keys of `OcelotAccessSettings`."""
    keys = [field.alias or name for name, field in OcelotAccessSettings.model_fields.items()]
    return parse_ocelot_access_settings(
        {key: decode(get(key)) for key in keys if get(key) is not None}
    )


def decode(value: Any) -> Any:
    """A config value as the engine passes it (a string, JSON for objects), decoded."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """The raw values of every key under the project namespace, and which of them are secret."""
    prefix = f"{pulumi.get_project()}:"
    keys = [key for key in runtime_config.CONFIG.get() if key.startswith(prefix)]
    raw = {key.removeprefix(prefix): decode(runtime_config.get_config(key)) for key in keys}
    secret = {key.removeprefix(prefix) for key in keys if runtime_config.is_config_secret(key)}
    return raw, secret


def load_settings() -> StackSettings:
    """Read and validate this stack's settings; raise ConfigError listing every problem."""
    raw, secret_keys = read_stack_config()
    return parse_settings(raw, pulumi.get_stack(), secret_keys)
