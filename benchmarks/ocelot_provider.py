"""Benchmark of the Ocelot provider against the emulator at the engine's parallelism.

N entries are created, read and deleted from 16 threads through the real provider, with Entra
tokens from azure-identity's managed-identity path served by the emulator, which runs in its own
process and adds a fixed latency to every API request. Prints, per operation, the HTTP requests
per operation, the wall time and its ratio to the floor N x requests-per-op x latency / 16, and
the token requests of the process, and the provider process's CPU per request. Exits 1 when a
target is missed: at most 1 request per operation, 1 token request per process and scope,
1.3 x the floor (with latency), 1.5 ms of CPU per request (at zero latency, `--cpu`).

    uv run python benchmarks/ocelot_provider.py [--entries 200] [--latency 0.05]
    uv run python benchmarks/ocelot_provider.py --cpu      # zero latency, CPU per request
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
PROJECT = rules.PROJECT
SCOPE = "api://devtools-np.bayer.com/ocelot/.default"
MAX_REQUESTS_PER_OP = 1.0
MAX_TOKEN_REQUESTS = 1
MAX_FLOOR_RATIO = 1.3
MAX_CPU_MS_PER_REQUEST = 1.5


def start_emulator(latency: float) -> tuple[subprocess.Popen[str], dict[str, str]]:
    process = subprocess.Popen(  # noqa: S603 - this interpreter, fixed arguments
        [sys.executable, "-m", "sandbox.ocelot", "--port", "0", "--latency", str(latency)],
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


def timed(calls: list[Callable[[], Any]]) -> tuple[float, float]:
    """Wall seconds and this process's CPU seconds for running the calls from 16 threads."""
    started, cpu = time.perf_counter(), time.process_time()
    with ThreadPoolExecutor(max_workers=PARALLELISM) as pool:
        list(pool.map(lambda call: call(), calls))
    return time.perf_counter() - started, time.process_time() - cpu


def httpx_floor(emulated: dict[str, str], count: int = 400) -> float:
    """CPU ms per request of a bare pooled httpx client doing the same PUTs from 16 threads:
    the floor of any provider built on httpx in this process."""
    token = httpx.get(
        emulated["IDENTITY_ENDPOINT"], headers={"X-IDENTITY-HEADER": emulated["IDENTITY_HEADER"]}
    ).json()["access_token"]
    route = rules.route_ids("np")[0]
    body = {"beatId": "BEAT12345678", "description": "floor"}
    with httpx.Client(
        base_url=emulated["OCELOT_API_URL"], headers={"Authorization": f"Bearer {token}"}
    ) as client:

        def put(index: int) -> Callable[[], Any]:
            path = f"/routes/{route}/clients/00000000-0000-4000-9000-{index:012d}"
            return lambda: client.put(path, json=body)

        put(0)()
        _, cpu = timed([put(index) for index in range(1, count + 1)])
        for index in range(count + 1):
            client.delete(f"/routes/{route}/clients/00000000-0000-4000-9000-{index:012d}")
    return 1000 * cpu / count


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=200)
    parser.add_argument("--latency", type=float, default=0.05, help="seconds per API request")
    parser.add_argument(
        "--cpu", action="store_true", help="zero latency: judge CPU per request, not the floor"
    )
    args = parser.parse_args()
    if args.cpu:
        args.latency = 0.0

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
            f"{'operation':<10}{'requests/op':>12}{'wall s':>9}{'floor s':>9}{'ratio':>8}"
            f"{'cpu ms/req':>12}  target"
        )
        missed = False
        for name, counter, calls in phases:
            if name == "read":
                calls = [functools.partial(provider.read, r.id, r.outs) for r in created]
            elif name == "delete":
                calls = [functools.partial(provider.delete, r.id, r.outs) for r in created]
            assert calls is not None
            before = stats(api_url)["requests"].get(counter, 0)
            wall, cpu = timed(calls)
            requests = stats(api_url)["requests"].get(counter, 0) - before
            per_op = requests / args.entries
            floor = args.entries * per_op * args.latency / PARALLELISM
            cpu_ms = 1000 * cpu / requests if requests else float("inf")
            ok = per_op <= MAX_REQUESTS_PER_OP
            if floor:
                ratio = f"{wall / floor:>8.2f}"
                ok &= wall / floor <= MAX_FLOOR_RATIO
            else:
                ratio = f"{'n/a':>8}"
                ok &= cpu_ms <= MAX_CPU_MS_PER_REQUEST
            missed |= not ok
            print(
                f"{name:<10}{per_op:>12.2f}{wall:>9.3f}{floor:>9.3f}{ratio}{cpu_ms:>12.2f}  "
                f"{'met' if ok else 'MISSED'}"
            )
        tokens = stats(api_url)["requests"].get("token", 0)
        if not args.latency:
            print(f"httpx alone, same requests and threads: {httpx_floor(emulated):.2f} ms CPU/req")
        token_ok = tokens <= MAX_TOKEN_REQUESTS
        missed |= not token_ok
        print(f"token requests per process and scope: {tokens}  {'met' if token_ok else 'MISSED'}")
        return 1 if missed else 0
    finally:
        emulator.terminate()
        emulator.wait(timeout=10)


if __name__ == "__main__":
    sys.exit(main())
