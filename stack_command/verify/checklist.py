"""The onboarding page's checklist, item by item, for each application of a stack.

Read-only: every check reads Graph, the vault or Ocelot and changes nothing. A check that gets
401/403 says which right the running identity lacks; the secret value is read only for the
optional token check and never printed.

An agent on Microsoft Entra Agent ID (`identity: agentId`) is checked on what its users depend
on: the stack's blueprint (a blueprint, sponsored, with its `access_as_client` app role and its
principal), its agent identity (of that blueprint, enabled, sponsored), the blueprint's
credential, each client's assignment of the app role, and the agent identity's entries on the
Ocelot routes. While it keeps its app registration (`registration: parallel`) the
registration's items run as well; once the registration is retired, its entries must be gone
from the routes, as a retired application's are.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from components.azure_reads import LiveSources, RefusedError, UnreachableError
from components.ocelot.api import ACTIVE, PENDING, OcelotClient, OcelotError
from lkps import rules
from lkps.agent_id import ocelot_client_id
from lkps.settings import ApplicationSettings, FederatedCredentialSettings, StackSettings
from stack_command.verify import model
from stack_command.verify.model import AppReport, Finding, Report

OCELOT_USERS_PAGE: Final = {
    "np": "https://devtools-np.bayer.com/profile/applications/OCELOT",
    "prod": "https://devtools.bayer.com/profile/applications/OCELOT",
}
MAX_PARALLEL: Final = 8
_REFUSED: Final = object()
# The `@odata.type` Graph gives each Microsoft Entra Agent ID object (learn.microsoft.com/graph/
# api/resources/agentidentityblueprint, .../agentidentityblueprintprincipal, .../agentidentity).
BLUEPRINT_TYPE: Final = "#microsoft.graph.agentIdentityBlueprint"
BLUEPRINT_PRINCIPAL_TYPE: Final = "#microsoft.graph.agentIdentityBlueprintPrincipal"
AGENT_IDENTITY_TYPE: Final = "#microsoft.graph.agentIdentity"
# How an agent identity gets its token: its blueprint's credential, then the exchange for the
# agent identity (fmi_path), which the sandbox does not emulate.
AGENT_TOKEN_FLOW: Final = (
    "learn.microsoft.com/entra/agent-id/identity-platform/agent-autonomous-app-oauth-flow"
)


@dataclass(frozen=True)
class Context:
    """What every check of one stack needs."""

    stack: str
    settings: StackSettings
    outputs: Mapping[str, Any]
    other_outputs: Mapping[str, Any] | None
    sources: LiveSources
    ocelot: OcelotClient
    today: date
    token_check: bool
    # The key IDs of the client secrets the stack's state holds (None: the state was not read),
    # and whether its last run left creates pending (`scripts/stack up` then settles them).
    held_key_ids: frozenset[str] | None = None
    interrupted: bool = False
    sandbox: bool = False
    # Mints a workload's token (issuer, subject, audience): the sandbox's local issuer. None
    # against Azure, where a workload's token exists only where the workload runs.
    workload_token: Callable[[str, str, str], str] | None = None

    def command(self, verb: str) -> str:
        """A `scripts/stack` command line for this stack, runnable as printed."""
        return f"scripts/stack {verb} {self.stack}" + (" --sandbox" if self.sandbox else "")

    @property
    def up_command(self) -> str:
        return f"run `{self.command('up')}`"


def verify(
    context: Context,
    only: str | None = None,
    progress: Callable[[int, int], None] | None = None,
) -> Report:
    """The checklist of every application (or of `only`), checked concurrently; applications
    being retired are no longer meant to be onboarded and are left out."""
    apps = [
        a
        for a in context.settings.applications
        if (only is None or a.name == only) and not a.retired
    ]
    done = itertools.count(1)
    lock = threading.Lock()
    # The blueprint is the same for every agent on Agent ID: read and checked once.
    blueprint = _check_blueprint(context) if any(app.on_agent_id for app in apps) else None

    def check(app: ApplicationSettings) -> AppReport:
        report = _check_application(context, app, blueprint)
        if progress:
            with lock:
                progress(next(done), len(apps))
        return report

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        reports = list(pool.map(check, apps))
    return Report(context.stack, context.settings.environment, reports, sandbox=context.sandbox)


@dataclass(frozen=True)
class BlueprintCheck:
    """The stack's blueprint as read (None when it cannot be), its finding and those of its
    credentials, shared by the reports of its agents."""

    finding: Finding
    blueprint: dict[str, Any] | None
    credentials: list[Finding]


def _check_blueprint(context: Context) -> BlueprintCheck:
    outputs: Mapping[str, Any] = context.outputs.get("agentIdBlueprint") or {}
    finding, blueprint = _blueprint(context, outputs)
    credentials = [] if blueprint is None else _blueprint_credentials(context, outputs, blueprint)
    return BlueprintCheck(finding, blueprint, credentials)


def _check_application(
    context: Context, app: ApplicationSettings, blueprint_check: BlueprintCheck | None = None
) -> AppReport:
    environment = context.settings.environment
    display_name = app.display_name(environment)
    outputs = (context.outputs.get("applications") or {}).get(app.name)
    client_id = outputs.get("clientId") if outputs else None
    if outputs and app.on_agent_id and app.registration != "parallel":
        # The ID Ocelot's Client Access List holds for it (lkps.agent_id); its registration's
        # while both are on the routes.
        client_id = outputs.get("agentIdentityId")
    report = AppReport(app.name, display_name, client_id)
    findings = report.findings
    if outputs is None:
        findings.append(
            Finding(
                model.AGENT_IDENTITY if app.on_agent_id else model.REGISTRATION,
                "fail",
                f"the stack has no outputs for {app.name}: it was never deployed",
                context.up_command,
            )
        )
        findings.append(_manual_beat(app))
        findings.append(_ocelot_users(environment))
        return report
    if app.on_agent_id:
        findings.extend(
            _on_agent_id(context, app, outputs, blueprint_check or _check_blueprint(context))
        )
        return report
    application = _guarded(
        findings, model.REGISTRATION, context.sources.application, outputs["objectId"]
    )
    findings.append(_beat(context, app, application))
    if application is not _REFUSED:
        findings.extend(_registration_items(context, app, outputs, application))
    authorization = _client_authorization(context, app, application)
    if authorization is not None:
        findings.append(authorization)
    by_app_role = _app_role_of_client(context, app)
    if by_app_role is not None:
        findings.append(by_app_role)
    if context.token_check:
        findings.append(_token(context, app, outputs))
    findings.append(_separate(context, app, outputs))
    findings.append(_ocelot_users(environment))
    findings.extend(_route_access(context, app, outputs))
    return report


def _registration_items(
    context: Context,
    app: ApplicationSettings,
    outputs: Mapping[str, Any],
    application: dict[str, Any] | None,
) -> list[Finding]:
    """The app registration and its credentials."""
    findings = _registration(context, app, outputs, application)
    if "vaultSecretName" in outputs:
        findings.append(_client_secret(context, outputs, application))
    elif app.client_secret:
        findings.append(
            Finding(
                model.CLIENT_SECRET,
                "fail",
                "the config gives it a client secret, which no run has made yet",
                context.up_command,
            )
        )
    if app.federated_credentials or outputs.get("federatedCredentials"):
        findings.append(_federated(context, app, outputs))
    stray = _stray_credentials(context, application)
    if stray is not None:
        findings.append(stray)
    return findings


# -- Microsoft Entra Agent ID ---------------------------------------------------------------------


def _on_agent_id(
    context: Context,
    app: ApplicationSettings,
    outputs: Mapping[str, Any],
    blueprint_check: BlueprintCheck,
) -> list[Finding]:
    """The checklist of an agent on Agent ID: the registration's items while it keeps its
    registration beside the agent identity (`registration: parallel`), the absence of the
    retired registration's Ocelot entries (`registration: retired`), and the Agent ID items."""
    findings: list[Finding] = []
    parallel = app.registration == "parallel"
    application: Any = None
    if parallel and "objectId" not in outputs:
        findings.append(
            Finding(
                model.REGISTRATION,
                "fail",
                "registration: parallel keeps its app registration, but the stack has no "
                "outputs of one",
                context.up_command,
            )
        )
        parallel = False
    elif parallel:
        application = _guarded(
            findings, model.REGISTRATION, context.sources.application, outputs["objectId"]
        )
    findings.append(_beat(context, app, application))
    if parallel and application is not _REFUSED:
        findings.extend(_registration_items(context, app, outputs, application))
    blueprint_outputs: Mapping[str, Any] = context.outputs.get("agentIdBlueprint") or {}
    blueprint = blueprint_check.blueprint
    findings.append(blueprint_check.finding)
    findings.append(_agent_identity(context, app, outputs, blueprint_outputs))
    findings.extend(blueprint_check.credentials)
    if parallel:
        authorization = _client_authorization(context, app, application)
        if authorization is not None:
            findings.append(authorization)
    by_app_role = _app_role_of_agent(context, app, blueprint, blueprint_outputs)
    if by_app_role is not None:
        findings.append(by_app_role)
    if context.token_check:
        if parallel:
            findings.append(_token(context, app, outputs))
        findings.append(_agent_token(context, outputs, blueprint_outputs))
    if parallel:
        findings.append(_separate(context, app, outputs))
    findings.append(_separate_blueprints(context, blueprint_outputs))
    findings.append(_ocelot_users(context.settings.environment))
    if parallel:
        findings.extend(_route_access(context, app, outputs))
    elif app.registration == "retired" and outputs.get("clientId"):
        findings.extend(_retired_entries(context, app, str(outputs["clientId"]).lower()))
    if outputs.get("agentIdentityId"):
        client_id = ocelot_client_id(str(outputs["agentIdentityId"]))
        findings.extend(_route_entries(context, app, client_id, model.AGENT_IDENTITY_ENTRY))
    return findings


