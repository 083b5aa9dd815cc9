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
import json
import os
import sys
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any, Final

from pulumi import automation as auto

from lkps import rules, switches
from lkps.config import ConfigError, parse_settings
from program import run
from sandbox.session import (
    BANNER,
    Sandbox,
    SandboxFolder,
    file_backend_url,
    running,
    sandbox_home,
    stack_config,
)
from stack_command.interruption import Interruption, StackLock, engine_signal, locks_in
from stack_command.pending import export_without_secrets, held_key_ids, pending_creates
from stack_command.recovery import Recovery

ROOT: Final = Path(__file__).resolve().parents[1]
PROJECT: Final = "lkps-onboarding"
# The interpreter of the engine's Python plugins (dynamic providers), ended with their engine.
PLUGIN_PYTHON: Final = ROOT / "scripts" / "plugin-python"


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


def policy_options(environment: str) -> dict[str, list[str]]:
    """The policy pack, started as an executable, with the environment's policy config."""
    return {
        "policy_packs": [str(ROOT / "policies" / "pack")],
        "policy_pack_configs": [str(ROOT / "policies" / f"config.{environment}.json")],
    }


def _engine_options(args: argparse.Namespace, output: Callable[[str], Any]) -> dict[str, Any]:
    """What the verb's engine operation takes of the flags it was given."""
    given = vars(args)
    options: dict[str, Any] = {
        "on_output": output,
        "color": given.get("color"),
        "parallel": given.get("parallel"),
        "message": given.get("message"),
        "log_verbosity": given.get("verbose"),
        "log_to_std_err": given.get("logtostderr") or None,
        "log_flow": given.get("logflow") or None,
        "suppress_outputs": given.get("suppress_outputs") or None,
        "target": given.get("target") or None,
        "diff": given.get("diff") or None,
        "expect_no_changes": given.get("expect_no_changes") or None,
        "replace": given.get("replace") or None,
    }
    if args.engine_verb in ("preview", "up"):
        options.update(refresh=refreshes(args), **policy_options(args.environment))
    if args.engine_verb in ("up", "refresh", "destroy"):
        options["show_secrets"] = False
    return {key: value for key, value in options.items() if value is not None}


def refreshes(args: argparse.Namespace) -> bool:
    """Preview and up read what is live first unless `--no-refresh`: Graph objects deleted or
    edited by hand then show and heal instead of failing the run, and the Application's update,
    which writes the team's settings back from the prior state, writes them as they are now."""
    return bool(getattr(args, "refresh", True))


def workspace_env() -> dict[str, str]:
    env = {
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": os.environ.get(
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION", "false"
        ),
    }
    env["PULUMI_PYTHON_CMD"] = str(PLUGIN_PYTHON)
    return env


def open_stack(
    stack: str,
    program: Callable[[], None],
    work_dir: Path,
    env: dict[str, str],
    pulumi_home: Path | None = None,
    secrets_provider: str | None = None,
) -> auto.Stack:
    """The stack of the inline program, using the project and stack files of `work_dir`."""
    return auto.create_or_select_stack(
        stack_name=stack,
        project_name=PROJECT,
        program=program,
        opts=auto.LocalWorkspaceOptions(
            work_dir=str(work_dir),
            pulumi_home=str(pulumi_home) if pulumi_home else None,
            env_vars=env,
            secrets_provider=secrets_provider,
        ),
    )


def execute(stack: auto.Stack, args: argparse.Namespace, output: Callable[[str], Any]) -> None:
    options = _engine_options(args, output)
    if args.verb == "preview":
        stack.preview(**options)
    elif args.verb == "up":
        stack.up(**options)
    elif args.verb == "refresh":
        stack.refresh(**options)
    else:
        stack.destroy(**options)


