#!/usr/bin/env bash
# Makes the seed corpora of the libFuzzer targets with the project's
# own tools: archives from `xva pack` (every checksum and compression)
# and from tests/gen/xvagen.py (its header, checksum, keep-alive, ...
# variants), their ova.xml and tar headers, XML-RPC and JSON messages;
# the RPC request bodies and the HTTP requests that the server tests
# send (tests/server, tests/e2e), and chunk layouts for the position
# rule (tests/unit/position.c and the xvagen variants above).
#
# Usage: mkcorpus.sh OUTDIR [XVA]
#   OUTDIR gets reader/ roundtrip/ xml/ json/ tar/ rpc/ http/ position/
#   (emptied first).
#   XVA is the xva binary; without it the `xva pack` seeds are left out.
set -euo pipefail

out=${1:?usage: mkcorpus.sh OUTDIR [XVA]}
xva=${2:-}
src=$(cd "$(dirname "$0")/../.." && pwd)
gen="python3 $src/tests/gen/xvagen.py"

for t in reader roundtrip xml json tar rpc http position; do
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

# RPC request bodies (tests/fuzz/rpc.c): a first byte (bit 0: XML-RPC,
# bit 1: trusted), then the body, with the placeholders of rpc.c for
# refs (@S session, @V VM, @T task, ...).  The calls of
# tests/server/srv-*.c and harden-rpcfuzz.c, in both envelopes.
python3 - "$out/rpc" <<'PY'
import json, sys
d = sys.argv[1]
S = '@S'
calls = [
    ('system.listMethods', []),
    ('session.login_with_password', ['root', 'fuzz-pw', '1.0']),
    ('session.login_with_password', ['root', 'wrong']),
    ('session.login_with_password', ['root', 'fuzz-pw', '2.21', 'xva']),
    ('session.logout', [S]),
    ('pool.get_all_records', [S]),
    ('pool.get_default_SR', [S, '@P']),
    ('pool.set_default_SR', [S, '@P', '@Q']),
    ('pool.add_to_other_config', [S, '@P', 'k', 'v']),
    ('pool.remove_from_other_config', [S, '@P', 'k']),
    ('host.get_record', [S, '@H']),
    ('host.get_by_name_label', [S, 'localhost']),
    ('VM.get_all', [S]),
    ('VM.get_record', [S, '@V']),
    ('VM.get_by_uuid', [S, '@U']),
    ('VM.get_uuid', [S, '@V']),
    ('VM.get_name_label', [S, '@V']),
    ('VM.get_by_name_label', [S, 'fuzz vm']),
    ('VM.get_power_state', [S, '@V']),
    ('VM.get_VBDs', [S, '@V']),
    ('VM.get_VIFs', [S, '@V']),
    ('VM.get_other_config', [S, '@V']),
    ('VM.add_to_other_config', [S, '@V', 'folder', '/a/b']),
    ('VM.remove_from_other_config', [S, '@V', 'folder']),
    ('VM.destroy', [S, '@V']),
    ('VBD.get_record', [S, '@B']),
    ('VDI.get_record', [S, '@D']),
    ('VDI.get_virtual_size', [S, '@D']),
    ('VIF.get_all_records', [S]),
    ('SR.get_record', [S, '@R']),
    ('SR.get_by_name_label', [S, 'fuzz SR']),
    ('network.get_record', [S, '@N']),
    ('task.create', [S, 'label', 'description']),
    ('task.get_record', [S, '@T']),
    ('task.get_status', [S, '@T']),
    ('task.set_status', [S, '@T', 'success']),
    ('task.set_progress', [S, '@T', 0.5]),
    ('task.cancel', [S, '@T']),
    ('task.destroy', [S, '@T']),
    ('event.inject', [S, 'VM', '@V']),
    ('event.from', [S, ['*'], '', 0.0]),
    ('event.from', [S, ['vm', 'task/@T'], '1', 0.001]),
    ('VM.get_record', ['OpaqueRef:NULL', '@V']),
    ('VM.no_such_method', [S]),
]
def xv(v):
    if isinstance(v, str):
        return '<value><string>%s</string></value>' % v
    if isinstance(v, bool):
        return '<value><boolean>%d</boolean></value>' % v
    if isinstance(v, int):
        return '<value><i4>%d</i4></value>' % v
    if isinstance(v, float):
        return '<value><double>%r</double></value>' % v
    return ('<value><array><data>%s</data></array></value>'
            % ''.join(xv(x) for x in v))
n = 0
for i, (m, ps) in enumerate(calls):
    for trusted in (0, 2):
        j = {'jsonrpc': '2.0', 'method': m, 'params': ps, 'id': i}
        open('%s/json-%02d-%d' % (d, i, trusted), 'wb').write(
            bytes([trusted]) + json.dumps(j).encode())
        x = ('<?xml version="1.0"?><methodCall><methodName>%s</methodName>'
             '<params>%s</params></methodCall>'
             % (m, ''.join('<param>%s</param>' % xv(p) for p in ps)))
        open('%s/xml-%02d-%d' % (d, i, trusted), 'wb').write(
            bytes([1 | trusted]) + x.encode())
        n += 2