def _missing(wanted: Sequence[str], present: Sequence[str]) -> list[str]:
    have = {p.lower() for p in present}
    return sorted({w.lower() for w in wanted} - have)


def _enable_remedy(what: str, object_id: str) -> str:
    """Accounts are not kept by the stack: someone disabled it, maybe on purpose."""
    return (
        f"find out who disabled {what} and why (an administrator, or Microsoft Entra ID "
        "Protection), then enable it again in the Entra admin center, or: az rest --method "
        f"PATCH --url https://graph.microsoft.com/v1.0/servicePrincipals/{object_id} "
        "--body '{\"accountEnabled\": true}'"
    )


def _app_role_problem(blueprint: Mapping[str, Any], blueprint_outputs: Mapping[str, Any]) -> str:
    """What keeps the blueprint's `access_as_client` app role from authorizing clients, or ""."""
    role_id = str(blueprint_outputs.get("appRoleId") or "").lower()
    role = next(
        (r for r in blueprint.get("appRoles") or [] if str(r.get("id")).lower() == role_id),
        None,
    )
    if role is None or role.get("value") != rules.CLIENT_SCOPE_VALUE:
        return (
            f"it has no {rules.CLIENT_SCOPE_VALUE} app role {role_id or '(none recorded)'}: no "
            "client can be authorized to start sessions with its agents"
        )
    if role.get("isEnabled") is False:
        return (
            f"its {rules.CLIENT_SCOPE_VALUE} app role is disabled: its clients lose their "
            "authorization"
        )
    member_types = role.get("allowedMemberTypes")
    if isinstance(member_types, list) and "Application" not in member_types:
        return (
            f"its {rules.CLIENT_SCOPE_VALUE} app role cannot be assigned to client "
            f"applications (allowedMemberTypes {member_types})"
        )
    return ""


