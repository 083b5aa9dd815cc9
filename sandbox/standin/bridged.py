"""What the Terraform bridge does with a resource's schema, for the stand-in types that keep their
whole state (pulumi/pulumi-terraform-bridge pkg/tfbridge/provider.go, with SDKv2 diff rules).

- Check fills in schema defaults and lists them under `__defaults`.
- Diff compares the last *state* (everything Read returned) with the checked inputs, over every
  input attribute: an Optional, non-Computed attribute that the program leaves out is planned
  empty, so a value set by hand shows as a removal; an Optional+Computed one keeps its state.
  Empty values (``""``, ``false``, ``0``, ``[]``, a block of empty values) equal an absent one.
  Paths under `ignoreChanges` drop out of the diff and keep their state in the plan.
- The detailed diff names property paths (`tags[2]`, `web.redirectUris[0]`).
- Read on a refresh returns the old inputs' keys with their values from the new state; on an
  import (no inputs) every input attribute that is set to other than its default.
- Check lists falsy defaults in `__defaults` too, as the real provider's recorded Check answer
  does (pulumi/pulumi-azuread provider/testdata/recorded/TestProviderUpgrade/ad-app).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sandbox.azuread_schema import Attribute
from sandbox.standin.wire import UNKNOWN, has_unknown, plain

ADD, ADD_REPLACE, DELETE, DELETE_REPLACE, UPDATE, UPDATE_REPLACE = range(6)
DEFAULTS_KEY = "__defaults"


@dataclass
class Plan:
    """The outcome of a Diff: changed top-level attributes, the replacing ones, and the paths."""

    changed: list[str] = field(default_factory=list)
    replaces: list[str] = field(default_factory=list)
    detailed: dict[str, int] = field(default_factory=dict)
    planned: dict[str, Any] = field(default_factory=dict)


def _empty(value: Any, defaults: Mapping[str, Any] | None = None) -> bool:
    defaults = defaults or {}
    if value is None or value == "" or value is False:
        return True
    if isinstance(value, int) and not isinstance(value, bool):
        return value == 0
    if isinstance(value, list | tuple):
        return not value
    if isinstance(value, dict):
        return all(_empty(item) or defaults.get(key) == item for key, item in value.items())
    return False


def _sort_key(item: Any) -> str:
    return json.dumps(item, sort_keys=True, default=str).lower()


def _ignored(name: str, ignore_changes: Iterable[str]) -> bool:
    return any(path == name or path.startswith((f"{name}.", f"{name}[")) for path in ignore_changes)


class Bridged:
    """Check, Diff, the planned state and Read's inputs for one schema."""

    def __init__(self, schema: Sequence[Attribute]) -> None:
        self.schema = {attribute.name: attribute for attribute in schema}
        self.inputs = frozenset(a.name for a in schema if a.is_input)
        self.computed = frozenset(a.name for a in schema if a.computed)
        self.required = frozenset(a.name for a in schema if a.required)
        self.force_new = frozenset(a.name for a in schema if a.force_new)
        self.set_valued = frozenset(a.name for a in schema if a.set_valued)

    def check(self, news: Mapping[str, Any]) -> tuple[dict[str, Any], list[tuple[str, str]]]:
        """The inputs with defaults filled in, and the failures (unknown or missing keys)."""
        failures = [
            (key, f"unknown property '{key}': the schema has no such attribute")
            for key in news
            if key not in self.inputs and not key.startswith("__")
        ]
        failures += [
            (key, f"missing required property '{key}'")
            for key in sorted(self.required)
            if news.get(key) is None
        ]
        checked = {key: value for key, value in news.items() if key != DEFAULTS_KEY}
        filled = []
        for attribute in self.schema.values():
            if attribute.default is not None and checked.get(attribute.name) is None:
                checked[attribute.name] = attribute.default
                filled.append(attribute.name)
        checked[DEFAULTS_KEY] = sorted(filled)
        return checked, failures

    def comparable(self, name: str, value: Any) -> Any:
        attribute = self.schema[name]
        value = plain(value)
        if _empty(value, attribute.nested_defaults):
            return None
        if attribute.set_valued and isinstance(value, list):
            items = [str(item).lower() if name == "owners" else item for item in value]
            return sorted(items, key=_sort_key)
        if attribute.kind == "blocks" and isinstance(value, list):
            return sorted(value, key=_sort_key)
        return value

    def plan(
        self, state: Mapping[str, Any], news: Mapping[str, Any], ignore_changes: Iterable[str] = ()
    ) -> Plan:
        """Diff and planned state in one: what Update would write, and why."""
        ignore = tuple(ignore_changes)
        plan = Plan()
        for name in sorted(self.inputs):
            attribute = self.schema[name]
            old = state.get(name)
            if _ignored(name, ignore):
                plan.planned[name] = old
                continue
            if name in news:
                new = news[name]
            elif attribute.computed:
                plan.planned[name] = old
                continue
            else:
                new = None
            plan.planned[name] = new
            if has_unknown(new):
                plan.changed.append(name)
                plan.detailed[name] = UPDATE_REPLACE if attribute.force_new else UPDATE
                if attribute.force_new:
                    plan.replaces.append(name)
                continue
            before, after = self.comparable(name, old), self.comparable(name, new)
            if before == after:
                continue
            plan.changed.append(name)
            paths: dict[str, int] = {}
            _paths(name, before, after, paths)
            if attribute.force_new:
                plan.replaces.append(name)
                paths = {path: kind + 1 for path, kind in paths.items()}
            plan.detailed.update(paths)
        return plan

    def read_inputs(
        self, state: Mapping[str, Any], old_inputs: Mapping[str, Any]
    ) -> dict[str, Any]:
        """Inputs after a Read: on a refresh the old keys with values from the new state; on an
        import every input attribute the object has set, except values equal to the default
        (pkg/tfbridge provider.go Read, extractInputsFromOutputs)."""
        if old_inputs:
            return {
                key: _extract(value, state[key], key in self.set_valued)
                if key in self.schema
                else value
                for key, value in old_inputs.items()
                if key not in self.schema or key in state
            }
        found = {
            name: state.get(name)
            for name in sorted(self.inputs)
            if not _empty(plain(state.get(name)), self.schema[name].nested_defaults)
            and (self.schema[name].required or state.get(name) != self.schema[name].default)
        }
        return {**found, DEFAULTS_KEY: []}

    def unknown_outputs(self) -> dict[str, Any]:
        return {name: UNKNOWN for name in sorted(self.computed - self.inputs)}


