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

uv sync --locked --quiet --project "$ROOT"
