"""Client secret rotation as a pure function of the date.

Two credential slots, `a` and `b`, take turns. Generation `n` starts on
`epoch + n * rotation_days`, lives in slot `a` (even) or `b` (odd) and expires `lifetime_days`
after its start. When generation `n` starts it replaces generation `n - 2` in its slot, and is
published to Key Vault, while generation `n - 1` stays valid in the other slot for at least one
more rotation period (lifetime >= 2 x rotation). Every input is derived from the date and the
settings alone, so repeated runs between rotations register identical inputs.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal

Slot = Literal["a", "b"]
SLOTS: Final[tuple[Slot, Slot]] = ("a", "b")
ROTATION_EPOCH: Final = date(2026, 1, 1)
# A simulated date (YYYY-MM-DD) that `scripts/stack --today` gives the engine's plugins, so that
# the policy pack judges a simulated rotation day by that day, as the program does.
SIMULATED_DATE_VARIABLE: Final = "LKPS_TODAY"


def today_utc() -> date:
    """Today in UTC, or the simulated date of `scripts/stack --today`."""
    simulated = os.environ.get(SIMULATED_DATE_VARIABLE)
    if simulated:
        return date.fromisoformat(simulated)
    return datetime.now(UTC).date()


def slot_of(generation: int) -> Slot:
    return SLOTS[generation % 2]


def rfc3339(day: date) -> str:
    """Midnight UTC of a day, in the form Entra and the azuread provider use."""
    return f"{day.isoformat()}T00:00:00Z"


def epoch_seconds(day: date) -> int:
    return int(datetime.combine(day, time(), tzinfo=UTC).timestamp())


@dataclass(frozen=True)
class SecretGeneration:
    """One client secret: its generation number, slot, start and end date."""

    number: int
    starts: date
    expires: date

    @property
    def slot(self) -> Slot:
        return slot_of(self.number)


@dataclass(frozen=True)
class RotationPolicy:
    """How often secrets rotate and how long each lives; lifetime is at least twice the period."""

    rotation_days: int
    lifetime_days: int
    epoch: date = ROTATION_EPOCH

    def __post_init__(self) -> None:
        if self.rotation_days < 1 or self.lifetime_days < 2 * self.rotation_days:
            raise ValueError(
                f"rotation needs rotation_days >= 1 and lifetime_days >= 2 * rotation_days, "
                f"got {self.rotation_days} and {self.lifetime_days}"
            )

    def generation(self, number: int) -> SecretGeneration:
        starts = self.epoch + timedelta(days=number * self.rotation_days)
        return SecretGeneration(number, starts, starts + timedelta(days=self.lifetime_days))

    def plan(self, today: date) -> RotationPlan:
        current = (today - self.epoch).days // self.rotation_days
        return RotationPlan(
            current=self.generation(current),
            previous=self.generation(current - 1),
            next_rotation=self.generation(current + 1).starts,
        )


@dataclass(frozen=True)
class RotationPlan:
    """The two live generations on a given day and the date of the next rotation."""

    current: SecretGeneration
    previous: SecretGeneration
    next_rotation: date

    def in_slot(self, slot: Slot) -> SecretGeneration:
        return self.current if self.current.slot == slot else self.previous
