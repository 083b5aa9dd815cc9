"""A preview in onboarding terms: per application what changes, and the dangers, in words."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from lkps import agent_id, ownership
from lkps.resource_types import (
    AGENT_BLUEPRINT,
    AGENT_IDENTITY,
    APP_ROLE_ASSIGNMENT,
    APPLICATION,
    BLUEPRINT_PRINCIPAL,
    FEDERATED_CREDENTIAL,
    IDENTIFIER_URI,
    PERMISSION_SCOPE,
    PRE_AUTHORIZED,
    ROUTE_ACCESS,
    SERVICE_PRINCIPAL,
    VAULT_SECRET,
)
from lkps.resource_types import APPLICATION_PASSWORD as PASSWORD
from stack_command.review.events import Drift, Note, PolicyResult, PreviewEvents, Step

CHANGING_OPS: Final = ("create", "update", "delete", "replace", "import", "import-replacement")
# What a reviewer calls the properties the program sets.
PROPERTY_WORDS: Final = {
    "displayName": "display name",
    "description": "description",
    "owners": "owners",
    "serviceManagementReference": "BEAT ID",
    "notes": "notes",
    "tags": "tags",
    "signInAudience": "sign-in audience",
    "appRoleAssignmentRequired": "assignment required",
    "accountEnabled": "enabled for sign-in",
    "preventDuplicateNames": "duplicate-name guard",
    "requiredResourceAccesses": "API permissions",
    "web": "web redirect URIs",
    "singlePageApplication": "SPA redirect URIs",
    "publicClient": "public client redirect URIs",
    "appRoles": "app roles",
    "optionalClaims": "optional claims",
    "groupMembershipClaims": "group claims",
    "identifierUris": "identifier URIs",
    "api": "exposed API",
}


@dataclass
class AppReview:
    """What one application's resources do in the preview."""

    display_name: str
    drift: list[str] = field(default_factory=list)
    changes: list[str] = field(default_factory=list)
    dangers: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


@dataclass
class Review:
    """The whole preview for a reviewer."""

    stack: str
    environment: str
    applications: dict[str, AppReview]
    dangers: list[str]
    policies: list[PolicyResult]
    steps: list[Step]
    unchanged: int
    failed: bool
    # Warnings on the stack as a whole (no application's resource), e.g. the stack-size guard.
    stack_notes: list[str] = field(default_factory=list)

    @property
    def violations(self) -> list[PolicyResult]:
        return [p for p in self.policies if p.level == "mandatory"]

    @property
    def advisories(self) -> list[PolicyResult]:
        return [p for p in self.policies if p.level != "mandatory"]

    @property
    def all_dangers(self) -> list[str]:
        return self.dangers + [
            f"{app.display_name}: {danger}"
            for app in self.applications.values()
            for danger in app.dangers
        ]

    @property
    def ok(self) -> bool:
        return not self.failed and not self.violations and not self.all_dangers


# The order a reviewer reads an application's changes in.
TYPE_ORDER: Final = {
    kind: order
    for order, kind in enumerate(
        (
            AGENT_BLUEPRINT,
            BLUEPRINT_PRINCIPAL,
            AGENT_IDENTITY,
            APPLICATION,
            SERVICE_PRINCIPAL,
            FEDERATED_CREDENTIAL,
            PASSWORD,
            VAULT_SECRET,
            ROUTE_ACCESS,
            IDENTIFIER_URI,
            PERMISSION_SCOPE,
            PRE_AUTHORIZED,
            APP_ROLE_ASSIGNMENT,
        )
    )
}


def _default_provider(step: Step) -> bool:
    """The engine's own default providers, which every first preview creates."""
    return step.type.startswith("pulumi:providers:") and step.name == "default"


def _owner_of(name: str, prefixes: Sequence[tuple[str, str]]) -> str | None:
    """The application whose resources' names start with `lkps-<display name, lowercase>`."""
    for prefix, display_name in prefixes:
        if name == prefix or name.startswith(prefix + "-"):
            return display_name
    return None


def _slot(name: str) -> str:
    return name.rsplit("-", 1)[-1]


