"""Pydantic's validation errors as the config's one-line problems, each naming its key."""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from typing import Any, Final

from pydantic import BaseModel

from lkps.settings import StackSettings


def _key(loc: Iterable[int | str]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else part)
    return path


_MESSAGES: Final[Mapping[str, str]] = {
    "missing": "is required",
    "extra_forbidden": "is not a known key",
    "int_parsing": "must be a whole number",
    "int_type": "must be a whole number",
    "int_from_float": "must be a whole number",
    "bool_parsing": "must be true or false",
    "bool_type": "must be true or false",
    "string_type": "must be a string",
    "list_type": "must be a list",
    "model_type": "must be an object with keys",
    "model_attributes_type": "must be an object with keys",
    "dict_type": "must be an object with keys",
    "date_from_datetime_parsing": "must be a date, YYYY-MM-DD",
    "date_parsing": "must be a date, YYYY-MM-DD",
    "date_type": "must be a date, YYYY-MM-DD",
    "date_from_datetime_inexact": "must be a date, YYYY-MM-DD",
}


def _message(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    ctx = error.get("ctx", {})
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind == "literal_error":
        return f"must be one of {ctx['expected']}"
    if kind in ("greater_than_equal", "less_than_equal"):
        bound = ctx.get("ge", ctx.get("le"))
        relation = "at least" if kind == "greater_than_equal" else "at most"
        return f"must be {relation} {bound}"
    if kind in ("too_short", "too_long", "string_too_long"):
        if "min_length" in ctx:
            return f"must have at least {ctx['min_length']} item(s)"
        unit = "item(s)" if isinstance(error.get("input"), list) else "character(s)"
        return f"must have at most {ctx['max_length']} {unit}"
    return _MESSAGES.get(kind, str(error["msg"]))


def _known_keys(loc: tuple[int | str, ...]) -> str:
    model: type[BaseModel] = StackSettings
    for part in loc[:-1]:
        if isinstance(part, int):
            continue
        field = next((f for f in model.model_fields.values() if f.alias == part), None)
        nested = [t for t in _model_types(field.annotation if field else None)]
        if not nested:
            return ""
        model = nested[0]
    return ", ".join(f.alias or name for name, f in model.model_fields.items())


def _model_types(annotation: Any) -> list[type[BaseModel]]:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    return [m for arg in getattr(annotation, "__args__", ()) for m in _model_types(arg)]


def describe(error: Mapping[str, Any], secret_keys: set[str]) -> str:
    """One validation error as a line naming its key; a secret key's value is never shown."""
    key = _key(error["loc"])
    message = _message(error)
    if error["type"] == "extra_forbidden":
        message += f" (known keys: {_known_keys(tuple(error['loc']))})"
    if error["type"] in ("missing", "extra_forbidden") or key.split(".")[0] in secret_keys:
        return f"{key}: {message}"
    value = error.get("input")
    shown = value if isinstance(value, str | int | float | bool) else json.dumps(value)
    return f"{key}: {shown!r} {message}"
