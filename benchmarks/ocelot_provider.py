"""Benchmark of the Ocelot provider against the emulator at the engine's parallelism.

N entries are created, read and deleted from 16 threads through the real provider, with Entra
tokens from azure-identity's managed-identity path served by the emulator, which runs in its own
process and adds a fixed latency to every API request. Prints, per operation, the HTTP requests
per operation, the wall time and its ratio to the floor N x requests-per-op x latency / 16, and
the token requests of the process. Exits 1 when a target is missed:
at most 1 request per operation, 1 token request per process and scope, 1.3 x the floor.

    uv run python benchmarks/ocelot_provider.py [--entries 200] [--latency 0.05]
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
from pulumi.dynamic import ConfigureRequest
from pulumi.dynamic.config import Config

from components.ocelot.provider import OcelotRouteAccessProvider
from lkps import rules

PARALLELISM = 16
PROJECT = "lkps-onboarding"
SCOPE = "api://devtools-np.bayer.com/ocelot/.default"
MAX_REQUESTS_PER_OP = 1.0
MAX_TOKEN_REQUESTS = 1
MAX_FLOOR_RATIO = 1.3


def start_emulator(latency: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "ocelot_emulator", "--port", "0", "--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    settings = dict(process.stdout.readline().strip().split("=", 1) for _ in range(3))
    return process, settings


def stats(api_url: str) -> dict[str, dict[str, int]]:
    root = api_url.split("/ocelot/")[0]
    result: dict[str, dict[str, int]] = httpx.get(f"{root}/_admin/stats").json()
    return result


def timed(calls: list[Callable[[], Any]]) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        list(pool.map(lambda call: call(), calls))
    return time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request")
    args = parser.parse_args()

    emulator, emulated = start_emulator(args.latency)
    try:
        os.environ["IDENTITY_ENDPOINT"] = emulated["IDENTITY_ENDPOINT"]
        os.environ["IDENTITY_HEADER"] = emulated["IDENTITY_HEADER"]
        api_url = emulated["OCELOT_API_URL"]
        provider = OcelotRouteAccessProvider()
        config = {
            f"{PROJECT}:environment": "np",
            f"{PROJECT}:ocelot": json.dumps({"apiUrl": api_url, "tokenScope": SCOPE}),
        }
        provider.configure(ConfigureRequest(Config(config, PROJECT)))
        routes = rules.route_ids("np")
        entries = [
            {
                "route_id": routes[index % len(routes)],
                "client_id": f"00000000-0000-4000-8000-{index:012d}",
                "beat_id": "BEAT12345678",
                "description": f"benchmark entry {index}",
            }
            for index in range(args.entries)
        ]
        created: list[Any] = []

        def create(props: dict[str, str]) -> Callable[[], None]:
            return lambda: created.append(provider.create(props))

        phases: list[tuple[str, str, list[Callable[[], Any]] | None]] = [
            ("create", "PUT total", [create(p) for p in entries]),
            ("read", "GET total", None),
            ("delete", "DELETE total", None),
        ]
        print(
            f"entries={args.entries} parallelism={PARALLELISM} latency={args.latency * 1000:.0f}ms"
        )
        print(
            f"{'operation':<10}{'requests/op':>12}{'wall s':>9}{'floor s':>9}{'ratio':>8}  target"
        )
        missed = False
        for name, counter, calls in phases:
            if name == "read":
                calls = [functools.partial(provider.read, r.id, r.outs) for r in created]
            elif name == "delete":
                calls = [functools.partial(provider.delete, r.id, r.outs) for r in created]
            assert calls is not None
            before = stats(api_url)["requests"].get(counter, 0)
            wall = timed(calls)
            requests = stats(api_url)["requests"].get(counter, 0) - before
            per_op = requests / args.entries
            floor = args.entries * per_op * args.latency / PARALLELISM
            ratio = wall / floor if floor else float("inf")
            ok = per_op <= MAX_REQUESTS_PER_OP and ratio <= MAX_FLOOR_RATIO
            missed |= not ok
            print(
                f"{name:<10}{per_op:>12.2f}{wall:>9.3f}{floor:>9.3f}{ratio:>8.2f}  "
                f"{'met' if ok else 'MISSED'}"
            )
        tokens = stats(api_url)["requests"].get("token", 0)
        token_ok = tokens <= MAX_TOKEN_REQUESTS
        missed |= not token_ok
        print(f"token requests per process and scope: {tokens}  {'met' if token_ok else 'MISSED'}")
        return 1 if missed else 0
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
