"""The review as Markdown for a pull-request comment, within GitHub's comment size limit."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from stack_command.review.events import PolicyResult
from stack_command.review.report import Review, inputs_summary

# GitHub refuses comments longer than 65,536 characters; keep room for the workflow's footer.
COMMENT_LIMIT: Final = 65_000
MARKER: Final = "<!-- lkps-onboarding-review:{stack} -->"
OP_SIGNS: Final = {
    "create": "+",
    "update": "~",
    "delete": "-",
    "replace": "+-",
    "import": "=",
    "import-replacement": "=>",
}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _verdict(review: Review) -> str:
    dangers = len(review.all_dangers)
    if review.failed or review.violations:
        head = "❌ the preview fails"
    elif dangers:
        head = f"⚠️ {dangers} danger(s) to review"
    else:
        head = "✅ routine changes only"
    changed = len(review.applications)
    policies = (
        f"{len(review.violations)} policy violation(s)" if review.violations else ("policies pass")
    )
    return (
        f"## Onboarding preview of `{review.stack}` ({review.environment}): {head}\n\n"
        f"{changed} application(s) change · {len(review.steps)} resource change(s), "
        f"{review.unchanged} unchanged · {policies}"
    )


def _dangers(review: Review, limit: int | None) -> list[str]:
    dangers = review.all_dangers
    if not dangers:
        return []
    shown = dangers if limit is None else dangers[:limit]
    lines = ["### Dangers", ""] + [f"- ⚠️ {danger}" for danger in shown]
    if len(shown) < len(dangers):
        lines.append(f"- … and {len(dangers) - len(shown)} more (see the pipeline log)")
    return [*lines, ""]


def _stack_notes(review: Review) -> list[str]:
    if not review.stack_notes:
        return []
    return ["### The stack", "", *(f"- _warning:_ {_cell(n)}" for n in review.stack_notes), ""]


def _applications(review: Review, limit: int | None) -> list[str]:
    apps = list(review.applications.values())
    if not apps:
        return ["No application changes.", ""]
    shown = apps if limit is None else apps[:limit]
    lines = ["### Applications", "", "| Application | What changes |", "|---|---|"]
    for app in shown:
        items = [
            *(f"🔧 drift: {d}" for d in app.drift),
            *app.changes,
            *(f"⚠️ {d}" for d in app.dangers),
            *(f"_note:_ {n}" for n in app.notes),
        ]
        lines.append(f"| {_cell(app.display_name)} | {'<br>'.join(_cell(i) for i in items)} |")
    if len(shown) < len(apps):
        lines.append(f"| … | {len(apps) - len(shown)} more application(s), see the pipeline log |")
    return [*lines, ""]


def _policy_lines(results: Sequence[PolicyResult]) -> list[str]:
    return [
        f"- **{r.policy}**"
        + (f" on `{r.urn.rsplit('::', 1)[-1]}`" if r.urn else "")
        + f": {_cell(r.message.splitlines()[-1] if r.message else '')}"
        for r in results
    ]


def _policies(review: Review) -> list[str]:
    lines = ["### Policies", ""]
    if review.violations:
        lines += ["❌ Mandatory policies fail:", "", *_policy_lines(review.violations)]
    else:
        lines.append("✅ Every mandatory policy passes.")
    if review.advisories:
        lines += [
            "",
            f"<details><summary>Advisory findings ({len(review.advisories)})</summary>",
            "",
            *_policy_lines(review.advisories),
            "",
            "</details>",
        ]
    return [*lines, ""]


def _raw(review: Review, limit: int | None) -> list[str]:
    steps = review.steps if limit is None else review.steps[:limit]
    if not review.steps:
        return []
    lines = [
        f"<details><summary>Resource changes ({len(review.steps)}; unchanged resources and "
        "outputs left out)</summary>",
        "",
        "```diff",
    ]
    for step in steps:
        sign = OP_SIGNS.get(step.op, step.op)
        detail = inputs_summary(step.new_inputs or step.old_inputs, step.changed)
        lines.append(f"{sign} {step.type} {step.name}" + (f": {detail}" if detail else ""))
    lines.append("```")
    if len(steps) < len(review.steps):
        lines.append(f"… {len(review.steps) - len(steps)} more change(s), see the pipeline log")
    return [*lines, "", "</details>", ""]


def as_markdown(review: Review, limit: int = COMMENT_LIMIT) -> str:
    """The comment. Too long, it keeps the verdict, dangers and policies, and trims the raw
    changes first, then as few application rows as it must, saying so."""
    full = _compose(review, None, None, None)
    if len(full) <= limit:
        return full
    trimmed_raw = _compose(review, 200, None, None)
    if len(trimmed_raw) <= limit:
        return trimmed_raw
    dangers = 100
    low, high = 0, len(review.applications)
    while low < high:
        middle = (low + high + 1) // 2
        if len(_compose(review, 0, middle, dangers)) <= limit:
            low = middle
        else:
            high = middle - 1
    text = _compose(review, 0, low, dangers)
    return text if len(text) <= limit else text[: limit - 80] + "\n\n_Shortened._\n"


def _compose(
    review: Review, raw_limit: int | None, app_limit: int | None, danger_limit: int | None
) -> str:
    lines = [
        MARKER.format(stack=review.stack),
        _verdict(review),
        "",
        *_dangers(review, danger_limit),
        *_stack_notes(review),
        *_applications(review, app_limit),
        *_policies(review),
        *(_raw(review, raw_limit) if raw_limit != 0 else []),
    ]
    if (raw_limit, app_limit, danger_limit) != (None, None, None):
        lines.append(
            "_This comment was shortened to fit GitHub's size limit; the full preview is in "
            "the pipeline log._"
        )
    return "\n".join(lines).rstrip() + "\n"
