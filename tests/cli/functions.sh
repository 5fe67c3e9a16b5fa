# Shared helpers for the tests/cli/*.sh scripts.  Source it after
# `set -euo pipefail`.
#
# Environment: XVA (the xva binary), SRCDIR (the source tree), BUILDDIR.
#
# Run on its own (`bash functions.sh`), it checks the test tools
# themselves: the generator against GNU tar, xxhsum and sha1sum, the
# slicer, and the checks of tartool.py.  It needs no xva binary then.

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
# The interpreter itself, not a wrapper script that may sit in PATH.
PYTHON=${PYTHON:-$(python3 -c 'import sys; print(sys.executable)')}
SELFTEST=
[ "${BASH_SOURCE[0]}" != "$0" ] || SELFTEST=1
[ -n "$SELFTEST" ] || [ -x "$XVA" ] || fail "xva binary not found: XVA=$XVA"

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
  if grep -Eq 'ERROR: (Address|Leak|Memory|Thread)Sanitizer|runtime error:' \
       "$T/stderr"; then
    fail "xva $*: sanitizer report"
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
  "$PYTHON" "$XVAGEN" "$@"
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

# json_check FILE PYTHON-EXPR...: evaluates each expression with j = the
# JSON document in FILE; fails with the first one that is not true.
json_check ()
{
  local file=$1
  shift
  "$PYTHON" - "$file" "$@" <<'EOF' >"$T/json.err" 2>&1 ||
import json, sys
with open(sys.argv[1]) as f:
    j = json.load(f)
for expr in sys.argv[2:]:
    try:
        ok = eval('(' + expr + '\n)', {'j': j})
    except Exception as e:
        ok = False
        print('%s: %r' % (expr, e))
    if not ok:
        print(expr)
        sys.exit(1)
EOF
    fail "JSON check failed: $(cat "$T/json.err") in $(head -c 3000 "$file")"
}

# Self-test of the test tools --------------------------------------------