def _extract(old: Any, new: Any, is_set: bool = False) -> Any:
    """A refreshed input (schema.go extractInputs): the old value's shape, the new values; list
    elements only where the old input had them (a set's by content), never new ones."""
    if isinstance(old, list) and isinstance(new, list):
        if is_set:
            wanted = {_sort_key(item) for item in old}
            return [item for item in new if _sort_key(item) in wanted]
        return [_extract(o, n) for o, n in zip(old, new, strict=False)]
    if isinstance(old, dict) and isinstance(new, dict):
        return {k: _extract(v, new[k]) for k, v in old.items() if k in new}
    return new


def _paths(prefix: str, old: Any, new: Any, into: dict[str, int]) -> None:
    if old is None or new is None:
        into[prefix] = ADD if old is None else DELETE
        return
    if isinstance(old, dict) and isinstance(new, dict):
        for key in sorted(set(old) | set(new)):
            a, b = old.get(key), new.get(key)
            if plain(a) != plain(b):
                _paths(f"{prefix}.{key}", None if _empty(a) else a, None if _empty(b) else b, into)
        return
    if isinstance(old, list) and isinstance(new, list):
        for index in range(max(len(old), len(new))):
            a = old[index] if index < len(old) else None
            b = new[index] if index < len(new) else None
            if a != b:
                _paths(f"{prefix}[{index}]", a, b, into)
        return
    into[prefix] = UPDATE
