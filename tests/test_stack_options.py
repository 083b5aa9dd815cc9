"""What `scripts/stack` passes to the engine: preview, up and review read what is live first."""

from __future__ import annotations

import pytest

from stack_command.cli import build_parser, parse
from stack_command.engine import engine_options


@pytest.mark.parametrize("verb", ["preview", "up"])
def test_preview_and_up_refresh_unless_told_not_to(verb: str) -> None:
    assert engine_options(parse([verb, "np"]), print)["refresh"] is True
    assert engine_options(parse([verb, "np", "--refresh"]), print)["refresh"] is True
    assert engine_options(parse([verb, "np", "--no-refresh"]), print)["refresh"] is False


def test_refresh_and_destroy_take_no_refresh_option() -> None:
    for verb in ("refresh", "destroy"):
        assert "refresh" not in engine_options(parse([verb, "np"]), print)


def _flags(verb: str) -> set[str]:
    _, subs = build_parser()
    return {
        option
        for action in subs[verb]._actions
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


ENGINE = {
    "--parallel",
    "--message",
    "--suppress-outputs",
    "--color",
    "--yes",
    "--verbose",
    "--logtostderr",
    "--logflow",
    "--target",
}


def test_each_verb_takes_exactly_its_own_flags() -> None:
    program = {"--sandbox", "--today", "--break-glass"}
    assert _flags("preview") == program | ENGINE | {
        "--diff",
        "--expect-no-changes",
        "--replace",
        "--refresh",
        "--no-refresh",
    }
    assert _flags("up") == _flags("preview") | {"--cancel-stale-lock"}
    assert _flags("refresh") == program | ENGINE | {
        "--diff",
        "--expect-no-changes",
        "--cancel-stale-lock",
    }
    assert _flags("destroy") == program | ENGINE | {"--cancel-stale-lock"}
    assert _flags("review") == _flags("preview") | {"--output"}
    assert _flags("verify") == {"--sandbox", "--app", "--json", "--token"}
    for verb in ("cancel", "reset", "rights"):
        assert _flags(verb) == {"--sandbox"}, verb


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["verify", "np", "--sandbox", "--today", "2026-12-27"], "unrecognized arguments: --today"),
        (["rights", "np", "--diff"], "unrecognized arguments: --diff"),
        (["preview", "np", "--output", "r.md"], "unrecognized arguments: --output"),
        (["review", "np", "--today", "2026-12-27"], "outside the sandbox it is for previews only"),
        (["deploy", "np"], "invalid choice: 'deploy'"),
    ],
)
def test_a_flag_of_another_verb_is_a_usage_error(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        parse(argv)
    assert exited.value.code == 2
    error = capsys.readouterr().err
    assert message in error
    assert error.startswith("usage: scripts/stack")


def test_review_runs_a_preview_with_the_flags_it_was_given() -> None:
    options = engine_options(parse(["review", "np", "--target", "urn:x", "--no-refresh"]), print)
    assert options["target"] == ["urn:x"]
    assert options["refresh"] is False
    assert "policy_packs" in options
    assert "show_secrets" not in options