@contextmanager
def target(
    args: argparse.Namespace,
    sandbox_root: str | None = None,
    recovered: Mapping[str, str] | None = None,
) -> Iterator[tuple[auto.Stack, Sandbox | None]]:
    """The stack to run, against the sandbox (started for the block) or the configured cloud.
    The program imports what `recovered` names when it runs (filled in by `Recovery.inspect`)."""
    today, break_glass = vars(args).get("today"), vars(args).get("break_glass")

    def program() -> None:
        run(today=today, break_glass=break_glass, recovered=recovered)

    dated = switches.simulated_date_env(today)
    if not args.sandbox:
        yield open_stack(args.stack, program, ROOT, {**workspace_env(), **dated}), None
        return
    folder = SandboxFolder(sandbox_home(sandbox_root) / args.stack, args.stack)
    with running(folder, ROOT) as sandbox:
        env = {
            **workspace_env(),
            **sandbox.env,
            **dated,
            "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        }
        stack = open_stack(
            args.stack,
            program,
            folder.work_dir,
            env,
            pulumi_home=folder.pulumi_home,
            secrets_provider="passphrase",
        )
        yield stack, sandbox


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _output(line: str) -> None:
    print(line, flush=True)


def _error_text(exc: auto.errors.CommandError) -> str:
    text = str(exc)
    _, _, stderr = text.partition("\n stderr: ")
    return stderr.strip()


class StackLockedError(Exception):
    """The stack is locked by another run, or by one that was interrupted."""

    def __init__(self, args: argparse.Namespace, locks: list[StackLock]) -> None:
        held = "; ".join(lock.describe() for lock in locks) or "a lock the backend did not name"
        sandbox = " --sandbox" if args.sandbox else ""
        super().__init__(
            f"stack {args.stack} is locked by {held}: another run of it may still be going. "
            f"If none is, remove the lock with `scripts/stack cancel {args.stack}{sandbox}` and "
            "run again (the deploy and rotation workflows do this themselves: "
            "--cancel-stale-lock)"
        )


def run_unlocked(args: argparse.Namespace, stack: auto.Stack, operation: Callable[[], Any]) -> Any:
    """Runs an engine operation; a lock left by an interrupted run is cancelled first when the
    command may assume it is the stack's only run (`--cancel-stale-lock`), never otherwise."""
    try:
        return operation()
    except auto.errors.ConcurrentUpdateError as exc:
        locks = locks_in(exc) or []
        if not vars(args).get("cancel_stale_lock") or any(
            lock.held_by_a_live_process_here() for lock in locks
        ):
            raise StackLockedError(args, locks) from None
        for lock in locks:
            _say(
                f"stack: {args.stack} is locked by {lock.describe()}; this job is the stack's "
                "only run (--cancel-stale-lock), so the lock is stale: cancelling it"
            )
        stack.cancel()
    return operation()


def _failure(args: argparse.Namespace, exc: auto.errors.CommandError, stopped: Interruption) -> int:
    if stopped.received is not None:
        _say(
            f"stack: {args.verb} of {args.stack} was interrupted by {stopped.received.name}; "
            "the engine stopped after the steps in flight and released the stack: run the same "
            "command again to finish"
        )
        return 128 + stopped.received.value
    killed = engine_signal(exc)
    if killed is not None:
        sandbox = " --sandbox" if args.sandbox else ""
        _say(
            f"stack: {args.verb} of {args.stack} failed: the Pulumi engine was killed "
            f"({killed.name}) before it finished, and its lock is left on the stack. If no "
            f"other run of {args.stack} is going, run `scripts/stack cancel {args.stack}"
            f"{sandbox}`, then this command again"
        )
        return 1
    reason = _error_text(exc)
    if not reason and vars(args).get("expect_no_changes"):
        reason = "the engine found changes, and --expect-no-changes was given"
    _say(f"stack: {args.verb} of {args.stack} failed: {reason or 'see the output above'}")
    return 1


def _subscription_of(stack: str) -> str:
    return str((stack_config(ROOT, stack).get("keyVault") or {}).get("subscriptionId", ""))


def _cancel(args: argparse.Namespace) -> int:
    try:
        with target(args, switches.setting(switches.SANDBOX_ROOT)) as (stack, _):
            stack.cancel()
    except auto.errors.CommandError as exc:
        _say(f"stack: cancel of {args.stack} failed: {_error_text(exc)}")
        return 1
    _say(f"stack: {args.stack} has no lock now; a run interrupted before can be run again")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Runs one verb; a wrong command line exits 2 (argparse), a failure 1 with one line."""
    args = parse(sys.argv[1:] if argv is None else argv)
    verbs: dict[str, Callable[[argparse.Namespace], int]] = {
        "cancel": _cancel,
        "reset": _reset,
        "verify": _verify,
        "rights": _rights,
        "review": _review,
    }
    try:
        return verbs.get(args.verb, _operate)(args)
    except Exception as exc:  # anything unforeseen: one line, not a traceback
        _say(f"stack: {args.verb} of {args.stack} failed: {type(exc).__name__}: {exc}")
        return 1


def _reset(args: argparse.Namespace) -> int:
    folder = SandboxFolder(
        sandbox_home(switches.setting(switches.SANDBOX_ROOT)) / args.stack, args.stack
    )
    wiped = folder.wipe()
    _say(f"stack: {'wiped' if wiped else 'no sandbox at'} {folder.path}")
    return 0


def _operate(args: argparse.Namespace) -> int:
    """preview, up, refresh or destroy, with the recovery of what an interrupted run left."""
    if args.sandbox:
        # On stdout, first and last, so that no copy of the engine's output lacks it.
        _output(BANNER)
        args.message = args.message or "sandbox run: nothing sent to Azure or Ocelot"
    started = time.perf_counter()
    stopped = Interruption()

    def output(line: str) -> None:
        stopped.saw(line)
        _output(line)

    recovered: dict[str, str] = {}
    try:
        with (
            stopped.guarding(),
            target(args, switches.setting(switches.SANDBOX_ROOT), recovered) as (stack, sandbox),
        ):
            if sandbox is not None:
                _say(f"sandbox: started in {sandbox.timings['start']:.2f}s ({sandbox.folder.path})")
            recovery = Recovery(stack, _subscription_of(args.stack), _say)
            if args.verb in ("preview", "up"):
                recovered.update(recovery.inspect(up=args.verb == "up"))
            run_unlocked(args, stack, lambda: execute(stack, args, output))
            if args.verb == "up":
                run_unlocked(args, stack, lambda: recovery.settle(output))
    except StackLockedError as exc:
        _say(f"stack: {exc}")
        return 1
    except auto.errors.CommandError as exc:
        return _failure(args, exc, stopped)
    finally:
        if args.sandbox:
            _output(f"{BANNER} ({time.perf_counter() - started:.1f}s)")
    return 0


def _other_outputs(args: argparse.Namespace, sandbox_root: str | None) -> dict[str, Any] | None:
    """The outputs of the same team's stack of the other environment, when it can be read."""
    other = rules.counterpart_stack(args.stack)
    try:
        if args.sandbox:
            folder = SandboxFolder(sandbox_home(sandbox_root) / other, other)
            if not folder.backend.is_dir() or not folder.work_dir.is_dir():
                return None
            env = {
                **workspace_env(),
                "PULUMI_BACKEND_URL": file_backend_url(folder.backend),
                "PULUMI_CONFIG_PASSPHRASE": folder.passphrase,
            }
            stack = auto.select_stack(
                stack_name=other,
                project_name=PROJECT,
                program=lambda: None,
                opts=auto.LocalWorkspaceOptions(
                    work_dir=str(folder.work_dir),
                    pulumi_home=str(folder.pulumi_home),
                    env_vars=env,
                ),
            )
        else:
            stack = auto.select_stack(
                stack_name=other,
                project_name=PROJECT,
                program=lambda: None,
                opts=auto.LocalWorkspaceOptions(work_dir=str(ROOT), env_vars=workspace_env()),
            )
        return {key: value.value for key, value in stack.outputs().items()}
    except auto.errors.CommandError:
        return None


def _review(args: argparse.Namespace) -> int:
    """A preview whose engine output goes to stderr (the pipeline log), and whose report in
    onboarding terms goes to stdout or --output. Exit 1 when the preview fails or a mandatory
    policy does, 3 when it passes with dangers, 0 otherwise."""
    from stack_command.review.events import PreviewEvents
    from stack_command.review.render import as_markdown
    from stack_command.review.report import build_review

    try:
        settings = parse_settings(stack_config(ROOT, args.stack), args.stack)
    except ConfigError as exc:
        _say(f"stack: review of {args.stack} failed: {exc}")
        return 1
    events = PreviewEvents()
    options = _engine_options(args, _say)
    try:
        recovered: dict[str, str] = {}
        with target(args, switches.setting(switches.SANDBOX_ROOT), recovered) as (stack, _):
            recovered.update(Recovery(stack, _subscription_of(args.stack), _say).inspect(up=False))
            stack.preview(**options, on_event=events)
    except auto.errors.CommandError as exc:
        events.failed = True
        _say(f"stack: the preview of {args.stack} failed: {_error_text(exc) or 'see above'}")
    review = build_review(
        args.stack,
        settings.environment,
        [app.display_name(settings.environment) for app in settings.applications],
        settings.ocelot.api_url,
        events,
    )
    markdown = as_markdown(review)
    if args.output:
        args.output.write_text(markdown)
        _say(f"stack: review of {args.stack} written to {args.output} ({len(markdown)} characters)")
    else:
        _output(markdown)
    if review.failed or review.violations:
        return 1
    return 3 if review.all_dangers else 0


def _rights(args: argparse.Namespace) -> int:
    from stack_command.verify.rights import as_text
    from stack_command.verify.runner import run_rights_check

    if args.sandbox:
        _say(BANNER)
    try:
        with target(args, switches.setting(switches.SANDBOX_ROOT)) as (stack, sandbox):
            checks = run_rights_check(stack, sandbox)
    except (auto.errors.CommandError, ConfigError) as exc:
        _say(f"stack: rights of {args.stack} could not be checked: {exc}")
        return 1
    _output(as_text(args.stack, checks))
    return 0 if all(c.status in ("granted", "not needed") for c in checks) else 1


def _verify(args: argparse.Namespace) -> int:
    from stack_command.verify.render import as_text
    from stack_command.verify.runner import run_checklist

    sandbox_root = switches.setting(switches.SANDBOX_ROOT)
    if args.sandbox:
        _say(BANNER)
    other = _other_outputs(args, sandbox_root)

    def progress(done: int, total: int) -> None:
        if total > 10 and (done % 10 == 0 or done == total):
            _say(f"verify: {done}/{total} applications checked")

    try:
        with target(args, sandbox_root) as (stack, sandbox):
            deployment = export_without_secrets(stack)
            report = run_checklist(
                stack,
                sandbox,
                other,
                args.app,
                args.token,
                progress,
                held_key_ids=frozenset(held_key_ids(deployment)),
                interrupted=bool(pending_creates(deployment)),
            )
    except auto.errors.CommandError as exc:
        _say(f"stack: verify of {args.stack} failed: {_error_text(exc)}")
        return 1
    except ConfigError as exc:
        _say(f"stack: verify of {args.stack} failed: {exc}")
        return 1
    if args.app and not report.applications:
        _say(f"stack: {args.stack} has no application {args.app!r}")
        return 2
    _output(json.dumps(report.to_json(), indent=2) if args.json else as_text(report))
    return 0 if report.ok else 1