def _blueprint(
    context: Context, blueprint_outputs: Mapping[str, Any]
) -> tuple[Finding, dict[str, Any] | None]:
    """The stack's blueprint: it exists and is a blueprint, records the configured BEAT ID, is
    sponsored by the configured sponsors, has its `access_as_client` app role enabled, and its
    blueprint principal (which Entra needs to sign in its agent identities) exists, enabled.
    Also the blueprint as read, when it is one, for its credentials."""
    item = model.AGENT_ID_BLUEPRINT
    up = context.up_command
    if not blueprint_outputs.get("objectId"):
        detail = "the stack has no outputs of its agent identity blueprint: no run has made it"
        return Finding(item, "fail", detail, up), None
    object_id = str(blueprint_outputs["objectId"])
    try:
        blueprint = context.sources.application(object_id)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc), None
    if blueprint is None:
        detail = (
            f"no agent identity blueprint {object_id} in Entra (deleted by hand? Entra then "
            "deletes its agent identities too)"
        )
        return Finding(item, "fail", detail, f"{up} to create it again"), None
    kind = blueprint.get("@odata.type")
    if kind != BLUEPRINT_TYPE:
        detail = (
            f"{object_id} is {kind or 'a plain application'}, not an agent identity blueprint: "
            "it has no agent identities"
        )
        return Finding(item, "fail", detail, up), None
    problems, remedies = [], [up]
    app_id = str(blueprint.get("appId") or "").lower()
    if app_id != str(blueprint_outputs.get("appId") or "").lower():
        problems.append(f"its app ID is {app_id}, not {blueprint_outputs.get('appId')}")
    spec = context.settings.agent_id
    beat_id = spec.beat_id if spec else blueprint_outputs.get("beatId")
    recorded = blueprint.get("serviceManagementReference")
    if beat_id and recorded != beat_id:
        problems.append(
            "it records no BEAT ID (serviceManagementReference is empty)"
            if not recorded
            else f"it records BEAT ID {recorded!r}, not {beat_id}"
        )
    role_problem = _app_role_problem(blueprint, blueprint_outputs)
    if role_problem:
        problems.append(role_problem)
    principal_id = str(blueprint_outputs.get("principalObjectId") or "")
    try:
        sponsors = context.sources.blueprint_sponsors(object_id)
        principal = context.sources.service_principal_object(principal_id) if principal_id else None
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc), blueprint
    wanted = list(spec.sponsors if spec else blueprint_outputs.get("sponsors") or [])
    gone = _missing(wanted, sponsors)
    if gone:
        problems.append(
            f"configured sponsor(s) {', '.join(gone)} are no longer sponsors of it (removed "
            "by hand?)"
        )
    if principal is None:
        problems.append(
            f"its blueprint principal {principal_id or '(none recorded)'} is missing: Entra "
            "cannot sign in its agent identities"
        )
    elif principal.get("@odata.type") != BLUEPRINT_PRINCIPAL_TYPE:
        problems.append(f"{principal_id} is not its blueprint principal")
    elif str(principal.get("appId") or "").lower() != app_id:
        problems.append(f"its principal {principal_id} is another blueprint's")
    elif principal.get("accountEnabled") is False:
        problems.append(
            "its blueprint principal is disabled: Entra signs in none of its agent identities"
        )
        remedies.append(_enable_remedy("the blueprint principal", principal_id))
    if problems:
        return Finding(item, "fail", "; ".join(problems), "; ".join(remedies)), blueprint
    detail = (
        f"{blueprint.get('displayName')}, app ID {app_id}, {len(sponsors)} sponsor(s), "
        f"{rules.CLIENT_SCOPE_VALUE} app role enabled, principal enabled"
    )
    return Finding(item, "pass", detail), blueprint


def _agent_identity(
    context: Context,
    app: ApplicationSettings,
    outputs: Mapping[str, Any],
    blueprint_outputs: Mapping[str, Any],
) -> Finding:
    """The agent's identity: it exists, is an agent identity of the stack's blueprint, is
    enabled (Entra issues a disabled one no token) and is sponsored by the configured
    sponsors."""
    item = model.AGENT_IDENTITY
    up = context.up_command
    object_id = str(outputs.get("agentIdentityId") or "")
    if not object_id:
        return Finding(item, "fail", "no run has made its agent identity yet", up)
    try:
        agent = context.sources.service_principal_object(object_id)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    if agent is None:
        detail = f"no agent identity {object_id} in Entra (deleted by hand?)"
        remedy = f"{up} to create it again (a new ID: its Ocelot entries follow)"
        return Finding(item, "fail", detail, remedy)
    kind = agent.get("@odata.type")
    if kind != AGENT_IDENTITY_TYPE:
        detail = f"{object_id} is {kind or 'a plain service principal'}, not an agent identity"
        return Finding(item, "fail", detail, up)
    problems, remedies = [], [up]
    parent = str(agent.get("agentIdentityBlueprintId") or "").lower()
    blueprint_app_id = str(blueprint_outputs.get("appId") or "").lower()
    if parent != blueprint_app_id:
        problems.append(
            f"it is an agent identity of blueprint {parent or '(none)'}, not of the stack's "
            f"{blueprint_app_id or '(none recorded)'}: the stack's blueprint cannot sign it in"
        )
    if agent.get("accountEnabled") is False:
        problems.append("it is disabled: Entra issues it no token, and LKPS refuses the agent")
        remedies = [_enable_remedy("the agent identity", object_id)]
    try:
        sponsors = context.sources.agent_identity_sponsors(object_id)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    gone = _missing(app.sponsors, sponsors)
    if gone:
        problems.append(
            f"configured sponsor(s) {', '.join(gone)} are no longer sponsors of it (removed "
            "by hand?)"
        )
        remedies.append(up)
    if problems:
        return Finding(item, "fail", "; ".join(problems), "; ".join(dict.fromkeys(remedies)))
    return Finding(
        item,
        "pass",
        f"{agent.get('displayName')}, ID {object_id}, of blueprint {blueprint_app_id}, "
        f"enabled, {len(sponsors)} sponsor(s)",
    )


