#!/bin/sh
# Bans C functions that invite overflows or hide errors, in the
# project's own sources (strcpy, sprintf, strtok, atoi, gets).
set -eu
cd "$(dirname "$0")/.."
files=$(git ls-files '*.c' '*.h' 2>/dev/null || find . -name '*.[ch]' \
        -not -path './build*' -not -path '*/node_modules/*')
bad=$(grep -nE '(^|[^a-z_])(strcpy|sprintf|vsprintf|strtok|atoi|gets)[[:space:]]*\(' \
        $files | grep -vE '(snprintf|vsnprintf)[[:space:]]*\(' || true)
if [ -n "$bad" ]; then
  echo "checksrc: banned functions:" >&2
  echo "$bad" >&2
  exit 1
fi
echo "checksrc: $(echo "$files" | wc -l) files clean"
