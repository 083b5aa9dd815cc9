"""The emulator's routes and Client Access Lists, in memory, safe to use from many threads."""

from __future__ import annotations

import json
import threading
from collections import Counter
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.ocelot import contract


@dataclass(frozen=True)
class Entry:
    """One client on a route's Client Access List."""

    client_id: str
    beat_id: str
    description: str
    status: str
    added_at: str
    added_by: str

    def to_json(self) -> dict[str, str]:
        return {
            "clientId": self.client_id,
            "beatId": self.beat_id,
            "description": self.description,
            "status": self.status,
            "addedAt": self.added_at,
            "addedBy": self.added_by,
        }


def client_key(client_id: str) -> str:
    """How the store keys and shows a client ID: lower case. Client IDs are GUIDs, which compare
    without regard to case and are written in lower case (RFC 9562 section 4: "output as lower
    case characters and are case insensitive on input"); the contract gives them as
    `format: uuid` (components/ocelot/openapi.yaml) and says nothing of keeping the case a caller
    used, and the adapter lower-cases what it reads (components/ocelot/api.py). What the real
    Ocelot does with case is not documented."""
    return client_id.lower()


@dataclass
class RouteState:
    """A route, whether its owners approve additions, and its entries keyed by lower-cased client
    ID (`client_key`)."""

    id: str
    environment: str
    region: str
    requires_approval: bool = False
    entries: dict[str, Entry] = field(default_factory=dict)


class OcelotStore:
    """The four LKPS routes with their lists; every change and count is taken under one lock.

    Once `persist_to(path)` is called, every change is written to `path` before it is answered
    (whole, through a rename), as Ocelot keeps what it accepted even if its caller dies.
    """

    def __init__(self, approval_routes: frozenset[str] = frozenset()) -> None:
        self._lock = threading.Lock()
        self._path: Path | None = None
        self._routes: dict[str, RouteState] = {}
        for route_id, (environment, region) in contract.ROUTES.items():
            self._routes[route_id] = RouteState(
                route_id, environment, region, route_id in approval_routes
            )
        self.writes: Counter[str] = Counter()

    def persist_to(self, path: Path) -> None:
        with self._lock:
            self._path = path
            self._save()

    def _save(self) -> None:
        """Writes the state, under the lock the change holds."""
        if self._path is None:
            return
        tmp = self._path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self._snapshot(), indent=1))
        tmp.replace(self._path)

    def route_json(self, route_id: str) -> dict[str, Any] | None:
        with self._lock:
            route = self._routes.get(route_id)
            if route is None:
                return None
            return {
                "id": route.id,
                "environment": route.environment,
                "region": route.region,
                "clientAccessList": [e.to_json() for e in route.entries.values()],
            }

    def put(
        self, route_id: str, client_id: str, beat_id: str, description: str, caller: str
    ) -> tuple[Entry, bool] | None:
        """Adds or updates an entry; None for an unknown route; True when it was added. The same ID
        in another case is the same entry."""
        key = client_key(client_id)
        with self._lock:
            route = self._routes.get(route_id)
            if route is None:
                return None
            existing = route.entries.get(key)
            self.writes["put"] += 1
            if existing is not None:
                updated = replace(existing, beat_id=beat_id, description=description)
                route.entries[key] = updated
                self._save()
                return updated, False
            entry = Entry(
                client_id=key,
                beat_id=beat_id,
                description=description,
                status="pending" if route.requires_approval else "active",
                added_at=datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z"),
                added_by=caller,
            )
            route.entries[key] = entry
            self._save()
            return entry, True

    def delete(self, route_id: str, client_id: str) -> bool | None:
        """Removes an entry; None for an unknown route, False when the entry was not there."""
        with self._lock:
            route = self._routes.get(route_id)
            if route is None:
                return None
            self.writes["delete"] += 1
            removed = route.entries.pop(client_key(client_id), None) is not None
            self._save()
            return removed

    def approve(self, route_id: str, client_id: str) -> None:
        """What a route owner does in the UI: a pending entry becomes active."""
        with self._lock:
            entries = self._routes[route_id].entries
            key = client_key(client_id)
            entries[key] = replace(entries[key], status="active")
            self._save()

    def snapshot(self) -> dict[str, Any]:
        """Every route's approval setting and entries, as JSON-ready data."""
        with self._lock:
            return self._snapshot()

    def _snapshot(self) -> dict[str, Any]:
        return {
            route.id: {
                "requiresApproval": route.requires_approval,
                "clientAccessList": [e.to_json() for e in route.entries.values()],
            }
            for route in self._routes.values()
        }

    @classmethod
    def restore(cls, snapshot: dict[str, Any]) -> OcelotStore:
        """A store holding what `snapshot()` saved, client IDs keyed and shown in lower case
        whatever case the snapshot holds. Two items of one route naming one ID in different cases
        (a snapshot saved before the store ignored case) make one entry, as a put of the later one
        would have made: the first one's status and when and by whom it was added, the later
        one's BEAT ID and description."""
        store = cls(frozenset(r for r, s in snapshot.items() if s["requiresApproval"]))
        for route_id, saved in snapshot.items():
            entries = store._routes[route_id].entries
            for item in saved["clientAccessList"]:
                key = client_key(item["clientId"])
                earlier = entries.get(key)
                if earlier is not None:
                    entries[key] = replace(
                        earlier, beat_id=item["beatId"], description=item["description"]
                    )
                    continue
                entries[key] = Entry(
                    client_id=key,
                    beat_id=item["beatId"],
                    description=item["description"],
                    status=item["status"],
                    added_at=item["addedAt"],
                    added_by=item["addedBy"],
                )
        return store

    def entries(self, route_id: str) -> dict[str, Entry]:
        """The route's entries by lower-cased client ID."""
        with self._lock:
            return dict(self._routes[route_id].entries)

    def add_foreign(self, route_id: str, client_id: str, beat_id: str = "BEAT00000001") -> None:
        """An entry some other team added by hand, which this project must never touch."""
        self.put(route_id, client_id, beat_id, "added in the Ocelot UI", caller="someone@ui")
        with self._lock:
            self.writes["put"] -= 1

    def remove_out_of_band(self, route_id: str, client_id: str) -> None:
        """A person removing an entry in the UI."""
        with self._lock:
            del self._routes[route_id].entries[client_key(client_id)]
            self._save()

    def edit_out_of_band(self, route_id: str, client_id: str, description: str) -> None:
        """A person editing an entry's description in the UI."""
        with self._lock:
            entries = self._routes[route_id].entries
            key = client_key(client_id)
            entries[key] = replace(entries[key], description=description)
            self._save()