def _words(keys: Iterable[str]) -> str:
    """Every changed property, in a reviewer's words where there are some, else by name."""
    tops = {key.split(".")[0].split("[")[0] for key in keys} - {"__defaults"}
    return ", ".join(sorted(PROPERTY_WORDS.get(top, top) for top in tops)) or "properties"


def _owner_change(step: Step) -> str:
    old = {str(o).lower() for o in step.old_inputs.get("owners") or []}
    new = {str(o).lower() for o in step.new_inputs.get("owners") or []}
    parts = [f"+{len(new - old)} owner(s)"] if new - old else []
    parts += [f"-{len(old - new)} owner(s)"] if old - new else []
    return ", ".join(parts) or "owners"


def _registration(step: Step, what: str) -> tuple[str | None, str | None]:
    if step.op == "create":
        return f"new {what}", None
    if step.op in ("import", "import-replacement"):
        changed = f"; changes {_words(step.changed)}" if step.changed else ""
        return f"adopts the existing {what} (import){changed}", None
    if step.op == "update":
        detail = _words(step.changed)
        if "owners" in {key.split("[")[0] for key in step.changed}:
            detail = detail.replace("owners", _owner_change(step))
        old_beat = step.old_inputs.get("serviceManagementReference")
        new_beat = step.new_inputs.get("serviceManagementReference")
        if "serviceManagementReference" in step.changed and old_beat != new_beat:
            detail = detail.replace("BEAT ID", f"BEAT ID {old_beat or 'none'} → {new_beat}")
        return f"{what}: changes {detail}", None
    if step.op == "delete":
        return None, f"{what} deleted" + (" (protected)" if step.protected else "")
    if step.op == "replace":
        return None, f"{what} replaced (a new client ID for consumers): {_words(step.changed)}"
    return None, None


def _password(step: Step) -> tuple[str | None, str | None]:
    slot = _slot(step.name)
    end = str(step.new_inputs.get("endDate") or "")[:10]
    if step.op == "create":
        return f"new client secret in slot {slot} (ends {end})", None
    if step.op == "replace":
        return f"secret rotation: slot {slot} gets a new secret (ends {end})", None
    if step.op == "delete":
        return None, f"client secret of slot {slot} revoked"
    return None, None


def _vault_secret(step: Step) -> tuple[str | None, str | None]:
    if step.op == "create":
        return "vault secret created", None
    if step.op in ("import", "import-replacement"):
        return "adopts the existing vault secret (import)", None
    if step.op == "update":
        if any(key.startswith("properties") for key in step.changed):
            return "vault secret: new version (the published client secret changes)", None
        return "vault secret: tags updated", None
    if step.op == "delete":
        return None, "vault secret deleted" + (" (protected)" if step.protected else "")
    if step.op == "replace":
        return None, "vault secret replaced"
    return None, None


def _trust(inputs: Mapping[str, Any]) -> str:
    return f"{inputs.get('issuer')}/{inputs.get('subject')}"


def _federated(step: Step) -> tuple[str | None, str | None]:
    name = step.new_inputs.get("displayName") or step.old_inputs.get("displayName") or step.name
    if step.op == "create":
        return f"trusts {_trust(step.new_inputs)} to sign in (federated credential {name})", None
    if step.op in ("import", "import-replacement"):
        return f"adopts the existing federated credential {name} (import)", None
    if step.op == "update" and not {"issuer", "subject", "audiences"} & set(step.changed):
        return f"federated credential {name}: changes {_words(step.changed)}", None
    if step.op in ("update", "replace"):
        return None, (
            f"federated credential {name} now trusts {_trust(step.new_inputs)}: a workload "
            f"signing in as {_trust(step.old_inputs)} loses access"
        )
    if step.op == "delete":
        return None, (
            f"federated credential {name} removed: {_trust(step.old_inputs)} can no longer sign in"
        )
    return None, None


