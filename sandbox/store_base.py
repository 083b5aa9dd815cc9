"""What every part of the local Entra's state shares: the state itself, persisted after every
change (`sandbox.entra_file`), its lock, and the journal of every credential and vault change
(the sandbox's own audit log, which the tests replay)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sandbox.entra_file import EntraFile


def now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


class StoreBase:
    """The state, its file and its journal; `sandbox.entra_store.EntraStore` is the whole store."""

    def __init__(
        self,
        path: Path,
        secret_text: Callable[[], str],
    ) -> None:
        self.path = path
        self._secret_text = secret_text
        self._lock = threading.RLock()
        self._file = EntraFile(path)
        self.data: dict[str, Any] = self._file.load()

    def save(self) -> None:
        """Writes the change just made (the rows it touched, in one transaction)."""
        with self._lock:
            self._file.save(self.data)

    def close(self) -> None:
        """Closes the file (a later change opens it again)."""
        with self._lock:
            self._file.close()

    # -- the sandbox's own audit log --------------------------------------------------------------

    def _record(self, operation: str, **facts: Any) -> None:
        """Appends to the journal: what happened, in order, with the facts a test checks
        afterwards (Entra's audit log has no such view; it is the sandbox's own)."""
        self.data.setdefault("journal", []).append({"op": operation, "at": now_iso(), **facts})

    def _published_in(self, secret: str) -> list[str]:
        """The vault secrets whose current version holds `secret`."""
        return sorted(
            f"{vault_name}/{name}"
            for vault_name, vault in self.data["vaults"].items()
            for name, versions in vault["secrets"].items()
            if versions and versions[-1]["value"] == secret
        )

    def _key_of(self, secret: str) -> str | None:
        """The key ID of the password whose value is `secret`, if one exists now."""
        for app in self._collection("applications").values():
            for password in app["passwordCredentials"]:
                if password["sandboxSecret"] == secret:
                    return str(password["keyId"])
        return None

    def journal(self) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.data.get("journal", []))

    def _collection(self, kind: str) -> dict[str, dict[str, Any]]:
        collection: dict[str, dict[str, Any]] = self.data[kind]
        return collection
