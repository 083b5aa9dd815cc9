"""The stack program: validated settings in, one LKPS environment and its outputs out.

The wiring of the project: it reads the config (`lkps.config`), turns it into the plain values
the components take (`components/`), and exports what each application's component exposes.
"""

from __future__ import annotations

from datetime import date

import pulumi

from components.environment import ApplicationSpec, LkpsEnvironment, LkpsEnvironmentArgs
from components.onboarded_application import OnboardedApplication
from lkps import rules
from lkps.config import ConfigError, StackSettings, load_settings
from lkps.rotation import RotationPolicy, today_utc


def run(today: date | None = None) -> LkpsEnvironment:
    """Build the stack; a config problem stops the run before any resource is registered."""
    try:
        settings = load_settings()
    except ConfigError as exc:
        raise pulumi.RunError(str(exc)) from None
    return build(settings, today or today_utc())


def build(settings: StackSettings, today: date) -> LkpsEnvironment:
    """The resources and outputs of one environment, from settings already validated."""
    authorized = settings.authorized_clients()
    environment = LkpsEnvironment(
        "lkps",
        LkpsEnvironmentArgs(
            environment=settings.environment,
            tenant_id=settings.tenant_id,
            subscription_id=settings.key_vault.subscription_id,
            resource_group_name=settings.key_vault.resource_group_name,
            vault_name=settings.key_vault.vault_name,
            rotation=RotationPolicy(
                rotation_days=settings.secret_rotation_days,
                lifetime_days=settings.secret_lifetime_days,
            ).plan(today),
            protect=settings.protect_resources,
            applications=[
                ApplicationSpec(
                    name=app.name,
                    display_name=app.display_name(settings.environment),
                    role=app.role,
                    beat_id=app.beat_id,
                    description=app.description,
                    owners=app.owners,
                    regions=app.regions,
                    clients=authorized.get(app.name, []),
                    external_clients={
                        f"external-{client.label}": client.client_id
                        for client in app.external_clients
                    },
                )
                for app in settings.applications
            ],
        ),
    )
    pulumi.export("environment", settings.environment)
    pulumi.export("tenantId", settings.tenant_id)
    pulumi.export("lkpsScope", rules.lkps_scope(settings.environment))
    pulumi.export("ocelotApiUrl", settings.ocelot.api_url)
    pulumi.export("ocelotTokenScope", settings.ocelot.token_scope)
    applications: dict[str, dict[str, object]] = {
        app.name: _outputs(app.role, app.beat_id, environment.applications[app.name])
        for app in settings.applications
    }
    for agent, clients in authorized.items():
        onboarded = environment.applications[agent]
        applications[agent]["agentAppId"] = onboarded.client_id
        authorization = environment.authorizations.get(agent)
        if authorization is None:
            continue
        applications[agent]["clientScope"] = authorization.scope
        app = next(a for a in settings.applications if a.name == agent)
        applications[agent]["preAuthorizedClients"] = [
            {
                "name": client,
                "clientId": environment.applications[client].client_id,
                "environment": settings.environment,
            }
            for client in clients
        ] + [
            {
                "name": external.label,
                "clientId": external.client_id.lower(),
                "environment": external.environment,
                "beatId": external.beat_id,
            }
            for external in app.external_clients
        ]
        for client in clients:
            reach = applications[client].setdefault("agents", [])
            assert isinstance(reach, list)
            reach.append(agent)
    pulumi.export("applications", applications)
    return environment


def _outputs(role: str, beat_id: str, onboarded: OnboardedApplication) -> dict[str, object]:
    return {
        "displayName": onboarded.display_name,
        "role": role,
        "beatId": beat_id,
        "clientId": onboarded.client_id,
        "objectId": onboarded.object_id,
        "servicePrincipalObjectId": onboarded.service_principal_object_id,
        "vaultSecretName": onboarded.vault_secret_name,
        "vaultSecretUri": onboarded.vault_secret_uri,
        "secretEndDate": onboarded.secret_end_date,
        "nextRotationDate": onboarded.next_rotation_date,
        "routes": sorted(onboarded.route_ids.values()),
    }