def _secret_removed(steps: Sequence[Step]) -> str | None:
    """The client secret going away for good (every password revoked, none made, the vault
    secret deleted): how the application signs in afterwards."""
    ops = {(step.type, step.op) for step in steps}
    removed = (VAULT_SECRET, "delete") in ops and (PASSWORD, "delete") in ops
    if not removed or (PASSWORD, "create") in ops or (PASSWORD, "replace") in ops:
        return None
    trusted = sorted(
        _trust(step.new_inputs)
        for step in steps
        if step.type == FEDERATED_CREDENTIAL and step.op != "delete"
    )
    if not trusted:
        return "client secret removed: the app keeps no credential to sign in with"
    return f"client secret removed: the app now signs in with {', '.join(trusted)} only"


def _sponsor_change(step: Step) -> str:
    old, new = _ids(step.old_inputs.get("sponsors")), _ids(step.new_inputs.get("sponsors"))
    parts = [f"+{len(new - old)} sponsor(s)"] if new - old else []
    parts += [f"-{len(old - new)} sponsor(s)"] if old - new else []
    return ", ".join(parts) or "sponsors"


def _agent_id_words(step: Step) -> tuple[str | None, str | None]:
    """The stack's Microsoft Entra Agent ID objects: its blueprint, the blueprint's principal,
    an agent's agent identity, a client's app role on the blueprint."""
    if step.type == APP_ROLE_ASSIGNMENT:
        if step.op == "create":
            return (
                "may start LKPS sessions with the agents on Agent ID (app role access_as_client)",
                None,
            )
        if step.op in ("delete", "replace"):
            return None, "app role access_as_client removed: loses access to the agents on Agent ID"
        return None, None
    what = {
        AGENT_BLUEPRINT: "agent identity blueprint",
        BLUEPRINT_PRINCIPAL: "blueprint principal",
        AGENT_IDENTITY: "agent identity (Microsoft Entra Agent ID)",
    }[step.type]
    if step.op == "create":
        sponsors = len(_ids(step.new_inputs.get("sponsors")))
        return f"new {what}" + (f", {sponsors} sponsor(s)" if sponsors else ""), None
    if step.op == "update":
        detail = _words(step.changed).replace("sponsors", _sponsor_change(step))
        return f"{what}: changes {detail}", None
    consequence = {
        AGENT_BLUEPRINT: "Entra deletes every agent identity of it",
        BLUEPRINT_PRINCIPAL: "no agent identity of the blueprint can sign in",
        AGENT_IDENTITY: "the agent can no longer sign in as it",
    }[step.type]
    if step.op == "delete":
        return None, f"{what} deleted" + (" (protected)" if step.protected else "") + (
            f": {consequence}"
        )
    if step.op == "replace":
        return None, f"{what} replaced (a new ID for LKPS and Ocelot): {_words(step.changed)}"
    return None, None


def _of_agent_identity(step: Step) -> bool:
    """An agent identity's Client Access List entry (components/onboarded_application.py)."""
    return step.type == ROUTE_ACCESS and step.name.endswith(agent_id.ROUTE_ACCESS_SUFFIX)


def _agent_id_move(steps: Sequence[Step]) -> tuple[str | None, str | None]:
    """An agent's move to Agent ID, in its two reviewed steps: its agent identity joins the
    routes beside its registration; later the registration leaves them."""
    created = any(
        s.type == ROUTE_ACCESS and _of_agent_identity(s) and s.op == "create" for s in steps
    )
    kept = any(s.type == ROUTE_ACCESS and _of_agent_identity(s) for s in steps)
    registration_kept = any(
        s.type == ROUTE_ACCESS and not _of_agent_identity(s) and s.op == "same" for s in steps
    )
    registration_left = any(
        s.type == ROUTE_ACCESS and not _of_agent_identity(s) and s.op == "delete" and not s.retained
        for s in steps
    )
    if created and registration_kept:
        return (
            "moves to Microsoft Entra Agent ID: its agent identity joins the LKPS routes beside "
            "the app registration (a parallel run); retire the registration in a later change"
        ), None
    if kept and not created and registration_left:
        return None, (
            "app registration retired: the agent reaches LKPS as its agent identity only; a "
            "workload still signing in with the registration loses access"
        )
    return None, None


