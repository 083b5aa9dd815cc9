"""Stack settings: raw config in, validated `StackSettings` (or every problem at once) out.

All problems of a stack's config are reported at once, one line each, naming the key and the
allowed form, before any resource is registered: field errors (`lkps.config_messages`) and the
rules across keys (`lkps.config_checks`).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from lkps.config_checks import consistency_problems
from lkps.config_messages import describe
from lkps.settings import OcelotAccessSettings, StackSettings

M = TypeVar("M", bound=BaseModel)


class ConfigError(Exception):
    """Invalid stack config; `problems` holds one line per problem, each naming its key."""

    def __init__(self, subject: str, problems: list[str]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {problem}" for problem in problems)
        super().__init__(f"{subject} has {len(problems)} config problem(s):\n{lines}")


def _validate(
    model: type[M], raw: Mapping[str, Any], secret_keys: Iterable[str]
) -> tuple[M | None, list[str]]:
    try:
        return model.model_validate(raw), []
    except ValidationError as exc:
        hidden = set(secret_keys)
        return None, [describe(error, hidden) for error in exc.errors(include_url=False)]


def parse_settings(
    raw: Mapping[str, Any], stack: str, secret_keys: Iterable[str] = ()
) -> StackSettings:
    """Validate raw config values (camelCase keys, no namespace); raise ConfigError listing all."""
    settings, problems = _validate(StackSettings, raw, secret_keys)
    problems.extend(consistency_problems(raw, stack))
    if "ocelotToken" in raw and "ocelotToken" not in set(secret_keys):
        problems.append(
            "ocelotToken: must be stored encrypted: "
            "pulumi config set --secret ocelotToken (then rotate the exposed token)"
        )
    if problems or settings is None:
        raise ConfigError(f"stack '{stack}'", list(dict.fromkeys(problems)))
    return settings


def parse_ocelot_access_settings(raw: Mapping[str, Any]) -> OcelotAccessSettings:
    """Validate the config the Ocelot provider needs; raise ConfigError listing all problems."""
    settings, problems = _validate(OcelotAccessSettings, raw, secret_keys={"ocelotToken"})
    if problems or settings is None:
        raise ConfigError("the Ocelot provider's stack config", problems)
    return settings


def ocelot_access_settings(get: Callable[[str], Any]) -> OcelotAccessSettings:
    """The Ocelot provider's settings, read in its own process from the stack config that the
    engine hands it (`get(key)` without the namespace): the keys of `OcelotAccessSettings`."""
    keys = [field.alias or name for name, field in OcelotAccessSettings.model_fields.items()]
    return parse_ocelot_access_settings(
        {key: decode(get(key)) for key in keys if get(key) is not None}
    )


def decode(value: Any) -> Any:
    """A config value as the engine passes it (a string, JSON for objects), decoded."""
    if not isinstance(value, str):
        return value
    try:
        return json.loads(value)
    except ValueError:
        return value
