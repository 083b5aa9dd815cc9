"""The review's Markdown: verdict first, dangers before details, and GitHub's size limit kept."""

from __future__ import annotations

from lkps import agent_id
from lkps.resource_types import (
    AGENT_BLUEPRINT,
    AGENT_IDENTITY,
    APP_ROLE_ASSIGNMENT,
    APPLICATION,
    FEDERATED_CREDENTIAL,
    ROUTE_ACCESS,
    VAULT_SECRET,
)
from lkps.resource_types import APPLICATION_PASSWORD as PASSWORD
from stack_command.review.events import Drift, Note, PolicyResult, PreviewEvents, Step
from stack_command.review.render import COMMENT_LIMIT, as_markdown
from stack_command.review.report import build_review


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


def test_an_entry_the_stack_lets_go_of_is_a_change_not_a_danger() -> None:
    events = PreviewEvents()
    kept = _step("delete", ROUTE_ACCESS, "lkps-app-0000-np-ocelot-eu", route_id="eu-x")
    events.steps.append(
        Step(**{**kept.__dict__, "old_inputs": {"route_id": "eu-x"}, "retained": True})
    )
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", events)
    app = review.applications["APP-0000-NP"]
    assert app.changes == [
        "lets go of its entry on `eu-x`, which stays in Ocelot (ocelot.mode: manual)"
    ]
    assert app.dangers == []
    assert review.all_dangers == []


def test_drift_is_listed_in_onboarding_words_before_the_changes() -> None:
    events = PreviewEvents()
    owner, hand = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", "00000000-0000-4000-8000-0000000000aa"
    urn = f"urn:pulumi:np::p::{APPLICATION}::lkps-app-0000-np-app"
    events.drift.append(
        Drift(
            urn,
            APPLICATION,
            {"owners": [owner], "serviceManagementReference": "BEAT12345678", "web": {}},
            {"owners": [owner, hand], "serviceManagementReference": None, "web": {"x": 1}},
            gone=False,
        )
    )
    events.drift.append(
        Drift(
            f"urn:pulumi:np::p::{ROUTE_ACCESS}::lkps-app-0000-np-ocelot-eu",
            ROUTE_ACCESS,
            {"route_id": "eu-x", "status": "active"},
            {},
            gone=True,
        )
    )
    events.steps.append(Step("update", urn, APPLICATION, {}, {}, ("owners[1]",), False))
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", events)
    app = review.applications["APP-0000-NP"]
    assert app.drift == [
        f"owner {hand} was added by hand: this run repairs it",
        "the BEAT ID was changed by hand to nothing: this run repairs it",
        "the client was removed from `eu-x` in the Ocelot UI: this run leaves it as it is",
    ], "the team's web settings are not drift"
    markdown = as_markdown(review)
    assert markdown.index("🔧 drift: owner") < markdown.index("app registration: changes")


def test_a_warning_on_the_stack_itself_is_shown_once_and_an_apps_under_its_row() -> None:
    events = _events(1)
    size = "stack 'np' has 60 applications, more than maxApplications (50): split them"
    events.notes += [
        Note("warning", f"{size}\nsecond line", None),
        Note("warning", size, "urn:pulumi:np::p::pulumi:pulumi:Stack::p-np"),
        Note("warning", "slow vault", f"urn:pulumi:np::p::{PASSWORD}::lkps-app-0000-np-secret-a"),
        Note("info", "an info on the stack", None),
    ]
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", events)
    assert review.stack_notes == [size]
    markdown = as_markdown(review)
    assert f"### The stack\n\n- _warning:_ {size}\n" in markdown
    assert markdown.index("### The stack") < markdown.index("### Applications")
    assert "_note:_ warning: slow vault" in markdown
    assert "an info on the stack" not in markdown
    assert "### The stack" not in as_markdown(
        build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", _events(1))
    )


