#!/usr/bin/env bash
# Makes the seed corpora of the libFuzzer targets with the project's
# own tools: archives from `xva pack` (every checksum and compression)
# and from tests/gen/xvagen.py (its header, checksum, keep-alive, ...
# variants), their ova.xml and tar headers, XML-RPC and JSON messages.
#
# Usage: mkcorpus.sh OUTDIR [XVA]
#   OUTDIR gets reader/ roundtrip/ xml/ json/ tar/ (emptied first).
#   XVA is the xva binary; without it the `xva pack` seeds are left out.
set -euo pipefail

out=${1:?usage: mkcorpus.sh OUTDIR [XVA]}
xva=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
gen="python3 $src/tests/gen/xvagen.py"

for t in reader roundtrip xml json tar; do
  rm -rf "${out:?}/$t"
  mkdir -p "$out/$t"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Small disks: random bytes, an odd size, and a mostly empty one of
# several chunks (only compressed, to keep the seeds small).
python3 - "$tmp" <<'PY'
import random, sys
d = sys.argv[1]
r = random.Random(1)
open(d + '/a.img', 'wb').write(bytes(r.getrandbits(8) for _ in range(4096)))
open(d + '/b.img', 'wb').write(bytes(r.getrandbits(8) for _ in range(1000)))
with open(d + '/big.img', 'wb') as f:
    f.truncate(3 * 1048576 + 4096)
    f.seek(1048576 + 8192)
    f.write(bytes(r.getrandbits(8) for _ in range(3000)))
    f.seek(3 * 1048576)
    f.write(b'tail' * 256)
open(d + '/empty.img', 'wb').close()
PY

n=0
if [ -n "$xva" ] && [ -x "$xva" ]; then
  for sum in xxhash sha1; do
    for z in none gzip zstd; do
      if [ "$z" = none ]; then
        disks="$tmp/a.img $tmp/b.img"
      else
        disks="$tmp/a.img $tmp/big.img $tmp/empty.img"
      fi
      # shellcheck disable=SC2086
      if "$xva" pack -q --checksum=$sum --compress=$z --threads=1 \
           --name=seed --vif -o "$out/reader/pack-$sum-$z.xva" $disks; then
        n=$((n + 1))
      else
        echo "mkcorpus: xva pack --checksum=$sum --compress=$z failed" >&2
      fi
    done
  done
else
  echo "mkcorpus: no xva binary: seeds from xva pack left out" >&2
fi

# xvagen variants: small uncompressed ones, bigger ones compressed.
variant () {
  local name=$1
  shift
  if $gen --mtime 0 "$@" -o "$out/reader/gen-$name.xva" 2>/dev/null; then
    n=$((n + 1))
  else
    echo "mkcorpus: xvagen $name failed" >&2
  fi
}
A=$tmp/a.img
B=$tmp/b.img
variant v7 --disk "$A"
variant ustar --header ustar --disk "$A"
variant gnu --header gnu --disk "$A"
variant pax --header pax --pax-global --disk "$B"
variant sha1 --checksum sha1 --disk "$A"
variant mixed --checksum mixed --disk "$A" --disk "$B"
variant indent --indent --typed --disk "$B"
variant vsn1 --vsn 1 --disk "$B"
variant vsn0 --vsn 0 --disk "$B"
variant meta --metadata-only --disk "$A"
variant legacy --legacy --disk "$B"
variant iso --iso-cd --vifs 2 --disk "$B"
variant ids --first-id 8 --disk "$A" --disk "$B" --disk-size 0
variant badsum --bad-checksum 0 --disk "$A"
variant noend --no-end-blocks --disk "$B"
variant oneend --end-blocks 1 --disk "$B"
variant declared --declare-size 0=8192 --disk "$B"
variant zerodisk --disk-size 4096
variant keepalive --compress gzip --disk-size 3M --keepalive-after 1
variant fulllast --compress zstd --full-last-chunk --disk "$tmp/big.img"
variant omitlast --compress gzip --omit-zero-last --disk-size 2M
variant noskip --compress zstd --no-skip-zeros --disk-size 3M
variant swap --compress gzip --swap-chunks 0,1 --disk "$tmp/big.img"
variant extra --compress zstd --extra-chunk --disk "$B"
variant paxz --compress zstd --header pax --checksum sha1 --disk "$tmp/big.img"

