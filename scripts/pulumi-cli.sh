# Sourced after bootstrap.sh. Puts a Pulumi CLI of at least the pinned version on PATH: the one
# already there, else the pinned release built from Go modules into .tools/pulumi (cached by Go's
# module and build caches, so a second run takes seconds). Also installs the SDK's plugin shims.
PULUMI_VERSION="3.274.1"
PULUMI_TOOLS="$ROOT/.tools/pulumi/bin"

_version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

_pulumi_version() {
  "$1" version 2>/dev/null | sed 's/^v//'
}

_build_pulumi() {
  echo "pulumi-cli: building the Pulumi CLI v$PULUMI_VERSION from Go modules into $PULUMI_TOOLS" >&2
  mkdir -p "$PULUMI_TOOLS"
  (
    cd "$ROOT/tools/pulumi-cli"
    go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      -o "$PULUMI_TOOLS/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    sdk=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" \
      "$sdk/python/cmd/pulumi-language-python-exec" "$PULUMI_TOOLS/"
  )
}

found=$(command -v pulumi 2>/dev/null || true)
if [ -n "$found" ] && [ "$found" != "$PULUMI_TOOLS/pulumi" ] &&
  _version_at_least "$(_pulumi_version "$found")" "$PULUMI_VERSION"; then
  echo "pulumi-cli: using $found ($(_pulumi_version "$found"))" >&2
else
  if [ ! -x "$PULUMI_TOOLS/pulumi" ] || [ "$(_pulumi_version "$PULUMI_TOOLS/pulumi")" != "$PULUMI_VERSION" ] ||
    [ ! -x "$PULUMI_TOOLS/pulumi-resource-pulumi-python" ]; then
    _build_pulumi
  fi
  export PATH="$PULUMI_TOOLS:$PATH"
fi

# Dynamic providers and the engine tests run this project's interpreter. Plugin downloads stay
# on for runs against Azure (the real azuread and azure-native plugins); the sandbox and the
# tests turn them off for their own runs.
export PULUMI_PYTHON_CMD="$ROOT/scripts/plugin-python"
export PULUMI_SKIP_UPDATE_CHECK=true
