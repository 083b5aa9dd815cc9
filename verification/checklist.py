"""The onboarding page's checklist, item by item, for each application of a stack.

Read-only: every check reads Graph, the vault or Ocelot and changes nothing. A check that gets
401/403 says which right the running identity lacks; the secret value is read only for the
optional token check and never printed.
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Callable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any, Final

from azure_reads.sources import LiveSources, RefusedError, UnreachableError
from components.ocelot.api import OcelotClient, OcelotError
from lkps import rules
from lkps.config import ApplicationSettings, StackSettings
from verification import model
from verification.model import AppReport, Finding, Report

OCELOT_USERS_PAGE: Final = {
    "np": "https://devtools-np.bayer.com/profile/applications/OCELOT",
    "prod": "https://devtools.bayer.com/profile/applications/OCELOT",
}
MAX_PARALLEL: Final = 8
_REFUSED: Final = object()


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

    @property
    def up_command(self) -> str:
        return f"run `scripts/stack up {self.stack}`"


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

    def check(app: ApplicationSettings) -> AppReport:
        report = _check_application(context, app)
        if progress:
            with lock:
                progress(next(done), len(apps))
        return report

    with ThreadPoolExecutor(max_workers=MAX_PARALLEL) as pool:
        reports = list(pool.map(check, apps))
    return Report(context.stack, context.settings.environment, reports, sandbox=False)


def _check_application(context: Context, app: ApplicationSettings) -> AppReport:
    environment = context.settings.environment
    display_name = app.display_name(environment)
    outputs = (context.outputs.get("applications") or {}).get(app.name)
    client_id = outputs.get("clientId") if outputs else None
    report = AppReport(app.name, display_name, client_id)
    findings = report.findings
    if outputs is None:
        findings.append(
            Finding(
                model.REGISTRATION,
                "fail",
                f"the stack has no outputs for {app.name}: it was never deployed",
                context.up_command,
            )
        )
        findings.append(_manual_beat(app))
        findings.append(_ocelot_users(environment))
        return report
    application = _guarded(
        findings, model.REGISTRATION, context.sources.application, outputs["objectId"]
    )
    findings.append(_beat(app, application))
    if application is not _REFUSED:
        findings.extend(_registration(context, app, outputs, application))
        findings.append(_client_secret(context, outputs, application))
        stray = _stray_credentials(context, application)
        if stray is not None:
            findings.append(stray)
    authorization = _client_authorization(context, app, application)
    if authorization is not None:
        findings.append(authorization)
    if context.token_check:
        findings.append(_token(context, outputs))
    findings.append(_separate(context, app, outputs))
    findings.append(_ocelot_users(environment))
    findings.extend(_route_access(context, app, outputs))
    return report


def _guarded(findings: list[Finding], item: str, read: Callable[[str], Any], key: str) -> Any:
    """The read's answer, or a finding that says why it could not be made."""
    try:
        return read(key)
    except RefusedError as exc:
        findings.append(Finding(item, "fail", str(exc), f"grant {exc.right}"))
    except UnreachableError as exc:
        findings.append(Finding(item, "fail", str(exc), "retry; check the network path"))
    return _REFUSED


def _manual_beat(app: ApplicationSettings) -> Finding:
    return Finding(
        model.BEAT,
        "manual",
        f"{app.beat_id} has the BEAT form; the BEAT portal cannot be queried from here",
        f"check {app.beat_id} in the BEAT portal (linked from the onboarding page, Step 1)",
    )