# ova.xml and the first tar blocks of the uncompressed archives.
python3 - "$out" <<'PY'
import os, sys
out = sys.argv[1]
for f in sorted(os.listdir(out + '/reader')):
    a = open(os.path.join(out, 'reader', f), 'rb').read()
    if a[:2] == b'\x1f\x8b' or a[:4] == b'\x28\xb5\x2f\xfd':
        continue
    open(os.path.join(out, 'tar', f + '.hdr'), 'wb').write(a[:512])
    if a[156:157] in (b'x', b'g'):
        size = int(a[124:136].strip(b'\0 ') or b'0', 8)
        open(os.path.join(out, 'tar', f + '.pax'), 'wb').write(a[512:512 + size])
    # The first regular entry's data (ova.xml, after any pax header).
    off = 0
    while off + 512 <= len(a) and a[off + 156:off + 157] in (b'x', b'g', b'L'):
        size = int(a[off + 124:off + 136].strip(b'\0 ') or b'0', 8)
        off += 512 + (size + 511) // 512 * 512
    if off + 512 > len(a):
        continue
    size = int(a[off + 124:off + 136].strip(b'\0 ') or b'0', 8)
    data = a[off + 512:off + 512 + size]
    if data:
        open(os.path.join(out, 'xml', f + '.ova.xml'), 'wb').write(data)
PY

# XML-RPC messages, values and hostile documents.
x=$out/xml
printf '%s' '<?xml version="1.0"?><methodCall><methodName>session.login_with_password</methodName><params><param><value><string>root</string></value></param><param><value>secret</value></param><param><value><string>1.0</string></value></param></params></methodCall>' > "$x/call-login"
printf '%s' '<methodCall><methodName>VM.get_record</methodName><params><param><value>OpaqueRef:abc</value></param><param><value><array><data><value><i4>1</i4></value><value><int>-2</int></value><value><i8>9223372036854775807</i8></value><value><boolean>1</boolean></value><value><double>1.5e300</double></value><value><dateTime.iso8601>20240101T00:00:00Z</dateTime.iso8601></value><value><nil/></value></data></array></value></param></params></methodCall>' > "$x/call-types"
printf '%s' '<methodCall><methodName>system.listMethods</methodName></methodCall>' > "$x/call-noparams"
printf '%s' '<?xml version="1.0"?><methodResponse><params><param><value><struct><member><name>Status</name><value>Success</value></member><member><name>Value</name><value>OpaqueRef:1</value></member></struct></value></param></params></methodResponse>' > "$x/resp-ok"
printf '%s' '<methodResponse><fault><value><struct><member><name>faultCode</name><value><int>4</int></value></member><member><name>faultString</name><value><string>Too many parameters</string></value></member></struct></value></fault></methodResponse>' > "$x/resp-fault"
printf '%s\n' '<?xml version="1.0"?>' '<value>' '  <struct>' '    <member><name>a &amp; b</name><value><![CDATA[x<y]]></value></member>' '    <member><name>e</name><value>&#233;&#x9;&lt;</value></member>' '    <!-- comment -->' '    <member><name>s</name><value><array><data/></array></value></member>' '  </struct>' '</value>' > "$x/value-indent"
printf '%s' '<value><struct><member><name>k</name><value><struct><member><name>k</name><value><array><data><value><array><data><value>deep</value></data></array></value></data></array></value></member></struct></value></member></struct></value>' > "$x/value-nested"
printf '%s' '<!DOCTYPE v [<!ENTITY a "aaaaaaaaaa"><!ENTITY b "&a;&a;&a;&a;">]><value>&b;</value>' > "$x/hostile-entity"
printf '%s' '<!DOCTYPE v SYSTEM "file:///etc/passwd"><value>x</value>' > "$x/hostile-dtd"
printf '%s' '<appliance version="0.1"><vm name="x"><label>x</label></vm></appliance>' > "$x/legacy"
printf '%s' '<value><double>nan</double></value>' > "$x/value-nan"
printf '%s' '<value><base64>aGVsbG8=</base64></value>' > "$x/value-base64"

# JSON values and JSON-RPC messages.
j=$out/json
printf '%s' '{"jsonrpc":"2.0","method":"session.login_with_password","params":["root","secret","1.0"],"id":1}' > "$j/call"
printf '%s' '{"jsonrpc":"2.0","result":{"Status":"Success","Value":["OpaqueRef:1",{"a":null}]},"id":"x"}' > "$j/result"
printf '%s' '[1,-2,9223372036854775807,-9223372036854775808,18446744073709551616,1.5,-0.0,1e308,2.5e-308,true,false,null,"",[],{}]' > "$j/types"
printf '%s' '"a\u0000b\ud83d\ude00\n\t\"\\\/"' > "$j/string"
printf '%s' '{"a":{"b":{"c":[[[[{"d":"deep"}]]]]}}}' > "$j/nested"
printf '%s' '{"k":1,"k":2}' > "$j/dupkey"

# Layouts for the round trip: a few bytes each.
python3 - "$out/roundtrip" <<'PY'
import random, sys
r = random.Random(2)
for i in range(24):
    n = 3 + 3 * (1 + i % 3) + r.randrange(4)
    open('%s/layout-%02d' % (sys.argv[1], i), 'wb').write(
        bytes([i % 3, i * 37 % 256]) + bytes(r.getrandbits(8) for _ in range(n)))
PY

for t in reader roundtrip xml json tar; do
  echo "mkcorpus: $t: $(find "$out/$t" -type f | wc -l) seeds"
done
