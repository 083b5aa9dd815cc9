"""Runs the Ocelot emulator on 127.0.0.1 until interrupted.

python -m sandbox.ocelot --port 8080 --token dev-token [--approval-route HOST] [--fault-rate 0.3]
"""

from __future__ import annotations

import argparse
import contextlib
import signal
import sys
import threading

from sandbox.ocelot.faults import FaultPlan
from sandbox.ocelot.server import OcelotEmulator
from sandbox.ocelot.store import OcelotStore


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.ocelot", description=__doc__)
    parser.add_argument("--port", type=int, default=8080, help="0 picks a free port")
    parser.add_argument("--token", action="append", default=[], help="an accepted static token")
    parser.add_argument(
        "--approval-route", action="append", default=[], help="a route whose additions are pending"
    )
    parser.add_argument("--fault-rate", type=float, default=0.0, help="share of failing requests")
    parser.add_argument("--latency", type=float, default=0.0, help="seconds added to each request")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
    args = parser.parse_args(argv)

    emulator = OcelotEmulator(
        tokens=frozenset(args.token),
        store=OcelotStore(approval_routes=frozenset(args.approval_route)),
        faults=FaultPlan.transient(args.fault_rate, seed=args.seed, latency_seconds=args.latency),
        port=args.port,
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with emulator:
        print(f"OCELOT_API_URL={emulator.base_url}", flush=True)
        print(f"IDENTITY_ENDPOINT={emulator.identity_endpoint}", flush=True)
        print(f"IDENTITY_HEADER={emulator.identity_header}", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            stop.wait()
    return 0


if __name__ == "__main__":
    sys.exit(main())
