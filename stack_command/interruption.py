"""What an interrupted run leaves behind, read from the engine: its lock, its exit, its signals.

A killed `up` leaves the stack's lock (DIY backends: an object under `.pulumi/locks/`, written
with the owner, host, pid and time; pulumi/pulumi pkg/backend/diy/lock.go), which fails every
later update until `pulumi cancel`. The engine itself stops cleanly on its first SIGINT or
SIGTERM: it finishes the steps in flight, writes the state, releases the lock and closes its
plugins (pkg/backend/cancellation_scope.go); a second signal terminates it at once.
"""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, Final

from pulumi import automation as auto

# The DIY backend's own wording (lock.go, checkForLock).
_LOCKED: Final = "the stack is currently locked by"
_LOCK_LINE: Final = re.compile(
    r"^\s*(?P<url>\S+): created by (?P<owner>.+?)@(?P<host>\S+) \(pid (?P<pid>\d+)\) "
    r"at (?P<at>\S+)\s*$",
    re.MULTILINE,
)
_CODE: Final = re.compile(r"^\s*code: (-?\d+)\s*$", re.MULTILINE)
# What the engine prints when it starts to cancel after a signal (cancellation_scope.go).
CANCELLING: Final = "received; cancelling"
ENGINE_GRACE_SECONDS: Final = 0.5


@dataclass(frozen=True)
class StackLock:
    """One lock on a stack, as the backend recorded its owner."""

    url: str
    owner: str
    host: str
    pid: int
    since: datetime

    def age(self, now: datetime | None = None) -> timedelta:
        return (now or datetime.now(UTC)) - self.since

    def describe(self, now: datetime | None = None) -> str:
        minutes = int(self.age(now).total_seconds() // 60)
        return (
            f"{self.owner}@{self.host} (pid {self.pid}) since "
            f"{self.since.strftime('%Y-%m-%d %H:%M:%S')} UTC ({minutes} min ago)"
        )

    def held_by_a_live_process_here(self) -> bool:
        """True when the lock's owner is a process still running on this machine."""
        if self.host != socket.gethostname():
            return False
        try:
            stat = Path(f"/proc/{self.pid}/stat").read_text()
        except OSError:
            return False
        return stat[stat.rfind(")") + 2 :].split()[0] != "Z"


def locks_in(error: auto.errors.CommandError) -> list[StackLock] | None:
    """The locks an engine error names, or None when the error is not a locked stack."""
    text = str(error)
    if _LOCKED not in text:
        return None
    return [
        StackLock(
            url=found["url"],
            owner=found["owner"],
            host=found["host"],
            pid=int(found["pid"]),
            since=datetime.fromisoformat(found["at"].replace("Z", "+00:00")).astimezone(UTC),
        )
        for found in _LOCK_LINE.finditer(text)
    ]


def engine_signal(error: auto.errors.CommandError) -> signal.Signals | None:
    """The signal that ended the engine, when it did not exit by itself."""
    found = _CODE.search(str(error))
    if found is None or int(found.group(1)) >= 0:
        return None
    with contextlib.suppress(ValueError):
        return signal.Signals(-int(found.group(1)))
    return None


def _engine_children() -> list[int]:
    """The Pulumi CLI processes this process started (Linux's /proc; none elsewhere)."""
    me, found = os.getpid(), []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        name = text[text.find("(") + 1 : text.rfind(")")]
        parent = int(text[text.rfind(")") + 2 :].split()[1])
        if parent == me and name == "pulumi":
            found.append(int(stat.parent.name))
    return found


class Interruption:
    """Turns SIGINT and SIGTERM of the stack command into one clean stop of its engine.

    While the block runs and an engine is running, a signal does not end the command at once
    (without an engine it does): the engine is sent one SIGTERM
    (unless it already got the signal itself, as from a terminal's Ctrl-C to the whole process
    group, which it says on its output), and the command waits for the engine to write its state
    and release its lock. Feed the engine's output lines to `saw`.
    """

    def __init__(self) -> None:
        self.received: signal.Signals | None = None
        self._engine_cancelling = threading.Event()

    def saw(self, line: str) -> None:
        if CANCELLING in line:
            self._engine_cancelling.set()

    def _forward(self) -> None:
        if self._engine_cancelling.wait(ENGINE_GRACE_SECONDS):
            return
        for pid in _engine_children():
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGTERM)

    def _handle(self, number: int, _frame: Any) -> None:
        if self.received is not None:
            return
        self.received = signal.Signals(number)
        if not _engine_children():
            # No engine is running yet (or any more): nothing to wait for.
            raise SystemExit(128 + number)
        threading.Thread(target=self._forward, name="engine-stop", daemon=True).start()

    @contextlib.contextmanager
    def guarding(self) -> Iterator[None]:
        if threading.current_thread() is not threading.main_thread():
            yield
            return
        previous: dict[int, Any] = {
            number: signal.signal(number, self._handle)
            for number in (signal.SIGINT, signal.SIGTERM)
        }
        try:
            yield
        finally:
            for number, handler in previous.items():
                signal.signal(number, handler)
