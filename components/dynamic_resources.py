"""What every dynamic resource of the stack needs around its registration."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from pulumi.dynamic import ResourceProvider


class ConfiguredProvider(ResourceProvider):
    """A provider whose settings and clients live in its own process, read in `configure`: it
    pickles with no state of its own (a few bytes, by reference to its class), so no setting,
    token or client reaches the state."""

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        return None


@contextmanager
def pickle_guard() -> Iterator[None]:
    """pulumi.dynamic's serialize_provider wraps pickle._Pickler._batch_setitems once more on
    every call and never unwraps it (pulumi/pulumi#17803), so a process building about a
    thousand dynamic resources hits RecursionError; put the original back each time."""
    batch_setitems = pickle._Pickler._batch_setitems  # type: ignore[attr-defined]
    try:
        yield
    finally:
        pickle._Pickler._batch_setitems = batch_setitems  # type: ignore[attr-defined]