def _route(step: Step, ocelot_ui: str) -> tuple[str | None, str | None]:
    route = step.new_inputs.get("route_id") or step.old_inputs.get("route_id") or step.name
    if _of_agent_identity(step):
        if step.op == "create":
            return f"agent identity's LKPS access added on `{route}`", None
        if step.op == "delete" and not step.retained:
            return None, f"agent identity's LKPS access removed from `{route}`"
    if step.op == "create":
        return (
            f"LKPS access added on `{route}` (if the route needs approval, it waits in the "
            f"[Ocelot UI]({ocelot_ui}?route={route}))"
        ), None
    if step.op == "delete" and step.retained:
        return (
            f"lets go of its entry on `{route}`, which stays in Ocelot (ocelot.mode: manual)",
            None,
        )
    if step.op == "delete":
        return None, f"LKPS access removed from `{route}`"
    if step.op == "replace":
        return None, f"Ocelot entry on `{route}` replaced"
    if step.op == "update":
        return f"Ocelot entry on `{route}`: changes {', '.join(step.changed)}", None
    return None, None


def _authorization(step: Step) -> tuple[str | None, str | None]:
    if step.type == PRE_AUTHORIZED:
        client = step.name.rsplit("-clients-", 1)[-1].upper()
        if step.op == "create":
            return f"pre-authorizes client {client}", None
        if step.op == "delete":
            return None, f"pre-authorization of client {client} removed"
    what = "identifier URI" if step.type == IDENTIFIER_URI else "client scope access_as_client"
    if step.op == "create":
        return f"exposes its {what}", None
    if step.op == "delete":
        return None, f"{what} removed (clients lose access to the agent)"
    if step.op == "replace":
        return None, f"{what} replaced"
    return None, None


def _ids(value: Any) -> set[str]:
    return {str(v).lower() for v in value} if isinstance(value, list) else set()


def _registration_drift(drift: Drift, what: str, owned: Mapping[str, Any]) -> list[str]:
    found = []
    recorded, live = drift.recorded, drift.live
    for key in drift.changed:
        if key == "owners":
            found += [
                f"owner {o} was added by hand"
                for o in sorted(_ids(live[key]) - _ids(recorded[key]))
            ]
            found += [
                f"owner {o} was removed by hand"
                for o in sorted(_ids(recorded[key]) - _ids(live[key]))
            ]
        elif key == "serviceManagementReference":
            found.append(f"the BEAT ID was changed by hand to {live.get(key) or 'nothing'}")
        elif key == "accountEnabled" and live.get(key) is False:
            found.append(f"the {what} was disabled by hand")
        elif key in owned and owned[key][0] == ownership.STACK:
            found.append(f"the {what}'s {PROPERTY_WORDS.get(key, key)} was changed by hand")
    return found


