"""What `scripts/stack` passes to the engine: preview, up and review read what is live first."""

from __future__ import annotations

import pytest

from stack_command.cli import _engine_options, parse


@pytest.mark.parametrize("verb", ["preview", "up"])
def test_preview_and_up_refresh_unless_told_not_to(verb: str) -> None:
    assert _engine_options(parse([verb, "np"]), print)["refresh"] is True
    assert _engine_options(parse([verb, "np", "--refresh"]), print)["refresh"] is True
    assert _engine_options(parse([verb, "np", "--no-refresh"]), print)["refresh"] is False


def test_refresh_and_destroy_take_no_refresh_option() -> None:
    for verb in ("refresh", "destroy"):
        assert "refresh" not in _engine_options(parse([verb, "np"]), print)