def _blueprint_credentials(
    context: Context, blueprint_outputs: Mapping[str, Any], blueprint: dict[str, Any]
) -> list[Finding]:
    """The blueprint's credentials, which its agent identities sign in through, checked as a
    registration's are: the vault publishes a live password of the blueprint; its federated
    credentials are as configured (agentId.clientSecret, agentId.federatedCredentials)."""
    spec = context.settings.agent_id
    findings = []
    if "vaultSecretName" in blueprint_outputs:
        findings.append(
            _client_secret(
                context,
                blueprint_outputs,
                blueprint,
                model.AGENT_ID_CLIENT_SECRET,
                f"set agentId.emergencyRotation: {context.today.isoformat()} in "
                f"Pulumi.{context.stack}.yaml, then {context.up_command.removeprefix('run ')}: "
                "it publishes a new secret of the blueprint and revokes the older ones",
            )
        )
    elif spec is None or spec.client_secret:
        findings.append(
            Finding(
                model.AGENT_ID_CLIENT_SECRET,
                "fail",
                "the config gives the blueprint a client secret (agentId.clientSecret), which "
                "no run has made yet",
                context.up_command,
            )
        )
    configured = spec.federated_credentials if spec else []
    if configured or blueprint_outputs.get("federatedCredentials"):
        findings.append(
            _federated_credentials(
                context,
                configured,
                str(blueprint_outputs["objectId"]),
                model.AGENT_ID_FEDERATED,
                "agentId.federatedCredentials",
            )
        )
    stray = _stray_credentials(context, blueprint, model.AGENT_ID_CLIENT_SECRET)
    if stray is not None:
        findings.append(stray)
    return findings


def _holds_app_role(context: Context, client: str, blueprint_outputs: Mapping[str, Any]) -> bool:
    """Whether the client's service principal is assigned the blueprint's app role on the
    blueprint principal (the assignment the stack makes for each client)."""
    record = (context.outputs.get("applications") or {}).get(client) or {}
    principal_id = record.get("servicePrincipalObjectId")
    if not principal_id and record.get("clientId"):
        principal = context.sources.service_principal(str(record["clientId"]))
        principal_id = principal.get("id") if principal else None
    if not principal_id:
        return False
    wanted = (
        str(principal_id).lower(),
        str(blueprint_outputs.get("principalObjectId") or "").lower(),
        str(blueprint_outputs.get("appRoleId") or "").lower(),
    )
    return any(
        (
            str(a.get("principalId")).lower(),
            str(a.get("resourceId")).lower(),
            str(a.get("appRoleId")).lower(),
        )
        == wanted
        for a in context.sources.app_role_assignments(str(principal_id))
    )


def _app_role_of_agent(
    context: Context,
    app: ApplicationSettings,
    blueprint: dict[str, Any] | None,
    blueprint_outputs: Mapping[str, Any],
) -> Finding | None:
    """For an agent on Agent ID with clients: each configured client is assigned the
    blueprint's `access_as_client` app role, and the role can be held (lkps.agent_id: LKPS
    authorizes a client of an agent on Agent ID by that role). None without clients."""
    item = model.AGENT_ID_CLIENT_AUTHORIZATION
    clients = context.settings.authorized_clients().get(app.name, [])
    if not clients:
        return None
    if blueprint is None:
        detail = "the stack's blueprint is missing or unreadable (see its item): no client is"
        return Finding(item, "fail", f"{detail} authorized", context.up_command)
    problems = []
    role_problem = _app_role_problem(blueprint, blueprint_outputs)
    if role_problem:
        problems.append(f"the blueprint: {role_problem}")
    try:
        missing = [c for c in clients if not _holds_app_role(context, c, blueprint_outputs)]
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    if missing:
        problems.append(
            f"not assigned the blueprint's {rules.CLIENT_SCOPE_VALUE} app role: "
            + ", ".join(missing)
        )
    if problems:
        return Finding(item, "fail", "; ".join(problems), context.up_command)
    return Finding(
        item,
        "pass",
        f"{', '.join(clients)} assigned the blueprint's {rules.CLIENT_SCOPE_VALUE} app role",
    )


def _app_role_of_client(context: Context, app: ApplicationSettings) -> Finding | None:
    """For a client of agents on Agent ID: it is assigned their blueprint's app role. None for
    an application that calls no agent on Agent ID."""
    item = model.AGENT_ID_CLIENT_AUTHORIZATION
    on_agent_id = {a.name for a in context.settings.applications if a.on_agent_id and not a.retired}
    agents = sorted(
        agent
        for agent, clients in context.settings.authorized_clients().items()
        if app.name in clients and agent in on_agent_id
    )
    if not agents:
        return None
    names = ", ".join(agents)
    blueprint_outputs: Mapping[str, Any] = context.outputs.get("agentIdBlueprint") or {}
    if not blueprint_outputs.get("objectId"):
        detail = f"the stack has no agent identity blueprint: not authorized by {names}"
        return Finding(item, "fail", detail, context.up_command)
    try:
        blueprint = context.sources.application(str(blueprint_outputs["objectId"]))
        holds = _holds_app_role(context, app.name, blueprint_outputs)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    reason = (
        "the stack's blueprint is missing"
        if blueprint is None
        else _app_role_problem(blueprint, blueprint_outputs)
        or (
            ""
            if holds
            else f"it is not assigned the blueprint's {rules.CLIENT_SCOPE_VALUE} app role"
        )
    )
    if reason:
        return Finding(item, "fail", f"not authorized by {names}: {reason}", context.up_command)
    return Finding(
        item, "pass", f"assigned the {rules.CLIENT_SCOPE_VALUE} app role of {names}'s blueprint"
    )


def _agent_token(
    context: Context, outputs: Mapping[str, Any], blueprint_outputs: Mapping[str, Any]
) -> Finding:
    """An agent identity's token comes from a two-step exchange through its blueprint, which
    the checklist does not run (and the sandbox does not emulate): a manual item."""
    scope = rules.lkps_scope(context.settings.environment)
    where = "the sandbox does not emulate it" if context.sandbox else "verify does not run it"
    return Finding(
        model.AGENT_ID_TOKEN,
        "manual",
        "an agent identity gets its token through its blueprint's credential and an exchange "
        f"for the agent identity; {where}",
        f"where the agent runs: the blueprint {blueprint_outputs.get('appId')} asks for a token "
        "for api://AzureADTokenExchange/.default with fmi_path "
        f"{outputs.get('agentIdentityId')}, which the agent identity presents as its client "
        f"assertion for {scope} ({AGENT_TOKEN_FLOW}; Microsoft recommends its SDKs for it)",
    )


