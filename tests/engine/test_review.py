"""The review report of real previews through the sandbox: what a reviewer of a pull request
reads for a new app, a rotation day, an Ocelot-only change, a removal, a policy violation, a
change to prod and the report's size at 2, 30 and 300 applications."""

from __future__ import annotations

import dataclasses
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from pulumi import automation as auto

from lkps.config import parse_settings
from lkps.rotation import RotationPolicy
from sandbox.session import stack_config
from stack_command.engine import ROOT as ROOT_PROJECT
from stack_command.review.events import PreviewEvents
from stack_command.review.render import COMMENT_LIMIT, MARKER, as_markdown
from stack_command.review.report import Review, build_review
from tests.support.sandbox_harness import CANARY_SECRET, CANARY_TOKEN, SandboxProject, Session

pytestmark = pytest.mark.engine

TODAY = datetime.now(UTC).date()
ROTATION_DAY = RotationPolicy(30, 90).plan(TODAY).next_rotation


@pytest.fixture
def project(pulumi_cli: str, tmp_path: Path) -> SandboxProject:
    del pulumi_cli  # the fixture fails the test when the CLI is missing
    return SandboxProject(tmp_path)


def _review(session: Session, **options: Any) -> tuple[Review, str]:
    events = PreviewEvents()
    try:
        session.preview(on_event=events, **options)
    except auto.CommandError:
        events.failed = True
    return _report(session, events)


def _report(
    session: Session, events: PreviewEvents, applications: list[str] | None = None
) -> tuple[Review, str]:
    raw = stack_config(session.project, session.stack.name)
    settings = parse_settings(raw, session.stack.name)
    review = build_review(
        session.stack.name,
        settings.environment,
        applications or [app.display_name(settings.environment) for app in settings.applications],
        settings.ocelot.api_url,
        events,
    )
    markdown = as_markdown(review)
    assert CANARY_SECRET not in markdown
    assert CANARY_TOKEN not in markdown
    assert markdown.startswith(MARKER.format(stack=session.stack.name))
    assert len(markdown) <= COMMENT_LIMIT
    return review, markdown


