"""The stack program: validated settings in, one LKPS environment and its outputs out."""

from __future__ import annotations

from datetime import date

import pulumi

from components.environment import LkpsEnvironment, LkpsEnvironmentArgs
from components.onboarded_application import OnboardedApplication
from lkps import rules
from lkps.config import ApplicationSettings, ConfigError, StackSettings, load_settings
from lkps.rotation import today_utc


def run(today: date | None = None) -> LkpsEnvironment:
    """Build the stack; a config problem stops the run before any resource is registered."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    return build(settings, today or today_utc())


def build(settings: StackSettings, today: date) -> LkpsEnvironment:
    """The resources and outputs of one environment, from settings already validated."""
    environment = LkpsEnvironment(
        "lkps",
        LkpsEnvironmentArgs(settings=settings, today=today),
    )
    pulumi.export("environment", settings.environment)
    pulumi.export("tenantId", settings.tenant_id)
    pulumi.export("lkpsScope", rules.lkps_scope(settings.environment))
    pulumi.export("ocelotApiUrl", settings.ocelot.api_url)
    pulumi.export("ocelotTokenScope", settings.ocelot.token_scope)
    pulumi.export(
        "applications",
        {
            app.name: _outputs(app, environment.applications[app.name])
            for app in settings.applications
        },
    )
    return environment


def _outputs(app: ApplicationSettings, onboarded: OnboardedApplication) -> dict[str, object]:
    return {
        "displayName": onboarded.registration.display_name,
        "role": app.role,
        "beatId": app.beat_id,
        "clientId": onboarded.client_id,
        "objectId": onboarded.registration.object_id,
        "servicePrincipalObjectId": onboarded.registration.service_principal_object_id,
        "vaultSecretName": onboarded.credentials.vault_secret_name,
        "vaultSecretUri": onboarded.credentials.vault_secret_uri,
        "secretEndDate": onboarded.credentials.end_date,
        "nextRotationDate": onboarded.credentials.next_rotation_date,
        "routes": sorted(onboarded.route_ids.values()),
    }
