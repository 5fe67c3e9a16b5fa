#!/usr/bin/env bash
# Archives in the layouts of other writers, made by the independent
# generator (tests/gen/xvagen.py): `xva verify` must accept each and
# `xva extract` must give back the right bytes.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
requires tar zstd gzip

D=$T/disks
export XVAGEN_CACHE=$T/xxh64-cache
mkdir -p "$D"
mkrandom "$D/r.img" $((MIB + MIB / 2))        # two chunks, short last
mkrandom "$D/r4.img" $((4 * MIB))             # four full chunks
mksparse "$D/s.img" $((3 * MIB))              # chunk 1 all zero
write_at "$D/s.img" 0 4096
write_at "$D/s.img" $((2 * MIB + 100)) 1000
mksparse "$D/z.img" $((3 * MIB))              # data in chunk 0 only
write_at "$D/z.img" 512 512
mkrandom "$D/o.img" 1000                      # not a multiple of 512

n=0
# variant NAME COMPRESSION CHECKSUM XVAGEN-ARGS...: generates the
# archive, checks it with GNU tar, then verify, inspect and extract.
# CHECKSUM is what inspect must report for every disk with data.
variant ()
{
  local name=$1 comp=$2 sum=$3 a exp x
  shift 3
  n=$((n + 1))
  note "$name"
  a=$T/$name.xva
  exp=$T/exp-$name
  xvagen -o "$a" --expect-dir "$exp" "$@" ||
    fail "$name: the generator failed"
  mkdir -p "$exp"

  # The generator's output is a tar stream GNU tar reads.
  case $comp in
    none) tar tf "$a" >"$T/names" ;;
    gzip) tar tzf "$a" >"$T/names" ;;
    zstd) zstd -q -dc "$a" | tar tf - >"$T/names" ;;
  esac || fail "$name: GNU tar cannot list the generated archive"
  [ "$(grep -v PaxHeaders -m1 "$T/names")" = ova.xml ] ||
    fail "$name: generated archive does not start with ova.xml"

  xva_ok verify "$a"
  cp "$T/stderr" "$T/verify.err"
  xva_ok inspect --json "$a"
  cp "$T/stdout" "$T/inspect.json"
  local -a checks=("j['compression'] == '$comp'"
    "j['complete'] is True"
    "j['version']['export_vsn'] == 2"
    "len(j['vms']) == 1"
    "len(j['disks']) == $(find "$exp" -name '*.img' | wc -l)")
  if [ "$sum" != any ]; then
    checks+=("all(d['checksum'] == '$sum' for d in j['disks']
                  if int(d['data_bytes']) > 0)")
  fi
  json_check "$T/inspect.json" "${checks[@]}"

  x=$T/x-$name
  extract_ok "$x" "$a"
  check_images "$x" "$exp"
  rm -rf "$x"
}

# The reference layout, and the other tar header styles.
variant v7 none xxhash --disk "$D/r.img" --disk "$D/s.img" --disk-size 2M
variant ustar none xxhash --header ustar --disk "$D/r.img" --disk "$D/s.img"
variant gnu none xxhash --header gnu --disk "$D/r.img" --disk "$D/s.img"
variant pax none xxhash --header pax --disk "$D/r.img" --disk "$D/s.img"
variant pax-global none xxhash --header pax --pax-global --disk "$D/r.img"

# Keep-alive entries: before full chunks, and before a skipped zero chunk.
variant keepalive none xxhash --disk "$D/r4.img" --keepalive-after 1 \
  --keepalive-after 2 --disk "$D/s.img"
json_check "$T/inspect.json" \
  "[int(d['data_bytes']) for d in j['disks'] if d['userdevice'] == '0']
   == [4 * 2**20]" \
  "[int(d['chunks']) >= 4 for d in j['disks'] if d['userdevice'] == '0']
   == [True]"

# Twelve disks, ids Ref:1..Ref:12: Ref:10 is streamed before Ref:9.
args=()
for i in $(seq 0 11); do
  mkrandom "$D/t$i.img" $(( (i + 1) * 1536 ))
  args+=(--disk "$D/t$i.img")
done
variant twelve none xxhash --first-id 0 "${args[@]}"
tar tf "$T/twelve.xva" | sed -n 's,^\(Ref:[0-9]*\)/.*,\1,p' | uniq |
  tr '\n' ' ' >"$T/order"