def test_removing_the_client_secret_names_the_federated_sign_in_left_as_a_danger() -> None:
    app = "lkps-app-0000-np"
    events = PreviewEvents()
    events.steps += [
        _step("delete", PASSWORD, f"{app}-secret-a"),
        _step("delete", PASSWORD, f"{app}-secret-b"),
        _step("delete", VAULT_SECRET, f"{app}-secret-vault"),
        _step("same", FEDERATED_CREDENTIAL, f"{app}-federated-ci", issuer="https://i", subject="s"),
    ]
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", events)
    dangers = review.applications["APP-0000-NP"].dangers
    assert "client secret removed: the app now signs in with https://i/s only" in dangers
    assert not review.ok

    rotation = PreviewEvents()
    rotation.steps += [*events.steps, _step("create", PASSWORD, f"{app}-secret-a")]
    again = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", rotation)
    assert not [d for d in again.applications["APP-0000-NP"].dangers if "removed:" in d]


def test_a_federated_credential_trusting_another_subject_is_a_danger() -> None:
    name = "lkps-app-0000-np-federated-ci"
    changed = Step(
        "update",
        f"urn:pulumi:np::p::{FEDERATED_CREDENTIAL}::{name}",
        FEDERATED_CREDENTIAL,
        {"displayName": "ci", "issuer": "https://i", "subject": "old"},
        {"displayName": "ci", "issuer": "https://i", "subject": "new"},
        ("subject",),
        False,
    )
    events = PreviewEvents()
    events.steps.append(changed)
    review = build_review("np", "np", ["APP-0000-NP"], "https://o/api/v1", events)
    assert review.applications["APP-0000-NP"].dangers == [
        "federated credential ci now trusts https://i/new: a workload signing in as "
        "https://i/old loses access"
    ]


def test_agent_id_changes_and_drift_in_onboarding_words() -> None:
    sponsor, other = "3f8e1c52-7a4b-4d9e-8b21-5c6d7e8f9a01", "1b2c3d4e-5f6a-4b7c-8d9e-0f1a2b3c4d5e"
    identity = "lkps-agent-np-agent-identity"
    events = PreviewEvents()
    events.steps += [
        Step(
            "update",
            f"urn:pulumi:np::p::{AGENT_IDENTITY}::{identity}",
            AGENT_IDENTITY,
            {"sponsors": [sponsor, other]},
            {"sponsors": [sponsor]},
            ("sponsors",),
            False,
        ),
        _step("delete", AGENT_BLUEPRINT, "lkps-lkps-agents-np"),
        _step("delete", APP_ROLE_ASSIGNMENT, "lkps-client-np-agentid-access"),
        _step(
            "delete",
            ROUTE_ACCESS,
            f"lkps-agent-np-ocelot-eu{agent_id.ROUTE_ACCESS_SUFFIX}",
            route_id="eu-x",
        ),
    ]
    events.drift.append(
        Drift(
            f"urn:pulumi:np::p::{AGENT_IDENTITY}::{identity}",
            AGENT_IDENTITY,
            {"sponsors": [sponsor, other]},
            {"sponsors": [sponsor]},
            gone=False,
        )
    )
    names = ["AGENT-NP", "CLIENT-NP", "LKPS-AGENTS-NP"]
    review = build_review("np", "np", names, "https://o/api/v1", events)
    agent = review.applications["AGENT-NP"]
    assert agent.changes == ["agent identity (Microsoft Entra Agent ID): changes -1 sponsor(s)"]
    assert agent.dangers == ["agent identity's LKPS access removed from `eu-x`"]
    assert agent.drift == [
        f"the agent identity's sponsor {other} was removed by hand: this run repairs it"
    ]
    assert review.applications["LKPS-AGENTS-NP"].dangers == [
        "agent identity blueprint deleted: Entra deletes every agent identity of it"
    ]
    assert review.applications["CLIENT-NP"].dangers == [
        "app role access_as_client removed: loses access to the agents on Agent ID"
    ]