# JSON-RPC 1.0, notifications, and envelopes that are wrong.
extra = [
    '{"method":"VM.get_all","params":["@S"],"id":"a"}',
    '{"jsonrpc":"2.0","method":"VM.get_all","params":["@S"]}',
    '{"jsonrpc":"1.0","method":"VM.get_all","params":["@S"],"id":1}',
    '{"jsonrpc":"2.0","method":"VM.get_all","params":{"a":1},"id":[1,{}]}',
    '[{"jsonrpc":"2.0","method":"VM.get_all","params":["@S"],"id":1}]',
    '{"jsonrpc":"2.0","method":7,"id":null}',
    '{"jsonrpc":"2.0","method":"VM.get_all\\u0000x","params":["@S"],"id":1}',
]
for k, e in enumerate(extra):
    open('%s/json-extra-%d' % (d, k), 'wb').write(b'\0' + e.encode())
xextra = [
    '<methodCall><methodName>VM.get_all</methodName><params><param><value>@S</value></param></params></methodCall>',
    '<methodCall><methodName>VM.get_all</methodName></methodCall>',
    '<methodCall><params/></methodCall>',
    '<methodResponse><params/></methodResponse>',
    '<methodCall><methodName>event&#46;from</methodName><params><param><value>@S</value></param><param><value><array><data><value>*</value></data></array></value></param><param><value>1</value></param><param><value><double>0.001</double></value></param></params></methodCall>',
]
for k, e in enumerate(xextra):
    open('%s/xml-extra-%d' % (d, k), 'wb').write(b'\1' + e.encode())
PY

# HTTP requests (tests/fuzz/http.c): a first byte (bit 0: the trusted
# control socket), then the raw request with the placeholders of
# http.c (@S session, @V / @U the VM, @T task, @A Basic credentials,
# @Z an archive and @z its length, ...).  What tests/e2e/*.sh send with
# curl: exports by ref or uuid, the session in the query or a cookie,
# Basic auth, imports with a length, chunked or of the fake length,
# metadata with vdi: maps, RPC over POST, sr-create.
python3 - "$out/http" <<'PY'
import sys
d = sys.argv[1]
H = 'Host: 127.0.0.1\r\n'
def get(path, hdrs=''):
    return 'GET %s HTTP/1.1\r\n%s%s\r\n' % (path, H, hdrs)
def put(path, body, hdrs=''):
    return 'PUT %s HTTP/1.1\r\n%s%sContent-Length: %s\r\n\r\n%s' % (
        path, H, hdrs, '@z' if body == '@Z' else len(body), body)
def post(path, body, ctype='text/xml'):
    return ('POST %s HTTP/1.1\r\n%sContent-Type: %s\r\n'
            'Content-Length: %d\r\n\r\n%s' % (path, H, ctype, len(body),
                                               body))
xml_call = ('<?xml version="1.0"?><methodCall><methodName>VM.get_all'
            '</methodName><params><param><value>@S</value></param>'
            '</params></methodCall>')
json_call = '{"jsonrpc":"2.0","method":"VM.get_all","params":["@S"],"id":1}'
reqs = {
    'export-ref': get('/export?session_id=@S&ref=@V'),
    'export-uuid': get('/export?session_id=@S&uuid=@U&use_compression=true'),
    'export-zstd': get('/export?session_id=@S&uuid=@U&use_compression=zstd'),
    'export-cookie': get('/export?ref=@V', 'Cookie: session_id=@S\r\n'),
    'export-task': get('/export?ref=@V&task_id=@T',
                       'Cookie: session_id=@S; task_id=@T\r\n'),
    'export-basic': get('/export?uuid=@U', 'Authorization: Basic @A\r\n'),
    'export-badauth': get('/export?uuid=@U',
                          'Authorization: Basic cm9vdDp3cm9uZw==\r\n'),
    'export-noauth': get('/export?uuid=@U'),
    'export-badsession': get('/export?session_id=OpaqueRef:x&uuid=@U'),
    'meta-ref': get('/export_metadata?session_id=@S&ref=@V'),
    'meta-all': get('/export_metadata/?session_id=@S&all=true'
                    '&include_vhd_parents=true&export_snapshots=false'
                    '&excluded_device_types=vif,vbd'),
    'import': put('/import?session_id=@S', '@Z'),
    'import-sr': put('/import?session_id=@S&sr_id=@Q&force=true', '@Z'),
    'import-restore': put('/import?session_id=@S&restore=true&task_id=@T',
                          '@Z'),
    'import-basic': put('/import?sr_uuid=x', '@Z',
                        'Authorization: Basic @A\r\n'),
    'import-probe': put('/import?session_id=@S', ''),
    'import-bad': put('/import?session_id=@S', 'not an archive'),
    'import-fake': ('PUT /import?session_id=@S&task_id=@T HTTP/1.1\r\n' + H +
                    'Content-Length: 1125899906842624\r\n\r\n@Z'),
    'import-chunked': ('PUT /import?session_id=@S HTTP/1.1\r\n' + H +
                       'Transfer-Encoding: chunked\r\n\r\n'
                       '5\r\nhello\r\n0\r\n\r\n'),
    'import-expect': put('/import?session_id=@S', '@Z',
                         'Expect: 100-continue\r\n'),
    'importmeta': put('/import_metadata?session_id=@S&dry_run=true'
                      '&vdi:@D=@D', '@Z'),
    'xmlrpc': post('/', xml_call),
    'xmlrpc-path': post('/export', xml_call),
    'jsonrpc': post('/jsonrpc', json_call, 'application/json'),
    'jsonrpc-big': ('POST /jsonrpc HTTP/1.1\r\n' + H +
                    'Content-Length: 99999999999\r\n\r\n{}'),
    'method': 'DELETE /export HTTP/1.1\r\n' + H + '\r\n',
    'head': 'HEAD /export?session_id=@S&uuid=@U HTTP/1.1\r\n' + H + '\r\n',
    'pipelined': (get('/export_metadata?session_id=@S&ref=@V') +
                  post('/jsonrpc', json_call, 'application/json')),
    'http10': 'GET /export_metadata?session_id=@S&ref=@V HTTP/1.0\r\n\r\n',
    'encoded': get('/export?session%5Fid=@S&uuid=%40U&x=%zz&=&&a'),
}
for name, r in reqs.items():
    open('%s/tcp-%s' % (d, name), 'wb').write(b'\0' + r.encode())
