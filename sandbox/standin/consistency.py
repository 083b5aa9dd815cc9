"""The waits terraform-provider-azuread v3.9.0 makes for Graph's eventual consistency, simulated
when `LKPS_SANDBOX_CONSISTENCY_SECONDS` is set (off by default).

internal/helpers/consistency/consistency.go: after removing an object or credential the provider
polls until it is gone five times in a row, at least `MinTimeout` (5 s) apart; after adding a
password it polls until Graph shows it five times in a row (application_password_resource.go).
The emulator is consistent at once, so the stand-in only sleeps through the polls it would make:
`seconds` between polls, five polls. The real Graph replication delay is not emulated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Final

from lkps import switches

CONTINUOUS_TARGET_OCCURENCE: Final = 5


def poll_interval() -> float:
    try:
        return max(0.0, float(switches.setting(switches.SANDBOX_CONSISTENCY_SECONDS) or 0))
    except ValueError:
        return 0.0


def wait_until(settled: Callable[[], bool], what: str) -> None:
    """Polls `settled` as the provider does; fails as it does when the object never settles."""
    interval = poll_interval()
    if interval == 0:
        return
    seen = 0
    for _ in range(CONTINUOUS_TARGET_OCCURENCE * 4):
        time.sleep(interval)
        seen = seen + 1 if settled() else 0
        if seen == CONTINUOUS_TARGET_OCCURENCE:
            return
    raise TimeoutError(f"Waiting for {what}")
