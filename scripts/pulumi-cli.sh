# Sourced after bootstrap.sh. Puts a Pulumi CLI of at least the pinned version on PATH: the one
# already there, else the pinned release built from Go modules once per version and go.sum into
# the user's cache and linked as .tools/pulumi (linking the CLI alone takes a fresh clone 15-30 s
# even with Go's caches warm). Also installs the SDK's plugin shims beside it.
PULUMI_VERSION="3.274.1"
PULUMI_TOOLS="$ROOT/.tools/pulumi/bin"

_version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

_pulumi_version() {
  "$1" version 2>/dev/null | sed 's/^v//'
}

_build_pulumi() {
  echo "pulumi-cli: building the Pulumi CLI v$PULUMI_VERSION from Go modules into $1" >&2
  mkdir -p "$1/bin"
  (
    cd "$ROOT/tools/pulumi-cli"
    go build -trimpath \
      -ldflags "-s -w -X github.com/pulumi/pulumi/sdk/v3/go/common/version.Version=v$PULUMI_VERSION" \
      -o "$1/bin/pulumi" github.com/pulumi/pulumi/pkg/v3/cmd/pulumi
    sdk=$(go list -m -f '{{.Dir}}' github.com/pulumi/pulumi/sdk/v3)
    install -m 0755 "$sdk/python/dist/pulumi-resource-pulumi-python" \
      "$sdk/python/cmd/pulumi-language-python-exec" "$1/bin/"
  )
}

found=$(command -v pulumi 2>/dev/null || true)
if [ -n "$found" ] && [ "$found" != "$PULUMI_TOOLS/pulumi" ] &&
  _version_at_least "$(_pulumi_version "$found")" "$PULUMI_VERSION"; then
  echo "pulumi-cli: using $found ($(_pulumi_version "$found"))" >&2
else
  PULUMI_KEY="pulumi-v$PULUMI_VERSION-$(sha256sum "$ROOT/tools/pulumi-cli/go.sum" | cut -c1-16)"
  PULUMI_FOLDER=$(cached_tool "$PULUMI_KEY" _build_pulumi)
  link_tool "$PULUMI_FOLDER" "$ROOT/.tools/pulumi"
  export PATH="$PULUMI_TOOLS:$PATH"
fi

# Dynamic providers and the engine tests run this project's interpreter. Plugin downloads stay
# on for runs against Azure (the real azuread and azure-native plugins); the sandbox and the
# tests turn them off for their own runs.
export PULUMI_PYTHON_CMD="$ROOT/scripts/plugin-python"
export PULUMI_SKIP_UPDATE_CHECK=true