trusted = {
    'sr-create': post('/xva/sr-create?name=fuzz%20two', ''),
    'sr-create-noname': post('/xva/sr-create', ''),
    'export': get('/export?uuid=@U'),
    'import': put('/import', '@Z'),
    'jsonrpc': post('/jsonrpc', json_call, 'application/json'),
}
for name, r in trusted.items():
    open('%s/ctl-%s' % (d, name), 'wb').write(b'\1' + r.encode())
PY

# Chunk layouts (tests/fuzz/position.c reads a recipe): a flags byte
# (disks - 1, end marker, sha1, READ_ANY, in pieces), three disk sizes
# in units of 4 bytes, then 4 bytes per data entry (disk and counter
# step, length kind, pattern).  The layouts of tests/unit/position.c
# (gaps, keep-alives) at a small scale, and xvagen's variants: tails
# left out, a last chunk padded with zeros, several disks.
python3 - "$out/position" <<'PY'
import sys
d = sys.argv[1]
def rec(name, flags, sizes, ents):
    b = bytes([flags])
    for s in (sizes + [0, 0, 0])[:3]:
        b += bytes([s >> 8, s & 255])
    for e in ents:
        b += bytes(e)
    open('%s/%s' % (d, name), 'wb').write(b)
L = [0, 0, 7, 1]                # same disk, +1, the first length (4 KiB)
nxt = lambda e: [e[0] | 3] + e[1:]
keep = [0, 3, 0, 0]             # keep-alive
gap2 = [0x28, 0, 7, 2]          # counter +2: one chunk of zeros
gapn = [0x40 | 0x28, 0, 7, 3]   # counter +2 * 4
end = [0, 5, 0, 9]              # up to the disk's end
rec('full', 4, [4096], [L, L, L, L])
rec('full-pieces', 4 | 32, [4096], [L, L, L, L])
rec('full-sha1', 4 | 8, [4096], [L, L, L, L])
rec('gaps', 4, [5120], [L, keep, L, gap2, L])
rec('gaps-bigger', 4 | 32, [16384], [L, gapn, end])
rec('keepalives', 4, [3072], [L, keep, keep, L, keep, end])
rec('tail-omitted', 4, [8192], [L, L])
rec('no-end-marker', 0, [2048], [L, L])
rec('cut', 0, [8192], [L, L])
rec('short-last', 4, [2500], [L, L, end])
rec('padded-last', 4, [2500], [L, L, [0, 0x46, 10, 4]])
rec('padded-nonzero', 4, [2500], [L, L, [0, 6, 10, 4]])
rec('two-disks', 4 | 1, [4096, 2048], [L, L, L, L, nxt(L), L])
rec('two-tail', 4 | 1, [8192, 2048], [L, L, nxt(L), L])
rec('three-empty', 4 | 2, [2048, 0, 1024], [L, L, nxt(L)])
rec('first-keepalive', 4, [2048], [keep, L])
rec('first-gap', 4, [4096], [[0x20 | 0x40, 0, 7, 0], L])
rec('odd-step', 4 | 32, [3000], [[0, 0, 0, 5], [0, 4, 200, 3], end])
rec('repeat', 4, [4096], [L, [0x24, 0, 7, 1], L])
rec('metadata-any', 4 | 16, [2048], [])
rec('zero-disk', 4, [0], [])
rec('zeros', 4 | 32, [2048], [[0, 0x80, 7, 0], [0, 0x80, 7, 0]])
PY

for t in reader roundtrip xml json tar rpc http position; do
  echo "mkcorpus: $t: $(find "$out/$t" -type f | wc -l) seeds"
done
