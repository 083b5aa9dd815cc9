"""How the stack's cost grows with the number of applications.

Three measurements, each size in a fresh process:
- `mocks`: the program evaluated under Pulumi mocks (the test harness's Azure mocks);
- `preview` and `up`: the whole program through the real engine against the sandbox (the
  policy pack included), on a stack that does not exist yet.

Prints seconds and milliseconds per application at each size, the marginal cost between sizes,
and the ratio of the largest size's time per application to the smallest's. Targets: that ratio at
most 1.5 (linear growth) and the mocks evaluation of 1000 applications under 10 s; exits 1 when
one is missed. The sandbox sizes default to 1, 10 and 100 (an `up` of 1000 applications takes a
long time here); give `--sandbox-sizes` for more.

    uv run python benchmarks/stack_scale.py [--sizes 1 10 100 300 1000] [--sandbox-sizes 1 10 100]
"""

from __future__ import annotations

import argparse
import copy
import json
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[1]
MAX_RATIO = 1.5
MAX_MOCKS_SECONDS_AT_1000 = 10.0


def applications(count: int) -> list[dict[str, Any]]:
    """`count` applications shaped like the committed np config's first one."""
    document = yaml.safe_load((ROOT / "Pulumi.np.yaml").read_text())
    template = document["config"]["lkps-onboarding:applications"][0]
    return [{**template, "name": f"SCALE-APP-{index:04d}", "clients": []} for index in range(count)]


def measure_mocks(count: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from tests.harness import run_program, stack_config

    raw = copy.deepcopy(stack_config("np"))
    raw["applications"] = applications(count)
    started = time.perf_counter()
    run = run_program(raw, "np", datetime.now(UTC).date())
    seconds = time.perf_counter() - started
    assert len(run.of_type("azuread:index/application:Application")) == count
    return {"mocks": seconds}


def measure_sandbox(count: int) -> dict[str, float]:
    sys.path.insert(0, str(ROOT))
    from program import run
    from sandbox.session import SandboxFolder, running
    from stack_command.cli import open_stack, policy_options, workspace_env

    with tempfile.TemporaryDirectory() as temp:
        project = Path(temp) / "project"
        project.mkdir()
        (project / "Pulumi.yaml").write_text((ROOT / "Pulumi.yaml").read_text())
        document = yaml.safe_load((ROOT / "Pulumi.np.yaml").read_text())
        document["config"]["lkps-onboarding:applications"] = applications(count)
        (project / "Pulumi.np.yaml").write_text(yaml.safe_dump(document))
        folder = SandboxFolder(Path(temp) / "sandbox", "np")
        figures = {}

        def program() -> None:
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
            policies = policy_options("np")
            for verb in ("preview", "up"):
                started = time.perf_counter()
                getattr(stack, verb)(
                    policy_packs=policies["policy_packs"],
                    policy_pack_configs=policies["policy_pack_configs"],
                    parallel=16,
                )
                figures[verb] = time.perf_counter() - started
        return figures


def in_fresh_process(kind: str, count: int) -> dict[str, float]:
    done = subprocess.run(  # noqa: S603 - this interpreter and this file
        [sys.executable, __file__, "--one", kind, str(count)],
        capture_output=True,
        text=True,
        check=False,
        cwd=ROOT,
    )
    if done.returncode != 0:
        raise SystemExit(f"{kind} at {count} applications failed:\n{done.stderr[-3000:]}")
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def report(name: str, seconds: dict[int, float]) -> bool:
    sizes = sorted(seconds)
    print(f"\n{name}")
    print(f"{'apps':>6}{'seconds':>10}{'ms/app':>10}{'marginal ms/app':>18}")
    previous: int | None = None
    for size in sizes:
        marginal = ""
        if previous is not None:
            extra = (seconds[size] - seconds[previous]) / (size - previous) * 1000
            marginal = f"{extra:.1f}"
        print(f"{size:>6}{seconds[size]:>10.2f}{seconds[size] / size * 1000:>10.1f}{marginal:>18}")
        previous = size
    ratio = (seconds[sizes[-1]] / sizes[-1]) / (seconds[sizes[0]] / sizes[0])
    met = ratio <= MAX_RATIO
    print(
        f"time per app at {sizes[-1]} / at {sizes[0]}: {ratio:.2f} "
        f"(target <= {MAX_RATIO}: {'met' if met else 'MISSED'})"
    )
    return met


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1, 10, 100, 300, 1000])
    parser.add_argument("--sandbox-sizes", type=int, nargs="+", default=[1, 10, 100])
    parser.add_argument("--one", nargs=2, metavar=("KIND", "COUNT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one:
        kind, count = args.one[0], int(args.one[1])
        figures = measure_mocks(count) if kind == "mocks" else measure_sandbox(count)
        print(json.dumps(figures))
        return 0

    met = True
    mocks = {size: in_fresh_process("mocks", size)["mocks"] for size in args.sizes}
    met &= report("program evaluation under mocks", mocks)
    if 1000 in mocks:
        fast = mocks[1000] <= MAX_MOCKS_SECONDS_AT_1000
        met &= fast
        print(
            f"1000 applications under mocks: {mocks[1000]:.1f} s "
            f"(target <= {MAX_MOCKS_SECONDS_AT_1000:.0f} s: {'met' if fast else 'MISSED'})"
        )
    sandbox = {size: in_fresh_process("sandbox", size) for size in args.sandbox_sizes}
    for verb in ("preview", "up"):
        met &= report(f"sandbox {verb} (real engine)", {s: f[verb] for s, f in sandbox.items()})
    return 0 if met else 1


if __name__ == "__main__":
    sys.exit(main())
