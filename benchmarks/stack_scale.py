"""How the stack's cost grows with the number of applications, against the floor.

Through the real engine against the sandbox, each size in a fresh process, for the project (its
program and policy pack, as `scripts/stack` runs it) and for the floor (`benchmarks/floor.py`:
the same raw resources, nothing else): the preview of a stack that does not exist yet, its `up`,
and a no-change preview after it. Prints the seconds at each size, the ratio to the floor, and
the marginal seconds per added application between sizes, which is what shows growth faster
than linear (a ratio of time per app between the largest and smallest size cannot: the smallest
is all fixed cost).

The fleet figure: `--fleet-stacks` team stacks totalling `--fleet-apps` applications, each
previewed (new stack, policy pack included) in its own process as a CI job would, `--workers` at
a time: the wall time here, and the per-stack time one job sees.

`--mocks-sizes` also times the program's evaluation under Pulumi mocks (the test harness).

    uv run python benchmarks/stack_scale.py [--sizes 10 50 100] [--fleet-apps 1000]
        [--fleet-stacks 20] [--workers 2] [--mocks-sizes 1 100 1000]
"""

from __future__ import annotations

import argparse
import copy
import json
import statistics
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

from lkps import resource_types

ROOT = Path(__file__).resolve().parents[1]
VERBS = ("new preview", "up", "no-change preview")


def applications(count: int) -> list[dict[str, Any]]:
    """`count` applications shaped like the committed np config's first one."""
    document = yaml.safe_load((ROOT / "Pulumi.np.yaml").read_text())
    template = document["config"]["lkps-onboarding:applications"][0]
    return [{**template, "name": f"SCALE-APP-{index:04d}", "clients": []} for index in range(count)]


def measure_mocks(count: int) -> dict[str, float]:
    from sandbox.mocks import run_program
    from sandbox.session import stack_config

    raw = copy.deepcopy(stack_config(ROOT, "np"))
    raw["applications"] = applications(count)
    started = time.perf_counter()
    run = run_program(raw, "np", datetime.now(UTC).date())
    seconds = time.perf_counter() - started
    assert len(run.of_type(resource_types.APPLICATION)) == count
    return {"mocks": seconds}


def measure_sandbox(kind: str, count: int, verbs: tuple[str, ...] = VERBS) -> dict[str, float]:
    """`verbs` of a new np stack of `count` applications, for `kind` project or floor."""
    sys.path.insert(0, str(ROOT))
    from benchmarks.floor import floor_program
    from program import run
    from sandbox.session import SandboxFolder, running, stack_config
    from stack_command.engine import open_stack, policy_options, workspace_env

    with tempfile.TemporaryDirectory() as temp:
        project = Path(temp) / "project"
        project.mkdir()
        (project / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
        document = yaml.safe_load((ROOT / "Pulumi.np.yaml").read_text())
        document["config"]["lkps-onboarding:applications"] = applications(count)
        (project / "Pulumi.np.yaml").write_text(yaml.safe_dump(document))
        folder = SandboxFolder(Path(temp) / "sandbox", "np")
        config = stack_config(project, "np")
        figures = {}

        def program() -> None:
            if kind == "floor":
                floor_program(config)
            else:
                run()

        with running(folder, project) as sandbox:
            stack = open_stack(
                "np",
                program,
                folder.work_dir,
                {**workspace_env(), **sandbox.env},
                pulumi_home=folder.pulumi_home,
                secrets_provider="passphrase",
            )
            packs = policy_options("np") if kind == "project" else {}
            for verb in verbs:
                started = time.perf_counter()
                policy_packs = packs.get("policy_packs")
                configs = packs.get("policy_pack_configs")
                if verb == "up":
                    stack.up(policy_packs=policy_packs, policy_pack_configs=configs)
                else:
                    preview = stack.preview(policy_packs=policy_packs, policy_pack_configs=configs)
                    changes = preview.change_summary
                    if verb == "no-change preview" and {str(op) for op in changes} != {"same"}:
                        raise SystemExit(f"{kind}: the no-change preview changes {changes}")
                figures[verb] = time.perf_counter() - started
        return figures


def in_fresh_process(kind: str, count: int, *verbs: str) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter and this file
        [sys.executable, __file__, "--one", kind, str(count), *verbs],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} at {count} applications failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(
    sizes: list[int], project: dict[int, dict[str, float]], floor: dict[int, dict[str, float]]
) -> None:
    for verb in VERBS:
        print(f"\n{verb} (seconds; marginal = seconds per added application since the size above)")
        print(f"{'apps':>6}{'project':>10}{'floor':>10}{'ratio':>8}{'marginal':>10}{'floor':>8}")
        previous: int | None = None
        for size in sizes:
            mine, base = project[size][verb], floor[size][verb]
            marginal = ""
            if previous is not None:
                span = size - previous
                extra = (mine - project[previous][verb]) / span
                extra_floor = (base - floor[previous][verb]) / span
                marginal = f"{extra:>10.2f}{extra_floor:>8.2f}"
            print(f"{size:>6}{mine:>10.1f}{base:>10.1f}{mine / base:>7.2f}x{marginal}")
            previous = size


def fleet(apps: int, stacks: int, workers: int) -> None:
    size = apps // stacks
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=workers) as pool:
        runs = list(
            pool.map(lambda _: in_fresh_process("project", size, "new preview"), range(stacks))
        )
    wall = time.perf_counter() - started
    each = [figures["new preview"] for figures in runs]
    print(
        f"\nfleet: {stacks} team stacks of {size} applications ({stacks * size} in all), each "
        f"previewed in its own process, {workers} at a time"
    )
    print(f"  wall time here: {wall:.1f} s")
    print(
        f"  one stack's preview (one CI job): median {statistics.median(each):.1f} s, "
        f"min {min(each):.1f} s, max {max(each):.1f} s"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[10, 50, 100])
    parser.add_argument("--fleet-apps", type=int, default=1000)
    parser.add_argument("--fleet-stacks", type=int, default=20)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--mocks-sizes", type=int, nargs="*", default=[])
    parser.add_argument("--one", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, count, *verbs = args.one
        if kind == "mocks":
            figures = measure_mocks(int(count))
        else:
            figures = measure_sandbox(kind, int(count), tuple(verbs) or VERBS)
        print(json.dumps(figures))
        return 0

    for size in args.mocks_sizes:
        seconds = in_fresh_process("mocks", size)["mocks"]
        per_app = seconds / size * 1000
        print(f"mocks: {size} applications evaluated in {seconds:.2f} s ({per_app:.0f} ms/app)")
    sizes = sorted(args.sizes)
    project = {size: in_fresh_process("project", size) for size in sizes}
    floor = {size: in_fresh_process("floor", size) for size in sizes}
    report(sizes, project, floor)
    if args.fleet_stacks:
        fleet(args.fleet_apps, args.fleet_stacks, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
