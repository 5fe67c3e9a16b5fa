#!/usr/bin/env bash
# pack -> verify -> inspect -> extract -> cmp, over disks of awkward
# sizes and shapes, both checksum kinds and every compression.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

D=$T/disks
mkdir -p "$D"

# Disks of one VM, in userdevice order.
mkrandom "$D/small.img" 100000                  # under 1 MiB, not /512
mkrandom "$D/odd.img" $((3 * MIB + 4096))       # short last chunk
mkrandom "$D/full.img" $((2 * MIB))             # no zero chunk
mkrandom "$D/onezero.img" $((3 * MIB))          # middle chunk zero
dd if=/dev/zero of="$D/onezero.img" bs=$MIB seek=1 count=1 conv=notrunc \
   status=none
mksparse "$D/manyzero.img" $((24 * MIB))        # mostly zero chunks
write_at "$D/manyzero.img" 100 5000
write_at "$D/manyzero.img" $((7 * MIB + 3)) 1
write_at "$D/manyzero.img" $((15 * MIB - 10)) 20   # straddles 14|15
write_at "$D/manyzero.img" $((24 * MIB - 512)) 512
mksparse "$D/zerotail.img" $((5 * MIB))         # first and last zero
write_at "$D/zerotail.img" $((2 * MIB)) 4096

DISKS=(small odd full onezero manyzero zerotail)
# small.img is 100000 bytes: pack rounds it up to 100352.
rounded ()
{
  local s
  s=$(size_of "$1")
  echo $(( (s + 511) / 512 * 512 ))
}

check_vm_images ()
{
  local dir=$1 i=0 n img
  for n in "${DISKS[@]}"; do
    img=$(img_for "$dir" $i)
    cmp_padded "$img" "$D/$n.img" "$(rounded "$D/$n.img")"
    i=$((i + 1))
  done
}

paths=()
disk_checks=()
i=0
for n in "${DISKS[@]}"; do
  paths+=("$D/$n.img")
  # Size and data entries of each disk: every chunk but the all-zero
  # ones that are neither first nor last.
  want=$("$PYTHON" "$TARTOOL" expect-chunks "$D/$n.img" | wc -l)
  disk_checks+=("[(int(d['virtual_size']), int(d['chunks']))
                  for d in j['disks'] if d['userdevice'] == '$i']
                 == [($(rounded "$D/$n.img"), $want)]")
  i=$((i + 1))
done

