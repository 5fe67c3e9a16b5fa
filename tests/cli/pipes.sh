#!/usr/bin/env bash
# The offline commands on pipes: archives written to stdout, read from
# stdin, and fed through a pipe in pieces of 1, 7, 512, 513 and random
# sizes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

D=$T/disks
mkdir -p "$D"
mkrandom "$D/a.img" $((MIB + 8192))             # two chunks, short last
mksparse "$D/b.img" $((3 * MIB))                 # a zero chunk in the middle
write_at "$D/b.img" 0 512
write_at "$D/b.img" $((3 * MIB - 4096)) 4096
mkrandom "$D/tiny.img" 8192                      # for the 1-byte slices

# slice_check ARCHIVE SPEC EXPECTDIR [verify-only]: verify, and extract
# unless told not to, with the archive fed through the slicer; the images
# must equal those in EXPECTDIR.
slice_check ()
{
  local a=$1 spec=$2 exp=$3 only=${4:-} dir
  # Random slices: rerun with SLICER_SEED_FIXED=<the seed printed> to
  # repeat a failure.
  export SLICER_SEED=${SLICER_SEED_FIXED:-$((RANDOM * 32768 + RANDOM + 1))}
  note "slices of $spec: $(basename "$a") (SLICER_SEED=$SLICER_SEED)"
  "$PYTHON" "$SLICER" "$spec" <"$a" 2>/dev/null | run_xva verify -
  [ "$rc" -eq 0 ] || fail "verify - of $a in slices of $spec exited $rc"
  [ -z "$only" ] || return 0
  dir=$T/slice-$(basename "$a")-$spec
  mkdir -p "$dir"
  "$PYTHON" "$SLICER" "$spec" <"$a" 2>/dev/null |
    run_xva extract -C "$dir" -
  [ "$rc" -eq 0 ] || fail "extract - of $a in slices of $spec exited $rc"
  check_images "$dir" "$exp"
  rm -rf "$dir"
}

for comp in none gzip zstd; do
  note "pack -o - --compress $comp | file"
  A=$T/ab-$comp.xva
  run_xva pack -q -o - --compress "$comp" "$D/a.img" "$D/b.img"
  [ "$rc" -eq 0 ] || fail "pack -o - exited $rc"
  mv "$T/stdout" "$A"
  [ -s "$A" ] || fail "pack -o - wrote nothing"
  mkdir -p "$T/exp-ab"
  cp "$D/a.img" "$T/exp-ab/0-a.img"
  cp "$D/b.img" "$T/exp-ab/1-b.img"

  note "cat | verify -, verify - <file, inspect -, extract -"
  { cat "$A" 2>/dev/null || true; } | run_xva verify -
  [ "$rc" -eq 0 ] || fail "cat $A | xva verify - exited $rc"
  xva_ok verify - <"$A"
  xva_ok inspect --json - <"$A"
  cp "$T/stdout" "$T/inspect.json"
  json_check "$T/inspect.json" "j['compression'] == '$comp'"
  json_check "$T/inspect.json" "len(j['disks']) == 2"
  json_check "$T/inspect.json" "j['complete'] is True"
  mkdir -p "$T/x-$comp"
  xva_ok extract -C "$T/x-$comp" - <"$A"
  check_images "$T/x-$comp" "$T/exp-ab"
  rm -rf "$T/x-$comp"

  note "pack -o - | verify - (no file in between)"
  rc=0
  timeout "$XVA_TIMEOUT" "$XVA" pack -q -o - --compress "$comp" \
    "$D/a.img" "$D/b.img" 2>"$T/pack.err" |
    timeout "$XVA_TIMEOUT" "$XVA" verify - >"$T/stdout" 2>"$T/stderr" ||
    rc=$?
  [ "$rc" -eq 0 ] ||
    fail "pack -o - | verify - exited $rc: $(cat "$T/pack.err")"

  # Every slice size for verify; extract takes the two that split
  # headers and chunks most unevenly.
  for spec in 7 512 1,4095,65536; do
    slice_check "$A" "$spec" "$T/exp-ab" verify-only
  done
  for spec in 513 random; do
    slice_check "$A" "$spec" "$T/exp-ab"
  done
  rm -rf "$T/exp-ab"
done

note "1-byte slices of a small archive, each compression"
mkdir -p "$T/exp-tiny"
cp "$D/tiny.img" "$T/exp-tiny/0-tiny.img"
for comp in none gzip zstd; do
  A=$T/tiny-$comp.xva
  xva_ok pack -q -o "$A" --compress "$comp" --checksum sha1 "$D/tiny.img"
  slice_check "$A" 1 "$T/exp-tiny"
done

note "generated archives through slices"
for comp in none zstd; do
  A=$T/gen-$comp.xva
  xvagen -o "$A" --disk "$D/a.img" --disk "$D/b.img" --keepalive-after 1 \
    --checksum mixed --compress "$comp" --expect-dir "$T/exp-gen-$comp"
  slice_check "$A" 7 "$T/exp-gen-$comp" verify-only
  slice_check "$A" random "$T/exp-gen-$comp"
done

note "input that stops early on a pipe is truncated"
A=$T/ab-none.xva
{ head -c $((MIB / 2)) "$A" 2>/dev/null || true; } | run_xva verify -
[ "$rc" -eq 3 ] || fail "verify of a half archive on stdin exited $rc (want 3)"
[ -s "$T/stderr" ] || fail "verify of a half archive said nothing"

echo "PASS"
