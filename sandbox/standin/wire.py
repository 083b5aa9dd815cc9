"""Property values on the provider wire: protobuf Structs with Pulumi's secret and unknown markers.

The markers are the engine's (pulumi/pulumi sdk/go/common/resource/sig and plugin/rpc.go): a
secret is `{SIG: SECRET_SIG, "value": v}`, an unknown is the string UNKNOWN.
"""

from __future__ import annotations

from typing import Any, Final

from google.protobuf import json_format, struct_pb2

SIG: Final = "4dabf18193072939515e22adb298388d"
SECRET_SIG: Final = "1b47061264138c4ac30d75fd1eb44270"
UNKNOWN: Final = "04da6b54-80e4-46f7-96ec-b56ff0331ba9"


class Secret:
    """A value the engine must keep secret."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __repr__(self) -> str:
        return "Secret(<hidden>)"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Secret) and other.value == self.value

    def __hash__(self) -> int:
        return hash(("secret", repr(self.value)))


def decode(struct: struct_pb2.Struct | None) -> dict[str, Any]:
    """A Struct as plain Python, secrets as `Secret`, whole numbers as ints."""
    if struct is None:
        return {}
    raw = json_format.MessageToDict(struct)
    return {key: _decode(value) for key, value in raw.items()}


def _decode(value: Any) -> Any:
    if isinstance(value, dict):
        if value.get(SIG) == SECRET_SIG:
            return Secret(_decode(value.get("value")))
        return {key: _decode(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_decode(item) for item in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def encode(values: dict[str, Any]) -> struct_pb2.Struct:
    """Nulls stay, as the real providers send them (`"owners": null` in their Create answers)."""
    struct = struct_pb2.Struct()
    struct.update({key: _encode(value) for key, value in values.items()})
    return struct


def _encode(value: Any) -> Any:
    if isinstance(value, Secret):
        return {SIG: SECRET_SIG, "value": _encode(value.value)}
    if isinstance(value, dict):
        return {key: _encode(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_encode(item) for item in value]
    return value


def plain(value: Any) -> Any:
    """The value with every secret marker taken off."""
    if isinstance(value, Secret):
        return plain(value.value)
    if isinstance(value, dict):
        return {key: plain(item) for key, item in value.items()}
    if isinstance(value, list):
        return [plain(item) for item in value]
    return value


def has_unknown(value: Any) -> bool:
    if isinstance(value, Secret):
        return has_unknown(value.value)
    if isinstance(value, dict):
        return any(has_unknown(item) for item in value.values())
    if isinstance(value, list):
        return any(has_unknown(item) for item in value)
    return bool(value == UNKNOWN)