for sum in xxhash sha1; do
  for comp in none gzip zstd; do
    note "pack --checksum $sum --compress $comp"
    A=$T/vm-$sum-$comp.xva
    xva_ok pack -o "$A" --name "rt $sum $comp" --memory 512M --vcpus 3 \
      --checksum "$sum" --compress "$comp" "${paths[@]}"
    [ -s "$A" ] || fail "pack wrote nothing to $A"
    # The disk that is not a multiple of 512 gets a warning.
    grep -qi 'small.img' "$T/stderr" ||
      fail "pack did not warn about small.img (100000 bytes, not /512)"

    xva_ok verify "$A"
    [ -s "$T/stdout" ] || fail "verify printed no summary"

    xva_ok inspect --json "$A"
    cp "$T/stdout" "$T/inspect.json"
    checks=("j['compression'] == '$comp'"
            "j['complete'] is True"
            "j['metadata_only'] is False"
            "j['version']['export_vsn'] == 2"
            "len(j['vms']) == 1"
            "j['vms'][0]['name'] == 'rt $sum $comp'"
            "int(j['vms'][0]['memory']) == 512 * 2**20"
            "int(j['vms'][0]['vcpus']) == 3"
            "j['vms'][0]['power_state'] == 'Halted'"
            "len(j['disks']) == ${#DISKS[@]}"
            "sorted(d['userdevice'] for d in j['disks']) ==
             sorted(str(i) for i in range(${#DISKS[@]}))"
            "all(d['checksum'] == '$sum' for d in j['disks'])")
    json_check "$T/inspect.json" "${checks[@]}" "${disk_checks[@]}"

    extract_ok "$T/x-$sum-$comp" "$A"
    check_vm_images "$T/x-$sum-$comp"
    rm -rf "$T/x-$sum-$comp"
  done
done

A=$T/vm-xxhash-none.xva
note "--threads: one thread and many give the same result"
for t in 1 3; do
  xva_ok verify --threads=$t "$A"
  extract_ok "$T/t$t" "$A" --threads=$t
  check_vm_images "$T/t$t"
  rm -rf "$T/t$t"
done
xva_fails 2 verify --threads=many "$A"
stderr_has "bad --threads"

note "extract refuses to overwrite without --force"
X=$T/again
extract_ok "$X" "$A"
check_vm_images "$X"
img0=$(img_for "$X" 2)
echo "keep me" >"$X/ova.xml"
run_xva extract -C "$X" "$A"
[ "$rc" -ne 0 ] || fail "extract over existing files succeeded without --force"
[ -s "$T/stderr" ] || fail "extract refused silently"
[ "$(cat "$X/ova.xml")" = "keep me" ] || fail "extract overwrote ova.xml"
xva_ok extract --force -C "$X" "$A"
check_vm_images "$X"
cmp -s "$X/ova.xml" - <<<"keep me" && fail "--force did not rewrite ova.xml"
[ -f "$img0" ] || fail "--force lost $img0"

note "a sparse 4 GiB disk"
S=$T/sparse.img
mksparse "$S" $((4 * 1024 * MIB))
write_at "$S" 0 4096
write_at "$S" $((1024 * MIB + 12345)) $((2 * MIB))
write_at "$S" $((3000 * MIB)) $MIB
write_at "$S" $((4 * 1024 * MIB - 4096)) 4096
A=$T/sparse.xva
xva_ok pack -q -o "$A" "$S"
asize=$(size_of "$A")
[ "$asize" -lt $((16 * MIB)) ] ||
  fail "archive of a 4 GiB disk holding 4 MiB of data is $asize bytes"
xva_ok verify "$A"
extract_ok "$T/xs" "$A"
img=$(img_for "$T/xs" 0)
[ "$(size_of "$img")" -eq $((4 * 1024 * MIB)) ] ||
  fail "$img has $(size_of "$img") bytes, expected 4 GiB"
is_sparse "$img" || fail "$img is not sparse ($(du -k "$img"))"
"$PYTHON" "$TARTOOL" sparse-cmp "$img" "$S" || fail "$img differs from $S"
rm -rf "$T/xs" "$A"

note "12 disks: streamed in byte-wise id order, each to its own image"
mkdir -p "$T/twelve"
paths=()
for i in $(seq 0 11); do
  mkrandom "$T/twelve/d$i.img" $(( (i + 1) * 4096 ))
  paths+=("$T/twelve/d$i.img")
done
A=$T/twelve.xva
xva_ok pack -q -o "$A" --checksum sha1 "${paths[@]}"
"$PYTHON" "$TARTOOL" list "$A" | awk '{print $4}' |
  sed -n 's,^\(Ref:[0-9]*\)/[0-9]*$,\1,p' | uniq >"$T/order"
[ "$(wc -l <"$T/order")" -eq 12 ] ||
  fail "expected 12 disk prefixes in the stream, got: $(cat "$T/order")"
LC_ALL=C sort -c "$T/order" ||
  fail "disks are not in byte-wise id order: $(tr '\n' ' ' <"$T/order")"
xva_ok verify "$A"
extract_ok "$T/x12" "$A"
for i in $(seq 0 11); do
  img=$(img_for "$T/x12" "$i")
  cmp "$img" "$T/twelve/d$i.img" >/dev/null ||
    fail "disk $i: $img differs from d$i.img"
done

note "a disk of 1000 bytes: rounded up to 1024 with a warning"
mkrandom "$T/odd1000.img" 1000
A=$T/odd1000.xva
xva_ok pack -o "$A" "$T/odd1000.img"
[ -s "$T/stderr" ] || fail "pack did not warn about a 1000-byte disk"
xva_ok verify "$A"
extract_ok "$T/xo" "$A"
cmp_padded "$(img_for "$T/xo" 0)" "$T/odd1000.img" 1024

note "an empty (0-byte) disk, alone and beside another"
mksparse "$D/empty.img" 0
A=$T/empty.xva
xva_ok pack -q -o "$A" "$D/empty.img"
xva_ok verify "$A"
extract_ok "$T/xe" "$A"
img=$(img_for "$T/xe" 0)
[ "$(size_of "$img")" -eq 0 ] || fail "$img is not empty"
A=$T/empty2.xva
xva_ok pack -q -o "$A" "$D/empty.img" "$D/full.img"
xva_ok verify "$A"
xva_ok inspect --json "$A"
cp "$T/stdout" "$T/inspect.json"
json_check "$T/inspect.json" \
  "[int(d['chunks']) for d in j['disks'] if d['userdevice'] == '0'] == [0]"
extract_ok "$T/xe2" "$A"
[ "$(size_of "$(img_for "$T/xe2" 0)")" -eq 0 ] || fail "disk 0 is not empty"
cmp "$(img_for "$T/xe2" 1)" "$D/full.img" >/dev/null ||
  fail "disk 1 beside an empty disk differs"

echo "PASS"
