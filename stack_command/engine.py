"""The Automation API: one way to open the stack, against the cloud or the sandbox, and to run
an engine operation on it with the flags the command was given."""

from __future__ import annotations

import argparse
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Final

from pulumi import automation as auto

from lkps import rules, switches
from program import run
from sandbox.session import Sandbox, SandboxFolder, file_backend_url, running, sandbox_home
from stack_command.interruption import StackLock, locks_in

ROOT: Final = Path(__file__).resolve().parents[1]
PROJECT: Final = rules.PROJECT
# The interpreter of the engine's Python plugins (dynamic providers), ended with their engine.
PLUGIN_PYTHON: Final = ROOT / "scripts" / "plugin-python"


def policy_options(environment: str) -> dict[str, list[str]]:
    """The policy pack, started as an executable, with the environment's policy config."""
    return {
        "policy_packs": [str(ROOT / "policies" / "pack")],
        "policy_pack_configs": [str(ROOT / "policies" / f"config.{environment}.json")],
    }


def engine_options(args: argparse.Namespace, output: Callable[[str], Any]) -> dict[str, Any]:
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
    options = engine_options(args, output)
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


def error_text(exc: auto.errors.CommandError) -> str:
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


def run_unlocked(
    args: argparse.Namespace,
    stack: auto.Stack,
    operation: Callable[[], Any],
    say: Callable[[str], Any],
) -> Any:
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
            say(
                f"stack: {args.stack} is locked by {lock.describe()}; this job is the stack's "
                "only run (--cancel-stale-lock), so the lock is stale: cancelling it"
            )
        stack.cancel()
    return operation()


def counterpart_outputs(
    args: argparse.Namespace, sandbox_root: str | None
) -> dict[str, Any] | None:
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
