"""Injected faults and latency, drawn from a seeded generator so that a run can be repeated."""

from __future__ import annotations

import random
import threading
from dataclasses import dataclass, field
from enum import Enum


class Fault(Enum):
    """What goes wrong with one request."""

    RATE_LIMITED = "429"
    UNAVAILABLE = "503"
    SLOW = "slow"
    DROPPED = "dropped"


@dataclass
class FaultPlan:
    """Per-request fault rates (0 to 1 each), their parameters, and a fixed added latency.

    A slow response is handled, then held for `slow_seconds`, longer than the client waits. A
    dropped connection closes without an answer, half the time after the change was applied.
    """

    rate_limited: float = 0.0
    unavailable: float = 0.0
    slow: float = 0.0
    dropped: float = 0.0
    retry_after_seconds: int = 1
    slow_seconds: float = 2.0
    latency_seconds: float = 0.0
    seed: int = 0
    _random: random.Random = field(init=False, repr=False)
    _lock: threading.Lock = field(init=False, repr=False, default_factory=threading.Lock)

    def __post_init__(self) -> None:
        total = self.rate_limited + self.unavailable + self.slow + self.dropped
        if not 0 <= total <= 1:
            raise ValueError(f"fault rates must add up to at most 1, got {total}")
        self._random = random.Random(self.seed)  # noqa: S311 - test fault injection, not crypto

    @classmethod
    def transient(
        cls,
        rate: float,
        seed: int = 0,
        slow_seconds: float = 2.0,
        retry_after_seconds: int = 1,
        latency_seconds: float = 0.0,
    ) -> FaultPlan:
        """`rate` of all requests fail, spread evenly over the four kinds of fault."""
        share = rate / 4
        return cls(
            rate_limited=share,
            unavailable=share,
            slow=share,
            dropped=share,
            retry_after_seconds=retry_after_seconds,
            slow_seconds=slow_seconds,
            latency_seconds=latency_seconds,
            seed=seed,
        )

    def draw(self) -> tuple[Fault | None, bool]:
        """The fault for the next request, and for a dropped one whether to apply it first."""
        with self._lock:
            roll, coin = self._random.random(), self._random.random() < 0.5
        for fault, rate in (
            (Fault.RATE_LIMITED, self.rate_limited),
            (Fault.UNAVAILABLE, self.unavailable),
            (Fault.SLOW, self.slow),
            (Fault.DROPPED, self.dropped),
        ):
            if roll < rate:
                return fault, coin
            roll -= rate
        return None, False
