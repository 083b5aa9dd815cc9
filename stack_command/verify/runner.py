"""Runs the checklist of one stack: reads its config and outputs through the engine, then the
live systems (Azure and Ocelot, or the sandbox's stand-ins), and reports.

The endpoints and credentials are arguments of the clients: Azure's, or the sandbox's emulators
(whose command has already made the process trust the sandbox's CA and find its identity
endpoint, as `sandbox.session.running` does for the whole command)."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from azure.core.credentials import TokenCredential
from azure.identity import DefaultAzureCredential
from pulumi import automation as auto

from components.azure_reads import Endpoints, LiveSources
from components.azure_reads import sandbox_endpoints as endpoints_at
from components.entra_auth import token_source
from components.ocelot.api import OcelotClient
from lkps.config import decode, parse_settings
from lkps.settings import StackSettings
from sandbox.session import NAMESPACE, Sandbox
from stack_command.verify.checklist import Context, verify
from stack_command.verify.model import Report
from stack_command.verify.rights import RightCheck, check_rights


def stack_settings_and_outputs(stack: auto.Stack) -> tuple[Any, dict[str, Any]]:
    """The stack's validated settings (its config as the engine decrypts it) and outputs."""
    prefix = f"{NAMESPACE}:"
    config = stack.get_all_config()
    raw = {
        k.removeprefix(prefix): decode(v.value) for k, v in config.items() if k.startswith(prefix)
    }
    secret = {k.removeprefix(prefix) for k, v in config.items() if v.secret}
    settings = parse_settings(raw, stack.name, secret)
    return settings, {key: value.value for key, value in stack.outputs().items()}


def sandbox_endpoints(sandbox: Sandbox) -> Endpoints:
    return endpoints_at(sandbox.entra.url)


def run_checklist(
    stack: auto.Stack,
    sandbox: Sandbox | None,
    other_outputs: Mapping[str, Any] | None,
    only: str | None,
    token_check: bool,
    progress: Callable[[int, int], None] | None = None,
    held_key_ids: frozenset[str] | None = None,
    interrupted: bool = False,
) -> Report:
    """`held_key_ids` and `interrupted` come from the stack's state, as in `Context`."""
    settings, outputs = stack_settings_and_outputs(stack)
    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    sources = LiveSources(credential, sandbox_endpoints(sandbox) if sandbox else Endpoints())
    ocelot = OcelotClient(
        base_url=sandbox.ocelot.base_url if sandbox else settings.ocelot.api_url,
        token=ocelot_token(settings, credential),
        timeout=settings.ocelot.request_timeout_seconds,
        deadline=settings.ocelot.retry_deadline_seconds,
    )
    try:
        context = Context(
            stack=stack.name,
            settings=settings,
            outputs=outputs,
            other_outputs=other_outputs,
            sources=sources,
            ocelot=ocelot,
            today=datetime.now(UTC).date(),
            token_check=token_check,
            held_key_ids=held_key_ids,
            interrupted=interrupted,
            sandbox=sandbox is not None,
            workload_token=(
                sandbox.workload_issuer.mint if sandbox and sandbox.workload_issuer else None
            ),
        )
        return verify(context, only=only, progress=progress)
    finally:
        sources.close()
        credential.close()


def ocelot_token(settings: StackSettings, credential: TokenCredential) -> Callable[[], str]:
    """The bearer of the checklist's Ocelot reads: the static token if the config has one, else
    the running identity's Entra token for Ocelot's scope, asked once and kept until it is about
    to expire (an `az login` credential would otherwise start `az` for every read)."""
    static = settings.ocelot_token
    return token_source(
        settings.ocelot.token_scope, static.get_secret_value() if static else None, credential
    )


def run_rights_check(stack: auto.Stack, sandbox: Sandbox | None) -> list[RightCheck]:
    """The rights of the identity azure-identity signs in as, for this stack's vault."""
    settings, _ = stack_settings_and_outputs(stack)
    credential = DefaultAzureCredential(exclude_interactive_browser_credential=True)
    sources = LiveSources(credential, sandbox_endpoints(sandbox) if sandbox else Endpoints())
    try:
        return check_rights(sources, settings)
    finally:
        sources.close()
        credential.close()
