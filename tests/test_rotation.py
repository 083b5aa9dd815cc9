"""Secret rotation: the schedule, the planner over runs with gaps, changed schedules and
emergencies, and the program's daily runs around rotation days (the engine tests run these
through the real engine and the sandbox)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from datetime import date, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from pulumi.runtime import rpc

from lkps.config import parse_settings
from lkps.rotation import (
    ROTATION_EPOCH,
    SLOTS,
    RotationPolicy,
    RotationState,
    RotationStateError,
    SecretGeneration,
    Slot,
    epoch_seconds,
    other_slot,
)
from lkps.rules import Environment
from tests.support.harness import run_program, stack_config

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
        previous = plan.in_slot(other_slot(plan.current.slot))
        assert previous is not None
        assert previous.number == plan.current.number - 1
        assert plan.in_slot(plan.current.slot) == plan.current
        assert (plan.current.expires - day).days >= rotation
        assert previous.expires >= plan.next_rotation
        assert plan == policy.plan(plan.current.starts)


def test_schedule_is_anchored_to_a_fixed_epoch() -> None:
    plan = RotationPolicy(rotation_days=30, lifetime_days=90).plan(ROTATION_EPOCH)
    assert plan.current.number == 0
    assert plan.current.starts == ROTATION_EPOCH
    assert plan.current.expires == ROTATION_EPOCH + timedelta(days=90)
    previous = plan.in_slot("b")
    assert previous is not None
    assert previous.starts == ROTATION_EPOCH - timedelta(days=30)


# One scenario of the planner: each step is (days since the last run, rotation days,
# lifetime days, emergency date offset from the run's day or None).
Step = tuple[int, int, int, int | None]
STEPS = st.tuples(
    st.integers(min_value=0, max_value=400),
    st.sampled_from([1, 7, 30, 60]),
    st.sampled_from([2, 3, 4]),
    st.one_of(st.none(), st.integers(min_value=0, max_value=20)),
).map(lambda t: (t[0], t[1], t[1] * t[2], t[3]))


@settings(max_examples=300, deadline=None)
@given(st.lists(STEPS, min_size=1, max_size=25))
def test_runs_at_any_intervals_never_replace_the_published_secret(steps: list[Step]) -> None:
    day = START
    last: RotationState | None = None
    for gap, rotation, lifetime, emergency_offset in steps:
        day += timedelta(days=gap)
        policy = RotationPolicy(rotation, lifetime)
        emergency = None if emergency_offset is None else day - timedelta(days=emergency_offset)
        plan = policy.advance(last, day, emergency)
        state = plan.state
        assert state.current.is_live(day), f"{day}: Key Vault would publish a dead secret"
        assert state.current.starts >= policy.generation(policy.number_on(day)).starts or (
            emergency is not None and state.current.starts == emergency
        )
        assert plan.next_rotation > day
        if last is not None:
            changed = [slot for slot in SLOTS if state.slots[slot] != last.slots[slot]]
            assert set(changed) <= {plan.replaced, *plan.revoked}
            assert plan.replaced != last.published, "the published secret was replaced"
            if last.published in plan.revoked:
                assert plan.change == "emergency"
                assert state.published != last.published
            assert len([s for s in changed if state.slots[s] is not None]) <= 1
        if emergency is not None:
            assert all(g is None or g.starts >= emergency for g in state.slots.values())
        again = policy.advance(state, day, emergency)
        assert again.state == state, "a second run the same day changes nothing"
        assert again.change == "none"
        last = state


@pytest.mark.parametrize("periods", [2, 5])
def test_a_gap_of_several_periods_converges_one_slot_per_run(periods: int) -> None:
    policy = RotationPolicy(30, 90)
    last = policy.plan(START).state
    day = START + timedelta(days=periods * 30)
    plan = policy.advance(last, day)
    assert plan.change == "catch-up"
    assert plan.replaced == other_slot(last.published)
    assert plan.state.slots[last.published] == last.current, "the published one stays"
    assert plan.current == policy.generation(policy.number_on(day))
    following = policy.advance(plan.state, plan.next_rotation)
    assert following.change == "scheduled"
    assert following.replaced == last.published


def test_a_changed_schedule_rotates_once_then_follows_the_new_schedule() -> None:
    state = RotationPolicy(30, 90).plan(START).state
    longer = RotationPolicy(60, 180)
    kinds = []
    for offset in range(121):
        day = START + timedelta(days=offset)
        plan = longer.advance(state, day)
        assert plan.current.is_live(day)
        kinds.append(plan.change)
        state = plan.state
    rotations = [kind for kind in kinds if kind != "none"]
    assert rotations in (["catch-up", "scheduled"], ["scheduled", "scheduled"], ["scheduled"])


def test_an_emergency_publishes_a_new_secret_and_revokes_the_others_then_the_schedule_resumes() -> (
    None
):
    policy = RotationPolicy(30, 90)
    last = policy.plan(START).state
    today = START + timedelta(days=3)
    plan = policy.advance(last, today, emergency=today)
    assert plan.change == "emergency"
    assert plan.replaced == other_slot(last.published)
    assert plan.revoked == (last.published,)
    assert plan.state.slots[last.published] is None
    assert plan.current.starts == today
    assert "revokes slot" in plan.describe()
    assert policy.advance(plan.state, today + timedelta(days=1), emergency=today).change == "none"
    resumed = policy.advance(plan.state, plan.next_rotation, emergency=today)
    assert resumed.change == "scheduled"
    assert resumed.replaced == last.published
    assert resumed.next_rotation == plan.next_rotation + timedelta(days=30)


@pytest.mark.parametrize(
    ("recorded", "message"),
    [
        ({"published": "c"}, "published: expected 'a' or 'b'"),
        ({"published": "a", "a": None, "b": None}, "slot a is published but holds no secret"),
        ({"published": "a", "a": {"generation": 1}}, "x.a: 'starts'"),
    ],
)
def test_a_damaged_record_stops_the_run(recorded: dict[str, object], message: str) -> None:
    with pytest.raises(RotationStateError, match=message):
        RotationState.from_output(recorded, "x")


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
    slots: dict[Slot, SecretGeneration | None] = {}
    published: SecretGeneration | None = None
    state: RotationState | None = None
    rotations = 0
    days = [START + timedelta(days=offset) for offset in range(366)]
    for day in days:
        plan = policy.advance(state, day)
        state = plan.state
        replaced = [slot for slot in SLOTS if slots.get(slot) != plan.in_slot(slot)]
        for slot in replaced:
            slots[slot] = plan.in_slot(slot)
        assert all(g is not None and g.expires > day for g in slots.values()), day
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


def _record(policy: RotationPolicy, day: date) -> dict[str, object]:
    return policy.plan(day).state.to_output()


def test_a_run_follows_the_vaults_record_when_the_last_run_failed_after_publishing() -> None:
    """The last run published slot b and failed before recording it in the stack outputs: the
    vault's tags win, so the next rotation replaces slot a, not the published b."""
    raw = stack_config("np")
    policy = RotationPolicy(raw["secretRotationDays"], raw["secretLifetimeDays"])
    recorded = _record(policy, START)
    assert recorded["published"] == "a" or recorded["published"] == "b"
    published = str(recorded["published"])
    spare = other_slot(published)  # type: ignore[arg-type]
    newer = policy.generation(policy.number_on(START) + 2)
    tags = {"slot": spare, **{k: str(v) for k, v in newer.to_output().items()}}
    names = {"MY-LIVEKIT-AGENT": "my-livekit-agent-np-client-secret"}
    day = newer.starts + timedelta(days=policy.rotation_days)
    run = run_program(
        raw,
        "np",
        day,
        last_outputs={"secretRotation": {"MY-LIVEKIT-AGENT": recorded}},
        vault_tags={names["MY-LIVEKIT-AGENT"]: tags},
    )
    state = run.outputs["secretRotation"]["MY-LIVEKIT-AGENT"]
    assert state[spare] == newer.to_output(), "the published secret was replaced"
    assert state["published"] == published
    replaced = run.named(f"lkps-my-livekit-agent-np-secret-{published}")
    assert replaced.inputs["rotateWhenChanged"] == {"generation": str(policy.number_on(day))}


def test_a_run_without_the_vaults_record_warns_and_keeps_the_stacks_record() -> None:
    raw = stack_config("np")
    policy = RotationPolicy(raw["secretRotationDays"], raw["secretLifetimeDays"])
    recorded = _record(policy, START)
    run = run_program(
        raw, "np", START, last_outputs={"secretRotation": {"MY-LIVEKIT-AGENT": recorded}}
    )
    assert run.outputs["secretRotation"]["MY-LIVEKIT-AGENT"] == recorded
    assert any(
        level == "WARNING" and "could not read the vault's record" in message
        for level, message in run.engine_log
    )
