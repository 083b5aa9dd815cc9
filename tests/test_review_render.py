"""The review's Markdown: verdict first, dangers before details, and GitHub's size limit kept."""

from __future__ import annotations

from lkps.resource_types import APPLICATION_PASSWORD as PASSWORD
from lkps.resource_types import ROUTE_ACCESS
from review.events import PolicyResult, PreviewEvents, Step
from review.render import COMMENT_LIMIT, as_markdown
from review.report import build_review


def _step(op: str, type_: str, name: str, **inputs: object) -> Step:
    return Step(op, f"urn:pulumi:np::p::{type_}::{name}", type_, {}, dict(inputs), (), False)


def _events(count: int) -> PreviewEvents:
    events = PreviewEvents()
    for index in range(count):
        app = f"lkps-app-{index:04d}-np"
        events.steps.append(
            _step("replace", PASSWORD, f"{app}-secret-a", endDate="2027-03-01T00:00:00Z")
        )
        events.steps.append(_step("delete", ROUTE_ACCESS, f"{app}-ocelot-eu", route_id="eu-x"))
    events.policies.append(PolicyResult("beat-id", "advisory", "advice", None))
    return events


def test_a_huge_review_keeps_verdict_dangers_and_policies_within_the_limit() -> None:
    names = [f"APP-{index:04d}-NP" for index in range(3000)]
    review = build_review("np", "np", names, "https://o/api/v1", _events(3000))
    markdown = as_markdown(review)
    assert len(markdown) <= COMMENT_LIMIT
    assert "⚠️ 3000 danger(s) to review" in markdown.splitlines()[1]
    assert markdown.index("### Dangers") < markdown.index("### Applications")
    assert "… and 2900 more (see the pipeline log)" in markdown
    assert "### Policies" in markdown
    assert "<summary>Advisory findings (1)</summary>" in markdown
    assert "shortened to fit GitHub's size limit" in markdown


def test_a_small_review_is_complete() -> None:
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", _events(1))
    markdown = as_markdown(review)
    assert "shortened" not in markdown
    assert "secret rotation: slot a gets a new secret (ends 2027-03-01)" in markdown
    assert "LKPS access removed from `eu-x`" in markdown
    assert f"+- {PASSWORD} lkps-app-0000-np-secret-a" in markdown
