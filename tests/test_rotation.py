"""Secret rotation: a year of the schedule itself, and the program's daily runs around rotation
days (the engine tests run a rotation day through the real engine)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from pulumi.runtime import rpc

from lkps.config import parse_settings
from lkps.rotation import (
    ROTATION_EPOCH,
    SLOTS,
    RotationPolicy,
    SecretGeneration,
    Slot,
    epoch_seconds,
)
from lkps.rules import Environment
from tests.harness import run_program, stack_config

START = date(2026, 11, 10)


@pytest.mark.parametrize(
    ("rotation", "lifetime"), [(1, 2), (7, 14), (30, 90), (60, 180), (90, 181)]
)
def test_schedule_keeps_two_overlapping_generations(rotation: int, lifetime: int) -> None:
    policy = RotationPolicy(rotation_days=rotation, lifetime_days=lifetime)
    for offset in range(3 * 365):
        day = START + timedelta(days=offset)
        plan = policy.plan(day)
        assert plan.current.starts <= day < plan.next_rotation
        assert (plan.next_rotation - plan.current.starts).days == rotation
        assert plan.previous.number == plan.current.number - 1
        assert {plan.current.slot, plan.previous.slot} == {"a", "b"}
        assert plan.in_slot(plan.current.slot) == plan.current
        assert (plan.current.expires - day).days >= rotation
        assert plan.previous.expires >= plan.next_rotation
        assert plan == policy.plan(plan.current.starts)


def test_schedule_is_anchored_to_a_fixed_epoch() -> None:
    plan = RotationPolicy(rotation_days=30, lifetime_days=90).plan(ROTATION_EPOCH)
    assert plan.current.number == 0
    assert plan.current.starts == ROTATION_EPOCH
    assert plan.current.expires == ROTATION_EPOCH + timedelta(days=90)
    assert plan.previous.starts == ROTATION_EPOCH - timedelta(days=30)


@pytest.mark.parametrize(("rotation", "lifetime"), [(0, 10), (30, 59), (10, 0)])
def test_policy_rejects_a_lifetime_shorter_than_two_periods(rotation: int, lifetime: int) -> None:
    with pytest.raises(ValueError, match="lifetime_days >= 2 \\* rotation_days"):
        RotationPolicy(rotation_days=rotation, lifetime_days=lifetime)


@dataclass
class LivePassword:
    fingerprint: str
    value: str
    expires: date


def _date(rfc3339: str) -> date:
    return datetime.fromisoformat(rfc3339.replace("Z", "+00:00")).date()


@pytest.mark.parametrize("environment", ["np", "prod"])
def test_a_year_of_the_schedule_rotates_one_slot_at_a_time_without_downtime(
    environment: Environment,
) -> None:
    settings = parse_settings(stack_config(environment), environment)
    policy = RotationPolicy(settings.secret_rotation_days, settings.secret_lifetime_days)
    period = timedelta(days=settings.secret_rotation_days)
    slots: dict[Slot, SecretGeneration] = {}
    published: SecretGeneration | None = None
    rotations = 0
    days = [START + timedelta(days=offset) for offset in range(366)]
    for day in days:
        plan = policy.plan(day)
        replaced = [slot for slot in SLOTS if slots.get(slot) != plan.in_slot(slot)]
        for slot in replaced:
            slots[slot] = plan.in_slot(slot)
        assert all(generation.expires > day for generation in slots.values()), day
        assert plan.current.expires - day >= period, f"{day}: published secret expires too soon"
        if published is not None and replaced:
            assert len(replaced) == 1, f"{day}: both slots replaced at once"
            assert published in slots.values(), f"{day}: previous secret removed at rotation"
            assert published.expires - day >= period, f"{day}: previous secret expires early"
            rotations += 1
        published = plan.current
    expected = sum(
        1 for day in days[1:] if (day - ROTATION_EPOCH).days % settings.secret_rotation_days == 0
    )
    assert rotations == expected >= 365 // settings.secret_rotation_days - 1


def _days_around_two_rotations(rotation_days: int) -> list[date]:
    """The day before, of and after a rotation, and the same around the next one."""
    first = RotationPolicy(rotation_days, 2 * rotation_days).plan(START).next_rotation
    second = first + timedelta(days=rotation_days)
    return [
        first - timedelta(days=1),
        first,
        first + timedelta(days=1),
        second - timedelta(days=1),
        second,
        second + timedelta(days=1),
    ]


@pytest.mark.parametrize("environment", ["np", "prod"])
def test_daily_runs_of_the_program_around_rotations_keep_a_live_published_secret(
    environment: Environment,
) -> None:
    raw = stack_config(environment)
    settings = parse_settings(raw, environment)
    period = timedelta(days=settings.secret_rotation_days)
    live: dict[str, dict[str, LivePassword]] = {app.name: {} for app in settings.applications}
    published: dict[str, LivePassword] = {}
    rotations = 0
    days = _days_around_two_rotations(settings.secret_rotation_days)

    for day in days:
        run = run_program(raw, environment, day)
        for app in settings.applications:
            base = f"lkps-{app.display_name(environment).lower()}"
            slots = live[app.name]
            replaced = []
            for slot in ("a", "b"):
                password = run.named(f"{base}-secret-{slot}")
                fingerprint = json.dumps(password.inputs, sort_keys=True)
                if slot in slots and slots[slot].fingerprint == fingerprint:
                    continue
                assert password.delete_before_replace, "a rotation must not hold three secrets"
                if slot in slots:
                    replaced.append(slot)
                slots[slot] = LivePassword(
                    fingerprint,
                    rpc.unwrap_rpc_secret(password.outputs["value"]),
                    _date(password.inputs["endDate"]),
                )
            assert len(slots) <= 2
            assert all(p.expires > day for p in slots.values()), f"{day}: expired secret kept"

            vault = rpc.unwrap_rpc_secret(run.named(f"{base}-secret-vault").inputs["properties"])
            current = next(p for p in slots.values() if p.value == vault["value"])
            assert current.expires - day >= period, f"{day}: published secret expires too soon"
            assert vault["attributes"]["expires"] == epoch_seconds(current.expires)

            if replaced:
                assert len(replaced) == 1, f"{day}: both slots replaced at once"
                previous = published[app.name]
                assert previous in slots.values(), f"{day}: previous secret removed at rotation"
                assert previous.expires - day >= period, f"{day}: previous secret expires early"
                assert current is not previous
                rotations += 1
            published[app.name] = current

    assert rotations == 2 * len(settings.applications)