grep -q 'Ref:10 .*Ref:9 ' "$T/order" ||
  fail "generator: Ref:10 not before Ref:9: $(cat "$T/order")"
variant bigids none xxhash --first-id 1099511627776 --disk "$D/r.img" \
  --disk "$D/o.img"

# Xen Orchestra: last chunk zero-padded to 1 MiB, virtual_size rounded up.
variant xo none xxhash --header ustar --full-last-chunk --disk "$D/r.img" \
  --disk "$D/o.img"
[ "$(size_of "$T/exp-xo/0-disk0.img")" -eq $((2 * MIB)) ] ||
  fail "generator: --full-last-chunk did not pad to 2 MiB"

# vorteil: an all-zero last chunk left out; the tail reads as zeros.
variant vorteil none sha1 --header gnu --checksum sha1 --indent \
  --omit-zero-last --disk "$D/z.img"
names=$(tar tf "$T/vorteil.xva")
grep -q '^Ref:1/00000002$' <<<"$names" &&
  fail "generator: --omit-zero-last wrote the last chunk"
[ -s "$T/verify.err" ] ||
  fail "verify gave no warning for a disk whose last chunk is missing"

# Checksums: SHA-1 only, and both kinds in one disk.
variant sha1 none sha1 --checksum sha1 --disk "$D/r.img" --disk "$D/s.img"
variant mixed none mixed --checksum mixed --disk "$D/r.img" --disk "$D/s.img"

# ova.xml forms: indented with a declaration, typed values.
variant indent none xxhash --indent --disk "$D/r.img"
variant typed none xxhash --typed --disk "$D/r.img"
variant indent-typed none xxhash --indent --typed --disk "$D/r.img"
variant no-null-refs none xxhash --no-null-refs --disk "$D/r.img"
variant cd-vif none xxhash --iso-cd --vifs 2 --disk "$D/r.img"

# Whole-stream compression.
variant gzip gzip xxhash --compress gzip --disk "$D/r.img" --disk "$D/s.img"
variant zstd zstd xxhash --compress zstd --disk "$D/r.img" --disk "$D/s.img"
variant gzip-ustar gzip sha1 --compress gzip --header ustar --checksum sha1 \
  --disk "$D/r.img"
variant zstd-keepalive zstd mixed --compress zstd --checksum mixed \
  --keepalive-after 1 --disk "$D/r4.img"

# Other writers' habits.
variant no-skip none xxhash --no-skip-zeros --disk "$D/s.img" --disk-size 3M
variant xva-img none xxhash --mode 0 --mtime 0 --disk "$D/r.img"
variant record-pad none xxhash --end-blocks 20 --disk "$D/r.img"

# Every disk complete but no end marker: what a download cut at the very
# end looks like.  An importer takes the disks (xapi's stops after the
# last one), but a stored archive without its end marker is not whole.
note "no end marker"
xvagen -o "$T/no-end.xva" --expect-dir "$T/exp-no-end" --no-end-blocks \
  --disk "$D/r.img" || fail "no-end: the generator failed"
xva_fails 3 verify "$T/no-end.xva"
stderr_has "end marker"
run_xva inspect --json "$T/no-end.xva"
[ "$rc" -eq 3 ] || fail "inspect of an archive without end marker exited $rc"
python3 -c 'import json,sys; j=json.load(open(sys.argv[1])); sys.exit(0 if j["complete"] is False and "end marker" in j["error"] else 1)' "$T/stdout" ||
  fail "inspect does not say the end marker is missing"
mkdir -p "$T/x-no-end"
xva_ok extract -q -C "$T/x-no-end" "$T/no-end.xva"
cmp "$T/x-no-end/0-"*.img "$T/exp-no-end/"*.img ||
  fail "no-end: extracted disk differs"
variant odd-sizes none xxhash --disk "$D/o.img" --disk-size 0 \
  --disk "$D/r.img"

note "metadata only (as /export_metadata)"
xvagen -o "$T/meta.xva" --metadata-only --disk "$D/r.img"
xva_ok verify "$T/meta.xva"
xva_ok inspect --json "$T/meta.xva"
cp "$T/stdout" "$T/inspect.json"
json_check "$T/inspect.json" "j['metadata_only'] is True" \
  "len(j['disks']) == 1"

echo "PASS ($n variants)"
