# Sourced after bootstrap.sh: makes sure a Pulumi CLI of at least the pinned version is on PATH.
PULUMI_MIN_VERSION="3.216.0"

_version_at_least() {
  [ "$(printf '%s\n%s\n' "$2" "$1" | sort -V | head -n 1)" = "$2" ]
}

found=$(pulumi version 2>/dev/null | sed 's/^v//' || true)
if [ -z "$found" ] || ! _version_at_least "$found" "$PULUMI_MIN_VERSION"; then
  echo "pulumi-cli: a Pulumi CLI >= $PULUMI_MIN_VERSION is needed on PATH (found: ${found:-none})." >&2
  echo "pulumi-cli: install it from the official installer (see README, 'Prerequisites')." >&2
  exit 1
fi
