"""The stack program: validated settings in, one LKPS environment and its outputs out.

The wiring of the project: it reads the config (`lkps.config`), turns it into the plain values
the components take (`components/`), and exports what each application's component exposes.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any, Final

import pulumi
from pulumi.runtime import config as runtime_config

from components.agent_blueprint import AgentBlueprint
from components.environment import (
    ApplicationSpec,
    BlueprintSpec,
    LkpsEnvironment,
    LkpsEnvironmentArgs,
)
from components.federated_credentials import FederatedCredentialSpec
from components.onboarded_application import OnboardedApplication
from lkps import agent_id, rules, switches
from lkps.config import ConfigError, decode, parse_settings
from lkps.config_checks import credential_hints
from lkps.rotation import RotationPolicy, RotationState, RotationStateError, today_utc
from lkps.settings import ApplicationSettings, FederatedCredentialSettings, StackSettings

ROTATION_OUTPUT: Final = "secretRotation"
# The engine's built-in provider serves this function (pkg/resource/deploy/builtins.go).
READ_STACK_OUTPUTS: Final = "pulumi:pulumi:readStackOutputs"
READ_ATTEMPTS: Final = 5


def run(
    today: date | None = None,
    break_glass: str | None = None,
    recovered: Mapping[str, str] | None = None,
) -> LkpsEnvironment:
    """Build the stack; a config problem stops the run before any resource is registered.

    `break_glass` (else the `LKPS_BREAK_GLASS` variable) is a person's reason to run as another
    identity than the pinned deployer. `recovered` names, by resource name, the objects an
    interrupted run made and never recorded, with their IDs: they are imported."""
    day = today or today_utc()
    try:
        settings = load_settings()
        recorded = last_outputs()
        problems = (
            emergency_problems(settings, day)
            + removal_problems(settings, recorded)
            + secret_removal_problems(settings, recorded)
            + agent_id_move_problems(settings, recorded)
        )
        if problems:
            raise ConfigError(f"stack '{pulumi.get_stack()}'", problems)
        for warning in [size_warning(settings), *credential_hints(settings)]:
            if warning:
                pulumi.log.warn(warning)
        reason = break_glass or switches.setting(switches.BREAK_GLASS)
        applications = recorded.get("applications")
        last_applications = applications if isinstance(applications, Mapping) else {}
        return build(
            settings, day, last_rotation(recorded), reason, last_applications, recovered or {}
        )
    except (ConfigError, RotationStateError) as exc:
        raise pulumi.RunError(str(exc)) from None


def read_stack_config() -> tuple[dict[str, Any], set[str]]:
    """The raw values of every key under the project namespace, and which of them are secret.

    The SDK has no public way to list a stack's keys (`pulumi.Config` reads one key it is
    told), and unknown keys must be found to be reported: this reads the SDK's config store
    (`pulumi.runtime.config.CONFIG`, pinned by the lock file) here and nowhere else."""
    prefix = f"{pulumi.get_project()}:"
    keys = [key for key in runtime_config.CONFIG.get() if key.startswith(prefix)]
    raw = {key.removeprefix(prefix): decode(runtime_config.get_config(key)) for key in keys}
    secret = {key.removeprefix(prefix) for key in keys if runtime_config.is_config_secret(key)}
    return raw, secret


def load_settings() -> StackSettings:
    """Read and validate this stack's settings; raise ConfigError listing every problem."""
    raw, secret_keys = read_stack_config()
    return parse_settings(raw, pulumi.get_stack(), secret_keys)


def emergency_problems(settings: StackSettings, today: date) -> list[str]:
    """An emergency rotation dated after today would silently wait: say so instead."""
    dated = [
        (f"applications[{index}]", app.emergency_rotation)
        for index, app in enumerate(settings.applications)
    ]
    if settings.agent_id is not None:
        dated.append(("agentId", settings.agent_id.emergency_rotation))
    return [
        f"{key}.emergencyRotation: {day} is after today ({today}); use the day the secret may "
        "have leaked, at the latest today"
        for key, day in dated
        if day is not None and day > today
    ]


def size_warning(settings: StackSettings) -> str | None:
    """Past `maxApplications`, a stack's runs slow down faster than it grows: name the split."""
    count = len(settings.applications)
    if count <= settings.max_applications:
        return None
    stack = pulumi.get_stack()
    return (
        f"stack '{stack}' has {count} applications, more than maxApplications "
        f"({settings.max_applications}): split them into team stacks "
        f"(Pulumi.{settings.environment}-<team>.yaml, README: Scale); each application past "
        "that many makes every up of this stack slower than the last"
    )


