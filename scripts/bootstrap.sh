# Sourced by the other scripts: puts a pinned uv on PATH and syncs the locked environment.
set -euo pipefail

UV_VERSION="0.13.9"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
# Trust the machine's CA store (registries may sit behind a TLS-inspecting mirror).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-true}"
export PATH="$TOOLS/bin:$PATH"

if ! uv --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
  echo "bootstrap: installing uv $UV_VERSION into $TOOLS" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$TOOLS/uv" "uv==$UV_VERSION"
  mkdir -p "$TOOLS/bin"
  ln -sf "$TOOLS/uv/bin/uv" "$TOOLS/bin/uv"
fi

# Each plugin the engine starts is a new Python process. Where PYTHONDONTWRITEBYTECODE is set,
# as on this machine, each of them would compile the SDK (pulumi, grpc, protobuf) from
# source at every start, and uv installs no bytecode. With it unset, the first process to
# import a module writes its bytecode (atomically) and every later one reads it; compiling
# the whole environment up front instead took a fresh clone a minute, most of it for
# generated SDK modules no process imports.
unset PYTHONDONTWRITEBYTECODE
uv sync --locked --quiet --project "$ROOT"