selftest ()
{
  set -euo pipefail
  requires tar xxhsum sha1sum zstd
  local len s f name want got

  note "xvagen.py: XXH64 and SHA-1 test vectors"
  xvagen --self-test >/dev/null || fail "xvagen.py --self-test failed"

  note "xvagen.py: XXH64 equals xxhsum -H64 on random files"
  mkdir -p "$T/h"
  for len in 0 1 3 4 7 8 9 15 16 31 32 33 63 64 65 100 1000 4097 65536 \
             $((MIB + 13)); do
    head -c "$len" /dev/urandom >"$T/h/$len"
  done
  (cd "$T/h" && xxhsum -H64 ./* 2>/dev/null | sort) >"$T/h.want"
  (cd "$T/h" && xvagen --xxh64 ./* | sort) >"$T/h.got"
  diff "$T/h.want" "$T/h.got" >&2 || fail "xvagen.py XXH64 differs from xxhsum"

  note "xvagen.py: the reference layout passes tartool check-ref"
  mkrandom "$T/a.img" $((MIB + 4096))
  mksparse "$T/b.img" $((4 * MIB))
  write_at "$T/b.img" $((2 * MIB)) 100
  xvagen -o "$T/ref.xva" --disk "$T/a.img" --disk "$T/b.img" \
    --keepalive-after 1 --checksum mixed --manifest "$T/manifest" \
    --expect-dir "$T/exp"
  "$PYTHON" "$TARTOOL" check-ref "$T/ref.xva" ||
    fail "tartool check-ref rejects the generator's reference layout"
  tar tf "$T/ref.xva" >"$T/names"
  diff "$T/manifest" "$T/names" >&2 || fail "GNU tar lists other entries"

  note "xvagen.py: every checksum entry is right (xxhsum, sha1sum)"
  mkdir -p "$T/x"
  tar xf "$T/ref.xva" -C "$T/x"
  chmod -R u+rwX "$T/x"
  while read -r name; do
    case $name in
      *.xxhash)
        want=$(xxhsum -H64 "$T/x/${name%.xxhash}" 2>/dev/null |
               cut -d' ' -f1 | tr a-f A-F) ;;
      *.checksum)
        want=$(sha1sum "$T/x/${name%.checksum}" | cut -d' ' -f1) ;;
      *) continue ;;
    esac
    got=$(cat "$T/x/$name")
    [ "$got" = "$want" ] || fail "generator: $name is $got, want $want"
  done <"$T/names"
  # Disk 2: chunk 0, a keep-alive (counter 1) before chunk 1, which is
  # zero and skipped (counter 2), chunk 2 (data, counter 3), chunk 3
  # (last, counter 4).
  printf '%s\n' Ref:2/00000000 Ref:2/00000001 Ref:2/00000003 Ref:2/00000004 \
    >"$T/want2"
  grep -E '^Ref:2/[0-9]{8}$' "$T/names" | diff "$T/want2" - >&2 ||
    fail "generator: wrong chunks for disk 2"
  [ "$(size_of "$T/x/Ref:2/00000001")" -eq 0 ] ||
    fail "generator: the keep-alive entry is not empty"
  [ "$(cat "$T/x/Ref:2/00000001.checksum" "$T/x/Ref:2/00000001.xxhash" \
        2>/dev/null)" = EF46DB3751D8E999 ] ||
    [ "$(cat "$T/x/Ref:2/00000001.checksum" 2>/dev/null)" = \
      da39a3ee5e6b4b0d3255bfef95601890afd80709 ] ||
    fail "generator: the keep-alive's checksum is not that of no data"

  note "tartool reassemble (the position rule) and --expect-dir agree"
  "$PYTHON" "$TARTOOL" reassemble "$T/ref.xva" Ref:1 $((MIB + 4096)) \
    "$T/r1.img"
  cmp "$T/r1.img" "$T/a.img" || fail "Ref:1 rebuilt differs"
  "$PYTHON" "$TARTOOL" reassemble "$T/ref.xva" Ref:2 $((4 * MIB)) "$T/r2.img"
  cmp "$T/r2.img" "$T/b.img" || fail "Ref:2 rebuilt differs"
  cmp "$T/exp/0-disk0.img" "$T/a.img" || fail "--expect-dir disk 0"
  cmp "$T/exp/1-disk1.img" "$T/b.img" || fail "--expect-dir disk 1"

  note "tartool check-ref and sparse-cmp can fail"
  mkrandom "$T/c.img" 8192
  for s in "--header ustar" "--header gnu" "--mode 0644" "--end-blocks 3"; do
    # shellcheck disable=SC2086
    xvagen -o "$T/other.xva" --disk "$T/c.img" $s
    if "$PYTHON" "$TARTOOL" check-ref "$T/other.xva" 2>/dev/null; then
      fail "tartool check-ref accepts an archive made with $s"
    fi
  done
  cp "$T/b.img" "$T/b2.img"
  "$PYTHON" "$TARTOOL" sparse-cmp "$T/b.img" "$T/b2.img" ||
    fail "sparse-cmp: equal files differ"
  write_at "$T/b2.img" $((3 * MIB)) 1
  if "$PYTHON" "$TARTOOL" sparse-cmp "$T/b.img" "$T/b2.img" 2>/dev/null; then
    fail "sparse-cmp: different files are equal"
  fi

  note "xvagen.py: header styles and compressions read by GNU tar"
  for s in v7 ustar gnu pax; do
    for f in none gzip zstd; do
      xvagen -o "$T/s.xva" --disk "$T/c.img" --header "$s" --compress "$f" \
        --pax-global
      case $f in
        none) tar tf "$T/s.xva" ;;
        gzip) tar tzf "$T/s.xva" ;;
        zstd) zstd -q -dc "$T/s.xva" | tar tf - ;;
      esac >"$T/s.names" || fail "GNU tar cannot read --header $s --compress $f"
      [ "$(head -1 "$T/s.names")" = ova.xml ] ||
        fail "--header $s --compress $f: first entry $(head -1 "$T/s.names")"
      [ "$(wc -l <"$T/s.names")" -eq 3 ] ||
        fail "--header $s --compress $f: $(wc -l <"$T/s.names") entries"
    done
  done

  note "slicer.py copies exactly"
  for s in 1 7 512 513 random 3,5000; do
    "$PYTHON" "$SLICER" "$s" <"$T/a.img" 2>/dev/null | cmp - "$T/a.img" ||
      fail "slicer $s changed the data"
  done
  echo "PASS"
}

if [ -n "$SELFTEST" ]; then
  selftest
fi
