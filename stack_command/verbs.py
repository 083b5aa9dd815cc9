"""What each verb of the stack command does, given its checked command line."""

from __future__ import annotations

import argparse
import json
import sys
import time

from pulumi import automation as auto

from lkps import agent_id, switches
from lkps.config import ConfigError, parse_settings
from sandbox.session import BANNER, SandboxFolder, sandbox_home, stack_config
from stack_command.engine import (
    ROOT,
    StackLockedError,
    counterpart_outputs,
    engine_options,
    error_text,
    execute,
    run_unlocked,
    target,
)
from stack_command.interruption import Interruption, engine_signal
from stack_command.pending import export_without_secrets, held_key_ids, pending_creates
from stack_command.recovery import Recovery


def say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def output_line(line: str) -> None:
    print(line, flush=True)


def _failure(args: argparse.Namespace, exc: auto.errors.CommandError, stopped: Interruption) -> int:
    if stopped.received is not None:
        say(
            f"stack: {args.verb} of {args.stack} was interrupted by {stopped.received.name}; "
            "the engine stopped after the steps in flight and released the stack: run the same "
            "command again to finish"
        )
        return 128 + stopped.received.value
    killed = engine_signal(exc)
    if killed is not None:
        sandbox = " --sandbox" if args.sandbox else ""
        say(
            f"stack: {args.verb} of {args.stack} failed: the Pulumi engine was killed "
            f"({killed.name}) before it finished, and its lock is left on the stack. If no "
            f"other run of {args.stack} is going, run `scripts/stack cancel {args.stack}"
            f"{sandbox}`, then this command again"
        )
        return 1
    reason = error_text(exc)
    if not reason and vars(args).get("expect_no_changes"):
        reason = "the engine found changes, and --expect-no-changes was given"
    say(f"stack: {args.verb} of {args.stack} failed: {reason or 'see the output above'}")
    return 1


def _subscription_of(stack: str) -> str:
    return str((stack_config(ROOT, stack).get("keyVault") or {}).get("subscriptionId", ""))


def cancel(args: argparse.Namespace) -> int:
    try:
        with target(args, switches.setting(switches.SANDBOX_ROOT)) as (stack, _):
            stack.cancel()
    except auto.errors.CommandError as exc:
        say(f"stack: cancel of {args.stack} failed: {error_text(exc)}")
        return 1
    say(f"stack: {args.stack} has no lock now; a run interrupted before can be run again")
    return 0


def reset(args: argparse.Namespace) -> int:
    folder = SandboxFolder(
        sandbox_home(switches.setting(switches.SANDBOX_ROOT)) / args.stack, args.stack
    )
    wiped = folder.wipe()
    say(f"stack: {'wiped' if wiped else 'no sandbox at'} {folder.path}")
    return 0


def operate(args: argparse.Namespace) -> int:
    """preview, up, refresh or destroy, with the recovery of what an interrupted run left."""
    if args.sandbox:
        # On stdout, first and last, so that no copy of the engine's output lacks it.
        output_line(BANNER)
        args.message = args.message or "sandbox run: nothing sent to Azure or Ocelot"
    started = time.perf_counter()
    stopped = Interruption()

    def output(line: str) -> None:
        stopped.saw(line)
        output_line(line)

    recovered: dict[str, str] = {}
    try:
        with (
            stopped.guarding(),
            target(args, switches.setting(switches.SANDBOX_ROOT), recovered) as (stack, sandbox),
        ):
            if sandbox is not None:
                say(f"sandbox: started in {sandbox.timings['start']:.2f}s ({sandbox.folder.path})")
            recovery = Recovery(stack, _subscription_of(args.stack), say)
            if args.verb in ("preview", "up"):
                recovered.update(recovery.inspect(up=args.verb == "up"))
            run_unlocked(args, stack, lambda: execute(stack, args, output), say)
            if args.verb == "up":
                run_unlocked(args, stack, lambda: recovery.settle(output), say)
    except StackLockedError as exc:
        say(f"stack: {exc}")
        return 1
    except auto.errors.CommandError as exc:
        return _failure(args, exc, stopped)
    finally:
        if args.sandbox:
            output_line(f"{BANNER} ({time.perf_counter() - started:.1f}s)")
    return 0


def review(args: argparse.Namespace) -> int:
    """A preview whose engine output goes to stderr (the pipeline log), and whose report in
    onboarding terms goes to stdout or --output. Exit 1 when the preview fails or a mandatory
    policy does, 3 when it passes with dangers, 0 otherwise."""
    from stack_command.review.events import PreviewEvents
    from stack_command.review.render import as_markdown
    from stack_command.review.report import build_review

    try:
        settings = parse_settings(stack_config(ROOT, args.stack), args.stack)
    except ConfigError as exc:
        say(f"stack: review of {args.stack} failed: {exc}")
        return 1
    events = PreviewEvents()
    options = engine_options(args, say)
    try:
        recovered: dict[str, str] = {}
        with target(args, switches.setting(switches.SANDBOX_ROOT), recovered) as (stack, _):
            recovered.update(Recovery(stack, _subscription_of(args.stack), say).inspect(up=False))
            stack.preview(**options, on_event=events)
    except auto.errors.CommandError as exc:
        events.failed = True
        say(f"stack: the preview of {args.stack} failed: {error_text(exc) or 'see above'}")
    review = build_review(
        args.stack,
        settings.environment,
        [
            *(app.display_name(settings.environment) for app in settings.applications),
            agent_id.blueprint_display_name(args.stack, settings.environment),
        ],
        settings.ocelot.api_url,
        events,
    )
    markdown = as_markdown(review)
    if args.output:
        args.output.write_text(markdown)
        say(f"stack: review of {args.stack} written to {args.output} ({len(markdown)} characters)")
    else:
        output_line(markdown)
    if review.failed or review.violations:
        return 1
    return 3 if review.all_dangers else 0


def rights(args: argparse.Namespace) -> int:
    from stack_command.verify.rights import as_text
    from stack_command.verify.runner import run_rights_check

    if args.sandbox:
        say(BANNER)
    try:
        with target(args, switches.setting(switches.SANDBOX_ROOT)) as (stack, sandbox):
            checks = run_rights_check(stack, sandbox)
    except (auto.errors.CommandError, ConfigError) as exc:
        say(f"stack: rights of {args.stack} could not be checked: {exc}")
        return 1
    output_line(as_text(args.stack, checks))
    return 0 if all(c.status in ("granted", "not needed") for c in checks) else 1


def verify(args: argparse.Namespace) -> int:
    from stack_command.verify.render import as_text
    from stack_command.verify.runner import run_checklist

    sandbox_root = switches.setting(switches.SANDBOX_ROOT)
    if args.sandbox:
        say(BANNER)
    other = counterpart_outputs(args, sandbox_root)

    def progress(done: int, total: int) -> None:
        if total > 10 and (done % 10 == 0 or done == total):
            say(f"verify: {done}/{total} applications checked")

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
        say(f"stack: verify of {args.stack} failed: {error_text(exc)}")
        return 1
    except ConfigError as exc:
        say(f"stack: verify of {args.stack} failed: {exc}")
        return 1
    if args.app and not report.applications:
        say(f"stack: {args.stack} has no application {args.app!r}")
        return 2
    output_line(json.dumps(report.to_json(), indent=2) if args.json else as_text(report))
    return 0 if report.ok else 1