def last_outputs() -> Mapping[str, Any]:
    """The outputs the last run of this stack recorded (none on a new stack), read through the
    engine's built-in stack-reference function: no resource, so previews and refreshes show
    nothing for it."""
    name = f"{pulumi.get_organization()}/{pulumi.get_project()}/{pulumi.get_stack()}"
    # The engine may be writing the stack's checkpoint as the program starts; a file or blob
    # backend can then hand back a torn read ("failed to load checkpoint: EOF"). Read again.
    for attempt in range(READ_ATTEMPTS):
        try:
            answer = pulumi.runtime.invoke(READ_STACK_OUTPUTS, {"name": name}).value or {}
            break
        except Exception as exc:  # the invoke's error says what the backend answered
            if attempt == READ_ATTEMPTS - 1:
                raise pulumi.RunError(
                    f"the last run's record of stack {name} could not be read ({exc}); "
                    "nothing was changed: run it again"
                ) from None
            time.sleep(0.5 * (attempt + 1))
    outputs = answer.get("outputs")
    return outputs if isinstance(outputs, Mapping) else {}


def last_rotation(outputs: Mapping[str, Any]) -> dict[str, RotationState]:
    """What the last run recorded about each application's client secrets."""
    recorded = outputs.get(ROTATION_OUTPUT)
    if not isinstance(recorded, Mapping):
        return {}
    return {
        app: RotationState.from_output(state, f"{ROTATION_OUTPUT}.{app}")
        for app, state in recorded.items()
    }


def removal_problems(settings: StackSettings, outputs: Mapping[str, Any]) -> list[str]:
    """A protected application dropped from the config would fail halfway, after its LKPS
    access and secrets are gone: it must be retired first."""
    if not settings.protect_resources:
        return []
    configured = {app.name for app in settings.applications}
    last = outputs.get("applications")
    return [
        f"applications: '{name}' was removed while its resources are protected; first set "
        f"applications[].retired: true for it in one reviewed change, then remove it "
        "(README: Retiring an application). Nothing was changed."
        for name, recorded in (last.items() if isinstance(last, Mapping) else [])
        if name not in configured
        and not (isinstance(recorded, Mapping) and recorded.get("retiring"))
    ]


def secret_removal_problems(settings: StackSettings, outputs: Mapping[str, Any]) -> list[str]:
    """A client secret is removed only from an application whose federated credentials a run
    already made: the team moves its workload to them between the two changes."""
    last = outputs.get("applications")
    recorded = last if isinstance(last, Mapping) else {}
    problems = []
    for index, app in enumerate(settings.applications):
        record = recorded.get(app.name)
        if app.client_secret or not isinstance(record, Mapping):
            continue
        if "clientSecret" not in record.get("credentialKinds", ["clientSecret"]):
            continue
        made = {str(c.get("name")) for c in record.get("federatedCredentials") or []}
        missing = [c.name for c in app.federated_credentials if c.name not in made]
        if not made or missing:
            problems.append(
                f"applications[{index}].clientSecret: false removes the client secret of "
                f"'{app.name}', whose federated credentials "
                f"{', '.join(missing) or 'are'} not deployed yet; first deploy "
                "federatedCredentials with the secret kept, move the workload to them, then "
                "remove the secret in its own reviewed change (README: Secretless "
                "applications). Nothing was changed."
            )
    blueprint, record = settings.agent_id, outputs.get("agentIdBlueprint")
    if blueprint is not None and not blueprint.client_secret and isinstance(record, Mapping):
        made = {str(c.get("name")) for c in record.get("federatedCredentials") or []}
        missing = [c.name for c in blueprint.federated_credentials if c.name not in made]
        if "clientSecret" in record.get("credentialKinds", []) and (not made or missing):
            problems.append(
                "agentId.clientSecret: false removes the blueprint's client secret, whose "
                f"federated credentials {', '.join(missing) or 'are'} not deployed yet; first "
                "deploy agentId.federatedCredentials with the secret kept, move the agents to "
                "them, then remove the secret in its own reviewed change. Nothing was changed."
            )
    return problems


