# Sourced by the other scripts: puts a pinned uv on PATH and syncs the locked environment.
set -euo pipefail

UV_VERSION="0.13.9"
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TOOLS="$ROOT/.tools"
export UV_PROJECT_ENVIRONMENT="$ROOT/.venv"
# Trust the machine's CA store (registries may sit behind a TLS-inspecting mirror).
export UV_SYSTEM_CERTS="${UV_SYSTEM_CERTS:-true}"
export PATH="$TOOLS/bin:$PATH"
TOOL_CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/lkps-onboarding"

# cached_tool KEY INSTALL: the folder of a pinned tool in the user's cache (as uv, Go and npm keep
# theirs), made once per KEY by `INSTALL <empty folder>` and moved into place whole, so a fresh
# clone links the tool instead of installing or building it again. Prints the folder; fails,
# leaving nothing in the cache, when INSTALL fails (errexit does not reach into `$(...)`, so the
# callers assign its output before they use it).
cached_tool() {
  local folder="$TOOL_CACHE/$1"
  if [ ! -d "$folder" ]; then
    local staging="$folder.$$"
    rm -rf "$staging" && mkdir -p "$staging"
    if ! "$2" "$staging" >&2; then
      rm -rf "$staging"
      echo "bootstrap: installing $1 failed" >&2
      return 1
    fi
    # A concurrent run may have moved its copy first; both are the same KEY's.
    mv -T "$staging" "$folder" 2>/dev/null || rm -rf "$staging"
  fi
  echo "$folder"
}

# link_tool FOLDER LINK: LINK points at FOLDER (a real folder left there by an older checkout
# is replaced).
link_tool() {
  if [ -e "$2" ] && [ ! -L "$2" ]; then rm -rf "$2"; fi
  mkdir -p "$(dirname "$2")"
  ln -sfn "$1" "$2"
}

_install_uv() {
  echo "bootstrap: installing uv $UV_VERSION into $1" >&2
  python3 -m pip install --quiet --disable-pip-version-check --target "$1" "uv==$UV_VERSION"
}

if ! uv --version 2>/dev/null | grep -q "^uv $UV_VERSION"; then
  UV_FOLDER=$(cached_tool "uv-$UV_VERSION" _install_uv)
  link_tool "$UV_FOLDER" "$TOOLS/uv"
  link_tool "$TOOLS/uv/bin/uv" "$TOOLS/bin/uv"
fi

# Each plugin the engine starts is a new Python process. Where PYTHONDONTWRITEBYTECODE is set,
# as on this machine, each of them would compile the SDK (pulumi, grpc, protobuf) from
# source at every start, and uv installs no bytecode. With it unset, the first process to
# import a module writes its bytecode (atomically) and every later one reads it; compiling
# the whole environment up front instead took a fresh clone a minute, most of it for
# generated SDK modules no process imports.
unset PYTHONDONTWRITEBYTECODE
uv sync --locked --quiet --project "$ROOT"
