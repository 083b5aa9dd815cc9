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

# Each plugin the engine starts is a new Python process. Bytecode compiled here, once per lock
# file, spares each of them compiling the SDK (pulumi, grpc, protobuf) from source, which it
# would do at every start where PYTHONDONTWRITEBYTECODE is set; the project's own modules are
# compiled at every run (a few milliseconds when nothing changed).
BYTECODE_STAMP="$UV_PROJECT_ENVIRONMENT/.bytecode-$(sha256sum "$ROOT/uv.lock" | cut -c1-16)"
if [ -e "$BYTECODE_STAMP" ]; then
  uv sync --locked --quiet --project "$ROOT"
else
  uv sync --locked --quiet --compile-bytecode --project "$ROOT"
  rm -f "$UV_PROJECT_ENVIRONMENT"/.bytecode-*
  touch "$BYTECODE_STAMP"
fi
if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
  (cd "$ROOT" && git ls-files -z '*.py' | xargs -0 -r "$UV_PROJECT_ENVIRONMENT/bin/python" -m compileall -q >/dev/null)
fi
