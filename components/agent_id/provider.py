"""The dynamic providers behind `AgentIdentityBlueprint`, `AgentBlueprintPrincipal`,
`AgentIdentity` and `AgentAppRoleAssignment` (Microsoft Entra Agent ID through Microsoft Graph
v1.0).

Pulumi pickles a provider into state by reference to this module, so it carries no settings
and no token: `configure` reads the optional settings from the stack config in the provider
process; Graph's URL comes from the environment (`graph.graph_base_url`, the sandbox's local
Entra through `lkps.switches`) and tokens from azure-identity (`components.entra_auth`), both
when the first request is made, so that a check or a diff makes no request and loads neither.
Nothing secret is an input or an output: object IDs, app IDs, names and sponsors' object IDs.
Each resource's ID is the object ID of what it keeps (an app role assignment's own id, which is
not a GUID); outputs are its inputs as Graph holds them and, for a blueprint, its `app_id`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable
from typing import Any, Final

from pulumi.dynamic import (
    CheckFailure,
    CheckResult,
    ConfigureRequest,
    CreateResult,
    DiffResult,
    ReadResult,
    UpdateResult,
)
from pulumi.output import Unknown
from pulumi.runtime.rpc import UNKNOWN

from components.agent_id.graph import (
    AGENT_IDENTITY,
    BLUEPRINT,
    BLUEPRINT_PRINCIPAL,
    GRAPH_SCOPE,
    GraphClient,
    GraphPermanentError,
    assignment_target,
    directory_object_ref,
    graph_base_url,
    user_ref,
)
from components.dynamic_resources import ConfiguredProvider
from lkps import rules

# The stack config key of the optional settings (`lkps-onboarding:agentId`), its fields and
# their defaults and bounds (seconds).
SETTINGS_KEY: Final = "agentId"
_SETTINGS: Final = {
    "requestTimeoutSeconds": (30.0, 300.0),
    "retryDeadlineSeconds": (120.0, 3600.0),
}
# uniqueName: "The unique identifier that can be assigned to an application and used as an
# alternate key. Immutable." (application resource). Graph does not document its characters;
# this provider takes letters, digits, '.', '_' and '-' only, so that it is safe in the
# `(uniqueName='…')` key of a URL.
UNIQUE_NAME: Final = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,119}")
DISPLAY_NAME_MAX_LENGTH: Final = 256
# "A single blueprint may have up to 100 sponsors" (agentidentityblueprint-post-sponsors).
MAX_SPONSORS: Final = 100

# An app role's value (learn.microsoft.com/graph/api/resources/approle): at most 120 of
# : ! # $ % & ' ( ) * + , - . / ; < = > ? @ [ ] ^ _ ` { | } ~ and letters and digits, not
# starting with '.'.
APP_ROLE_VALUE: Final = re.compile(r"(?!\.)[!#$%&'()*+,\-./:;<=>?@\[\]^_`{|}~0-9A-Za-z]{1,120}")
APP_ROLE_KEYS: Final = ("id", "value", "display_name", "description")

BLUEPRINT_INPUTS: Final = (
    "unique_name",
    "display_name",
    "sponsors",
    "owners",
    "service_management_reference",
    "app_roles",
)
PRINCIPAL_INPUTS: Final = ("blueprint_app_id",)
AGENT_INPUTS: Final = ("display_name", "blueprint_app_id", "sponsors")
ASSIGNMENT_INPUTS: Final = ("resource_principal_id", "app_role_id", "principal_id")
_GUID_INPUTS: Final = ("blueprint_app_id", *ASSIGNMENT_INPUTS)


def is_unknown(value: Any) -> bool:
    """Whether an input is not known yet (a preview of a resource another one has not created).

    The provider host keeps unknowns in `check` and `diff` inputs as `pulumi.output.Unknown`
    objects (pulumi/dynamic/__main__.py); older hosts sent the string `UNKNOWN`. A list or a
    mapping with an unknown element is unknown as a whole.
    """
    if isinstance(value, list):
        return any(is_unknown(item) for item in value)
    if isinstance(value, dict):
        return any(is_unknown(item) for item in value.values())
    return isinstance(value, Unknown) or value == UNKNOWN


class _AgentIdProvider(ConfiguredProvider):
    """What the three providers share: settings from `configure`, the Graph client, check and
    diff over a fixed set of inputs."""

    INPUTS: tuple[str, ...] = ()
    REPLACING: tuple[str, ...] = ()
    _timeout: float | None = None
    _deadline: float | None = None

    def configure(self, req: ConfigureRequest) -> None:
        raw = req.config.get(SETTINGS_KEY)
        if isinstance(raw, str):
            try:
                raw = json.loads(raw)
            except ValueError:
                raise ValueError(f"{rules.PROJECT}:{SETTINGS_KEY}: must be a JSON object") from None
        if raw is None:
            raw = {}
        if not isinstance(raw, dict):
            raise ValueError(f"{rules.PROJECT}:{SETTINGS_KEY}: must be an object")
        # The block's other keys are the blueprint's; the program validates the whole block
        # (lkps.settings.BlueprintSettings) before any resource is registered.
        values = []
        for key, (default, maximum) in _SETTINGS.items():
            value = raw.get(key, default)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ValueError(f"{rules.PROJECT}:{SETTINGS_KEY}.{key}: must be a number")
            if not 0 < value <= maximum:
                raise ValueError(
                    f"{rules.PROJECT}:{SETTINGS_KEY}.{key}: must be above 0 and at most {maximum}"
                )
            values.append(float(value))
        self._timeout, self._deadline = values

    def client(self) -> GraphClient:
        if self._timeout is None or self._deadline is None:
            raise RuntimeError(f"the {type(self).__name__} was used before configure()")
        from components.entra_auth import token_source

        return GraphClient(
            base_url=graph_base_url(),
            token=token_source(GRAPH_SCOPE, None),
            timeout=self._timeout,
            deadline=self._deadline,
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = {key: news.get(key) for key in self.INPUTS}
        failures = [
            CheckFailure(key, reason)
            for key, reason in self._check_failures(inputs)
            if not is_unknown(inputs.get(key))
        ]
        for key, value in inputs.items():
            if not is_unknown(value):
                inputs[key] = _normalized(key, value)
        return CheckResult(inputs, failures)

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        raise NotImplementedError

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        """Compares the inputs only: never `__provider` (pulumi/pulumi#12401) nor outputs."""
        changed = [
            key
            for key in self.INPUTS
            if is_unknown(news.get(key)) or news.get(key) != olds.get(key)
        ]
        return DiffResult(
            changes=bool(changed),
            replaces=[key for key in changed if key in self.REPLACING],
            delete_before_replace=False,
        )


def _normalized(key: str, value: Any) -> Any:
    """Object IDs and app IDs in lower case, lists of them sorted without repeats, so that a
    refresh's answer from Graph compares equal to the program's inputs."""
    if key in ("sponsors", "owners") and isinstance(value, list):
        return sorted({str(item).lower() for item in value})
    if key in _GUID_INPUTS and isinstance(value, str):
        return value.lower()
    if key == "app_roles" and isinstance(value, list) and all(isinstance(r, dict) for r in value):
        roles = [{k: role.get(k) for k in APP_ROLE_KEYS} for role in value]
        for role in roles:
            role["id"] = str(role["id"]).lower()
        return sorted(roles, key=lambda role: str(role["id"]))
    return value


def _guid_failure(key: str, value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, str) or not rules.GUID.fullmatch(value):
        return [(key, f"{value!r} must be {rules.GUID_FORM}")]
    return []


def _guids_failure(key: str, value: Any, required: bool) -> list[tuple[str, str]]:
    if value is None and not required:
        return []
    if not isinstance(value, list) or (required and not value):
        need = "a non-empty list" if required else "a list"
        return [(key, f"must be {need} of user object IDs ({rules.GUID_FORM})")]
    bad = [item for item in value if not isinstance(item, str) or not rules.GUID.fullmatch(item)]
    if bad:
        return [(key, f"{bad[0]!r} must be {rules.GUID_FORM}")]
    if len({item.lower() for item in value}) > MAX_SPONSORS:
        return [(key, f"at most {MAX_SPONSORS} are allowed")]
    return []


def _app_roles_failure(value: Any) -> list[tuple[str, str]]:
    """None, or a list of app roles, each `id` (a GUID), `value`, `display_name` and
    `description`, ids and values unique (values ignoring case, as the emulator compares them)."""
    if value is None:
        return []
    form = f"mappings of {', '.join(APP_ROLE_KEYS)}"
    if not isinstance(value, list):
        return [("app_roles", f"must be a list of {form}")]
    for index, role in enumerate(value):
        where = f"app_roles[{index}]"
        if not isinstance(role, dict) or set(role) != set(APP_ROLE_KEYS):
            return [
                ("app_roles", f"{where} must be a mapping of exactly {', '.join(APP_ROLE_KEYS)}")
            ]
        if not isinstance(role["id"], str) or not rules.GUID.fullmatch(role["id"]):
            return [("app_roles", f"{where}.id {role['id']!r} must be {rules.GUID_FORM}")]
        if not isinstance(role["value"], str) or not APP_ROLE_VALUE.fullmatch(role["value"]):
            return [
                (
                    "app_roles",
                    f"{where}.value {role['value']!r} must be 1 to 120 letters, digits or "
                    "punctuation allowed in a role claim, without spaces, not starting with '.'",
                )
            ]
        for key in ("display_name", "description"):
            if not isinstance(role[key], str) or not role[key].strip():
                return [("app_roles", f"{where}.{key} must be a non-empty string")]
    for key in ("id", "value"):
        seen = [str(role[key]).lower() for role in value]
        if len(seen) != len(set(seen)):
            return [("app_roles", f"two app roles have the same {key}")]
    return []


def _display_name_failure(value: Any) -> list[tuple[str, str]]:
    if not isinstance(value, str) or not value.strip() or len(value) > DISPLAY_NAME_MAX_LENGTH:
        return [
            (
                "display_name",
                f"must be a non-empty string of at most {DISPLAY_NAME_MAX_LENGTH} characters",
            )
        ]
    return []


def _reconcile(
    current: Iterable[str],
    declared_before: Iterable[str] | None,
    declared_now: Iterable[str],
    add: Callable[[str], None],
    remove: Callable[[str], None],
) -> None:
    """Adds what is declared and missing; removes only what this resource declared before and
    no longer does, so that sponsors or owners added outside the stack stay (and the deploying
    identity, which Graph makes an owner of what it creates, is not locked out)."""
    present = set(current)
    wanted = set(declared_now)
    for item in sorted(wanted - present):
        add(item)
    for item in sorted((set(declared_before or ()) - wanted) & present):
        remove(item)


# -- agent identity blueprints -------------------------------------------------------------------


def _blueprint_target(unique_name: str) -> str:
    return f"agent identity blueprint {unique_name!r}"


class AgentIdentityBlueprintProvider(_AgentIdProvider):
    """Keeps one agent identity blueprint, found by its uniqueName (the upsert's alternate key)."""

    INPUTS = BLUEPRINT_INPUTS
    REPLACING = ("unique_name",)

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        unique_name = inputs["unique_name"]
        failures = []
        if not isinstance(unique_name, str) or not UNIQUE_NAME.fullmatch(unique_name):
            failures.append(
                (
                    "unique_name",
                    f"{unique_name!r} must be 1 to 120 letters, digits, '.', '_' or '-', "
                    "starting with a letter or digit",
                )
            )
        failures += _display_name_failure(inputs["display_name"])
        failures += _guids_failure("sponsors", inputs["sponsors"], required=True)
        failures += _guids_failure("owners", inputs["owners"], required=False)
        reference = inputs["service_management_reference"]
        if not isinstance(reference, str) or not rules.BEAT_ID.fullmatch(reference):
            failures.append(
                ("service_management_reference", f"{reference!r} must be {rules.BEAT_ID_FORM}")
            )
        failures += _app_roles_failure(inputs["app_roles"])
        return failures

    def create(self, props: dict[str, Any]) -> CreateResult:
        object_id, outputs = self._ensure(props, None)
        return CreateResult(object_id, outputs)

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        if olds.get("unique_name") != news["unique_name"]:
            raise GraphPermanentError(
                "update",
                _blueprint_target(news["unique_name"]),
                None,
                None,
                "a uniqueName change needs a replacement",
            )
        return UpdateResult(self._ensure(news, olds)[1])

    def _ensure(
        self, props: dict[str, Any], olds: dict[str, Any] | None
    ) -> tuple[str, dict[str, Any]]:
        """The upsert by uniqueName, for create and update alike: a create that a run
        interrupted after Graph made the blueprint repeats safely. A blueprint that does not
        exist is made by the upsert with its sponsors, owners and app roles; an existing one is
        patched (displayName, serviceManagementReference, appRoles) through the same upsert, and
        its sponsors and owners are reconciled through their relations (sponsors are bound on
        create only, agentidentityblueprint-upsert's body takes the blueprint's properties).
        An app role to remove or change is disabled by a first PATCH (`_app_roles_plan`)."""
        unique_name = props["unique_name"]
        target = _blueprint_target(unique_name)
        graph = self.client()
        sponsors, owners = props["sponsors"], props.get("owners") or []
        properties: dict[str, Any] = {
            "displayName": props["display_name"],
            "serviceManagementReference": props["service_management_reference"],
        }
        existing = graph.get_blueprint(None, unique_name)
        made = None
        if existing is None:
            body = {**properties, "sponsors@odata.bind": [user_ref(s) for s in sponsors]}
            if owners:
                body["owners@odata.bind"] = [directory_object_ref(o) for o in owners]
            if props.get("app_roles") is not None:
                body["appRoles"] = [_wire_role(role) for role in props["app_roles"]]
            made = graph.upsert_blueprint(unique_name, body)
        current = made
        if made is None:
            # It existed (or another run made it in between): the same upsert updates it. Its
            # id and appId, all that is read of it afterwards, do not change.
            current = existing or graph.get_blueprint(None, unique_name)
            plan = _app_roles_plan(
                (current or {}).get("appRoles") or [],
                (olds or {}).get("app_roles"),
                props.get("app_roles"),
            )
            if plan is not None:
                disabling, properties["appRoles"] = plan
                if disabling is not None:
                    graph.upsert_blueprint(unique_name, {"appRoles": disabling})
            graph.upsert_blueprint(unique_name, properties)
        blueprint = current
        if blueprint is None:
            raise GraphPermanentError("read", target, None, None, "gone right after the upsert")
        object_id = str(blueprint["id"])
        if made is None:
            _reconcile(
                graph.blueprint_sponsors(object_id, target),
                (olds or {}).get("sponsors"),
                sponsors,
                lambda s: graph.add_sponsor("applications", BLUEPRINT, object_id, s, target),
                lambda s: graph.remove_sponsor("applications", BLUEPRINT, object_id, s, target),
            )
            if owners or (olds or {}).get("owners"):
                _reconcile(
                    graph.owners(object_id, target),
                    (olds or {}).get("owners"),
                    owners,
                    lambda o: graph.add_owner(object_id, o, target),
                    lambda o: graph.remove_owner(object_id, o, target),
                )
        return object_id, self._outputs(props, blueprint)

    @staticmethod
    def _outputs(props: dict[str, Any], blueprint: dict[str, Any]) -> dict[str, Any]:
        return {key: props.get(key) for key in BLUEPRINT_INPUTS} | {
            "app_id": str(blueprint["appId"]).lower(),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        unique_name = props.get("unique_name")
        graph = self.client()
        blueprint = graph.get_blueprint(id_ or None, unique_name)
        if blueprint is None:
            return ReadResult("", {})
        object_id = str(blueprint["id"])
        target = _blueprint_target(str(blueprint.get("uniqueName") or unique_name))
        declared_owners = props.get("owners")
        owners = declared_owners
        if declared_owners:
            present = set(graph.owners(object_id, target))
            owners = [o for o in declared_owners if o in present]
        inputs = {
            "unique_name": blueprint.get("uniqueName") or unique_name,
            "display_name": blueprint.get("displayName"),
            "sponsors": graph.blueprint_sponsors(object_id, target),
            "owners": owners,
            "service_management_reference": blueprint.get("serviceManagementReference"),
            "app_roles": _declared_roles_held(blueprint, props.get("app_roles")),
        }
        return ReadResult(object_id, self._outputs(inputs, blueprint), inputs=inputs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        """DELETE /applications/{id}: Entra then deletes the blueprint's principal, and its
        agent identities by an asynchronous cascade (learn.microsoft.com/entra/agent-id/
        cascade-deletion-agent-identities); one already gone is fine."""
        target = _blueprint_target(str(props.get("unique_name") or id_))
        self.client().delete_application(id_, target)


# The fields of an app role Graph takes in a PATCH (`origin` is read-only), and those a change is
# measured on (learn.microsoft.com/graph/api/resources/approle).
_ROLE_WRITABLE: Final = (
    "allowedMemberTypes",
    "description",
    "displayName",
    "id",
    "isEnabled",
    "value",
)
_ROLE_COMPARED: Final = ("allowedMemberTypes", "description", "displayName", "value")


def _wire_role(role: dict[str, Any]) -> dict[str, Any]:
    """An app role input as Graph takes it: an application permission, enabled."""
    return {
        "id": str(role["id"]).lower(),
        "value": role["value"],
        "displayName": role["display_name"],
        "description": role["description"],
        "allowedMemberTypes": ["Application"],
        "isEnabled": True,
    }


def _held_role(role: dict[str, Any]) -> dict[str, Any]:
    held = {key: role.get(key) for key in _ROLE_WRITABLE}
    held["id"] = str(held["id"]).lower()
    return held


def _app_roles_plan(
    current: list[dict[str, Any]],
    declared_before: list[dict[str, Any]] | None,
    declared_now: list[dict[str, Any]] | None,
) -> tuple[list[dict[str, Any]] | None, list[dict[str, Any]]] | None:
    """The PATCHes of a blueprint's appRoles: None when the stack does not manage them;
    else the collection to send first, with every enabled role to remove or change disabled
    and nothing else changed (None when no role needs it), and the collection to send then
    (learn.microsoft.com/graph/api/resources/approle, isEnabled: "To delete a role, this must
    first be set to false. At that point, in a subsequent call, this role may be removed.";
    Graph refuses a change of an enabled role too, CannotDeleteOrUpdateEnabledEntitlement).
    Roles added outside the stack (never declared) are kept as they are."""
    if declared_before is None and declared_now is None:
        return None
    before = {str(role["id"]).lower() for role in declared_before or []}
    wanted = {str(role["id"]).lower(): _wire_role(role) for role in declared_now or []}
    held = [_held_role(role) for role in current]
    first: list[dict[str, Any]] = []
    for role in held:
        new = wanted.get(role["id"])
        goes = new is None and role["id"] in before
        changes = new is not None and any(role[k] != new[k] for k in _ROLE_COMPARED)
        first.append(
            {**role, "isEnabled": False} if role["isEnabled"] and (goes or changes) else role
        )
    foreign = [role for role in held if role["id"] not in wanted and role["id"] not in before]
    return (first if first != held else None), [*foreign, *wanted.values()]


def _declared_roles_held(
    blueprint: dict[str, Any], declared: list[dict[str, Any]] | None
) -> list[dict[str, Any]] | None:
    """The declared app roles as Graph holds them, for drift: those with a declared id that are
    enabled application permissions (one disabled or changed by hand shows as a difference)."""
    if declared is None:
        return None
    ids = {str(role["id"]).lower() for role in declared}
    held = [
        {
            "id": role.get("id"),
            "value": role.get("value"),
            "display_name": role.get("displayName"),
            "description": role.get("description"),
        }
        for role in blueprint.get("appRoles") or []
        if str(role.get("id")).lower() in ids
        and role.get("isEnabled")
        and role.get("allowedMemberTypes") == ["Application"]
    ]
    roles: list[dict[str, Any]] = _normalized("app_roles", held)
    return roles


# -- blueprint principals ------------------------------------------------------------------------


def _principal_target(app_id: str) -> str:
    return f"blueprint principal of appId {app_id}"


class AgentBlueprintPrincipalProvider(_AgentIdProvider):
    """Keeps the one agent identity blueprint principal of a blueprint (its service principal
    in the tenant, which agent identities need)."""

    INPUTS = PRINCIPAL_INPUTS
    REPLACING = ("blueprint_app_id",)

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return _guid_failure("blueprint_app_id", inputs["blueprint_app_id"])

    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST the principal; when the blueprint has one already (409: a run interrupted after
        Graph made it, or one made by hand), that one is adopted."""
        app_id = props["blueprint_app_id"]
        graph = self.client()
        try:
            principal = graph.create_blueprint_principal(app_id)
        except GraphPermanentError as exc:
            if exc.status != 409:
                raise
            principal = graph.principal_of_app(app_id)
            if principal is None or principal.get("@odata.type") != f"#{BLUEPRINT_PRINCIPAL}":
                raise
        return CreateResult(str(principal["id"]), self._outputs(principal))

    @staticmethod
    def _outputs(principal: dict[str, Any]) -> dict[str, Any]:
        return {
            "blueprint_app_id": str(principal["appId"]).lower(),
            "display_name": principal.get("displayName"),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        target = _principal_target(str(props.get("blueprint_app_id")))
        principal = self.client().get_service_principal(id_, target)
        if principal is None:
            return ReadResult("", {})
        outputs = self._outputs(principal)
        return ReadResult(id_, outputs, inputs={"blueprint_app_id": outputs["blueprint_app_id"]})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Nothing to change in place (a new appId replaces): the current outputs."""
        target = _principal_target(news["blueprint_app_id"])
        principal = self.client().get_service_principal(id_, target)
        if principal is None:
            raise GraphPermanentError("update", target, 404, None, "the principal is gone")
        return UpdateResult(self._outputs(principal))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        target = _principal_target(str(props.get("blueprint_app_id")))
        self.client().delete_service_principal(id_, target)


# -- agent identities ----------------------------------------------------------------------------


def _agent_target(display_name: Any, object_id: str | None = None) -> str:
    return f"agent identity {display_name!r}" + (f" ({object_id})" if object_id else "")


class AgentIdentityProvider(_AgentIdProvider):
    """Keeps one agent identity of a blueprint, found on create by its display name under the
    blueprint (Graph has no alternate key for an agent identity, and import is not available
    for dynamic resources, pulumi/pulumi#16175)."""

    INPUTS = AGENT_INPUTS
    REPLACING = ("blueprint_app_id",)

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return (
            _display_name_failure(inputs["display_name"])
            + _guid_failure("blueprint_app_id", inputs["blueprint_app_id"])
            + _guids_failure("sponsors", inputs["sponsors"], required=True)
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        """Adopts the blueprint's agent identity of this display name when there is one (made
        by hand, or by a run interrupted before the state recorded it: Graph has no alternate
        key to make the create idempotent), adding the declared sponsors it lacks; else creates
        it. More than one of that name under the blueprint is refused: which to keep is a
        person's call."""
        graph = self.client()
        display_name, blueprint_app_id = props["display_name"], props["blueprint_app_id"]
        target = _agent_target(display_name)
        same = [
            agent
            for agent in graph.agent_identities_named(display_name)
            if str(agent.get("agentIdentityBlueprintId")).lower() == blueprint_app_id
        ]
        if len(same) > 1:
            ids = ", ".join(sorted(str(agent["id"]) for agent in same))
            raise GraphPermanentError(
                "create",
                target,
                None,
                None,
                f"{len(same)} agent identities of this name under the blueprint ({ids}); delete "
                "all but the one to keep, then run again",
            )
        if same:
            object_id = str(same[0]["id"])
            _reconcile(
                graph.agent_identity_sponsors(object_id, target),
                None,
                props["sponsors"],
                lambda s: graph.add_sponsor(
                    "servicePrincipals", AGENT_IDENTITY, object_id, s, target
                ),
                lambda s: None,
            )
            return CreateResult(object_id, self._outputs(props, same[0]))
        agent = graph.create_agent_identity(display_name, blueprint_app_id, props["sponsors"])
        return CreateResult(str(agent["id"]), self._outputs(props, agent))

    @staticmethod
    def _outputs(props: dict[str, Any], agent: dict[str, Any]) -> dict[str, Any]:
        return {
            "display_name": agent.get("displayName"),
            "blueprint_app_id": str(agent.get("agentIdentityBlueprintId")).lower(),
            "sponsors": props.get("sponsors"),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        target = _agent_target(props.get("display_name"), id_)
        graph = self.client()
        agent = graph.get_service_principal(id_, target)
        if agent is None or agent.get("@odata.type") != f"#{AGENT_IDENTITY}":
            return ReadResult("", {})
        sponsors = graph.agent_identity_sponsors(id_, target)
        outputs = self._outputs({"sponsors": sponsors}, agent)
        return ReadResult(id_, outputs, inputs={key: outputs[key] for key in AGENT_INPUTS})

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        target = _agent_target(news["display_name"], id_)
        if olds.get("blueprint_app_id") != news["blueprint_app_id"]:
            raise GraphPermanentError(
                "update", target, None, None, "a blueprint change needs a replacement"
            )
        graph = self.client()
        if olds.get("display_name") != news["display_name"]:
            graph.update_service_principal(id_, {"displayName": news["display_name"]}, target)
        if olds.get("sponsors") != news["sponsors"]:
            _reconcile(
                graph.agent_identity_sponsors(id_, target),
                olds.get("sponsors"),
                news["sponsors"],
                lambda s: graph.add_sponsor("servicePrincipals", AGENT_IDENTITY, id_, s, target),
                lambda s: graph.remove_sponsor("servicePrincipals", AGENT_IDENTITY, id_, s, target),
            )
        agent = graph.get_service_principal(id_, target)
        if agent is None:
            raise GraphPermanentError("update", target, 404, None, "the agent identity is gone")
        return UpdateResult(self._outputs(news, agent))

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.client().delete_service_principal(id_, _agent_target(props.get("display_name"), id_))


# -- app role assignments ------------------------------------------------------------------------

# The inputs in the order `graph.assignment_target` names them.
_TARGET_ORDER: Final = ("resource_principal_id", "principal_id", "app_role_id")


class AgentAppRoleAssignmentProvider(_AgentIdProvider):
    """Keeps one app role assignment: the service principal `principal_id` (an agent identity
    too) granted the app role `app_role_id` of the resource service principal
    `resource_principal_id` (of a blueprint principal: one of its blueprint's app roles). Graph
    has no update of an assignment, so every input replaces it."""

    INPUTS = ASSIGNMENT_INPUTS
    REPLACING = ASSIGNMENT_INPUTS

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        return [f for key in ASSIGNMENT_INPUTS for f in _guid_failure(key, inputs[key])]

    def create(self, props: dict[str, Any]) -> CreateResult:
        """POST the assignment; when Graph refuses it because the same one exists (a run
        interrupted after Graph made it, or one made by hand), that one is adopted."""
        resource, role, principal = (props[key] for key in ASSIGNMENT_INPUTS)
        graph = self.client()
        try:
            made = graph.create_app_role_assignment(resource, principal, role)
        except GraphPermanentError as exc:
            if exc.status not in (400, 409):
                raise
            made = next(
                (
                    a
                    for a in graph.app_role_assigned_to(resource)
                    if str(a.get("principalId")).lower() == principal
                    and str(a.get("appRoleId")).lower() == role
                ),
                None,
            )
            if made is None:
                raise
        return CreateResult(str(made["id"]), self._outputs(made))

    @staticmethod
    def _outputs(assignment: dict[str, Any]) -> dict[str, Any]:
        return {
            "resource_principal_id": str(assignment["resourceId"]).lower(),
            "app_role_id": str(assignment["appRoleId"]).lower(),
            "principal_id": str(assignment["principalId"]).lower(),
        }

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        """The assignment of that id among the resource's (ids compare exactly); gone when it
        or its resource service principal is."""
        resource = str(props.get("resource_principal_id"))
        try:
            listed = self.client().app_role_assigned_to(resource)
        except GraphPermanentError as exc:
            if exc.status == 404:
                return ReadResult("", {})
            raise
        found = next((a for a in listed if a.get("id") == id_), None)
        if found is None:
            return ReadResult("", {})
        outputs = self._outputs(found)
        return ReadResult(id_, outputs, inputs=dict(outputs))

    def update(self, id_: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        """Nothing changes in place (every input replaces): the current outputs."""
        found = self.read(id_, news)
        if not found.id:
            target = assignment_target(*(str(news.get(k)) for k in _TARGET_ORDER))
            raise GraphPermanentError("update", target, 404, None, "the assignment is gone")
        return UpdateResult(found.outs)

    def delete(self, id_: str, props: dict[str, Any]) -> None:
        self.client().delete_app_role_assignment(str(props.get("resource_principal_id")), id_)
