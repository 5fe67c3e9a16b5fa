#!/bin/bash
# The project's sources use none of the banned functions.
set -euo pipefail
"$SRCDIR/scripts/checksrc.sh"
# The check itself finds a banned call.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts"
cp "$SRCDIR/scripts/checksrc.sh" "$tmp/scripts/"
printf 'int f (char *d) { return sprintf (d, "x"); }\n' > "$tmp/bad.c"
if (cd "$tmp" && GIT_DIR=/nonexistent ./scripts/checksrc.sh) 2>/dev/null; then
  echo "checksrc did not catch sprintf" >&2
  exit 1
fi
