"""An Ocelot emulator: the route access contract of components/ocelot/openapi.yaml over real HTTP.

For tests and local runs only; it serves on 127.0.0.1.
"""

from sandbox.ocelot.faults import FaultPlan
from sandbox.ocelot.server import OcelotEmulator
from sandbox.ocelot.store import OcelotStore

__all__ = ["FaultPlan", "OcelotEmulator", "OcelotStore"]
