"""What a preview does, from the engine's structured events (Automation API `on_event`)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from pulumi.automation import EngineEvent


@dataclass(frozen=True)
class Step:
    """One resource step of the preview: its operation, resource and changed properties."""

    op: str
    urn: str
    type: str
    old_inputs: Mapping[str, Any]
    new_inputs: Mapping[str, Any]
    changed: tuple[str, ...]
    protected: bool
    retained: bool = False

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]


@dataclass(frozen=True)
class Drift:
    """What a refresh found live that differs from the state the last run recorded: the
    outputs before and after (secret outputs arrive masked), or `gone` when it was deleted."""

    urn: str
    type: str
    recorded: Mapping[str, Any]
    live: Mapping[str, Any]
    gone: bool

    @property
    def name(self) -> str:
        return self.urn.rsplit("::", 1)[-1]

    @property
    def changed(self) -> tuple[str, ...]:
        keys = set(self.recorded) | set(self.live)
        return tuple(sorted(k for k in keys if self.recorded.get(k) != self.live.get(k)))


@dataclass(frozen=True)
class PolicyResult:
    """One policy violation (mandatory) or advisory finding."""

    policy: str
    level: str
    message: str
    urn: str | None


@dataclass(frozen=True)
class Note:
    """A message the program or a provider logged on a resource (info and warnings)."""

    severity: str
    message: str
    urn: str | None


@dataclass
class PreviewEvents:
    """Collects a preview's steps, policy results and notes as the engine emits them."""

    steps: list[Step] = field(default_factory=list)
    drift: list[Drift] = field(default_factory=list)
    policies: list[PolicyResult] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    failed: bool = False

    def __call__(self, event: EngineEvent) -> None:
        if event.resource_pre_event is not None:
            metadata = event.resource_pre_event.metadata
            old, new = metadata.old, metadata.new
            changed = tuple(sorted((metadata.detailed_diff or {}).keys() or metadata.diffs or ()))
            self.steps.append(
                Step(
                    op=str(getattr(metadata.op, "value", metadata.op)),
                    urn=metadata.urn,
                    type=metadata.type,
                    old_inputs=dict(old.inputs or {}) if old else {},
                    new_inputs=dict(new.inputs or {}) if new else {},
                    changed=changed,
                    protected=bool(old.protect) if old else False,
                    retained=bool(old.retain_on_delete) if old else False,
                )
            )
        elif event.res_outputs_event is not None:
            metadata = event.res_outputs_event.metadata
            if str(getattr(metadata.op, "value", metadata.op)) == "refresh" and metadata.old:
                live = dict(metadata.new.outputs or {}) if metadata.new else {}
                found = Drift(
                    metadata.urn, metadata.type, dict(metadata.old.outputs or {}), live, not live
                )
                if found.gone or found.changed:
                    self.drift.append(found)
        elif event.policy_event is not None:
            policy = event.policy_event
            self.policies.append(
                PolicyResult(
                    policy.policy_name,
                    policy.enforcement_level,
                    policy.message.strip(),
                    policy.resource_urn,
                )
            )
        elif event.diagnostic_event is not None:
            diagnostic = event.diagnostic_event
            if diagnostic.severity in ("info", "warning", "error") and not diagnostic.ephemeral:
                self.notes.append(
                    Note(diagnostic.severity, diagnostic.message.strip(), diagnostic.urn)
                )
                self.failed |= diagnostic.severity == "error"
        elif event.res_op_failed_event is not None:
            self.failed = True
