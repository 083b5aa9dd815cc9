"""The tests' way to the program under Pulumi mocks (`sandbox.mocks`) and to the committed stack
files."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sandbox.mocks import (
    CANARY_SECRET,
    DEPLOYER_OBJECT_ID,
    PROJECT,
    ProgramRun,
    Registration,
    as_engine_config,
    run_program,
)
from sandbox.session import stack_config as committed_config

ROOT = Path(__file__).resolve().parents[2]


def stack_config(environment: str) -> dict[str, Any]:
    """The committed stack file's config as raw values (namespace removed)."""
    return committed_config(ROOT, environment)


__all__ = [
    "CANARY_SECRET",
    "DEPLOYER_OBJECT_ID",
    "PROJECT",
    "ROOT",
    "ProgramRun",
    "Registration",
    "as_engine_config",
    "run_program",
    "stack_config",
]
