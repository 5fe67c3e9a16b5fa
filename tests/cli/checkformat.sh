#!/bin/bash
# The C sources follow .clang-format (scripts/checkformat.sh).
set -euo pipefail
cf=""
for c in ${CLANG_FORMAT:-} clang-format-14 clang-format; do
  if command -v "$c" >/dev/null 2>&1; then cf=$c; break; fi
done
if [ -z "$cf" ]; then
  echo "clang-format not installed (scripts/deps.sh installs it): skipped" >&2
  exit 77
fi
export CLANG_FORMAT=$cf

"$SRCDIR/scripts/checkformat.sh"

# The check itself finds a misformatted file, names it, and --fix
# repairs it.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
mkdir -p "$tmp/scripts" "$tmp/format"
cp "$SRCDIR/scripts/checkformat.sh" "$tmp/scripts/"
cp "$SRCDIR/.clang-format" "$tmp/"
cat > "$tmp/format/good.c" <<'C'
static int
twice (int x)
{
  if (x > 0) {
    return 2 * x;
  }
  else
    return (int) sizeof (x);
}
C
printf 'static int twice(int x) { if (x>0) {\nreturn 2*x; } else return (int)sizeof(x); }\n' \
  > "$tmp/format/bad.c"
if (cd "$tmp" && ./scripts/checkformat.sh) > "$tmp/out" 2>&1; then
  echo "checkformat did not catch format/bad.c" >&2
  cat "$tmp/out" >&2
  exit 1
fi
grep -q '^  format/bad\.c$' "$tmp/out"
if grep -q 'good\.c' "$tmp/out"; then
  echo "checkformat named a well-formatted file:" >&2
  cat "$tmp/out" >&2
  exit 1
fi
grep -q 'scripts/checkformat.sh --fix' "$tmp/out"
(cd "$tmp" && ./scripts/checkformat.sh --fix) >/dev/null
cmp "$tmp/format/good.c" "$tmp/format/bad.c"
(cd "$tmp" && ./scripts/checkformat.sh) >/dev/null