def test_a_new_app_reads_as_new_registrations_secrets_and_access(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        review, markdown = _review(session)
    assert review.ok, review.all_dangers
    assert "✅ routine changes only" in markdown.splitlines()[1]
    agent = review.applications["MY-LIVEKIT-AGENT-NP"]
    assert agent.changes[:2] == ["new app registration", "new service principal"]
    assert "vault secret created" in agent.changes
    assert any(c.startswith("LKPS access added on `eu-") for c in agent.changes)
    assert "pre-authorizes client MY-LIVEKIT-CLIENT" in agent.changes
    assert "<details><summary>Resource changes" in markdown
    assert "Outputs" not in markdown
    assert "pulumi:providers:pulumi default" not in markdown


def test_a_rotation_day_reads_as_one_slot_per_app_and_a_new_vault_version(
    project: SandboxProject,
) -> None:
    with project.deployed("np", TODAY) as session:
        review, markdown = _review(session, today=ROTATION_DAY)
    assert review.ok, review.all_dangers
    for app in review.applications.values():
        rotations = [c for c in app.changes if c.startswith("secret rotation: slot")]
        assert len(rotations) == 1, app.changes
        assert "vault secret: new version (the published client secret changes)" in app.changes
        assert any("scheduled rotation: creates and publishes slot" in n for n in app.notes)
    assert "Dangers" not in markdown


def test_an_ocelot_only_change_names_the_route_and_a_removed_region_is_a_danger(
    project: SandboxProject,
) -> None:
    with project.deployed("np", TODAY) as session:
        session.edit_config(lambda c: c["applications"][1].update(regions=["eu", "us"]))
        added, _ = _review(session, today=TODAY)
        assert list(added.applications) == ["MY-LIVEKIT-CLIENT-NP"]
        (change,) = added.applications["MY-LIVEKIT-CLIENT-NP"].changes
        assert change.startswith("LKPS access added on `us-livekit-platform-service-np")
        assert "[Ocelot UI](https://devtools-np.bayer.com/ocelot?route=us-" in change
        session.edit_config(lambda c: c["applications"][0].update(regions=["eu"]))
        removed, markdown = _review(session, today=TODAY)
    assert removed.all_dangers == [
        "MY-LIVEKIT-AGENT-NP: LKPS access removed from "
        "`us-livekit-platform-service-np.int.bayer.com`"
    ]
    assert "⚠️ 1 danger(s) to review" in markdown


def test_a_removed_app_lists_every_deletion_as_a_danger(project: SandboxProject) -> None:
    with project.deployed("np", TODAY) as session:

        def remove_client(config: dict[str, Any]) -> None:
            config["applications"].pop(1)
            config["applications"][0]["clients"] = []

        session.edit_config(remove_client)
        review, markdown = _review(session, today=TODAY)
    dangers = review.applications["MY-LIVEKIT-CLIENT-NP"].dangers
    assert "app registration deleted" in dangers
    assert "service principal deleted" in dangers
    assert "vault secret deleted" in dangers
    assert any(d.startswith("LKPS access removed from `eu-") for d in dangers)
    assert "pre-authorization of client MY-LIVEKIT-CLIENT removed" in (
        review.applications["MY-LIVEKIT-AGENT-NP"].dangers
    )
    assert markdown.index("### Dangers") < markdown.index("### Applications")


def test_a_policy_violation_fails_the_review_with_the_policy_and_its_message(
    project: SandboxProject,
) -> None:
    with project.session("np") as session:
        session.edit_config(lambda c: c.update(secretLifetimeDays=180, secretRotationDays=60))
        review, markdown = _review(session, today=TODAY)
    assert review.failed
    assert {v.policy for v in review.violations} >= {"client-secret-lifetime"}
    assert "❌ the preview fails" in markdown
    assert "- **client-secret-lifetime** on `lkps-my-livekit-agent-np-secret-" in markdown
    assert "at most 90 days are allowed" in markdown


def test_any_change_to_prod_is_a_danger(project: SandboxProject) -> None:
    with project.session("prod") as session:
        review, markdown = _review(session, today=TODAY)
    assert review.dangers[0].startswith("this changes prod (")
    assert "⚠️" in markdown.splitlines()[1]


def _applications(count: int) -> list[dict[str, Any]]:
    owners = stack_config(ROOT_PROJECT, "np")["applications"][0]["owners"]
    return [
        {
            "name": f"SCALE-APP-{index:04d}",
            "role": "client",
            "beatId": f"BEAT{index:08d}",
            "description": f"Client application {index} of a large stack",
            "owners": owners,
            "regions": ["eu"],
        }
        for index in range(count)
    ]


def _scaled(events: PreviewEvents, count: int) -> PreviewEvents:
    """The preview's events for `count` applications, in the shape the engine emitted them: each
    step, note and policy result of SCALE-APP-0000 repeated under the name of each other
    application, the stack's own ones once. The report's size limits are properties of these
    events; a real preview of 300 applications takes minutes and adds nothing to them."""

    def mentions(item: Any, name: str) -> bool:
        return name in json.dumps(dataclasses.asdict(item)).lower()

    def renamed(item: Any, index: int) -> Any:
        text = json.dumps(dataclasses.asdict(item))
        for old, new in (
            ("SCALE-APP-0000", f"SCALE-APP-{index:04d}"),
            ("scale-app-0000", f"scale-app-{index:04d}"),
            ("BEAT00000000", f"BEAT{index:08d}"),
            ("Client application 0 of", f"Client application {index} of"),
        ):
            text = text.replace(old, new)
        fields = json.loads(text)
        if "changed" in fields:
            fields["changed"] = tuple(fields["changed"])
        return type(item)(**fields)

    def repeated(items: list[Any]) -> list[Any]:
        first = [item for item in items if mentions(item, "scale-app-0000")]
        shared = [item for item in items if not mentions(item, "scale-app-")]
        return shared + [renamed(item, index) for index in range(count) for item in first]

    return PreviewEvents(
        steps=repeated(events.steps),
        drift=repeated(events.drift),
        policies=repeated(events.policies),
        notes=repeated(events.notes),
        failed=events.failed,
    )


def _check_size(review: Review, markdown: str, count: int) -> None:
    assert len(review.applications) == count
    assert review.ok
    shortened = "shortened to fit GitHub's size limit" in markdown
    assert shortened == (count == 300), len(markdown)
    assert "✅ routine changes only" in markdown
    assert "### Policies" in markdown
    assert len(markdown) <= COMMENT_LIMIT
    print(f"review of {count} new applications: {len(markdown)} characters")


@pytest.mark.parametrize("count", [2, 30])
def test_the_report_fits_a_comment_at_any_size(project: SandboxProject, count: int) -> None:
    """Through the engine at 2 and 30 applications; at 300 on the 30-application preview's own
    events, scaled (`_scaled`)."""
    events = PreviewEvents()
    with project.session("np") as session:
        session.edit_config(
            lambda c: c.update(applications=_applications(count), maxApplications=20)
        )
        session.preview(on_event=events, today=TODAY)
        review, markdown = _report(session, events)
        _check_size(review, markdown, count)
        assert ("### The stack" in markdown) == (count > 20), "the size warning is in the report"
        size = [n for n in events.notes if "more than maxApplications (20)" in n.message]
        assert [n.severity for n in size] == (["warning"] if count > 20 else []), events.notes
        if size:
            assert f"stack 'np' has {count} applications" in size[0].message
            assert "Pulumi.np-<team>.yaml" in size[0].message
            assert f"stack 'np' has {count} applications, more than maxApplications" in markdown
        if count == 30:
            scaled = _scaled(events, 300)
            names = [f"SCALE-APP-{index:04d}-NP" for index in range(300)]
            assert len(scaled.steps) > 9 * len(events.steps)
            _check_size(*_report(session, scaled, names), 300)
