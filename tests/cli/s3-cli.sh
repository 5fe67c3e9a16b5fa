#!/usr/bin/env bash
# The xva command against real object storage: starts a throw-away
# single-node Ceph cluster with a RADOS Gateway (tests/s3/ceph.sh), then
# packs to s3://, verifies, inspects and extracts from s3://, and checks
# multipart uploads, retention (--keep), `xva ls`, corrupted objects,
# wrong credentials, missing buckets, TLS, `xva export -o s3://` and
# `xva import -i s3://` against `xva serve`, and uploads stopped by
# SIGTERM and by SIGKILL.  Stops the cluster whatever happens.
#
# Exit 77 (skip) only when the Ceph packages cannot be installed.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
command -v curl >/dev/null || fail "curl is needed (it is a build dependency)"

CEPH="$SRCDIR/tests/s3/ceph.sh"
CEPHDIR="$T/ceph"
PROXY_PID=
XVA_PID=
SERVE_PID=

s3_cleanup ()
{
  [ -z "$XVA_PID" ] || kill -KILL "$XVA_PID" 2>/dev/null || true
  [ -z "$PROXY_PID" ] || kill -KILL "$PROXY_PID" 2>/dev/null || true
  [ -z "$SERVE_PID" ] || kill -TERM "$SERVE_PID" 2>/dev/null || true
  bash "$CEPH" stop "$CEPHDIR" >/dev/null 2>&1 || true
  cleanup
}
trap s3_cleanup EXIT
trap 'exit 143' TERM INT HUP

t0=$(date +%s.%N)
crc=0
XVA_CEPH_OWNER_PID=$$ bash "$CEPH" start "$CEPHDIR" 2>"$T/ceph.err" || crc=$?
if [ "$crc" -eq 77 ]; then
  cat "$T/ceph.err" >&2
  exit 77
fi
if [ "$crc" -ne 0 ]; then
  cat "$T/ceph.err" >&2
  for f in "$CEPHDIR"/log/*; do
    [ -f "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
  done
  fail "the Ceph cluster did not start (exit $crc)"
fi
note "cluster up in $("$PYTHON" -c "import time; print('%.1f' % (time.time() - $t0))") s"

envval () { sed -n "s/^$1=//p" "$CEPHDIR/s3.env"; }
EP=$(envval XVA_S3_ENDPOINT)
BUCKET=$(envval XVA_S3_BUCKET)
ACCESS=$(envval XVA_S3_ACCESS_KEY)
SECRET=$(envval XVA_S3_SECRET_KEY)
TLS_EP=$(envval XVA_S3_TLS_ENDPOINT)
CA=$(envval XVA_S3_CA_FILE)
P="s3://$BUCKET/cli-$$"

# The credentials as an AWS-style ini file (the form documented first).
CRED="$T/credentials"
cat >"$CRED" <<EOF
# test keys
[other]
aws_access_key_id = NOTTHISONE
aws_secret_access_key = notthisone

[default]
aws_access_key_id = $ACCESS
aws_secret_access_key = $SECRET
region = us-east-1
EOF
chmod 600 "$CRED"
S3=(--s3-endpoint "$EP" --s3-credentials "$CRED")

# s3raw METHOD PATH [CURL ARGS...]: a signed request straight to radosgw;
# prints the body, and the HTTP status on the last line.
s3raw ()
{
  local method=$1 path=$2
  shift 2
  curl -sS -X "$method" --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$ACCESS:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -w '\n%{http_code}\n' "$@" "$EP/$BUCKET/$path"
}

# pending_count PREFIX: the pending multipart uploads under PREFIX.
pending_count ()
{
  local out
  # The query as SigV4 wants it: sorted, '/' encoded.
  out=$(s3raw GET "?prefix=${1//\//%2F}&uploads=")
  [ "$(tail -n 1 <<<"$out")" = 200 ] ||
    fail "listing the pending uploads: $(tail -c 300 <<<"$out")"
  grep -o '<UploadId>' <<<"$out" | wc -l
}

# head_status KEY: HTTP status of HEAD KEY.
head_status ()
{
  curl -sS -o /dev/null -I --aws-sigv4 "aws:amz:us-east-1:s3" \
    --user "$ACCESS:$SECRET" -H "x-amz-content-sha256: UNSIGNED-PAYLOAD" \
    -w '%{http_code}' "$EP/$BUCKET/$1"
}

# ---------------------------------------------------------------------------
note "round trip: two sparse disks, 20 MiB of data, 5 MiB parts"
mkdir -p "$T/in"
mksparse "$T/in/root.img" $((64 * MIB))
write_at "$T/in/root.img" $((3 * MIB)) $((9 * MIB))
write_at "$T/in/root.img" $((40 * MIB + 4096)) $((5 * MIB))
write_at "$T/in/root.img" $((64 * MIB - 512)) 512
mksparse "$T/in/data.img" $((32 * MIB))
write_at "$T/in/data.img" $((8 * MIB)) $((6 * MIB))
XVA_S3_PART_SIZE=5MiB xva_ok pack -v "${S3[@]}" --name "web server" \
  -o "$P/rt/{name}.xva" "$T/in/root.img" "$T/in/data.img"
parts=$(sed -n 's/.* \([0-9][0-9]*\) parts (at most \([0-9]*\) in flight).*/\1 \2/p' \
          "$T/stderr")
