"""`OcelotRouteAccess`: a client ID kept on the Client Access List of an LKPS route."""

from __future__ import annotations

from typing import Any

import pulumi
from pulumi.dynamic import Resource

from components.dynamic_resources import pickle_guard
from components.ocelot.api import ACTIVE, PENDING
from components.ocelot.provider import OcelotRouteAccessProvider
from lkps import rules


class OcelotRouteAccess(Resource, module=rules.ROUTE_ACCESS_MODULE, name=rules.ROUTE_ACCESS_NAME):
    """Puts `client_id` on route `route_id`'s Client Access List and keeps it there.

    A `pending` status means the route's owners must approve the entry in the Ocelot UI
    (`ui_url`); the program warns about it.
    """

    route_id: pulumi.Output[str]
    client_id: pulumi.Output[str]
    beat_id: pulumi.Output[str]
    description: pulumi.Output[str]
    status: pulumi.Output[str]
    added_at: pulumi.Output[str]
    added_by: pulumi.Output[str]
    ui_url: pulumi.Output[str]

    def __init__(
        self,
        name: str,
        route_id: pulumi.Input[str],
        client_id: pulumi.Input[str],
        beat_id: pulumi.Input[str],
        description: pulumi.Input[str],
        opts: pulumi.ResourceOptions | None = None,
    ) -> None:
        props: dict[str, Any] = {
            "route_id": route_id,
            "client_id": client_id,
            "beat_id": beat_id,
            "description": description,
            "status": None,
            "added_at": None,
            "added_by": None,
            "ui_url": None,
        }
        with pickle_guard():
            super().__init__(OcelotRouteAccessProvider(), name, props, opts)
        pulumi.Output.all(self.status, self.ui_url).apply(self._warn_if_pending)

    def _warn_if_pending(self, values: list[Any]) -> None:
        status, ui_url = values
        if status == PENDING:
            pulumi.log.warn(
                "the client ID waits for approval by the route's owners in the Ocelot UI: "
                f"{ui_url}; LKPS refuses its calls until then",
                resource=self,
            )
        elif status not in (None, ACTIVE):
            pulumi.log.warn(
                f"the entry is {status!r} in Ocelot, not active: LKPS refuses the client's "
                f"calls; the next run requests it again ({ui_url})",
                resource=self,
            )
