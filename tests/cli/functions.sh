# Shared helpers for the tests/cli/*.sh scripts.  Source it after
# `set -euo pipefail`.
#
# Environment: XVA (the xva binary), SRCDIR (the source tree), BUILDDIR.

shopt -s lastpipe      # `cmd | run_xva ...` keeps $rc in this shell

: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
: "${XVA:=$BUILDDIR/xva}"
XVAGEN="$SRCDIR/tests/gen/xvagen.py"
TARTOOL="$SRCDIR/tests/cli/tartool.py"
SLICER="$SRCDIR/tests/cli/slicer.py"
MIB=1048576
# Seconds before a single xva call counts as hung.
XVA_TIMEOUT=${XVA_TIMEOUT:-120}

fail ()
{
  echo "FAIL: $*" >&2
  if [ -n "${T:-}" ] && [ -s "$T/stderr" ]; then
    echo "--- stderr of the last xva call:" >&2
    head -c 4000 "$T/stderr" >&2
  fi
  exit 1
}

note ()
{
  echo "# $*"
}

# requires CMD...: skip the test (77) when a tool is missing.
requires ()
{
  local c
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      echo "SKIP: $c not found" >&2
      exit 77
    fi
  done
}

requires python3 timeout cmp dd truncate
[ -x "$XVA" ] || fail "xva binary not found: XVA=$XVA"

T=$(mktemp -d "${TMPDIR:-/tmp}/xva-test.XXXXXX")
cleanup ()
{
  # Extracted files may be read-only; make the tree removable.
  chmod -R u+rwX "$T" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# run_xva ARGS...: runs $XVA under a timeout without failing the script.
# Sets $rc; stdout is in $T/stdout, stderr in $T/stderr.
run_xva ()
{
  rc=0
  timeout "$XVA_TIMEOUT" "$XVA" "$@" >"$T/stdout" 2>"$T/stderr" || rc=$?
  if [ "$rc" -eq 124 ]; then
    fail "xva $* did not finish within ${XVA_TIMEOUT}s"
  fi
  if [ "$rc" -ge 128 ]; then
    fail "xva $* died with status $rc (signal $((rc - 128)))"
  fi
  return 0
}

# xva_ok ARGS...: runs xva and fails the test unless it exits 0.
xva_ok ()
{
  run_xva "$@"
  [ "$rc" -eq 0 ] || fail "xva $* exited $rc (expected 0)"
}

# xva_fails WANT ARGS...: runs xva; it must exit WANT ("any" for any
# failure status) and say something on stderr.
xva_fails ()
{
  local want=$1
  shift
  run_xva "$@"
  [ "$rc" -ne 0 ] || fail "xva $* succeeded (expected failure $want)"
  if [ "$want" != any ] && [ "$rc" -ne "$want" ]; then
    fail "xva $* exited $rc (expected $want)"
  fi
  [ -s "$T/stderr" ] || fail "xva $* exited $rc with nothing on stderr"
}

# stderr_has PATTERN: the last call's stderr matches the ERE (-i).
stderr_has ()
{
  grep -Eqi -- "$1" "$T/stderr" ||
    fail "stderr does not match '$1'"
}

# Test data --------------------------------------------------------------

# mkrandom FILE SIZE: SIZE random bytes.
mkrandom ()
{
  head -c "$2" /dev/urandom >"$1"
}

# mksparse FILE SIZE: a file of SIZE bytes, all holes.
mksparse ()
{
  rm -f "$1"
  truncate -s "$2" "$1"
}

# write_at FILE OFFSET LEN: writes LEN random bytes at OFFSET in place.
write_at ()
{
  dd if=/dev/urandom of="$1" bs=65536 count="$3" iflag=count_bytes \
     seek="$2" oflag=seek_bytes conv=notrunc status=none
}

# xvagen ARGS...: the independent archive generator.
xvagen ()
{
  python3 "$XVAGEN" "$@"
}

# size_of FILE
size_of ()
{
  stat -c %s "$1"
}

# is_sparse FILE: allocated size is under a quarter of the apparent size.
is_sparse ()
{
  local alloc size
  alloc=$(( $(stat -c %b "$1") * $(stat -c %B "$1") ))
  size=$(size_of "$1")
  [ "$alloc" -lt $(( size / 4 )) ]
}

# img_for DIR USERDEVICE: the extracted image of that userdevice
# (DIR/<userdevice>-<name>.img); fails unless there is exactly one.
img_for ()
{
  local -a m
  m=("$1/$2"-*.img)
  [ -e "${m[0]}" ] || fail "no image for userdevice $2 in $1: $(ls -A "$1")"
  [ "${#m[@]}" -eq 1 ] || fail "several images for userdevice $2: ${m[*]}"
  printf '%s\n' "${m[0]}"
}

# cmp_padded IMG ORIG SIZE: IMG has SIZE bytes: ORIG, then zeros.
cmp_padded ()
{
  local img=$1 orig=$2 size=$3 osize
  osize=$(size_of "$orig")
  [ "$(size_of "$img")" -eq "$size" ] ||
    fail "$img: size $(size_of "$img"), expected $size"
  cmp -n "$osize" "$img" "$orig" >/dev/null || fail "$img differs from $orig"
  if [ "$size" -gt "$osize" ]; then
    cmp -n $((size - osize)) -i "$osize:0" "$img" /dev/zero >/dev/null ||
      fail "$img: bytes after the original's $osize are not zero"
  fi
}

# extract_ok DIR ARCHIVE-ARGS...: extracts into the new DIR and checks
# that stdout names every file written and that ova.xml is there.
extract_ok ()
{
  local dir=$1 f
  shift
  mkdir -p "$dir"
  xva_ok extract -C "$dir" "$@"
  [ -f "$dir/ova.xml" ] || fail "extract: no $dir/ova.xml"
  for f in "$dir"/*; do
    grep -qF "$(basename "$f")" "$T/stdout" ||
      fail "extract did not list $(basename "$f") on stdout"
  done
}

# check_images DIR EXPECTDIR: every EXPECTDIR/<ud>-*.img equals the
# extracted image of the same userdevice, and nothing else was extracted.
check_images ()
{
  local dir=$1 exp=$2 e ud got n_exp n_got
  n_exp=0
  for e in "$exp"/*.img; do
    [ -e "$e" ] || continue
    n_exp=$((n_exp + 1))
    ud=$(basename "$e")
    ud=${ud%%-*}
    got=$(img_for "$dir" "$ud")
    [ "$(size_of "$got")" -eq "$(size_of "$e")" ] ||
      fail "$got: size $(size_of "$got"), expected $(size_of "$e")"
    cmp "$got" "$e" >/dev/null || fail "$got differs from the expected $e"
  done
  n_got=$(find "$dir" -maxdepth 1 -name '*.img' | wc -l)
  [ "$n_got" -eq "$n_exp" ] ||
    fail "$dir holds $n_got images, expected $n_exp"
}

# no_files DIR: DIR is empty (nothing left behind by a failed extract).
no_files ()
{
  local left
  left=$(find "$1" -mindepth 1 | head -5)
  [ -z "$left" ] || fail "files left in $1 after a failed extract: $left"
}

# json_check FILE PYTHON-EXPR: evaluates the expression with j = the
# JSON document in FILE; fails with the expression unless it is true.
json_check ()
{
  python3 - "$1" "$2" <<'EOF' || fail "JSON check failed: $2 (in $(head -c 2000 "$1"))"
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
ok = eval(sys.argv[2], {'j': j})
sys.exit(0 if ok else 1)
EOF
}