[ -n "$parts" ] || fail "pack -v did not report the parts: $(cat "$T/stderr")"
set -- $parts
[ "$1" -ge 4 ] || fail "only $1 parts for a 20 MiB archive with 5 MiB parts"
[ "$2" -ge 2 ] || fail "at most $2 part in flight: no parallel upload"
note "$1 parts, at most $2 in flight"
RT="$P/rt/web_server.xva"
[ "$(head_status "cli-$$/rt/web_server.xva")" = 200 ] ||
  fail "no object at $RT"
[ "$(pending_count "cli-$$/")" -eq 0 ] || fail "pending uploads after pack"

xva_ok verify "${S3[@]}" "$RT"
grep -q '^OK$' "$T/stdout" || fail "verify printed no OK"
grep -q '^disks: *2$' "$T/stdout" || fail "verify: not 2 disks"
xva_ok inspect --json "${S3[@]}" "$RT"
json_check "$T/stdout" 'j["complete"] is True' 'j["mismatches"] == 0' \
  'j["vms"][0]["name"] == "web server"'
extract_ok "$T/rt" "${S3[@]}" "$RT"
cmp "$(img_for "$T/rt" 0)" "$T/in/root.img" || fail "disk 0 differs"
cmp "$(img_for "$T/rt" 1)" "$T/in/data.img" || fail "disk 1 differs"
is_sparse "$(img_for "$T/rt" 1)" || fail "extracted disk 1 is not sparse"

# The credentials from the environment, and the env-file form.
AWS_ACCESS_KEY_ID=$ACCESS AWS_SECRET_ACCESS_KEY=$SECRET XVA_S3_ENDPOINT=$EP \
  xva_ok verify -q "$RT"
cp "$CEPHDIR/s3.env" "$T/s3.env"
chmod 600 "$T/s3.env"
xva_ok verify -q --s3-credentials "$T/s3.env" "$RT"

# ---------------------------------------------------------------------------
note "xva ls: name, date and size from the metadata"
mkrandom "$T/in/small.img" $((2 * MIB))
xva_ok pack "${S3[@]}" --checksum sha1 --compress zstd --name db \
  -o "$P/rt/db.xva" "$T/in/small.img"
echo "not an archive" >"$T/plain.txt"
s3raw PUT "cli-$$/rt/notes.txt" --data-binary @"$T/plain.txt" >/dev/null
xva_ok ls "${S3[@]}" "$P/rt/"
[ "$(wc -l <"$T/stdout")" -eq 2 ] ||
  fail "ls: expected 2 backups: $(cat "$T/stdout")"
grep -Eq '^20[0-9-]{8}T[0-9:]{8}Z +[0-9.]+ MiB +web server +'"$RT"'$' \
  "$T/stdout" || fail "ls: no line for $RT: $(cat "$T/stdout")"
grep -q "  db  $P/rt/db.xva\$" "$T/stdout" || fail "ls: no line for db"
grep -q notes.txt "$T/stdout" && fail "ls listed an object that is no backup"
xva_ok ls --all "${S3[@]}" "$P/rt/"
grep -q " -  $P/rt/notes.txt\$" "$T/stdout" || fail "ls --all: no notes.txt"
xva_ok ls --json "${S3[@]}" "$P/rt/"
rt_size=$(s3raw HEAD "cli-$$/rt/web_server.xva" -I | tr -d '\r' |
            sed -n 's/^[Cc]ontent-[Ll]ength: //p')
