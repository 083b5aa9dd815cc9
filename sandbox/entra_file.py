"""The Entra emulator's state on disk: one SQLite database, a row per directory object, vault,
vault secret and grant, and the journal as rows appended in order.

Each save writes, in one transaction, only the rows whose content changed since the last save
and the journal entries added since; a process killed at any moment leaves the last committed
save (SQLite's write-ahead log, sqlite.org/wal.html). Readers in other processes (a test watching
a run it is about to kill) see whole saves only.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any, Final

_SCHEMA: Final = (
    "CREATE TABLE IF NOT EXISTS rows (key TEXT PRIMARY KEY, body TEXT NOT NULL)",
    "CREATE TABLE IF NOT EXISTS journal (seq INTEGER PRIMARY KEY, body TEXT NOT NULL)",
)
# A vault's row holds its own settings; its secrets (every version) and deleted secrets are
# rows of their own, so one new secret version rewrites one secret's row.
_VAULT_PARTS: Final = ("secrets", "deleted")
_KINDS: Final = ("applications", "servicePrincipals", "grants")


def empty() -> dict[str, Any]:
    """A directory with nothing in it yet."""
    return {"applications": {}, "servicePrincipals": {}, "vaults": {}, "deployer": None}


def _rows(data: dict[str, Any]) -> dict[str, str]:
    """`data` (without its journal) as row keys and their JSON."""
    unknown = set(data) - {*_KINDS, "deployer", "vaults", "journal"}
    if unknown:
        raise ValueError(f"the Entra state has parts no row holds: {sorted(unknown)}")
    rows: dict[str, str] = {"deployer": json.dumps(data.get("deployer"))}
    for kind in _KINDS:
        for key, body in data.get(kind, {}).items():
            rows[f"{kind}/{key}"] = json.dumps(body, sort_keys=True)
    for name, vault in data.get("vaults", {}).items():
        settings = {key: value for key, value in vault.items() if key not in _VAULT_PARTS}
        rows[f"vaults/{name}"] = json.dumps(settings, sort_keys=True)
        for part in _VAULT_PARTS:
            for secret, body in vault.get(part, {}).items():
                rows[f"{part}/{name}/{secret}"] = json.dumps(body, sort_keys=True)
    return rows


def _data(rows: dict[str, str], journal: list[dict[str, Any]]) -> dict[str, Any]:
    data = empty()
    vault_parts: list[tuple[str, str, str, Any]] = []
    for key, text in rows.items():
        body = json.loads(text)
        kind, _, rest = key.partition("/")
        if kind == "deployer":
            data["deployer"] = body
        elif kind == "vaults":
            data["vaults"][rest] = {**body, **{part: {} for part in _VAULT_PARTS}}
        elif kind in _VAULT_PARTS:
            vault, _, secret = rest.partition("/")
            vault_parts.append((kind, vault, secret, body))
        else:
            data.setdefault(kind, {})[rest] = body
    for part, vault, secret, body in vault_parts:
        data["vaults"][vault][part][secret] = body
    if journal:
        data["journal"] = journal
    return data


class EntraFile:
    """The database at `path`: `load()` once, then `save(data)` after each change."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._saved: dict[str, str] = {}
        self._journal_length = 0
        self._connection: sqlite3.Connection | None = None

    def _connect(self) -> sqlite3.Connection:
        if self._connection is None:
            connection = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
            connection.execute("PRAGMA journal_mode=WAL")
            # A killed process loses nothing committed; a power cut could (sqlite.org/wal.html).
            connection.execute("PRAGMA synchronous=NORMAL")
            for statement in _SCHEMA:
                connection.execute(statement)
            self._connection = connection
        return self._connection

    def load(self) -> dict[str, Any]:
        """The saved state, or an empty directory when nothing was saved yet. A sandbox made
        before this file existed kept its state in one JSON file beside it: that is read once,
        saved here, and renamed to `*.json.migrated`."""
        if not self.path.exists():
            legacy = self.path.with_suffix(".json")
            if not legacy.exists():
                return empty()
            data: dict[str, Any] = json.loads(legacy.read_text())
            self.save(data)
            legacy.rename(legacy.with_suffix(".json.migrated"))
            return data
        connection = self._connect()
        connection.execute("BEGIN")  # one snapshot for both tables, whatever a writer does
        try:
            self._saved = dict(connection.execute("SELECT key, body FROM rows").fetchall())
            journal = [
                json.loads(body)
                for (body,) in connection.execute("SELECT body FROM journal ORDER BY seq")
            ]
        finally:
            connection.execute("COMMIT")
        self._journal_length = len(journal)
        return _data(self._saved, journal)

    def save(self, data: dict[str, Any]) -> int:
        """Writes what changed since the last save, in one transaction; the rows written."""
        rows = _rows(data)
        changed = [(key, text) for key, text in rows.items() if self._saved.get(key) != text]
        gone = [(key,) for key in self._saved if key not in rows]
        journal = data.get("journal", [])
        added = [(json.dumps(entry, sort_keys=True),) for entry in journal[self._journal_length :]]
        if not (changed or gone or added):
            return 0
        connection = self._connect()
        connection.execute("BEGIN IMMEDIATE")
        try:
            connection.executemany("INSERT OR REPLACE INTO rows VALUES (?, ?)", changed)
            connection.executemany("DELETE FROM rows WHERE key = ?", gone)
            connection.executemany("INSERT INTO journal (body) VALUES (?)", added)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise
        self._saved = rows
        self._journal_length = len(journal)
        return len(changed) + len(gone) + len(added)

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
