"""The repository's stacks, read from its stack files, as the workflows' matrices: every stack
(`Pulumi.<stack>.yaml`) with its environment and team, and each team's np and prod pair.

    python3 -m stack_command.fleet       from the checkout's root: prints `stacks=<json>` and
                                         `teams=<json>` lines for $GITHUB_OUTPUT (standard
                                         library only: it runs before anything is installed)
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict, dataclass
from pathlib import Path

from lkps import rules


class FleetError(Exception):
    """A stack file whose name is not a stack of this project."""


@dataclass(frozen=True)
class FleetStack:
    """One stack of the repository: `np`, `prod`, `np-<team>` or `prod-<team>`."""

    stack: str
    environment: rules.Environment
    team: str


@dataclass(frozen=True)
class Team:
    """A team's pair of stacks; either may be missing (empty) while the team starts or leaves."""

    team: str
    np: str
    prod: str


def stacks(root: Path) -> list[FleetStack]:
    """Every `Pulumi.<stack>.yaml` beside `Pulumi.yaml`, np ones first, then by team."""
    found = []
    for path in sorted(root.glob("Pulumi.*.yaml")):
        name = path.name.removeprefix("Pulumi.").removesuffix(".yaml")
        environment = rules.environment_of_stack(name)
        team = name.removeprefix(environment or "").removeprefix("-")
        if environment is None or (name != environment and not team):
            raise FleetError(
                f"{path.name}: a stack file is named Pulumi.<stack>.yaml with <stack> one of "
                "np, prod, np-<team> or prod-<team>"
            )
        found.append(FleetStack(name, environment, team))
    return sorted(found, key=lambda s: (rules.ENVIRONMENTS.index(s.environment), s.team))


def teams(fleet: list[FleetStack]) -> list[Team]:
    """Each team's np and prod stack (the team of `np` and `prod` is the empty name)."""
    names = sorted({s.team for s in fleet})
    by_key = {(s.team, s.environment): s.stack for s in fleet}
    return [
        Team(name, by_key.get((name, "np"), ""), by_key.get((name, "prod"), "")) for name in names
    ]


def main() -> int:
    try:
        fleet = stacks(Path.cwd())
    except FleetError as exc:
        print(f"fleet: {exc}", file=sys.stderr)
        return 2
    print("stacks=" + json.dumps([asdict(s) for s in fleet], separators=(",", ":")))
    print("teams=" + json.dumps([asdict(t) for t in teams(fleet)], separators=(",", ":")))
    return 0


if __name__ == "__main__":
    sys.exit(main())
