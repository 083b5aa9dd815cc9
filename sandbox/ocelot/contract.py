"""What the emulator enforces, on its own terms: the request rules of the contract
(`components/ocelot/openapi.yaml`), read from it, and the four LKPS routes Ocelot serves.

The emulator does not share the client's rules (`lkps.rules`), so that a change on one side shows
up as a disagreement in the contract tests instead of moving both sides at once.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any, Final

import yaml

OPENAPI: Final = Path(__file__).resolve().parents[2] / "components" / "ocelot" / "openapi.yaml"

_schemas: dict[str, Any] = yaml.safe_load(OPENAPI.read_text())["components"]["schemas"]
_request: dict[str, Any] = _schemas["ClientRequest"]["properties"]

BEAT_ID: Final = re.compile(_request["beatId"]["pattern"])
BEAT_ID_FORM: Final = f"a string matching {_request['beatId']['pattern']}"
DESCRIPTION_MAX_LENGTH: Final[int] = _request["description"]["maxLength"]
UUID: Final = re.compile(r"[0-9a-fA-F]{8}-(?:[0-9a-fA-F]{4}-){3}[0-9a-fA-F]{12}")

# Route id (the LKPS host) -> (environment, region): one route per LKPS host.
ROUTES: Final[dict[str, tuple[str, str]]] = {
    "eu-livekit-platform-service-np.int.bayer.com": ("np", "eu"),
    "us-livekit-platform-service-np.int.bayer.com": ("np", "us"),
    "eu-livekit-platform-service.int.bayer.com": ("prod", "eu"),
    "us-livekit-platform-service.int.bayer.com": ("prod", "us"),
}