def drift_found(drift: Drift) -> list[str]:
    """What a refresh found changed or deleted by hand, in onboarding words; nothing for what
    the stack does not own or keeps internally."""
    route = str(drift.recorded.get("route_id") or drift.name)
    gone = {
        APPLICATION: "the app registration was deleted by hand",
        SERVICE_PRINCIPAL: "the service principal was deleted by hand",
        PASSWORD: f"the client secret of slot {_slot(drift.name)} was deleted by hand",
        FEDERATED_CREDENTIAL: (
            f"federated credential {drift.recorded.get('displayName') or drift.name} was "
            "deleted by hand"
        ),
        VAULT_SECRET: "the vault secret was deleted by hand",
        ROUTE_ACCESS: f"the client was removed from `{route}` in the Ocelot UI",
        IDENTIFIER_URI: "the identifier URI was removed by hand",
        PERMISSION_SCOPE: "the access_as_client scope was removed by hand",
        PRE_AUTHORIZED: "a pre-authorized client was removed by hand",
        AGENT_BLUEPRINT: "the agent identity blueprint was deleted by hand",
        BLUEPRINT_PRINCIPAL: "the blueprint principal was deleted by hand",
        AGENT_IDENTITY: "the agent identity was deleted by hand",
        APP_ROLE_ASSIGNMENT: "the app role access_as_client was unassigned by hand",
    }
    if drift.gone:
        return [gone[drift.type]] if drift.type in gone else []
    if drift.type == APPLICATION:
        return _registration_drift(drift, "app registration", ownership.APPLICATION)
    if drift.type == SERVICE_PRINCIPAL:
        return _registration_drift(drift, "service principal", ownership.SERVICE_PRINCIPAL)
    if drift.type == ROUTE_ACCESS:
        found = []
        if "status" in drift.changed:
            found.append(f"the entry on `{route}` is {drift.live.get('status')!r} in Ocelot")
        if "beat_id" in drift.changed:
            found.append(f"the entry on `{route}` was given {drift.live.get('beat_id')} in the UI")
        if "description" in drift.changed:
            found.append(f"the entry on `{route}` was described anew in the UI")
        return found
    if drift.type == PRE_AUTHORIZED:
        return ["a pre-authorized client's permissions were changed by hand"]
    if drift.type in (AGENT_BLUEPRINT, AGENT_IDENTITY) and "sponsors" in drift.changed:
        what = "blueprint" if drift.type == AGENT_BLUEPRINT else "agent identity"
        return [
            f"the {what}'s sponsor {s} was removed by hand"
            for s in sorted(_ids(drift.recorded.get("sponsors")) - _ids(drift.live.get("sponsors")))
        ] + [
            f"the {what}'s sponsor {s} was added by hand"
            for s in sorted(_ids(drift.live.get("sponsors")) - _ids(drift.recorded.get("sponsors")))
        ]
    if drift.type == VAULT_SECRET:
        return ["the vault secret was changed by hand (enabled, expiry or tags)"]
    if drift.type == FEDERATED_CREDENTIAL:
        return [
            f"federated credential {drift.recorded.get('displayName') or drift.name} was "
            f"changed by hand ({', '.join(sorted(drift.changed))})"
        ]
    return []


def describe(step: Step, ocelot_ui: str) -> tuple[str | None, str | None]:
    """A change and/or a danger, in words, for one step; (None, None) for internal resources."""
    if step.type == APPLICATION:
        return _registration(step, "app registration")
    if step.type == SERVICE_PRINCIPAL:
        return _registration(step, "service principal")
    if step.type == PASSWORD:
        return _password(step)
    if step.type == VAULT_SECRET:
        return _vault_secret(step)
    if step.type == FEDERATED_CREDENTIAL:
        return _federated(step)
    if step.type == ROUTE_ACCESS:
        return _route(step, ocelot_ui)
    if step.type in (PRE_AUTHORIZED, IDENTIFIER_URI, PERMISSION_SCOPE):
        return _authorization(step)
    if step.type in (AGENT_BLUEPRINT, BLUEPRINT_PRINCIPAL, AGENT_IDENTITY, APP_ROLE_ASSIGNMENT):
        return _agent_id_words(step)
    if step.type.endswith(":RemovedClientSecret"):
        key = step.new_inputs.get("key_id") or step.name
        if step.op == "create":
            return None, f"hand-made client secret {key} revoked (adopt.removeSecrets)"
        return None, None
    if step.type.startswith("lkps:") or step.type.endswith(":VaultSecretName"):
        return None, None
    if step.op in ("delete", "replace"):
        return None, f"{step.type} {step.name}: {step.op}"
    return (f"{step.type} {step.name}: {step.op}" if step.op != "same" else None), None