def _separate_blueprints(context: Context, blueprint_outputs: Mapping[str, Any]) -> Finding:
    """The other environment's stack has its own blueprint, so its own agent identities."""

    def blueprint_of(outputs: Mapping[str, Any]) -> Mapping[str, Any] | None:
        theirs = outputs.get("agentIdBlueprint") or {}
        return theirs if theirs.get("appId") else None

    return _not_shared(
        context,
        model.AGENT_ID_SEPARATE,
        blueprint_of,
        "the {other} stack has no agent identity blueprint",
        ("appId", str(blueprint_outputs.get("appId") or "").lower()),
        ("blueprint", "blueprint"),
    )


def _retired_entries(context: Context, app: ApplicationSettings, client_id: str) -> list[Finding]:
    """A retired registration is off the routes, as a retired application is (its Client
    Access List entries are removed; the agent identity's stay)."""
    findings = []
    by_hand = context.settings.ocelot.mode == "manual"
    for region in app.regions:
        route_id = rules.lkps_host(region, context.settings.environment)
        item = model.route_access(region, model.RETIRED_REGISTRATION_ENTRY)
        ui = rules.ocelot_ui_url(route_id)
        remove = f"remove client ID {client_id} from {route_id} in the Ocelot UI: {ui}"
        try:
            route = context.ocelot.get_route(route_id)
        except OcelotError as exc:
            if by_hand:
                findings.append(
                    Finding(
                        item, "manual", f"Ocelot cannot be read here ({exc})", f"check: {remove}"
                    )
                )
            else:
                findings.append(Finding(item, "fail", str(exc), "retry"))
            continue
        entry = route.entry(client_id) if route else None
        if entry is None:
            detail = f"{client_id} is off {route_id}: the retired registration no longer calls LKPS"
            findings.append(Finding(item, "pass", detail))
            continue
        findings.append(
            Finding(
                item,
                "fail",
                f"the retired registration {client_id} is still on {route_id}'s list "
                f"({entry.status})",
                remove if by_hand else f"{context.up_command} to remove it ({ui})",
            )
        )
    return findings


def _unreadable(item: str, exc: RefusedError | UnreachableError) -> Finding:
    """Why a read could not be made, and what to do: grant the right it names, or retry."""
    if isinstance(exc, RefusedError):
        return Finding(item, "fail", str(exc), f"grant {exc.right}")
    return Finding(item, "fail", str(exc), "retry; check the network path")


def _guarded(findings: list[Finding], item: str, read: Callable[[str], Any], key: str) -> Any:
    """The read's answer, or a finding that says why it could not be made."""
    try:
        return read(key)
    except (RefusedError, UnreachableError) as exc:
        findings.append(_unreadable(item, exc))
    return _REFUSED


def _manual_beat(app: ApplicationSettings) -> Finding:
    return Finding(
        model.BEAT,
        "manual",
        f"{app.beat_id} has the BEAT form; the BEAT portal cannot be queried from here",
        f"check {app.beat_id} in the BEAT portal (linked from the onboarding page, Step 1)",
    )


def _beat(context: Context, app: ApplicationSettings, application: Any) -> Finding:
    if not rules.BEAT_ID.fullmatch(app.beat_id):
        return Finding(
            model.BEAT,
            "fail",
            f"{app.beat_id!r} is not {rules.BEAT_ID_FORM}",
            f"fix applications[].beatId of {app.name} in Pulumi.{context.stack}.yaml",
        )
    if isinstance(application, dict):
        recorded = application.get("serviceManagementReference")
        if recorded != app.beat_id:
            what = (
                "records no BEAT ID (serviceManagementReference is empty)"
                if not recorded
                else f"records {recorded!r}, not {app.beat_id}"
            )
            return Finding(
                model.BEAT,
                "fail",
                f"the registration {what}",
                f"{context.up_command} to write the configured BEAT ID back",
            )
    return _manual_beat(app)


def _registration(
    context: Context,
    app: ApplicationSettings,
    outputs: Mapping[str, Any],
    application: dict[str, Any] | None,
) -> list[Finding]:
    item = model.REGISTRATION
    if application is None:
        return [
            Finding(
                item,
                "fail",
                f"no app registration {outputs['objectId']} in Entra (deleted by hand?)",
                f"{context.up_command} to create it again",
            )
        ]
    problems = []
    display_name = app.display_name(context.settings.environment)
    if application.get("displayName") != display_name:
        problems.append(f"display name is {application.get('displayName')!r}, not {display_name!r}")
    if application.get("signInAudience") != "AzureADMyOrg":
        problems.append(
            f"sign-in audience is {application.get('signInAudience')!r}, "
            "not single tenant (AzureADMyOrg)"
        )
    try:
        owners = set(context.sources.owners(outputs["objectId"]))
        principal = context.sources.service_principal(application["appId"])
    except (RefusedError, UnreachableError) as exc:
        return [_unreadable(item, exc)]
    # The stack keeps the owners as an exact set: the configured ones and the pinned deployer.
    wanted = {o.lower() for o in app.owners} | {context.settings.deployer_object_id.lower()}
    missing = sorted(wanted - owners)
    if missing:
        problems.append(f"configured owner(s) {', '.join(missing)} are not owners")
    added = sorted(owners - wanted)
    if added:
        problems.append(
            f"owner(s) added by hand: {', '.join(added)} (the next up removes them; "
            "add them to applications[].owners to keep them)"
        )
    if principal is None:
        problems.append("it has no service principal")
    elif principal.get("accountEnabled") is False:
        problems.append(
            "its service principal is disabled: Entra refuses its tokens (AADSTS7000112)"
        )
    if problems:
        return [Finding(item, "fail", "; ".join(problems), context.up_command)]
    return [
        Finding(
            item,
            "pass",
            f"{display_name}, client ID {application['appId']}, single tenant, "
            f"{len(owners)} owners, service principal enabled",
        )
    ]


