"""`scripts/stack <verb> <stack>`: run the stack through the Pulumi engine, no language host.

    scripts/stack preview np [--sandbox] [--today YYYY-MM-DD] [--diff] [--target URN] ...
    scripts/stack up prod [--sandbox] [--expect-no-changes] [-m MESSAGE] ...
    scripts/stack verify np [--sandbox] [--app NAME] [--json] [--token]
    scripts/stack review np [--sandbox] [--output FILE]   (a preview in onboarding terms)
    scripts/stack <verb> --help                            (the flags each verb takes)

The program runs inline in this process through the Automation API, with the project's own
`Pulumi.yaml` and `Pulumi.<stack>.yaml`; the engine's output streams as the CLI prints it; the
policy pack runs on preview and up with the stack's policy config. `--sandbox` runs against the
local stand-ins for Entra ID, Key Vault and Ocelot (`sandbox/`), with state under `.sandbox/`.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Final

from lkps import rules
from stack_command import verbs
from stack_command.engine import ROOT


def _stack_name(value: str) -> str:
    if rules.environment_of_stack(value) is None:
        raise argparse.ArgumentTypeError(
            f"stack {value!r} must be np, prod, np-<suffix> or prod-<suffix>"
        )
    if not (ROOT / f"Pulumi.{value}.yaml").is_file():
        raise argparse.ArgumentTypeError(f"there is no Pulumi.{value}.yaml in {ROOT}")
    return value


def _parents() -> dict[str, argparse.ArgumentParser]:
    """The groups of flags that several verbs share, each a parent parser."""
    stack = argparse.ArgumentParser(add_help=False)
    stack.add_argument("stack", type=_stack_name, help="np, prod, np-<suffix> or prod-<suffix>")
    stack.add_argument("--sandbox", action="store_true", help="run against the local sandbox")
    dated = argparse.ArgumentParser(add_help=False)
    dated.add_argument(
        "--today",
        type=date.fromisoformat,
        metavar="YYYY-MM-DD",
        help="simulated date, YYYY-MM-DD (outside the sandbox: previews only)",
    )
    dated.add_argument(
        "--break-glass",
        metavar="REASON",
        help="run as another identity than the stack's pinned deployer, for this reason",
    )
    # What `pulumi <verb>` takes, passed to the engine.
    engine = argparse.ArgumentParser(add_help=False)
    engine.add_argument(
        "--parallel", "-p", type=int, metavar="N", help="resource operations at once"
    )
    engine.add_argument("--message", "-m", metavar="TEXT", help="the update's message")
    engine.add_argument("--suppress-outputs", action="store_true", help="do not print outputs")
    engine.add_argument("--color", choices=("always", "never", "raw", "auto"))
    engine.add_argument("--yes", "-y", action="store_true", help="accepted; nothing prompts")
    engine.add_argument("--verbose", "-v", type=int, metavar="N", help="the engine's log level")
    engine.add_argument("--logtostderr", action="store_true", help="the engine's log to stderr")
    engine.add_argument("--logflow", action="store_true", help="plugins log at the same level")
    targeted = argparse.ArgumentParser(add_help=False)
    targeted.add_argument("--target", action="append", default=[], metavar="URN")
    planned = argparse.ArgumentParser(add_help=False)
    planned.add_argument("--diff", action="store_true", help="show each property's change")
    planned.add_argument("--expect-no-changes", action="store_true", help="fail on any change")
    changing = argparse.ArgumentParser(add_help=False)
    changing.add_argument("--replace", action="append", default=[], metavar="URN")
    changing.add_argument(
        "--refresh",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="read what is live first (default: yes)",
    )
    locking = argparse.ArgumentParser(add_help=False)
    locking.add_argument(
        "--cancel-stale-lock",
        action="store_true",
        help="this run is the only one of its stack (a workflow's concurrency group): a lock "
        "found on the stack was left by an interrupted run; cancel it and go on",
    )
    return {
        "stack": stack,
        "dated": dated,
        "engine": engine,
        "targeted": targeted,
        "planned": planned,
        "changing": changing,
        "locking": locking,
    }


# Each verb: what it does, and the groups of flags it takes.
VERBS: Final[dict[str, tuple[str, tuple[str, ...]]]] = {
    "preview": (
        "show what an up would change, with the policy pack",
        ("stack", "dated", "engine", "targeted", "planned", "changing"),
    ),
    "up": (
        "make the stack so, with the policy pack",
        ("stack", "dated", "engine", "targeted", "planned", "changing", "locking"),
    ),
    "refresh": (
        "read what is live into the state",
        ("stack", "dated", "engine", "targeted", "planned", "locking"),
    ),
    "destroy": (
        "delete every resource of the stack",
        ("stack", "dated", "engine", "targeted", "locking"),
    ),
    "cancel": ("remove the lock an interrupted run left", ("stack",)),
    "reset": ("wipe the local sandbox of a stack (with --sandbox)", ("stack",)),
    "verify": ("the onboarding checklist against what is live", ("stack",)),
    "rights": ("the running identity's Graph and vault rights", ("stack",)),
    "review": (
        "a preview in onboarding terms, as Markdown for a pull request",
        ("stack", "dated", "engine", "targeted", "planned", "changing"),
    ),
}


LOCKING_VERBS: Final = tuple(verb for verb, (_, groups) in VERBS.items() if "locking" in groups)


def build_parser() -> tuple[argparse.ArgumentParser, dict[str, argparse.ArgumentParser]]:
    """`scripts/stack <verb> <stack> [flags]`: one subcommand per verb, with only its flags;
    the parser and each verb's own."""
    parser = argparse.ArgumentParser(
        prog="scripts/stack",
        description="Runs the lkps-onboarding stack through the Pulumi engine (Automation API).",
    )
    verbs = parser.add_subparsers(dest="verb", required=True, metavar="VERB")
    parents = _parents()
    subs: dict[str, argparse.ArgumentParser] = {}
    for verb, (summary, groups) in VERBS.items():
        sub = subs[verb] = verbs.add_parser(
            verb,
            help=summary,
            description=summary,
            parents=[parents[group] for group in groups],
        )
        # The engine operation the verb runs (review: a preview).
        sub.set_defaults(engine_verb="preview" if verb == "review" else verb)
        if verb == "verify":
            sub.add_argument("--app", help="only this application (its base name)")
            sub.add_argument("--json", action="store_true", help="the report as JSON")
            sub.add_argument(
                "--token",
                action="store_true",
                help="also get a token for LKPS (the vault's secret, or a workload's token)",
            )
        if verb == "review":
            sub.add_argument("--output", type=Path, help="write the Markdown report here")
    return parser, subs


