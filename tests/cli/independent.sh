#!/usr/bin/env bash
# Archives written by `xva pack`, checked with tools that share no code
# with xva: GNU tar, xxhsum, sha1sum, gzip, zstd and Python.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
requires tar xxhsum sha1sum gzip zstd od

D=$T/disks
mkdir -p "$D"
mkrandom "$D/d0.img" $((MIB + MIB / 2))       # short last chunk
mksparse "$D/d1.img" $((3 * MIB))             # chunk 1 all zero: skipped
write_at "$D/d1.img" 10 100
write_at "$D/d1.img" $((2 * MIB + 7)) 9
mksparse "$D/d2.img" $((2 * MIB))             # all zero: first and last
paths=("$D/d0.img" "$D/d1.img" "$D/d2.img")
for i in $(seq 3 11); do                      # 12 disks in all
  mkrandom "$D/d$i.img" $((i * 1024))
  paths+=("$D/d$i.img")
done
NDISKS=${#paths[@]}

# expected_names ARCHIVE EXT: the entry names the archive must hold, in
# order, from its own ova.xml and the input disks.
expected_names ()
{
  "$PYTHON" "$TARTOOL" ova-json "$1" >"$T/ova.json" ||
    fail "ova.xml of $1 is not compact XML-RPC"
  "$PYTHON" - "$T/ova.json" "$D" "$2" <<'EOF' || fail "expected_names failed"
import json, os, sys
MIB = 1 << 20
ova = json.load(open(sys.argv[1]))
ddir, ext = sys.argv[2], sys.argv[3]
objs = {o['id']: o for o in ova['objects']}
vdis = {}
for o in ova['objects']:
    if o['class'] != 'VBD':
        continue
    s = o['snapshot']
    if s['type'] == 'CD' or s['VDI'] not in objs:
        continue
    vdis[s['VDI']] = int(s['userdevice'])
print('ova.xml')
for vid in sorted(vdis, key=lambda x: x.encode()):
    ud = vdis[vid]
    data = open(os.path.join(ddir, 'd%d.img' % ud), 'rb').read()
    size = int(objs[vid]['snapshot']['virtual_size'])
    assert size == len(data), (vid, size, len(data))
    n = (size + MIB - 1) // MIB
    for j in range(n):
        c = data[j * MIB:(j + 1) * MIB]
        if j == 0 or j == n - 1 or c != bytes(len(c)):
            print('%s/%08d' % (vid, j))
            print('%s/%08d%s' % (vid, j, ext))
EOF
}

# check_archive TAR SUMKIND: TAR is an uncompressed archive from pack.
check_archive ()
{
  local a=$1 kind=$2 ext len x name want got
  case $kind in
    xxhash) ext=.xxhash; len=16 ;;
    sha1) ext=.checksum; len=40 ;;
  esac

  note "$kind: entry names and order (GNU tar)"
  tar tf "$a" >"$T/names" || fail "GNU tar cannot list $a"
  expected_names "$a" "$ext" >"$T/want"
  diff "$T/want" "$T/names" >"$T/diff" ||
    fail "entries differ from the expected (- want, + got): $(head -40 "$T/diff")"

  note "$kind: Ref:10 sorts before Ref:9"
  if grep -q '^Ref:10/' "$T/names" && grep -q '^Ref:9/' "$T/names"; then
    [ "$(grep -n '^Ref:10/' "$T/names" | head -1 | cut -d: -f1)" -lt \
      "$(grep -n '^Ref:9/' "$T/names" | head -1 | cut -d: -f1)" ] ||
      fail "Ref:9 is streamed before Ref:10"
  else
    # The pack numbering did not give both; the byte-wise sort is still
    # checked by the comparison above.
    note "no disks Ref:9 and Ref:10 in this archive"
  fi

  note "$kind: modes and owners (GNU tar)"
  tar tvf "$a" >"$T/long"
  awk '$1 != "-r--------" { print }' "$T/long" >"$T/badmode"
  [ ! -s "$T/badmode" ] || fail "entries not r--------: $(head -3 "$T/badmode")"

  note "$kind: header fields and end of archive"
  "$PYTHON" "$TARTOOL" check-ref "$a" 2>"$T/ref.err" ||
    fail "headers not in the reference form: $(head -20 "$T/ref.err")"
  [ $(( $(size_of "$a") % 512 )) -eq 0 ] || fail "size not a multiple of 512"
  [ "$(od -An -tx1 -j257 -N6 "$a" | tr -d ' \n')" = 000000000000 ] ||
    fail "first header has a magic at 257: $(od -An -c -j257 -N8 "$a")"
  [ "$(dd if="$a" bs=1 skip=100 count=8 status=none | od -An -c |
       tr -d ' \n')" = '0000400\0' ] || fail "first header mode field"
  [ "$(od -An -tx1 -j156 -N1 "$a" | tr -d ' \n')" = 00 ] ||
    fail "first header typeflag is not NUL"
  tail -c 1024 "$a" | cmp -s - <(head -c 1024 /dev/zero) ||
    fail "the archive does not end in two zero blocks"

  note "$kind: each checksum entry matches its chunk ($kind tool)"
  x=$T/tarx
  rm -rf "$x"
  mkdir -p "$x"
  tar xf "$a" -C "$x" || fail "GNU tar cannot extract $a"
  chmod -R u+rwX "$x"
  while read -r name; do
    case $name in
      ova.xml|*"$ext") continue ;;
    esac
    [ -f "$x/$name$ext" ] || fail "$name has no $ext entry"
    got=$(cat "$x/$name$ext")
    [ "$(size_of "$x/$name$ext")" -eq $len ] ||
      fail "$name$ext holds $(size_of "$x/$name$ext") bytes, want $len"
    if [ "$kind" = xxhash ]; then
      want=$(xxhsum -H64 "$x/$name" 2>/dev/null | cut -d' ' -f1 | tr a-f A-F)
    else
      want=$(sha1sum "$x/$name" | cut -d' ' -f1)
    fi
    [ "$got" = "$want" ] || fail "$name$ext is $got, $kind of the chunk is $want"
  done <"$T/names"

  note "$kind: disks rebuilt with the position rule equal the inputs"
  "$PYTHON" - "$T/ova.json" <<'EOF' >"$T/disks.txt"
