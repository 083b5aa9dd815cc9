"""The pinned deployer: the one identity whose runs change the stack."""

from __future__ import annotations

import pulumi

from lkps import switches


def check_deployer(
    pinned: str, running: str, break_glass: str | None, resource: pulumi.Resource
) -> None:
    """Stops the run when another identity than the pinned deployer runs it, unless a person
    gave a break-glass reason; owners never depend on who runs, either way."""
    if pinned.lower() == running.lower():
        return
    if break_glass:
        pulumi.log.warn(
            f"break-glass run as {running.lower()} instead of the pinned deployer "
            f"{pinned.lower()} (reason: {break_glass}); owners stay as configured, and the "
            "pinned deployer stays an owner of every application",
            resource,
        )
        return
    raise pulumi.RunError(
        f"deployerObjectId: this stack is deployed by {pinned.lower()}, but the running identity "
        f"is {running.lower()}. Run it as the pinned deployer (the pipeline's identity); for an "
        f"emergency, a person with the rights may run it anyway with {switches.BREAK_GLASS}="
        "'<reason>' (scripts/stack --break-glass '<reason>'). Nothing was changed."
    )