def _client_secret(
    context: Context,
    outputs: Mapping[str, Any],
    application: dict[str, Any] | None,
    item: str = model.CLIENT_SECRET,
    replace_remedy: str | None = None,
) -> Finding:
    """The vault secret `outputs` names publishes a live password of `application` (an app
    registration, or the blueprint with `item` and, for a value that is another secret, its
    own `replace_remedy`)."""
    vault = context.settings.key_vault.vault_name
    name = outputs["vaultSecretName"]
    try:
        secret = context.sources.vault_secret(vault, name, with_value=False)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    if secret is None:
        return Finding(item, "fail", f"vault {vault} has no secret {name}", context.up_command)
    now = datetime.now(UTC).timestamp()
    next_rotation = _timestamp(outputs["nextRotationDate"])
    if not secret.enabled:
        return Finding(
            item,
            "fail",
            f"{name} is disabled in {vault}",
            f"{context.up_command} to enable it again",
        )
    if not secret.content_type:
        return Finding(item, "fail", f"{name} has no content type", context.up_command)
    expires = secret.expires_on
    if expires is None or expires <= now:
        return Finding(
            item,
            "fail",
            f"{name} has expired" if expires else f"{name} never expires",
            context.up_command,
        )
    key_id = str(secret.tags.get("keyId") or "").lower()
    live = {
        str(p["keyId"]).lower(): p
        for p in (application or {}).get("passwordCredentials", [])
        if _timestamp(p["endDateTime"]) > now
    }
    if key_id not in live:
        return Finding(
            item,
            "fail",
            f"{name} holds credential {key_id or '(no keyId tag)'}, which the registration does "
            "not have (deleted, expired or edited by hand)",
            f"{context.up_command} to publish a live secret",
        )
    mismatch = _value_mismatch(context, vault, name, live[key_id], item, replace_remedy)
    if mismatch is not None:
        return mismatch
    if expires <= next_rotation:
        return Finding(
            item, "warn", f"{name} expires before the next rotation date", context.up_command
        )
    due = date.fromisoformat(outputs["nextRotationDate"][:10])
    if due <= context.today:
        return Finding(
            item, "warn", f"rotation has been due since {due.isoformat()}", context.up_command
        )
    return Finding(
        item,
        "pass",
        f"{vault}/{name}: enabled, expires {datetime.fromtimestamp(expires, UTC).date()}, "
        f"holds live credential {key_id}",
    )


def _federated(context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]) -> Finding:
    """The registration's federated credentials, as `_federated_credentials` checks them."""
    return _federated_credentials(
        context,
        app.federated_credentials,
        outputs["objectId"],
        model.FEDERATED,
        "applications[].federatedCredentials",
    )


def _federated_credentials(
    context: Context,
    configured: Sequence[FederatedCredentialSettings],
    object_id: str,
    item: str,
    key: str,
) -> Finding:
    """Each configured federated credential is on the application (a registration, or the
    blueprint) as configured: issuer, subject and audience exactly, as Entra compares them.
    One made by hand is a warning: it trusts a workload nobody reviewed. `key` is where the
    config lists them."""
    try:
        live = context.sources.federated_credentials(object_id)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    by_name = {str(c.get("name")): c for c in live}
    problems = []
    for wanted in configured:
        found = by_name.pop(wanted.name, None)
        if found is None:
            problems.append(f"{wanted.name} is missing")
            continue
        differs = [
            key
            for key, value in (
                ("issuer", wanted.issuer),
                ("subject", wanted.subject),
                ("audiences", list(wanted.audiences)),
            )
            if found.get(key) != value
        ]
        if differs:
            problems.append(f"{wanted.name} has another {' and '.join(differs)} than configured")
    if problems:
        return Finding(item, "fail", "; ".join(problems), context.up_command)
    trusted = ", ".join(f"{c.name} ({c.issuer}/{c.subject})" for c in configured)
    if by_name:
        return Finding(
            item,
            "warn",
            f"{trusted or 'none configured'}; not in the config: {', '.join(sorted(by_name))}",
            f"remove them in the Entra portal, or add them to {key}",
        )
    return Finding(item, "pass", f"trusts {trusted}")


def _value_mismatch(
    context: Context,
    vault: str,
    name: str,
    credential: Mapping[str, Any],
    item: str = model.CLIENT_SECRET,
    replace_remedy: str | None = None,
) -> Finding | None:
    """Whether the vault's current value is the credential its `keyId` tag names: Graph keeps
    the first three characters of each client secret as its `hint` (passwordCredential,
    learn.microsoft.com/graph/api/resources/passwordcredential). A different start proves the
    value is another secret; an equal one makes it likely, and `--token` makes it certain."""
    try:
        current = context.sources.vault_secret(vault, name, with_value=True)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    value = current.value if current else None
    hint = credential.get("hint")
    if not isinstance(value, str) or not isinstance(hint, str) or value.startswith(hint):
        return None
    return Finding(
        item,
        "fail",
        f"{name} is tagged with credential {credential['keyId']}, but its value is another "
        "secret (revoked, or written by hand); the stack cannot see a vault value",
        replace_remedy
        or f"set emergencyRotation: {context.today.isoformat()} on this application in "
        f"Pulumi.{context.stack}.yaml (applications[].emergencyRotation), then "
        f"{context.up_command.removeprefix('run ')}: it publishes a new secret and revokes "
        "the older ones",
    )


def _stray_credentials(
    context: Context, application: dict[str, Any] | None, item: str = model.CLIENT_SECRET
) -> Finding | None:
    """Client secrets of the stack's naming that no resource of the stack holds: made by a run
    interrupted between Graph's addPassword and the engine's record of it."""
    if context.held_key_ids is None:
        return None
    stray = sorted(
        str(p["keyId"]).lower()
        for p in (application or {}).get("passwordCredentials", [])
        if str(p.get("displayName") or "").startswith(f"{rules.CLIENT_SECRET_DISPLAY_NAME}-")
        and str(p["keyId"]).lower() not in context.held_key_ids
    )
    if not stray:
        return None
    app_id = (application or {}).get("appId", "")
    remedy = (
        f"{context.up_command}: it revokes what the interrupted run made once the vault "
        "publishes a live secret"
        if context.interrupted
        else "no record of an interrupted run names it: once no consumer uses it, revoke it "
        + " and ".join(f"`az ad app credential delete --id {app_id} --key-id {k}`" for k in stray)
    )
    return Finding(
        item,
        "warn",
        f"{len(stray)} live client secret(s) of the stack's naming that no resource holds: "
        f"{', '.join(stray)}",
        remedy,
    )