import json, sys
ova = json.load(open(sys.argv[1]))
objs = {o['id']: o for o in ova['objects']}
for o in ova['objects']:
    s = o['snapshot']
    if o['class'] == 'VBD' and s['type'] == 'Disk':
        print(s['VDI'], s['userdevice'], objs[s['VDI']]['snapshot']['virtual_size'])
EOF
  [ "$(wc -l <"$T/disks.txt")" -eq "$NDISKS" ] ||
    fail "ova.xml has $(wc -l <"$T/disks.txt") disk VBDs, want $NDISKS"
  while read -r id ud size; do
    "$PYTHON" "$TARTOOL" reassemble "$a" "$id" "$size" "$T/re.img" ||
      fail "cannot rebuild $id"
    cmp "$T/re.img" "$D/d$ud.img" >/dev/null ||
      fail "$id rebuilt from the archive differs from d$ud.img"
  done <"$T/disks.txt"
}

# check_ova: fields of ova.xml that the reference importer requires.
check_ova ()
{
  "$PYTHON" - "$T/ova.json" "$NDISKS" <<'EOF' || fail "ova.xml check failed"
import json, re, sys
ova = json.load(open(sys.argv[1]))
ndisks = int(sys.argv[2])
assert set(ova) == {'version', 'objects'}, ova.keys()
v = ova['version']
for k in ('hostname', 'date', 'product_version', 'product_brand',
          'build_number', 'xapi_major', 'xapi_minor', 'export_vsn'):
    assert k in v, 'version.%s missing' % k
assert str(v['export_vsn']) == '2', v['export_vsn']
int(v['xapi_major']); int(v['xapi_minor'])
objs = {}
for o in ova['objects']:
    assert set(o) == {'class', 'id', 'snapshot'}, o.keys()
    assert re.fullmatch(r'Ref:[0-9]+', o['id']), o['id']
    assert o['id'] not in objs, 'duplicate id ' + o['id']
    objs[o['id']] = o
by = lambda c: [o for o in ova['objects'] if o['class'] == c]
vms = by('VM')
assert len(vms) == 1, len(vms)
vm = vms[0]['snapshot']
assert vm['power_state'] == 'Halted', vm['power_state']
assert vm['name_label'] == 'independent', vm['name_label']
for k in ('uuid', 'memory_static_max', 'VCPUs_max', 'VBDs', 'VIFs',
          'is_a_template', 'HVM_boot_policy', 'platform', 'other_config'):
    assert k in vm, 'VM.%s missing' % k
assert len(by('VBD')) == ndisks and len(by('VDI')) == ndisks
assert sorted(vm['VBDs']) == sorted(o['id'] for o in by('VBD'))
uds = sorted(int(o['snapshot']['userdevice']) for o in by('VBD'))
assert uds == list(range(ndisks)), uds
for o in by('VBD'):
    s = o['snapshot']
    assert s['VM'] == vms[0]['id'] and s['type'] == 'Disk', s
    assert s['VDI'] in objs and objs[s['VDI']]['class'] == 'VDI'
    assert s['currently_attached'] is False
for o in by('VDI'):
    s = o['snapshot']
    for k in ('uuid', 'name_label', 'virtual_size', 'SR', 'type',
              'read_only', 'sharable', 'other_config', 'sm_config'):
        assert k in s, 'VDI.%s missing' % k
    assert objs[s['SR']]['class'] == 'SR'
    assert objs[s['SR']]['snapshot']['content_type'] != 'iso'
EOF
}

for kind in xxhash sha1; do
  A=$T/ind-$kind.xva
  xva_ok pack -q -o "$A" --name independent --checksum "$kind" "${paths[@]}"
  check_archive "$A" "$kind"
  check_ova
done

note "gzip and zstd: the whole tar stream, as the reference compresses it"
xva_ok pack -q -o "$T/g.xva" --name independent --compress gzip "${paths[@]}"
[ "$(od -An -tx1 -N2 "$T/g.xva" | tr -d ' \n')" = 1f8b ] ||
  fail "gzip archive does not start with 1f 8b"
gzip -t "$T/g.xva" || fail "gzip -t rejects the gzip archive"
gzip -dc "$T/g.xva" >"$T/g.tar"
check_archive "$T/g.tar" xxhash

xva_ok pack -q -o "$T/z.xva" --name independent --compress zstd "${paths[@]}"
[ "$(od -An -tx1 -N4 "$T/z.xva" | tr -d ' \n')" = 28b52ffd ] ||
  fail "zstd archive does not start with 28 b5 2f fd"
zstd -q -t "$T/z.xva" || fail "zstd -t rejects the zstd archive"
zstd -q -dc "$T/z.xva" >"$T/z.tar"
check_archive "$T/z.tar" xxhash

echo "PASS"