json_check "$T/stdout" 'len(j) == 2' \
  "[b['name'] for b in j] == ['db', 'web server']" \
  "j[1]['size'] == $rt_size" "j[1]['disk_size'] == $((96 * MIB))" \
  "j[1]['disks'] == 2" "j[1]['checksum'] == 'xxhash'" \
  "j[0]['checksum'] == 'sha1'" "j[0]['compression'] == 'zstd'" \
  "all(b['date'].endswith('Z') and b['uuid'] for b in j)" \
  "j[1]['url'] == '$RT'"

# ---------------------------------------------------------------------------
note "a corrupted object fails verify, inspect and extract (exit 3)"
mkrandom "$T/in/c.img" $((3 * MIB))
xva_ok pack -o "$T/c.xva" "$T/in/c.img"
"$PYTHON" - "$T/c.xva" <<'EOF'
import sys
p = sys.argv[1]
b = bytearray(open(p, 'rb').read())
for off in range(0, len(b), 512):
    name = bytes(b[off:off + 100]).split(b'\0')[0]
    if name.startswith(b'Ref:') and b'.' not in name:
        b[off + 512 + 1000] ^= 0x40          # a byte of the first chunk
        break
else:
    sys.exit('no data entry found')
open(p, 'wb').write(b)
EOF
code=$(s3raw PUT "cli-$$/bad/c.xva" --data-binary @"$T/c.xva" | tail -n 1)
[ "$code" = 200 ] || fail "PUT of the corrupted archive: HTTP $code"
xva_fails 3 verify "${S3[@]}" "$P/bad/c.xva"
stderr_has 'checksum'
xva_fails 3 inspect "${S3[@]}" "$P/bad/c.xva"
mkdir -p "$T/bad"
xva_fails 3 extract -C "$T/bad" "${S3[@]}" "$P/bad/c.xva"
no_files "$T/bad"

# ---------------------------------------------------------------------------
note "retention: three packs with --keep 2 keep the newest two"
mkrandom "$T/in/k.img" $((1 * MIB))
xva_ok pack "${S3[@]}" --name other -o "$P/keep/{name}-{date}.xva" \
  "$T/in/k.img"
s3raw PUT "cli-$$/keep/stranger-20000101T000000Z.xva" \
  --data-binary @"$T/plain.txt" >/dev/null
keys=()
for i in 1 2 3; do
  [ "$i" -eq 1 ] || sleep 1.05      # {date} has a resolution of a second
  xva_ok pack "${S3[@]}" --keep 2 --name kept \
    -o "$P/keep/{name}-{date}.xva" "$T/in/k.img"
  xva_ok ls --json "${S3[@]}" "$P/keep/kept-"
  keys+=("$("$PYTHON" -c 'import json,sys; print(max(b["key"] for b in json.load(open(sys.argv[1]))))' "$T/stdout")")
done
xva_ok ls --json "${S3[@]}" "$P/keep/"
json_check "$T/stdout" "sorted(b['key'] for b in j if b['name'] == 'kept') == ['${keys[1]}', '${keys[2]}']" \
  "len([b for b in j if b['name'] == 'other']) == 1"
[ "$(head_status "${keys[0]}")" = 404 ] || fail "${keys[0]} was kept"
[ "$(head_status "cli-$$/keep/stranger-20000101T000000Z.xva")" = 200 ] ||
  fail "--keep removed an object that is not a backup"

# ---------------------------------------------------------------------------
note "wrong credentials (exit 5), missing bucket or object (exit 6)"
printf 'AWS_ACCESS_KEY_ID=%s\nAWS_SECRET_ACCESS_KEY=wrong-secret\n' \
  "$ACCESS" >"$T/bad.env"
