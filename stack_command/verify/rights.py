"""`scripts/stack rights <stack>`: does the running identity have the rights of `lkps.rights`?

Graph permissions are read from the identity's app role assignments; vault rights from Azure's
effective permissions on the vault (RBAC). Each right is granted, missing, or unknown when it
could not be read; a missing right that the stack's config does not need is reported as such.
Microsoft Entra Agent ID's rights are needed while an application is on `identity: agentId`;
the directory role people need to act on its blueprint by hand is then named too, as no right
of the deployer's (directory roles are not read).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Literal

from components.azure_reads import LiveSources, RefusedError, UnreachableError
from lkps.rights import AGENT_ID_ROLES, ONLY_ON_AGENT_ID, RIGHTS, Right
from lkps.settings import StackSettings

Status = Literal["granted", "missing", "not needed", "unknown"]


@dataclass(frozen=True)
class RightCheck:
    """One right and what the check found."""

    right: Right
    status: Status
    detail: str = ""


def _on_agent_id(settings: StackSettings) -> bool:
    return any(app.on_agent_id for app in settings.applications)


def _needed(right: Right, settings: StackSettings) -> bool:
    if right.name == "Application.Read.All":
        return _on_agent_id(settings) or any(app.adopt is not None for app in settings.applications)
    if right.optional_when == ONLY_ON_AGENT_ID:
        return _on_agent_id(settings)
    return not right.name.endswith("/getSecret/action")


def _allowed(action: str, permissions: Sequence[Mapping[str, Sequence[str]]], data: bool) -> bool:
    """Whether Azure's permission blocks allow `action` (wildcards, case-insensitive)."""
    allow, deny = ("dataActions", "notDataActions") if data else ("actions", "notActions")

    def matches(patterns: Sequence[str]) -> bool:
        return any(fnmatch.fnmatchcase(action.lower(), p.lower()) for p in patterns)

    return any(
        matches(block.get(allow, [])) and not matches(block.get(deny, [])) for block in permissions
    )


def check_rights(sources: LiveSources, settings: StackSettings) -> list[RightCheck]:
    """Every right of `lkps.rights` for the running identity on this stack's vault."""
    checks: list[RightCheck] = []
    try:
        object_id = sources.running_object_id()
        roles: set[str] | str = sources.app_roles_granted(object_id)
    except (RefusedError, UnreachableError) as exc:
        roles = str(exc)
    vault = settings.key_vault
    try:
        permissions: list[dict[str, list[str]]] | str = sources.vault_permissions(
            vault.subscription_id, vault.resource_group_name, vault.vault_name
        )
    except (RefusedError, UnreachableError) as exc:
        permissions = str(exc)
    for right in RIGHTS:
        found = roles if right.plane == "graph" else permissions
        if isinstance(found, str):
            checks.append(RightCheck(right, "unknown", found))
            continue
        if right.plane == "graph":
            assert isinstance(found, set)
            granted = any(name in found for name in right.accepted)
        else:
            assert isinstance(found, list)
            granted = _allowed(right.name, found, data=right.plane == "data")
        if granted:
            checks.append(RightCheck(right, "granted"))
        elif _needed(right, settings):
            checks.append(RightCheck(right, "missing", right.needed_for))
        else:
            checks.append(RightCheck(right, "not needed", right.optional_when))
    if _on_agent_id(settings):
        checks.extend(
            RightCheck(role, "not needed", f"not the deployer's; needed by {role.needed_for}")
            for role in AGENT_ID_ROLES
        )
    return checks


def as_text(stack: str, checks: Sequence[RightCheck]) -> str:
    """One line per right, the missing ones saying what needs them."""
    width = max(len(check.right.name) for check in checks)
    lines = [f"Rights of the running identity for stack {stack}:"]
    for check in checks:
        mark = {"granted": "ok", "missing": "MISSING", "not needed": "--", "unknown": "??"}
        line = f"  {mark[check.status]:<7} {check.right.plane:<10} {check.right.name:<{width}}"
        if check.detail:
            line += f"  {check.detail}"
        lines.append(line.rstrip())
    missing = sum(check.status in ("missing", "unknown") for check in checks)
    lines.append(
        "All rights present." if not missing else f"{missing} right(s) missing or unknown."
    )
    return "\n".join(lines)
