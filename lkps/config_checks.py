"""Rules across keys of the stack config: checked on the raw values, so that they are reported
together with the field errors of the same run (a model validator would run only once every
field is valid), each naming its key."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lkps import agent_id, federation, rules
from lkps.rules import Environment
from lkps.settings import StackSettings


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def consistency_problems(raw: Mapping[str, Any], stack: str) -> list[str]:
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
    problems.extend(_agent_id_problems(raw, apps))
    return problems


def _agent_id_problems(raw: Mapping[str, Any], apps: list[dict[str, Any]]) -> list[str]:
    """Agents on Microsoft Entra Agent ID: sponsored, within the blueprint's limit, signing in
    through the stack's blueprint, and keeping an app registration only while they move."""
    problems: list[str] = []
    on_agent_id = [index for index, app in enumerate(apps) if app.get("identity") == "agentId"]
    blueprint = raw.get("agentId")
    if on_agent_id and blueprint is None:
        problems.append(
            f"agentId: applications[{on_agent_id[0]}] is on identity: agentId, so the stack's "
            "agent identity blueprint needs its settings: agentId.beatId and agentId.sponsors "
            "(README: Agents on Microsoft Entra Agent ID)"
        )
    if len(on_agent_id) > agent_id.MAX_AGENT_IDENTITIES_PER_BLUEPRINT:
        problems.append(
            f"applications: {len(on_agent_id)} agents are on identity: agentId; a blueprint has "
            f"at most {agent_id.MAX_AGENT_IDENTITIES_PER_BLUEPRINT} agent identities: split them "
            "into team stacks, each with its own blueprint"
        )
    settings = _as_dict(blueprint)
    if settings.get("clientSecret") is False and settings.get("emergencyRotation") is not None:
        problems.append(
            "agentId.emergencyRotation: the blueprint has no client secret to rotate "
            "(agentId.clientSecret: false); remove the key"
        )
    if settings.get("clientSecret") is False and not settings.get("federatedCredentials"):
        problems.append(
            "agentId.clientSecret: false needs at least one entry in "
            "agentId.federatedCredentials; without either the agents could not sign in"
        )
    problems.extend(
        _federated_duplicates(
            "agentId.federatedCredentials",
            [_as_dict(c) for c in _as_list(settings.get("federatedCredentials"))],
        )
    )
    for index, app in enumerate(apps):
        where = f"applications[{index}]"
        if app.get("identity") != "agentId":
            problems.extend(
                f"{where}.{key}: only an agent on identity: agentId has {key}"
                for key in ("sponsors", "registration")
                if key in app
            )
            continue
        if app.get("role") in rules.ROLES and app.get("role") != "agent":
            problems.append(
                f"{where}.identity: agentId is for agents; '{app.get('name')}' is a "
                f"{app.get('role')} (clients keep their app registration)"
            )
        if not _as_list(app.get("sponsors")):
            problems.append(
                f"{where}.sponsors: an agent on identity: agentId needs at least one sponsor "
                "(the Entra object IDs of the users accountable for it; Entra refuses an agent "
                "identity without one)"
            )
        if _as_list(app.get("externalClients")):
            problems.append(
                f"{where}.externalClients: an agent on identity: agentId authorizes clients by "
                "its blueprint's app role, which this stack assigns to its own clients only; "
                "list them under clients, or keep the agent on its app registration"
            )
        if app.get("registration") is None:
            problems.extend(
                f"{where}.{key}: an agent identity has no credentials of its own; it signs in "
                "through the stack's blueprint (agentId.clientSecret, "
                "agentId.federatedCredentials)"
                for key in ("clientSecret", "federatedCredentials", "emergencyRotation", "adopt")
                if key in app
            )
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
        problems.extend(
            _federated_duplicates(f"applications[{index}].federatedCredentials", federated)
        )
    return problems


def _federated_duplicates(key: str, federated: list[dict[str, Any]]) -> list[str]:
    """Graph refuses a second federated credential of one name, or of one issuer and subject."""
    problems: list[str] = []
    names: dict[str, int] = {}
    pairs: dict[tuple[str, str], int] = {}
    for position, credential in enumerate(federated):
        where = f"{key}[{position}]"
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
    keyed = [
        (f"applications[{index}].federatedCredentials", app.federated_credentials)
        for index, app in enumerate(settings.applications)
    ]
    if settings.agent_id is not None:
        keyed.append(("agentId.federatedCredentials", settings.agent_id.federated_credentials))
    return [
        f"{key}[{position}].subject: {hint}"
        for key, credentials in keyed
        for position, credential in enumerate(credentials)
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
