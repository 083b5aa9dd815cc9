"""Where the Ocelot provider sends its requests: the configured API, or the sandbox's emulator.

The sandbox (`scripts/stack <verb> <stack> --sandbox`) keeps the stack config as committed, so
that validation, outputs and policies judge the real values, and sends the provider's requests
to its local Ocelot emulator instead, as its stand-in plugins do for Azure. It says so with
`LKPS_SANDBOX_OCELOT_API_URL`, which is honoured only for a loopback URL.
"""

from __future__ import annotations

import os
from typing import Final

from lkps import rules

SANDBOX_OCELOT_URL_VARIABLE: Final = "LKPS_SANDBOX_OCELOT_API_URL"


def api_base_url(configured: str) -> str:
    redirect = os.environ.get(SANDBOX_OCELOT_URL_VARIABLE, "")
    if redirect and rules.is_loopback_url(redirect):
        return redirect
    return configured