def _agent_api(application: Any) -> tuple[dict[str, Any] | None, dict[str, set[str]]]:
    """The agent's `access_as_client` scope (None when it has none), and each pre-authorized
    client ID with the permission IDs it is pre-authorized for."""
    api = (application.get("api") or {}) if isinstance(application, dict) else {}
    scope = next(
        (
            s
            for s in api.get("oauth2PermissionScopes") or []
            if s.get("value") == rules.CLIENT_SCOPE_VALUE
        ),
        None,
    )
    pre_authorized = {
        str(p["appId"]).lower(): {str(i).lower() for i in p.get("delegatedPermissionIds") or []}
        for p in api.get("preAuthorizedApplications") or []
    }
    return scope, pre_authorized


def _scope_problems(context: Context, application: Any) -> tuple[list[str], str]:
    """What keeps an agent's API from taking clients (identifier URI, scope), and the remedy."""
    if not isinstance(application, dict):
        return [], ""
    problems, remedy = [], context.up_command
    uri = rules.agent_identifier_uri(str(application.get("appId", "")))
    if uri not in (application.get("identifierUris") or []):
        problems.append(f"identifier URI {uri} is missing")
    scope, _ = _agent_api(application)
    if scope is None:
        problems.append(f"it has no {rules.CLIENT_SCOPE_VALUE} scope")
    elif scope.get("isEnabled") is False:
        problems.append(f"its {rules.CLIENT_SCOPE_VALUE} scope is disabled")
        # No read of the provider's sees a scope's state (terraform-provider-azuread v3.9.0,
        # application_permission_scope_resource.go, Read sets no enabled attribute).
        remedy = (
            "the stack cannot see a scope's state: enable it again in the Entra admin center "
            f"(App registrations > {application.get('displayName')} > Expose an API > "
            f"{rules.CLIENT_SCOPE_VALUE} > Edit > State: Enabled)"
            + ("" if len(problems) == 1 else f", then {context.up_command.removeprefix('run ')}")
        )
    return problems, remedy


def _client_authorization(
    context: Context, app: ApplicationSettings, application: Any
) -> Finding | None:
    """For an agent: its API and the clients it pre-authorizes for its scope; for a client:
    whether each agent it calls pre-authorizes it for an enabled scope. None for an application
    with neither."""
    item = model.CLIENT_AUTHORIZATION
    authorized = context.settings.authorized_clients()
    outputs = context.outputs.get("applications") or {}

    def client_id(name: str) -> str:
        return str((outputs.get(name) or {}).get("clientId", "")).lower()

    def not_for_scope(agent_application: Any, clients: Mapping[str, str]) -> list[str]:
        """The names of `clients` (client ID: name) not pre-authorized for the agent's scope."""
        scope, pre_authorized = _agent_api(agent_application)
        scope_id = str((scope or {}).get("id", "")).lower()
        return sorted(
            name for cid, name in clients.items() if scope_id not in pre_authorized.get(cid, set())
        )

    if app.role == "agent":
        wanted = {client_id(name): name for name in authorized.get(app.name, [])}
        wanted |= {c.client_id.lower(): c.label for c in app.external_clients}
        if not wanted:
            return None
        problems, remedy = _scope_problems(context, application)
        _, present = _agent_api(application)
        missing = sorted(name for cid, name in wanted.items() if cid not in present)
        if missing:
            problems.append(f"not pre-authorized: {', '.join(missing)}")
        unscoped = sorted(set(not_for_scope(application, wanted)) - set(missing))
        if unscoped and not any("scope" in p for p in problems):
            problems.append(
                f"pre-authorized without the {rules.CLIENT_SCOPE_VALUE} permission: "
                + ", ".join(unscoped)
            )
        if problems:
            return Finding(item, "fail", "; ".join(problems), remedy)
        extra = sorted(set(present) - set(wanted))
        names = ", ".join(sorted(wanted.values()))
        if extra:
            return Finding(
                item,
                "warn",
                f"pre-authorizes {names}, and also {', '.join(extra)}, "
                "which the config does not name",
                context.up_command,
            )
        return Finding(item, "pass", f"pre-authorizes {names} for {rules.CLIENT_SCOPE_VALUE}")
    # An agent on Agent ID authorizes its clients by its blueprint's app role instead
    # (`_app_role_of_client`), and by its registration's pre-authorization while it keeps one.
    by_registration = {
        a.name
        for a in context.settings.applications
        if not a.on_agent_id or a.registration == "parallel"
    }
    agents = sorted(
        agent
        for agent, clients in authorized.items()
        if app.name in clients and agent in by_registration
    )
    if not agents:
        return None
    refused, remedies = [], []
    for agent in agents:
        object_id = (outputs.get(agent) or {}).get("objectId")
        try:
            agent_application = context.sources.application(object_id) if object_id else None
        except (RefusedError, UnreachableError) as exc:
            return _unreadable(item, exc)
        broken, remedy = _scope_problems(context, agent_application)
        if agent_application is None or broken:
            refused.append(f"{agent} ({'; '.join(broken) or 'its registration is missing'})")
        elif not_for_scope(agent_application, {client_id(app.name): app.name}):
            refused.append(agent)
        else:
            continue
        remedies.append(remedy or context.up_command)
    if refused:
        return Finding(
            item,
            "fail",
            f"not pre-authorized by {', '.join(refused)}",
            "; ".join(dict.fromkeys(remedies)),
        )
    return Finding(item, "pass", f"pre-authorized by {', '.join(agents)}")