def build_review(
    stack: str,
    environment: str,
    display_names: Sequence[str],
    ocelot_api_url: str,
    events: PreviewEvents,
) -> Review:
    """Groups the preview's steps, notes and policy results by application (those of the config,
    and those whose registration the preview deletes)."""
    removed = {
        str(step.old_inputs["displayName"])
        for step in events.steps
        if step.type == APPLICATION and isinstance(step.old_inputs.get("displayName"), str)
    }
    prefixes = sorted(
        ((f"lkps-{name.lower()}", name) for name in {*display_names, *removed}),
        key=lambda pair: len(pair[0]),
        reverse=True,
    )
    ocelot_ui = ocelot_api_url.rsplit("/api/", 1)[0]
    apps: dict[str, AppReview] = {}
    dangers: list[str] = []
    changing = sorted(
        (s for s in events.steps if s.op in CHANGING_OPS and not _default_provider(s)),
        key=lambda s: (TYPE_ORDER.get(s.type, len(TYPE_ORDER)), s.name),
    )
    slots: dict[str, set[str]] = defaultdict(set)
    for step in changing:
        owner = _owner_of(step.name, prefixes)
        change, danger = describe(step, ocelot_ui)
        if owner is None:
            if danger:
                dangers.append(danger)
            continue
        app = apps.setdefault(owner, AppReview(owner))
        if change:
            app.changes.append(change)
        if danger:
            app.dangers.append(danger)
        if step.type == PASSWORD and step.op in ("replace", "delete"):
            slots[owner].add(_slot(step.name))
    by_owner: dict[str, list[Step]] = defaultdict(list)
    for step in events.steps:
        owner = _owner_of(step.name, prefixes)
        if owner is not None:
            by_owner[owner].append(step)
    for owner, owned in by_owner.items():
        moved, retiring = _agent_id_move(owned)
        if moved:
            apps.setdefault(owner, AppReview(owner)).changes.insert(0, moved)
        if retiring:
            apps.setdefault(owner, AppReview(owner)).dangers.append(retiring)
    removals = {owner: _secret_removed(owned) for owner, owned in by_owner.items()}
    for owner, removal in removals.items():
        if removal:
            apps.setdefault(owner, AppReview(owner)).dangers.append(removal)
    for owner, changed in slots.items():
        if len(changed) > 1 and not removals.get(owner):
            apps[owner].dangers.append(
                "both client secret slots change in one run: the published secret may be "
                "deleted before its successor exists"
            )
    repaired = {step.urn for step in changing}
    for found in events.drift:
        owner = _owner_of(found.name, prefixes)
        words = drift_found(found)
        if owner is None or not words:
            continue
        then = "this run repairs it" if found.urn in repaired else "this run leaves it as it is"
        apps.setdefault(owner, AppReview(owner)).drift += [f"{w}: {then}" for w in words]
    stack_notes: list[str] = []
    for note in events.notes:
        owner = _owner_of((note.urn or "").rsplit("::", 1)[-1], prefixes)
        if owner is not None and note.severity in ("info", "warning"):
            apps.setdefault(owner, AppReview(owner)).notes.append(_note_text(note))
        elif owner is None and note.severity == "warning":
            stack_notes.append(note.message.splitlines()[0] if note.message else "")
        elif note.severity == "error":
            dangers.append(f"the preview failed: {note.message.splitlines()[0]}")
    if environment == "prod" and changing:
        dangers.insert(0, f"this changes prod ({len(changing)} resource change(s))")
    return Review(
        stack=stack,
        environment=environment,
        applications=dict(sorted(apps.items())),
        dangers=dangers,
        policies=events.policies,
        steps=changing,
        unchanged=sum(1 for s in events.steps if s.op == "same"),
        failed=events.failed,
        stack_notes=list(dict.fromkeys(stack_notes)),
    )


def _note_text(note: Note) -> str:
    first = note.message.splitlines()[0] if note.message else ""
    prefix = "warning: " if note.severity == "warning" else ""
    return prefix + first


# Properties whose values a reviewer may see: names, dates, routes; never a value or token.
SHOWN_VALUES: Final = frozenset(
    {"displayName", "description", "serviceManagementReference", "endDate", "route_id"}
)


def inputs_summary(inputs: Mapping[str, Any], keys: Iterable[str]) -> str:
    """The changed keys, with the value for plain, short, known-harmless properties."""
    shown = []
    for key in keys:
        top = key.split(".")[0].split("[")[0]
        value = inputs.get(top)
        if top in SHOWN_VALUES and isinstance(value, str) and len(value) <= 80:
            shown.append(f"{top}={value}")
        else:
            shown.append(top)
    return ", ".join(dict.fromkeys(shown))