def agent_id_move_problems(settings: StackSettings, outputs: Mapping[str, Any]) -> list[str]:
    """An agent moves to Agent ID without an outage: its agent identity joins the routes beside
    its registration first, and the registration is retired, then removed, in later changes."""
    last = outputs.get("applications")
    recorded = last if isinstance(last, Mapping) else {}
    problems = []
    for index, app in enumerate(settings.applications):
        record = recorded.get(app.name)
        record = record if isinstance(record, Mapping) else {}
        had_registration = "objectId" in record
        registration = record.get("registration", "active" if had_registration else None)
        where = f"applications[{index}]"
        if app.on_agent_id and app.registration is None and registration == "active":
            problems.append(
                f"{where}.identity: agentId would delete the app registration of '{app.name}' "
                "while it is on the LKPS routes; first set registration: parallel (the agent "
                "identity joins the routes beside it), move the agent to the agent identity, "
                "then retire the registration (README: Agents on Microsoft Entra Agent ID). "
                "Nothing was changed."
            )
        elif app.on_agent_id and app.registration is None and registration == "parallel":
            problems.append(
                f"{where}.registration: removing it deletes the app registration of "
                f"'{app.name}', which is still on the LKPS routes; first set registration: "
                "retired in its own reviewed change. Nothing was changed."
            )
        elif app.registration is not None and not had_registration:
            problems.append(
                f"{where}.registration: {app.registration} keeps an existing app registration "
                f"beside the agent identity; '{app.name}' has none (remove the key)"
            )
        elif app.registration == "retired" and "agentIdentityId" not in record:
            problems.append(
                f"{where}.registration: retired takes the registration of '{app.name}' off the "
                "LKPS routes, but no run has put its agent identity there yet; first deploy "
                "registration: parallel. Nothing was changed."
            )
    return problems


def blueprint_spec(settings: StackSettings) -> BlueprintSpec | None:
    """The stack's blueprint, when an agent is on Agent ID."""
    blueprint = settings.agent_id
    if blueprint is None or not any(app.on_agent_id for app in settings.applications):
        return None
    stack = pulumi.get_stack()
    return BlueprintSpec(
        unique_name=agent_id.blueprint_unique_name(stack, settings.environment),
        display_name=agent_id.blueprint_display_name(stack, settings.environment),
        beat_id=blueprint.beat_id,
        sponsors=blueprint.sponsors,
        owners=blueprint.owners,
        client_secret=blueprint.client_secret,
        federated=_federated_specs(blueprint.federated_credentials),
        emergency_rotation=blueprint.emergency_rotation,
    )


def _federated_specs(
    credentials: Sequence[FederatedCredentialSettings],
) -> list[FederatedCredentialSpec]:
    return [
        FederatedCredentialSpec(
            name=credential.name,
            issuer=credential.issuer,
            subject=credential.subject,
            audiences=credential.audiences,
            description=credential.description,
        )
        for credential in credentials
    ]