chmod 600 "$T/bad.env"
BAD=(--s3-endpoint "$EP" --s3-credentials "$T/bad.env")
xva_fails 5 pack "${BAD[@]}" -o "$P/x.xva" "$T/in/k.img"
stderr_has 'SignatureDoesNotMatch.*credentials'
xva_fails 5 verify "${BAD[@]}" "$RT"
xva_fails 5 ls "${BAD[@]}" "$P/"
AWS_PROFILE=other xva_fails 5 ls "${S3[@]}" "$P/"   # that section's keys
stderr_has 'InvalidAccessKeyId'
xva_fails 2 pack "${S3[@]}" --s3-part-size 1M -o "$P/x.xva" "$T/in/k.img"
xva_fails 6 pack "${S3[@]}" -o "s3://no-such-bucket-$$/x.xva" "$T/in/k.img"
stderr_has 'NoSuchBucket'
xva_fails 6 verify "${S3[@]}" "s3://no-such-bucket-$$/x.xva"
stderr_has 'no such bucket'
xva_fails 6 extract -C "$T/nb" "${S3[@]}" "$P/no-such-object.xva"
stderr_has 'no such object'
[ ! -e "$T/nb" ] || fail "extract of a missing object created $T/nb"
xva_fails 6 ls "${S3[@]}" "s3://no-such-bucket-$$/"
xva_fails 2 verify "s3://$BUCKET/x.xva"    # no endpoint, no keys
stderr_has 'endpoint'
xva_fails 2 pack "${S3[@]}" -o "$P/{nope}.xva" "$T/in/k.img"
xva_fails 2 pack "${S3[@]}" --keep 2 -o "$P/fixed.xva" "$T/in/k.img"

# ---------------------------------------------------------------------------
if [ -n "$TLS_EP" ]; then
  note "TLS: verified with --cacert, refused without, --insecure"
  xva_ok verify -q --s3-endpoint "$TLS_EP" --s3-credentials "$CRED" \
    --cacert "$CA" "$RT"
  xva_fails 7 verify -q --s3-endpoint "$TLS_EP" --s3-credentials "$CRED" "$RT"
  xva_ok verify -q --s3-endpoint "$TLS_EP" --s3-credentials "$CRED" \
    --insecure "$RT"
fi

# ---------------------------------------------------------------------------
if "$XVA" export --help >/dev/null 2>&1 && "$XVA" serve --help >/dev/null 2>&1
then
  note "xva import -i s3://, xva export -o s3:// --keep (against xva serve)"
  XVA_PASSWORD=pw "$XVA" serve --data "$T/srv" --listen 127.0.0.1:0 \
    >"$T/serve.out" 2>"$T/serve.log" &
  SERVE_PID=$!
  for _ in $(seq 100); do
    grep -q '^listening on http' "$T/serve.out" && break
    sleep 0.1
  done
  HOST=$(sed -n 's/^listening on //p' "$T/serve.out" | head -n 1)
  [ -n "$HOST" ] || fail "xva serve did not start: $(cat "$T/serve.log")"
  XVA_PASSWORD=pw xva_ok import --url "$HOST" -i "$RT" "${S3[@]}"
  for i in 1 2; do
    [ "$i" -eq 1 ] || sleep 1.05
    XVA_PASSWORD=pw xva_ok export --url "$HOST" --name "web server" \
      "${S3[@]}" --keep 1 -o "$P/exp/{name}-{date}.xva"
  done
  xva_ok ls --json "${S3[@]}" "$P/exp/"
  json_check "$T/stdout" 'len(j) == 1' "j[0]['name'] == 'web server'" \
    "j[0]['disks'] == 2" "j[0]['disk_size'] == $((96 * MIB))"
  EXP=$("$PYTHON" -c 'import json,sys; print(json.load(open(sys.argv[1]))[0]["url"])' "$T/stdout")
  extract_ok "$T/exp" "${S3[@]}" "$EXP"
  cmp "$(img_for "$T/exp" 0)" "$T/in/root.img" || fail "exported disk 0 differs"
  cmp "$(img_for "$T/exp" 1)" "$T/in/data.img" || fail "exported disk 1 differs"
  XVA_PASSWORD=pw xva_fails 6 export --url "$HOST" --name "web server" \
    "${S3[@]}" -o "s3://no-such-bucket-$$/x.xva"
  kill "$SERVE_PID" 2>/dev/null || true
  wait "$SERVE_PID" 2>/dev/null || true
  SERVE_PID=
else
  note "no xva export / xva serve in this build: their s3:// part not run"
fi

# ---------------------------------------------------------------------------
# A slow path to the server, so that an upload can be stopped half-way: a
# TCP relay that passes at most RATE bytes a second per connection up.
start_proxy ()
{
  local rate=$1 target=${EP##*:}
  rm -f "$T/proxy.port"
  cat >"$T/relay.py" <<'EOF'
import asyncio, sys
port_file, target, rate = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])

async def pipe(r, w, limit):
    try:
        while True:
            data = await r.read(65536)
            if not data:
                break
            w.write(data)
            await w.drain()
            if limit:
                await asyncio.sleep(len(data) / limit)
    except Exception:
        pass
    finally:
        try:
            w.close()
        except Exception:
            pass