def parse(argv: list[str]) -> argparse.Namespace:
    """The command line, checked; a wrong one exits 2 with the usage and what is allowed."""
    parser, subs = build_parser()
    args, extra = parser.parse_known_args(argv)
    verb = subs[args.verb]
    if extra:
        verb.error(
            f"unrecognized arguments: {' '.join(extra)} (scripts/stack {args.verb} --help lists "
            "what it takes)"
        )
    if getattr(args, "today", None) and not args.sandbox and args.verb != "preview":
        verb.error(
            "--today simulates a date: outside the sandbox it is for previews only, so that a "
            "real stack never changes on a pretended day"
        )
    passwords = [urn for urn in getattr(args, "replace", []) if rules.PASSWORD_TYPE_NAME in urn]
    if passwords:
        verb.error(
            f"--replace {passwords[0]}: replacing a client secret deletes it before its successor "
            "exists, while Key Vault may still publish it; for a secret that may have leaked, "
            "set applications[].emergencyRotation to today's date in the stack config instead"
        )
    if args.verb == "reset" and not args.sandbox:
        verb.error("reset wipes the local sandbox of a stack: use `reset <stack> --sandbox`")
    args.environment = rules.environment_of_stack(args.stack)
    return args


def main(argv: list[str] | None = None) -> int:
    """Runs one verb; a wrong command line exits 2 (argparse), a failure 1 with one line."""
    args = parse(sys.argv[1:] if argv is None else argv)
    handlers: dict[str, Callable[[argparse.Namespace], int]] = {
        "cancel": verbs.cancel,
        "reset": verbs.reset,
        "verify": verbs.verify,
        "rights": verbs.rights,
        "review": verbs.review,
    }
    try:
        return handlers.get(args.verb, verbs.operate)(args)
    except Exception as exc:  # anything unforeseen: one line, not a traceback
        verbs.say(f"stack: {args.verb} of {args.stack} failed: {type(exc).__name__}: {exc}")
        return 1
