"""Keeps a stack's sandbox running until interrupted, for pointing Microsoft's clients at it.

python -m sandbox.serve np

The emulators start on their state in `.sandbox/<stack>/` (`LKPS_SANDBOX_ROOT` moves it), as a
`scripts/stack <verb> np --sandbox` starts them, and stop on Ctrl-C or SIGTERM. What a client
needs (the emulator's URLs, its CA file, the deployer's managed-identity endpoint) is written to
`.sandbox/<stack>/serve.env`, readable by the owner only and removed on stop; the terminal shows
the URLs alone. Run no other sandbox command on that stack while it serves: both would write the
same state.
"""

from __future__ import annotations

import argparse
import contextlib
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Final

from lkps import switches
from sandbox.entra import GRAPH_PREFIX, VAULT_PREFIX
from sandbox.ocelot import contract
from sandbox.session import BANNER, ROOT, Sandbox, SandboxFolder, running, sandbox_home

ENV_FILE: Final = "serve.env"


def client_environment(sandbox: Sandbox) -> dict[str, str]:
    """The variables a shell of its own exports to reach this sandbox: the trust of its CA only
    (nothing else is trusted there), the tenant and authority, the deployer's managed identity,
    and where Graph, the vault, Ocelot and the routes answer."""
    entra, ocelot = sandbox.entra, sandbox.ocelot
    # The stack's vault (`keyVault` in its stack file); none when the file names none.
    vaults = [f"{entra.url}{VAULT_PREFIX}/{name}" for name in entra.store.data["vaults"]]
    return {
        **sandbox.folder.certificate.trust,
        "AZURE_TENANT_ID": entra.tenant_id,
        "AZURE_AUTHORITY_HOST": entra.url,
        "IDENTITY_ENDPOINT": entra.identity_endpoint,
        "IDENTITY_HEADER": entra.identity_header,
        "SANDBOX_GRAPH_URL": f"{entra.url}{GRAPH_PREFIX}",
        **({"SANDBOX_VAULT_URL": vaults[0]} if len(vaults) == 1 else {}),
        "SANDBOX_OCELOT_API_URL": ocelot.base_url,
        **{
            f"SANDBOX_ROUTE_{environment.upper()}_{region.upper()}": ocelot.gateway_url(route)
            for route, (environment, region) in contract.ROUTES.items()
        },
    }


def write_environment(path: Path, values: dict[str, str]) -> None:
    partial = path.with_suffix(".partial")
    partial.touch(mode=0o600)
    partial.chmod(0o600)
    lines = [
        "# The running sandbox's endpoints. Source this in a shell of its own: it trusts the",
        "# sandbox's CA alone, and its managed identity is the sandbox's deployer.",
        *(f"export {name}={shlex.quote(value)}" for name, value in values.items()),
    ]
    partial.write_text("\n".join(lines) + "\n")
    partial.replace(path)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m sandbox.serve", description=__doc__)
    parser.add_argument("stack", help="np, prod, np-<suffix> or prod-<suffix>")
    args = parser.parse_args(argv)
    if not (ROOT / f"Pulumi.{args.stack}.yaml").is_file():
        print(f"serve: no stack file Pulumi.{args.stack}.yaml in {ROOT}", file=sys.stderr)
        return 2
    folder = SandboxFolder(
        sandbox_home(switches.setting(switches.SANDBOX_ROOT)) / args.stack, args.stack
    )
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    env_file = folder.path / ENV_FILE
    with running(folder, ROOT) as sandbox:
        values = client_environment(sandbox)
        write_environment(env_file, values)
        try:
            print(BANNER, flush=True)
            for name, value in values.items():
                if name.startswith(("SANDBOX_", "AZURE_AUTHORITY")):
                    print(f"{name}={value}", flush=True)
            print(f"serve: the whole environment is in {env_file}; Ctrl-C stops", flush=True)
            with contextlib.suppress(KeyboardInterrupt):
                stop.wait()
        finally:
            env_file.unlink(missing_ok=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
