"""Where the Ocelot provider sends its requests: the configured API, or the sandbox's emulator.

The sandbox (`scripts/stack <verb> <stack> --sandbox`) keeps the stack config as committed, so
that validation, outputs and policies judge the real values, and sends the provider's requests
to its local Ocelot emulator instead, as its stand-in plugins do for Azure
(`switches.SANDBOX_OCELOT_API_URL`, honoured only for a loopback URL).
"""

from __future__ import annotations

from lkps import switches


def api_base_url(configured: str) -> str:
    return switches.sandbox_url(switches.SANDBOX_OCELOT_API_URL) or configured