async def handle(cr, cw):
    try:
        sr, sw = await asyncio.open_connection('127.0.0.1', target)
    except Exception:
        cw.close()
        return
    await asyncio.gather(pipe(cr, sw, rate), pipe(sr, cw, 0))

async def main():
    srv = await asyncio.start_server(handle, '127.0.0.1', 0)
    with open(port_file + '.tmp', 'w') as f:
        f.write(str(srv.sockets[0].getsockname()[1]))
    import os
    os.rename(port_file + '.tmp', port_file)
    async with srv:
        await srv.serve_forever()

asyncio.run(main())
EOF
  "$PYTHON" "$T/relay.py" "$T/proxy.port" "$target" "$rate" &
  PROXY_PID=$!
  disown "$PROXY_PID"
  for _ in $(seq 100); do
    [ -s "$T/proxy.port" ] && break
    sleep 0.05
  done
  [ -s "$T/proxy.port" ] || fail "the relay did not start"
  PROXY_EP="http://127.0.0.1:$(cat "$T/proxy.port")"
}

# stop_midway SIGNAL KEY: packs 40 MiB through the relay to KEY, and
# sends SIGNAL once the multipart upload exists.  Sets $rc.
stop_midway ()
{
  local sig=$1 key=$2 i
  "$XVA" pack -q --s3-endpoint "$PROXY_EP" --s3-credentials "$CRED" \
    --s3-part-size 5M --s3-parallel 2 --name big -o "$P/$key" \
    "$T/in/big.img" >"$T/stdout" 2>"$T/stderr" &
  XVA_PID=$!
  for i in $(seq 200); do
    [ "$(pending_count "cli-$$/$key")" -gt 0 ] && break
    kill -0 "$XVA_PID" 2>/dev/null || break
    sleep 0.05
  done
  [ "$(pending_count "cli-$$/$key")" -gt 0 ] ||
    fail "no multipart upload appeared for $key"
  sleep 0.3
  kill -0 "$XVA_PID" 2>/dev/null || fail "pack to $key finished too early"
  kill "-$sig" "$XVA_PID"
  rc=0
  wait "$XVA_PID" 2>/dev/null || rc=$?
  XVA_PID=
}

note "SIGTERM half-way: no object and no pending upload is left"
mkrandom "$T/in/big.img" $((40 * MIB))
start_proxy $((4 * MIB))
t1=$(date +%s.%N)
stop_midway TERM term.xva
[ "$rc" -eq 143 ] || fail "pack after SIGTERM exited $rc (expected 143)"
grep -q interrupted "$T/stderr" || fail "pack did not say interrupted"
note "pack stopped $("$PYTHON" -c "import time; print('%.1f' % (time.time() - $t1))") s after it started"
[ "$(head_status "cli-$$/term.xva")" = 404 ] || fail "an object was left"
[ "$(pending_count "cli-$$/term.xva")" -eq 0 ] ||
  fail "a pending multipart upload was left after SIGTERM"

note "SIGKILL half-way: no object; ls warns; --abort-pending cleans up"
stop_midway KILL kill.xva
[ "$rc" -eq 137 ] || fail "pack after SIGKILL exited $rc (expected 137)"
kill -KILL "$PROXY_PID" 2>/dev/null || true
PROXY_PID=
[ "$(head_status "cli-$$/kill.xva")" = 404 ] || fail "an object was left"
xva_ok ls "${S3[@]}" "$P/"
grep -q kill.xva "$T/stdout" && fail "ls listed the killed upload as a backup"
stderr_has '1 unfinished upload'
xva_ok ls --pending "${S3[@]}" "$P/"
grep -q "  $P/kill.xva  " "$T/stdout" ||
  fail "ls --pending does not show kill.xva: $(cat "$T/stdout")"
xva_ok ls --abort-pending "${S3[@]}" "$P/"      # too young: kept
[ "$(pending_count "cli-$$/")" -eq 1 ] || fail "a young upload was aborted"
xva_ok ls --abort-pending --older-than 0 "${S3[@]}" "$P/"
grep -q "aborted .*$P/kill.xva" "$T/stdout" || fail "nothing aborted"
[ "$(pending_count "cli-$$/")" -eq 0 ] || fail "uploads still pending"
xva_ok ls "${S3[@]}" "$P/"
[ ! -s "$T/stderr" ] || fail "ls still warns: $(cat "$T/stderr")"

note "all passed in $("$PYTHON" -c "import time; print('%.1f' % (time.time() - $t0))") s"
