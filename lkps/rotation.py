"""Client secret rotation: a schedule fixed by the date, applied to what the last run left.

Two credential slots, `a` and `b`. The schedule: generation `n` starts on
`epoch + n * rotation_days` and expires `lifetime_days` after its start (lifetime >= 2 x
rotation). A run knows which credential each slot holds and which one Key Vault publishes (the
`RotationState` of the last run). When the scheduled generation is newer than the published one,
the run puts it into the *other* slot and publishes it: at most one slot changes per run, and the
published credential is never the one replaced, whatever the gap since the last run or a change of
schedule. An emergency rotation also revokes every credential older than its date, after the new
one is published. Between rotations a run registers exactly the inputs of the last one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Final, Literal

from lkps import switches

Slot = Literal["a", "b"]
SLOTS: Final[tuple[Slot, Slot]] = ("a", "b")
ROTATION_EPOCH: Final = date(2026, 1, 1)


def today_utc() -> date:
    """Today in UTC, or the simulated date of `scripts/stack --today`."""
    # `scripts/stack --today` gives the engine's plugins the date too, so that the policy pack
    # judges a simulated rotation day by that day, as the program does.
    simulated = switches.setting(switches.SIMULATED_DATE)
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


def other_slot(slot: Slot) -> Slot:
    return "b" if slot == "a" else "a"


class RotationStateError(ValueError):
    """A recorded rotation state that cannot be read; the run stops rather than guess."""


@dataclass(frozen=True)
class SecretGeneration:
    """One client secret: its generation number, start and end date."""

    number: int
    starts: date
    expires: date

    @property
    def slot(self) -> Slot:
        """The slot the schedule gives the generation when an application starts afresh."""
        return slot_of(self.number)

    def is_live(self, day: date) -> bool:
        return self.starts <= day < self.expires

    def to_output(self) -> dict[str, object]:
        return {
            "generation": self.number,
            "starts": self.starts.isoformat(),
            "expires": self.expires.isoformat(),
        }

    @classmethod
    def from_output(cls, value: object, where: str) -> SecretGeneration:
        if not isinstance(value, dict):
            raise RotationStateError(f"{where}: expected generation, starts and expires")
        try:
            return cls(
                int(value["generation"]),
                date.fromisoformat(str(value["starts"])),
                date.fromisoformat(str(value["expires"])),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise RotationStateError(f"{where}: {exc!s}") from None


@dataclass(frozen=True)
class RotationState:
    """Which credential each slot holds (None: no password) and which slot Key Vault publishes."""

    slots: Mapping[Slot, SecretGeneration | None]
    published: Slot

    @property
    def current(self) -> SecretGeneration:
        generation = self.slots[self.published]
        if generation is None:
            raise RotationStateError(f"slot {self.published} is published but holds no secret")
        return generation

    def to_output(self) -> dict[str, object]:
        return {
            "published": self.published,
            **{
                slot: None if generation is None else generation.to_output()
                for slot, generation in self.slots.items()
            },
        }

    @classmethod
    def from_output(cls, value: object, where: str) -> RotationState:
        if not isinstance(value, dict) or value.get("published") not in SLOTS:
            raise RotationStateError(f"{where}.published: expected 'a' or 'b'")
        slots = {
            slot: None
            if value.get(slot) is None
            else SecretGeneration.from_output(value[slot], f"{where}.{slot}")
            for slot in SLOTS
        }
        state = cls(slots, value["published"])
        state.current  # noqa: B018 - validates that the published slot holds a secret
        return state


ChangeKind = Literal["none", "first", "scheduled", "catch-up", "emergency"]


@dataclass(frozen=True)
class RotationPlan:
    """What one run leaves in the slots, how it got there, and the next scheduled rotation.

    `replaced` is the slot whose password this run creates (deleting what it held first);
    `revoked` are slots whose password this run deletes after publishing the new one.
    """

    state: RotationState
    next_rotation: date
    change: ChangeKind = "none"
    replaced: Slot | None = None
    revoked: tuple[Slot, ...] = ()

    @property
    def current(self) -> SecretGeneration:
        return self.state.current

    def in_slot(self, slot: Slot) -> SecretGeneration | None:
        return self.state.slots[slot]

    def describe(self) -> str:
        """The run's rotation in words, for the preview."""
        current = self.current
        published = f"slot {self.state.published} (generation {current.number}, from "
        published += f"{current.starts.isoformat()} to {current.expires.isoformat()})"
        revoked = "".join(f"; then revokes slot {slot}" for slot in self.revoked)
        return {
            "none": f"no rotation; Key Vault keeps publishing {published}",
            "first": f"first client secrets; Key Vault publishes {published}",
            "scheduled": f"scheduled rotation: creates and publishes {published}",
            "catch-up": f"catch-up rotation after missed runs or a new schedule: creates and "
            f"publishes {published}; the previously published secret stays until the next one",
            "emergency": f"emergency rotation: creates and publishes {published}{revoked}",
        }[self.change] + ("" if self.change == "emergency" else revoked)


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

    def number_on(self, day: date) -> int:
        return (day - self.epoch).days // self.rotation_days

    def plan(self, today: date) -> RotationPlan:
        """A fresh start: the scheduled generation and the one before it, each in its own slot."""
        number = self.number_on(today)
        current, previous = self.generation(number), self.generation(number - 1)
        return RotationPlan(
            state=RotationState({current.slot: current, previous.slot: previous}, current.slot),
            next_rotation=self.generation(number + 1).starts,
            change="first",
        )

    def advance(
        self, last: RotationState | None, today: date, emergency: date | None = None
    ) -> RotationPlan:
        """What today's run does, given what the last run left and an emergency date, if any.

        Only the slot that Key Vault does not publish is ever replaced; the published one is
        only revoked by an emergency, once its successor is published.
        """
        number = self.number_on(today)
        scheduled = self.generation(number)
        next_rotation = self.generation(number + 1).starts
        active = emergency if emergency is not None and emergency <= today else None
        if last is None:
            fresh = self.plan(today)
            if active is None:
                return fresh
            # A new application's secrets are all created now; only the dates show it.
            current = self._emergency_generation(number, active)
            return RotationPlan(
                RotationState(
                    {current.slot: current, other_slot(current.slot): None}, current.slot
                ),
                next_rotation,
                "first",
            )
        published, spare = last.published, other_slot(last.published)
        slots = dict(last.slots)
        revoked: tuple[Slot, ...] = ()
        if active is not None:
            revoked = tuple(
                slot
                for slot, generation in slots.items()
                if generation is not None and generation.starts < active
            )
            if published in revoked:
                slots[spare], slots[published] = self._emergency_generation(number, active), None
                return RotationPlan(
                    RotationState(slots, spare), next_rotation, "emergency", spare, (published,)
                )
            slots.update(dict.fromkeys(revoked))
        current = last.current
        # Rotate when the schedule has a newer generation, or when the published secret would
        # expire before the next rotation (a schedule changed to longer periods).
        if current.starts >= scheduled.starts and current.expires > next_rotation:
            state = RotationState(slots, published)
            return RotationPlan(
                state, next_rotation, "emergency" if revoked else "none", None, revoked
            )
        slots[spare] = scheduled if active is None else self._emergency_generation(number, active)
        on_time = current.starts >= self.generation(number - 1).starts
        return RotationPlan(
            RotationState(slots, spare),
            next_rotation,
            "scheduled" if on_time else "catch-up",
            spare,
            tuple(slot for slot in revoked if slot != spare),
        )

    def _emergency_generation(self, number: int, emergency: date) -> SecretGeneration:
        """The secret an emergency creates: dated from the emergency or the scheduled start,
        whichever is later, so that a retry registers the same inputs and the schedule does not
        rotate it again before its next date."""
        starts = max(emergency, self.generation(number).starts)
        return SecretGeneration(number, starts, starts + timedelta(days=self.lifetime_days))
