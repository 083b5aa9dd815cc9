"""The dynamic provider behind `OcelotRouteAccess`: one client ID on one route's access list.

Pulumi pickles the provider into state by reference to this module, so it carries no settings
and no token: `configure` reads them from the stack config in the provider process; requests go
through the adapter's pooled HTTP client, which lives in the process, never on the object.
"""

from __future__ import annotations

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

from components.dynamic_resources import ConfiguredProvider
from components.entra_auth import token_source
from components.ocelot.api import (
    ACTIVE,
    PENDING,
    ClientEntry,
    OcelotClient,
    OcelotPermanentError,
)
from components.ocelot.endpoint import api_base_url
from lkps import rules
from lkps.config import ConfigError, ocelot_access_settings
from lkps.settings import OcelotAccessSettings

INPUTS: Final = ("route_id", "client_id", "beat_id", "description")
REPLACING: Final = ("route_id", "client_id")


def is_unknown(value: Any) -> bool:
    """Whether an input is not known yet (a preview of a resource another one has not created).

    The provider host deserializes `check` and `diff` inputs keeping unknowns, which arrive as
    `pulumi.output.Unknown` objects (pulumi/dynamic/__main__.py); older hosts sent the string.
    """
    return isinstance(value, Unknown) or value == UNKNOWN


def resource_id(route_id: str, client_id: str) -> str:
    return f"{route_id}/{client_id}"


def _outputs(route_id: str, entry: ClientEntry) -> dict[str, Any]:
    return {
        "route_id": route_id,
        "client_id": entry.client_id,
        "beat_id": entry.beat_id,
        "description": entry.description,
        "status": entry.status,
        "added_at": entry.added_at,
        "added_by": entry.added_by,
        "ui_url": rules.ocelot_ui_url(route_id),
    }


class OcelotRouteAccessProvider(ConfiguredProvider):
    """Keeps one client ID on the Client Access List of one LKPS route in Ocelot."""

    _settings: OcelotAccessSettings | None = None

    def configure(self, req: ConfigureRequest) -> None:
        try:
            self._settings = ocelot_access_settings(req.config.get)
        except ConfigError as exc:
            raise ValueError(str(exc)) from None

    @property
    def settings(self) -> OcelotAccessSettings:
        if self._settings is None:
            raise RuntimeError("the Ocelot provider was used before configure()")
        return self._settings

    def client(self) -> OcelotClient:
        ocelot = self.settings.ocelot
        token = self.settings.ocelot_token
        return OcelotClient(
            base_url=api_base_url(ocelot.api_url),
            token=token_source(ocelot.token_scope, token.get_secret_value() if token else None),
            timeout=ocelot.request_timeout_seconds,
            deadline=ocelot.retry_deadline_seconds,
        )

    def check(self, _olds: dict[str, Any], news: dict[str, Any]) -> CheckResult:
        inputs = {key: news.get(key) for key in INPUTS}
        failures = [
            CheckFailure(key, reason)
            for key, reason in self._check_failures(inputs)
            if not is_unknown(inputs.get(key))
        ]
        if isinstance(inputs["client_id"], str):
            inputs["client_id"] = inputs["client_id"].lower()
        return CheckResult(inputs, failures)

    def _check_failures(self, inputs: dict[str, Any]) -> list[tuple[str, str]]:
        environment = self.settings.environment
        route_id, client_id = inputs["route_id"], inputs["client_id"]
        beat_id, description = inputs["beat_id"], inputs["description"]
        failures = []
        route_misfit = rules.route_misfit(route_id, environment)
        if route_misfit:
            failures.append(("route_id", f"{route_id!r} {route_misfit}"))
        if not isinstance(client_id, str) or not rules.GUID.fullmatch(client_id):
            failures.append(("client_id", f"{client_id!r} must be {rules.GUID_FORM}"))
        if not isinstance(beat_id, str) or not rules.BEAT_ID.fullmatch(beat_id):
            failures.append(("beat_id", f"{beat_id!r} must be {rules.BEAT_ID_FORM}"))
        if not isinstance(description, str) or len(description) > rules.DESCRIPTION_MAX_LENGTH:
            failures.append(
                (
                    "description",
                    f"must be a string of at most {rules.DESCRIPTION_MAX_LENGTH} characters",
                )
            )
        return failures

    def diff(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> DiffResult:
        changed = [
            key for key in INPUTS if is_unknown(news.get(key)) or news.get(key) != olds.get(key)
        ]
        replaces = [key for key in changed if key in REPLACING]
        # An entry a refresh found neither active nor pending (disabled or revoked in the UI)
        # lets no call through: the stack requests it again, which the route's owners approve
        # where the route asks for approval.
        if olds.get("status") not in (None, ACTIVE, PENDING):
            replaces.append("status")
        return DiffResult(
            changes=bool(changed or replaces),
            replaces=replaces,
            delete_before_replace=True,
        )

    def create(self, props: dict[str, Any]) -> CreateResult:
        route_id, client_id = props["route_id"], props["client_id"]
        entry = self.client().put_client(
            route_id, client_id, props["beat_id"], props["description"]
        )
        return CreateResult(resource_id(route_id, client_id), _outputs(route_id, entry))

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        route_id, client_id = props["route_id"], props["client_id"]
        route = self.client().get_route(route_id)
        entry = route.entry(client_id) if route else None
        if entry is None:
            return ReadResult("", {})
        outputs = _outputs(route_id, entry)
        return ReadResult(id_, outputs, inputs={key: outputs[key] for key in INPUTS})

    def update(self, _id: str, olds: dict[str, Any], news: dict[str, Any]) -> UpdateResult:
        route_id, client_id = news["route_id"], news["client_id"]
        if (olds["route_id"], olds["client_id"]) != (route_id, client_id):
            raise OcelotPermanentError(
                "update", route_id, client_id, None, "route or client ID changes need a replacement"
            )
        entry = self.client().put_client(route_id, client_id, news["beat_id"], news["description"])
        return UpdateResult(_outputs(route_id, entry))

    def delete(self, _id: str, props: dict[str, Any]) -> None:
        self.client().delete_client(props["route_id"], props["client_id"])