def build(
    settings: StackSettings,
    today: date,
    last: Mapping[str, RotationState] | None = None,
    break_glass: str | None = None,
    last_applications: Mapping[str, Any] | None = None,
    recovered: Mapping[str, str] | None = None,
) -> LkpsEnvironment:
    """The resources and outputs of one environment, from settings already validated."""
    authorized = settings.authorized_clients()
    retired = {app.name for app in settings.applications if app.retired}
    environment = LkpsEnvironment(
        "lkps",
        LkpsEnvironmentArgs(
            environment=settings.environment,
            tenant_id=settings.tenant_id,
            subscription_id=settings.key_vault.subscription_id,
            resource_group_name=settings.key_vault.resource_group_name,
            vault_name=settings.key_vault.vault_name,
            deployer_object_id=settings.deployer_object_id,
            rotation_policy=RotationPolicy(
                rotation_days=settings.secret_rotation_days,
                lifetime_days=settings.secret_lifetime_days,
            ),
            today=today,
            last_rotation=last or {},
            break_glass=break_glass,
            purge_deleted_secrets=settings.key_vault.purge_deleted_secrets,
            last_applications=dict(last_applications or {}),
            recovered=recovered or {},
            protect=settings.protect_resources,
            ocelot_by_hand=settings.ocelot.mode == "manual",
            blueprint=blueprint_spec(settings),
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
                    emergency_rotation=app.emergency_rotation,
                    retired=app.retired,
                    adopt=app.adopt,
                    client_secret=app.client_secret and app.has_registration,
                    federated=_federated_specs(app.federated_credentials),
                    agent_id=app.on_agent_id,
                    sponsors=app.sponsors,
                    registration=(
                        "none"
                        if not app.has_registration
                        else "retired"
                        if app.registration == "retired"
                        else "active"
                    ),
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
        app.name: _outputs(app, environment.applications[app.name]) for app in settings.applications
    }
    for agent, clients in authorized.items():
        onboarded = environment.applications[agent]
        if onboarded.client_id is not None:
            applications[agent]["agentAppId"] = onboarded.client_id
        authorization = environment.authorizations.get(agent)
        by_app_role = onboarded.agent_identity_id is not None and agent not in retired
        if by_app_role:
            applications[agent]["appRoleAuthorizedClients"] = [
                {"name": client, "clientId": environment.applications[client].client_id}
                for client in clients
            ]
        if by_app_role or authorization is not None:
            for client in clients:
                reach = applications[client].setdefault("agents", [])
                assert isinstance(reach, list)
                reach.append(agent)
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
    pulumi.export("applications", applications)
    if environment.blueprint is not None:
        pulumi.export("agentIdBlueprint", _blueprint_outputs(settings, environment.blueprint))
    pulumi.export(
        ROTATION_OUTPUT,
        {name: plan.state.to_output() for name, plan in environment.rotation_plans.items()},
    )
    return environment


def _outputs(app: ApplicationSettings, onboarded: OnboardedApplication) -> dict[str, object]:
    secret: dict[str, object] = {
        "vaultSecretName": onboarded.vault_secret_name,
        "vaultSecretUri": onboarded.vault_secret_uri,
        "vaultSecretId": onboarded.vault_secret_id,
        "vaultSecretResource": onboarded.vault_secret_resource,
        "secretEndDate": onboarded.secret_end_date,
        "nextRotationDate": onboarded.next_rotation_date,
    }
    registration: dict[str, object] = {
        "clientId": onboarded.client_id,
        "objectId": onboarded.object_id,
        "servicePrincipalObjectId": onboarded.service_principal_object_id,
        "credentialKinds": _credential_kinds(app.client_secret, app.federated_credentials),
    }
    agent_identity: dict[str, object] = {
        "identity": app.identity,
        "agentIdentityId": onboarded.agent_identity_id,
        "sponsors": list(app.sponsors),
        **({"registration": app.registration} if app.registration else {}),
    }
    return {
        "displayName": onboarded.display_name,
        "role": app.role,
        "beatId": app.beat_id,
        **(agent_identity if app.on_agent_id else {}),
        **(registration if app.has_registration else {}),
        **(secret if app.client_secret and app.has_registration else {}),
        **(
            _federated_outputs(app.federated_credentials, onboarded.federated_credential_ids)
            if app.has_registration
            else {}
        ),
        "routes": sorted(onboarded.route_ids.values()),
        "ocelot": onboarded.ocelot,
        **({"retiring": True} if app.retired else {}),
    }


def _blueprint_outputs(settings: StackSettings, blueprint: AgentBlueprint) -> dict[str, object]:
    """What the stack exports about its agent identity blueprint."""
    spec = settings.agent_id
    assert spec is not None
    stack = pulumi.get_stack()
    secret: dict[str, object] = {
        "vaultSecretName": blueprint.vault_secret_name,
        "vaultSecretUri": blueprint.vault_secret_uri,
        "secretEndDate": blueprint.secret_end_date,
        "nextRotationDate": blueprint.next_rotation_date,
    }
    return {
        "uniqueName": agent_id.blueprint_unique_name(stack, settings.environment),
        "displayName": agent_id.blueprint_display_name(stack, settings.environment),
        "appId": blueprint.app_id,
        "objectId": blueprint.object_id,
        "principalObjectId": blueprint.principal_object_id,
        "appRoleId": blueprint.app_role_id,
        "beatId": spec.beat_id,
        "sponsors": list(spec.sponsors),
        "credentialKinds": _credential_kinds(spec.client_secret, spec.federated_credentials),
        **(secret if spec.client_secret else {}),
        **_federated_outputs(spec.federated_credentials, blueprint.federated_credential_ids),
    }


def _credential_kinds(
    client_secret: bool, federated: Sequence[FederatedCredentialSettings]
) -> list[str]:
    return [*(["clientSecret"] if client_secret else []), *(["federated"] if federated else [])]


def _federated_outputs(
    federated: Sequence[FederatedCredentialSettings], ids: Mapping[str, pulumi.Output[str]]
) -> dict[str, object]:
    """The federated credentials as deployed (name, issuer, subject, credential ID), if any."""
    if not federated:
        return {}
    return {
        "federatedCredentials": [
            {
                "name": credential.name,
                "issuer": credential.issuer,
                "subject": credential.subject,
                "credentialId": ids[credential.name],
            }
            for credential in federated
        ]
    }
