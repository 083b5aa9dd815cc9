"""An Ocelot emulator: the route access contract of components/ocelot/openapi.yaml over real HTTP.

For tests and local runs only; it serves on 127.0.0.1.
"""

from ocelot_emulator.faults import FaultPlan
from ocelot_emulator.server import OcelotEmulator
from ocelot_emulator.store import OcelotStore

__all__ = ["FaultPlan", "OcelotEmulator", "OcelotStore"]
