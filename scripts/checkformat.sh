#!/bin/sh
# Checks that the C sources follow .clang-format (clang-format 14).
#   scripts/checkformat.sh          list the files that differ; exit 1 if any
#   scripts/checkformat.sh --fix    reformat those files in place
# CLANG_FORMAT=/path/to/clang-format overrides the program.
set -eu
cd "$(dirname "$0")/.."

fix=0
case "${1:-}" in
  "") ;;
  --fix) fix=1 ;;
  *) echo "usage: scripts/checkformat.sh [--fix]" >&2; exit 2 ;;
esac

cf=${CLANG_FORMAT:-}
if [ -z "$cf" ]; then
  for c in clang-format-14 clang-format; do
    if command -v "$c" >/dev/null 2>&1; then cf=$c; break; fi
  done
fi
if [ -z "$cf" ]; then
  echo "checkformat: clang-format not found (scripts/deps.sh installs it)" >&2
  exit 3
fi
if ! "$cf" --version | grep -q 'version 14\.'; then
  echo "checkformat: warning: $("$cf" --version) is not clang-format 14;" \
       "its output may differ" >&2
fi

dirs="checksum format store export import server client bin include tests bench"

# Files left out, as case patterns.  Keep this empty but for files that
# cannot be formatted.
exclude=""

excluded () {
  for pat in $exclude; do
    # shellcheck disable=SC2254
    case "$1" in $pat) return 0 ;; esac
  done
  return 1
}

existing=""
for d in $dirs; do
  [ -d "$d" ] && existing="$existing $d"
done
# shellcheck disable=SC2086
files=$(find $existing -name node_modules -prune -o -type f \
          \( -name '*.c' -o -name '*.h' \) -print | LC_ALL=C sort)

list=""
n=0
set -f                          # the patterns stay patterns
for f in $files; do
  if ! excluded "$f"; then
    list="$list $f"
    n=$((n + 1))
  fi
done
set +f

# One run over all files; each difference is reported as
# "FILE:LINE:COL: error: code should be clang-formatted".
out=$(mktemp)
trap 'rm -f "$out"' EXIT
rc=0
# shellcheck disable=SC2086
"$cf" --style=file --dry-run --Werror $list > "$out" 2>&1 || rc=$?
bad=$(sed -n 's/^\([^:]*\):[0-9]*:[0-9]*: error: code should be clang-formatted.*/\1/p' \
        "$out" | LC_ALL=C sort -u)
if [ "$rc" -ne 0 ] && [ -z "$bad" ]; then
  echo "checkformat: $cf failed:" >&2
  cat "$out" >&2
  exit 3
fi

if [ -z "$bad" ]; then
  echo "checkformat: $n files follow .clang-format"
  exit 0
fi
if [ "$fix" = 1 ]; then
  for f in $bad; do
    "$cf" --style=file -i "$f"
    echo "checkformat: reformatted $f"
  done
  exit 0
fi
echo "checkformat: these files do not follow .clang-format:" >&2
for f in $bad; do
  echo "  $f" >&2
done
echo "to fix: scripts/checkformat.sh --fix  (or $cf -i FILE)" >&2
exit 1
