"""Every environment switch of the project, and the one way production code reads them.

The engine starts the program's plugins (the stand-ins, the Ocelot and vault providers, the
policy pack) as processes of their own: what the stack command and the sandbox tell them travels
in their environment. The names are here, once. A sandbox redirect is honoured only when it
names a loopback URL, so that no setting can send a real stack's requests anywhere else.
"""

from __future__ import annotations

import os
from datetime import date
from typing import Final

from lkps.rules import is_loopback_url

# Where the sandbox's stand-ins answer for Azure and Ocelot (loopback only).
SANDBOX_ENTRA_URL: Final = "LKPS_SANDBOX_ENTRA_URL"
SANDBOX_KEYVAULT_URL: Final = "LKPS_SANDBOX_KEYVAULT_URL"
SANDBOX_OCELOT_API_URL: Final = "LKPS_SANDBOX_OCELOT_API_URL"
# The sandbox folder a stand-in plugin serves (it refuses to start without one).
SANDBOX_DIR: Final = "LKPS_SANDBOX_DIR"
# Where the stack command keeps its sandboxes (default `.sandbox/`).
SANDBOX_ROOT: Final = "LKPS_SANDBOX_ROOT"
# Seconds between the stand-ins' simulated consistency polls (off when unset).
SANDBOX_CONSISTENCY_SECONDS: Final = "LKPS_SANDBOX_CONSISTENCY_SECONDS"
# The simulated date (`--today`) of the program and the policy pack.
SIMULATED_DATE: Final = "LKPS_TODAY"
# A person's reason to run as another identity than the pinned deployer.
BREAK_GLASS: Final = "LKPS_BREAK_GLASS"
# How often a plugin checks that its engine is still there.
ENGINE_WATCH_INTERVAL: Final = "LKPS_ENGINE_WATCH_INTERVAL_SECONDS"


def setting(name: str) -> str | None:
    """The value of switch `name`, or None when it is unset or empty."""
    return os.environ.get(name) or None


def sandbox_url(name: str) -> str | None:
    """The loopback URL the sandbox set for switch `name`, or None: unset, or not loopback."""
    value = setting(name)
    return value if value and is_loopback_url(value) else None


def simulated_date_env(today: date | None) -> dict[str, str]:
    """The environment that tells the program's processes and the policy pack the date."""
    return {SIMULATED_DATE: today.isoformat()} if today else {}