def _beat(app: ApplicationSettings, application: Any) -> Finding:
    if not rules.BEAT_ID.fullmatch(app.beat_id):
        return Finding(
            model.BEAT,
            "fail",
            f"{app.beat_id!r} is not {rules.BEAT_ID_FORM}",
            "fix applications[].beatId",
        )
    if isinstance(application, dict) and application.get("serviceManagementReference") not in (
        None,
        app.beat_id,
    ):
        return Finding(
            model.BEAT,
            "fail",
            f"the registration records {application.get('serviceManagementReference')!r}, "
            f"not {app.beat_id}",
            "run `scripts/stack up` to write the configured BEAT ID back",
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
        missing = sorted({o.lower() for o in app.owners} - owners)
        if missing:
            problems.append(f"configured owner(s) {', '.join(missing)} are not owners")
        principal = context.sources.service_principal(application["appId"])
    except RefusedError as exc:
        return [Finding(item, "fail", str(exc), f"grant {exc.right}")]
    if principal is None:
        problems.append("it has no service principal")
    if problems:
        return [Finding(item, "fail", "; ".join(problems), context.up_command)]
    return [
        Finding(
            item,
            "pass",
            f"{display_name}, client ID {application['appId']}, single tenant, "
            f"{len(owners)} owners, service principal present",
        )
    ]


def _client_secret(
    context: Context, outputs: Mapping[str, Any], application: dict[str, Any] | None
) -> Finding:
    item = model.CLIENT_SECRET
    vault = context.settings.key_vault.vault_name
    name = outputs["vaultSecretName"]
    try:
        secret = context.sources.vault_secret(vault, name, with_value=False)
    except (RefusedError, UnreachableError) as exc:
        return Finding(item, "fail", str(exc), getattr(exc, "right", "retry"))
    if secret is None:
        return Finding(item, "fail", f"vault {vault} has no secret {name}", context.up_command)
    attributes = secret.get("attributes", {})
    now = datetime.now(UTC).timestamp()
    next_rotation = _timestamp(outputs["nextRotationDate"])
    if not attributes.get("enabled", True):
        return Finding(
            item,
            "fail",
            f"{name} is disabled in {vault}",
            f"enable it, or {context.up_command} to write a new version",
        )
    if not secret.get("contentType"):
        return Finding(item, "fail", f"{name} has no content type", context.up_command)
    expires = attributes.get("exp")
    if expires is None or expires <= now:
        return Finding(
            item,
            "fail",
            f"{name} has expired" if expires else f"{name} never expires",
            context.up_command,
        )
    key_id = (secret.get("tags") or {}).get("keyId")
    live = {
        p["keyId"]
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


def _stray_credentials(context: Context, application: dict[str, Any] | None) -> Finding | None:
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
        model.CLIENT_SECRET,
        "warn",
        f"{len(stray)} live client secret(s) of the stack's naming that no resource holds: "
        f"{', '.join(stray)}",
        remedy,
    )


def _pre_authorized(application: Any) -> set[str]:
    api = application.get("api") or {} if isinstance(application, dict) else {}
    return {str(p["appId"]).lower() for p in api.get("preAuthorizedApplications") or []}


def _client_authorization(
    context: Context, app: ApplicationSettings, application: Any
) -> Finding | None:
    """For an agent: the clients it pre-authorizes; for a client: whether each agent it calls
    pre-authorizes it. None for an application with neither."""
    item = model.CLIENT_AUTHORIZATION
    authorized = context.settings.authorized_clients()
    outputs = context.outputs.get("applications") or {}

    def client_id(name: str) -> str:
        return str((outputs.get(name) or {}).get("clientId", "")).lower()

    if app.role == "agent":
        wanted = {client_id(name): name for name in authorized.get(app.name, [])}
        wanted |= {c.client_id.lower(): c.label for c in app.external_clients}
        if not wanted:
            return None
        present = _pre_authorized(application)
        missing = sorted(name for cid, name in wanted.items() if cid not in present)
        if missing:
            return Finding(
                item, "fail", f"not pre-authorized: {', '.join(missing)}", context.up_command
            )
        extra = sorted(present - set(wanted))
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
    agents = sorted(agent for agent, clients in authorized.items() if app.name in clients)
    if not agents:
        return None
    refused = []
    for agent in agents:
        object_id = (outputs.get(agent) or {}).get("objectId")
        try:
            agent_application = context.sources.application(object_id) if object_id else None
        except (RefusedError, UnreachableError) as exc:
            return Finding(item, "fail", str(exc), getattr(exc, "right", "retry"))
        if client_id(app.name) not in _pre_authorized(agent_application):
            refused.append(agent)
    if refused:
        return Finding(
            item,
            "fail",
            f"not pre-authorized by {', '.join(refused)}",
            f"{context.up_command} (the agent's stack)",
        )
    return Finding(item, "pass", f"pre-authorized by {', '.join(agents)}")


def _token(context: Context, outputs: Mapping[str, Any]) -> Finding:
    item = model.TOKEN
    vault = context.settings.key_vault.vault_name
    try:
        secret = context.sources.vault_secret(vault, outputs["vaultSecretName"], with_value=True)
    except (RefusedError, UnreachableError) as exc:
        return Finding(item, "fail", str(exc), getattr(exc, "right", "retry"))
    if secret is None or not isinstance(secret.get("value"), str):
        return Finding(item, "fail", "the vault secret's value cannot be read", context.up_command)
    ok, what = context.sources.client_credentials_token(
        context.settings.tenant_id,
        outputs["clientId"],
        secret["value"],
        rules.lkps_scope(context.settings.environment),
    )
    return Finding(item, "pass" if ok else "fail", what, "" if ok else context.up_command)


def _separate(context: Context, app: ApplicationSettings, outputs: Mapping[str, Any]) -> Finding:
    item = model.SEPARATE
    other = "prod" if context.settings.environment == "np" else "np"
    if context.other_outputs is None:
        return Finding(
            item,
            "manual",
            f"the {other} stack could not be read",
            f"run `scripts/stack verify {other}` where it is readable",
        )
    theirs = (context.other_outputs.get("applications") or {}).get(app.name)
    if theirs is None:
        return Finding(item, "manual", f"{app.name} is not in the {other} stack")
    if str(theirs.get("clientId")).lower() == str(outputs["clientId"]).lower():
        return Finding(
            item,
            "fail",
            f"np and prod share client ID {outputs['clientId']}",
            "give each environment its own registration",
        )
    return Finding(item, "pass", f"{other} uses its own client ID {theirs.get('clientId')}")


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
    findings = []
    client_id = str(outputs["clientId"]).lower()
    for region in app.regions:
        route_id = rules.lkps_host(region, context.settings.environment)
        item = f"{model.ROUTE_ACCESS} ({region})"
        try:
            route = context.ocelot.get_route(route_id)
        except OcelotError as exc:
            remedy = (
                "grant the identity the route's management right in Ocelot"
                if (exc.status in (401, 403))
                else "retry"
            )
            findings.append(Finding(item, "fail", str(exc), remedy))
            continue
        entry = route.entry(client_id) if route else None
        ui = rules.ocelot_ui_url(route_id)
        if entry is None:
            findings.append(
                Finding(
                    item,
                    "fail",
                    f"{client_id} is not on {route_id}'s list",
                    f"{context.up_command} to add it again ({ui})",
                )
            )
        elif entry.status == "pending":
            findings.append(
                Finding(
                    item,
                    "fail",
                    f"the entry waits for approval on {route_id}",
                    f"ask the route's owners to approve it: {ui}",
                )
            )
        elif entry.beat_id != app.beat_id:
            findings.append(
                Finding(
                    item,
                    "warn",
                    f"the entry carries {entry.beat_id}, not {app.beat_id}",
                    context.up_command,
                )
            )
        else:
            findings.append(Finding(item, "pass", f"active on {route_id}"))
    return findings


def _timestamp(rfc3339: str) -> float:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).timestamp()