def _token(context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]) -> Finding:
    if "vaultSecretName" not in outputs and app.federated_credentials:
        return _federated_token(context, app, outputs)
    item = model.TOKEN
    vault = context.settings.key_vault.vault_name
    try:
        secret = context.sources.vault_secret(vault, outputs["vaultSecretName"], with_value=True)
    except (RefusedError, UnreachableError) as exc:
        return _unreadable(item, exc)
    if secret is None or secret.value is None:
        return Finding(item, "fail", "the vault secret's value cannot be read", context.up_command)
    ok, what = context.sources.client_credentials_token(
        context.settings.tenant_id,
        outputs["clientId"],
        secret.value,
        rules.lkps_scope(context.settings.environment),
    )
    return Finding(item, "pass" if ok else "fail", what, "" if ok else context.up_command)


def _federated_token(
    context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]
) -> Finding:
    """A workload's token exchanged for the application's LKPS token. Only the sandbox can mint
    one; against Azure the team runs the exchange where the workload runs."""
    item = model.TOKEN
    credential = app.federated_credentials[0]
    scope = rules.lkps_scope(context.settings.environment)
    tenant = context.settings.tenant_id
    if context.workload_token is None:
        return Finding(
            item,
            "manual",
            f"signs in with federated credentials only; its workload's token exists only where "
            f"it runs ({credential.issuer}, subject {credential.subject})",
            f"in the workload: az login --service-principal --username {outputs['clientId']} "
            f'--tenant {tenant} --allow-no-subscriptions --federated-token "$WORKLOAD_TOKEN" '
            f"&& az account get-access-token --scope {scope}",
        )
    mint = context.workload_token

    def assertion() -> str:
        return mint(credential.issuer, credential.subject, credential.audiences[0])

    ok, what = context.sources.federated_token(tenant, outputs["clientId"], assertion, scope)
    detail = f"{what} for a workload token of {credential.issuer}/{credential.subject}"
    return Finding(item, "pass" if ok else "fail", detail, "" if ok else context.up_command)


def _separate(context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]) -> Finding:
    return _not_shared(
        context,
        model.SEPARATE,
        lambda other_outputs: (other_outputs.get("applications") or {}).get(app.name),
        f"{app.name} is not in the {{other}} stack",
        ("clientId", str(outputs["clientId"])),
        ("client ID", "registration"),
    )


def _not_shared(
    context: Context,
    item: str,
    theirs_in: Callable[[Mapping[str, Any]], Mapping[str, Any] | None],
    absent: str,
    ours: tuple[str, str],
    words: tuple[str, str],
) -> Finding:
    """Whether the other environment's stack (`theirs_in` its outputs; None: `absent`, with
    `{other}` for its name) has another value of `ours` (an output key and this stack's value)
    than this one; `words` name the value and what each environment needs its own of."""
    other = rules.counterpart_stack(context.stack)
    if context.other_outputs is None:
        return Finding(
            item,
            "manual",
            f"the {other} stack could not be read",
            f"run `scripts/stack verify {other}` where it is readable",
        )
    theirs = theirs_in(context.other_outputs)
    if theirs is None:
        return Finding(item, "manual", absent.format(other=other))
    (key, value), (what, own) = ours, words
    if str(theirs.get(key)).lower() == value.lower():
        return Finding(
            item,
            "fail",
            f"{context.stack} and {other} share {what} {value}",
            f"give each environment its own {own}",
        )
    return Finding(item, "pass", f"{other} uses its own {what} {theirs.get(key)}")


def _ocelot_users(environment: str) -> Finding:
    page = OCELOT_USERS_PAGE[environment]
    return Finding(
        model.OCELOT_USERS,
        "manual",
        "a person's membership, not the application's",
        f"each team member checks or requests it at {page}",
    )


def _route_access(
    context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]
) -> list[Finding]:
    """The registration's entry on each region's route."""
    return _route_entries(context, app, str(outputs["clientId"]).lower())


def _route_entries(
    context: Context, app: ApplicationSettings, client_id: str, whose: str = ""
) -> list[Finding]:
    """Each region's entry of `client_id` (the registration's, or `whose`), read from Ocelot.
    With `ocelot.mode: manual` people keep the entries: a remedy says what to add in the UI,
    and an Ocelot that cannot be read makes the item manual, with the values to check."""
    findings = []
    by_hand = context.settings.ocelot.mode == "manual"
    for region in app.regions:
        route_id = rules.lkps_host(region, context.settings.environment)
        item = model.route_access(region, whose)
        ui = rules.ocelot_ui_url(route_id)
        add = (
            f"add client ID {client_id} with BEAT ID {app.beat_id} to {route_id} in the "
            f"Ocelot UI: {ui}"
        )
        try:
            route = context.ocelot.get_route(route_id)
        except OcelotError as exc:
            if by_hand:
                findings.append(
                    Finding(item, "manual", f"Ocelot cannot be read here ({exc})", f"check: {add}")
                )
                continue
            remedy = (
                "grant the identity the route's management right in Ocelot"
                if (exc.status in (401, 403))
                else "retry"
            )
            findings.append(Finding(item, "fail", str(exc), remedy))
            continue
        entry = route.entry(client_id) if route else None
        if entry is None:
            findings.append(
                Finding(
                    item,
                    "fail",
                    f"{client_id} is not on {route_id}'s list",
                    add if by_hand else f"{context.up_command} to add it again ({ui})",
                )
            )
        elif entry.status == PENDING:
            findings.append(
                Finding(
                    item,
                    "fail",
                    f"the entry waits for approval on {route_id}",
                    f"ask the route's owners to approve it: {ui}",
                )
            )
        elif entry.status != ACTIVE:
            findings.append(
                Finding(
                    item,
                    "fail",
                    f"the entry is {entry.status!r} on {route_id}, not active: "
                    "LKPS refuses the client's calls",
                    f"remove it and {add}"
                    if by_hand
                    else f"{context.up_command} to request it again ({ui})",
                )
            )
        elif entry.beat_id != app.beat_id:
            findings.append(
                Finding(
                    item,
                    "warn",
                    f"the entry carries {entry.beat_id}, not {app.beat_id}",
                    f"set BEAT ID {app.beat_id} on the entry in the Ocelot UI: {ui}"
                    if by_hand
                    else context.up_command,
                )
            )
        else:
            kept = " (kept by hand: ocelot.mode manual)" if by_hand else ""
            findings.append(Finding(item, "pass", f"active on {route_id}{kept}"))
    return findings


def _timestamp(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
