"""The schema of the stack's settings: the `lkps-onboarding:` config namespace as typed models.

Each field names its allowed form; `lkps.config` validates raw config against these models and
reports every problem at once (`lkps.config_messages`, `lkps.config_checks`).
"""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    SecretStr,
    model_validator,
)
from pydantic.alias_generators import to_camel

from lkps import federation, rules
from lkps.agent_id import MAX_SPONSORS
from lkps.rules import Environment, Region, Role


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


# An unquoted date in a stack file (`emergencyRotation: 2026-12-07`) is a YAML timestamp: the
# Pulumi CLI hands it to the program as Go's rendering of a time.Time, "2026-12-07 00:00:00
# +0000 UTC". That midnight is taken as the date written; any other time stays an error.
_YAML_MIDNIGHT: Final = re.compile(r"(\d{4}-\d{2}-\d{2}) 00:00:00 \+0000 UTC")


def _written_date(value: Any) -> Any:
    if isinstance(value, str) and (midnight := _YAML_MIDNIGHT.fullmatch(value)):
        return midnight.group(1)
    return value


ConfigDate = Annotated[date, BeforeValidator(_written_date)]

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


class BlueprintSettings(_Settings):
    """The stack's agent identity blueprint (Microsoft Entra Agent ID), shared by the agents of
    the stack on `identity: agentId`: its sponsors (users accountable for it, at least one),
    extra owners, BEAT ID, and its credentials, which its agent identities sign in through: a
    rotating client secret published to the vault (the default), federated identity
    credentials, or both while it moves from one to the other."""

    beat_id: BeatId
    sponsors: Annotated[
        list[Guid], Field(min_length=1, max_length=MAX_SPONSORS), AfterValidator(_unique)
    ]
    owners: Annotated[list[Guid], AfterValidator(_unique)] = []
    client_secret: bool = True
    federated_credentials: Annotated[
        list[FederatedCredentialSettings], Field(max_length=federation.MAX_PER_APPLICATION)
    ] = []
    # As an application's: revoke every client secret of the blueprint older than this day.
    emergency_rotation: ConfigDate | None = None
    # The Graph provider's patience (components.agent_id.provider reads them in its process).
    request_timeout_seconds: Annotated[float, Field(gt=0, le=300)] = 30.0
    retry_deadline_seconds: Annotated[float, Field(gt=0, le=3600)] = 120.0


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
    emergency_rotation: ConfigDate | None = None
    retired: bool = False
    adopt: AdoptionSettings | None = None
    # Its credentials: a rotating client secret published to the vault (the default), federated
    # identity credentials, or both while it moves from one to the other.
    client_secret: bool = True
    federated_credentials: Annotated[
        list[FederatedCredentialSettings], Field(max_length=federation.MAX_PER_APPLICATION)
    ] = []
    # An agent's identity: an app registration (the default), or a Microsoft Entra Agent ID
    # agent identity of the stack's blueprint (`agentId`), sponsored by `sponsors`. While an
    # agent moves to Agent ID, `registration` keeps its app registration beside the agent
    # identity (`parallel`), then retires it (`retired`) before it is removed.
    identity: Literal["appRegistration", "agentId"] = "appRegistration"
    sponsors: Annotated[list[Guid], Field(max_length=MAX_SPONSORS), AfterValidator(_unique)] = []
    registration: Literal["parallel", "retired"] | None = None

    @property
    def on_agent_id(self) -> bool:
        return self.identity == "agentId"

    @property
    def has_registration(self) -> bool:
        """Whether the application has an app registration this run."""
        return not self.on_agent_id or self.registration is not None

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
    agent_id: BlueprintSettings | None = None
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
