#!/usr/bin/env bash
# The answer to an import whose body has the xen-api npm client's fake
# length (1 PiB), with a task_id: that client waits for the response
# headers before it closes the connection after its last byte, so the
# server answers as soon as the outcome is known (at the archive's end
# marker, not before; at a failure), on HTTP and HTTPS.  A failure is
# told by the task only once the client has closed (the client learns it
# from the task after its upload), and leaves nothing behind.  With a
# real length and a task_id, a failed import answers 200 too (the task
# tells the failure, as on xapi); without a task_id the status does.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

FL="$SRCDIR/tests/interop/fakelength.py"
mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/vm.xva" "fake length" "$T/d0.img"
# A copy with a byte of the first disk chunk flipped.
python3 - "$T/vm.xva" "$T/bad.xva" <<'PY'
import re, sys
buf = bytearray(open(sys.argv[1], 'rb').read())
off = 0
while off + 512 <= len(buf):
    h = buf[off:off + 512]
    name = h[:100].split(b'\0')[0].decode()
    size = int(h[124:136].split(b'\0')[0].strip() or b'0', 8)
    if re.search(r'/\d{8}$', name) and size > 100:
        buf[off + 512 + 100] ^= 0xff
        break
    off += 512 + (size + 511) // 512 * 512
else:
    sys.exit('no chunk')
open(sys.argv[2], 'wb').write(buf)
PY

# fake_ok URL [CAFILE]: a good archive; the answer only at its end.
fake_ok ()
{
  local tk out
  tk=$(jrpc task.create "[\"$SID\",\"fake length\",\"\"]")
  out=$(timeout 60 python3 "$FL" "$1" "/import?session_id=$SID&task_id=$tk" \
        "$T/vm.xva" hold-end ${2:+"$2"}) || fail "fake length ($1): $out"
  [ "$out" = "task-id: $tk" ] || fail "fake length ($1): $out"
  [ "$(wait_task "$tk")" = success ] || fail "fake length ($1): task"
  VMF=$(task_vm "$tk")
  export_vm "session_id=$SID&ref=$VMF" "$T/f.xva"
  check_export "$T/f.xva" "$T/d0.img"
  jrpc VM.destroy "[\"$SID\",\"$VMF\"]" >/dev/null
}

start_server "$T/data"
login
import_file "$T/vm.xva" ""      # one VM to begin with
[ "$(wait_task "$TASK")" = success ] || fail "the first import"
NVM=$(vm_count)

note "fake length, good archive: 200 at the archive's end"
fake_ok "$URL"

note "fake length, bad archive: 200 at once, the task fails at the close"
TK=$(jrpc task.create "[\"$SID\",\"fake length, bad\",\"\"]")
rm -f "$T/fifo"
mkfifo "$T/fifo"
exec 8<>"$T/fifo"
timeout 60 python3 "$FL" "$URL" "/import?session_id=$SID&task_id=$TK" \
  "$T/bad.xva" fail <"$T/fifo" >"$T/fl.out" &
FLPID=$!
EXTRA_PIDS="$FLPID"
for i in $(seq 1 200); do
  grep -q '^waiting$' "$T/fl.out" && break
  kill -0 "$FLPID" 2>/dev/null || break
  sleep 0.1
done
grep -q '^waiting$' "$T/fl.out" || fail "bad archive: $(cat "$T/fl.out")"
grep -qxF "task-id: $TK" "$T/fl.out" || fail "bad archive: $(cat "$T/fl.out")"
sleep 0.5
[ "$(jrpc task.get_status "[\"$SID\",\"$TK\"]")" = pending ] ||
  fail "the failure was told while the client still had the connection"
echo go >&8
wait "$FLPID" || fail "bad archive: the client failed: $(cat "$T/fl.out")"
EXTRA_PIDS=
exec 8>&-
[ "$(wait_task "$TK")" = failure ] || fail "bad archive: task"
task_field "$TK" error_info | grep -q 'IMPORT_ERROR' ||
  fail "bad archive: $(task_field "$TK" error_info)"
task_field "$TK" error_info | grep -q 'checksum mismatch' ||
  fail "bad archive: $(task_field "$TK" error_info)"
[ "$(vm_count)" -eq "$NVM" ] || fail "the bad archive left a VM"
no_staging

note "real length, bad archive: 200 with a task_id, 400 without"
TK=$(jrpc task.create "[\"$SID\",\"bad, real length\",\"\"]")
st=$(http_status -T "$T/bad.xva" "$URL/import?session_id=$SID&task_id=$TK")
[ "$st" = 200 ] || fail "bad archive with a task_id: status $st"
[ "$(wait_task "$TK")" = failure ] || fail "bad archive with a task_id: task"
task_field "$TK" error_info | grep -q 'checksum mismatch' ||
  fail "bad archive with a task_id: $(task_field "$TK" error_info)"
st=$(http_status -b "task_id=$(jrpc task.create "[\"$SID\",\"c\",\"\"]")" \
     -T "$T/bad.xva" "$URL/import?session_id=$SID")
[ "$st" = 200 ] || fail "bad archive with a task_id cookie: status $st"
st=$(http_status -T "$T/bad.xva" "$URL/import?session_id=$SID")
[ "$st" = 400 ] || fail "bad archive without a task_id: status $st"
[ "$(vm_count)" -eq "$NVM" ] || fail "a bad archive left a VM"
no_staging
stop_server

if command -v openssl >/dev/null 2>&1; then
  note "fake length over HTTPS"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    >/dev/null 2>&1 || fail "openssl req failed"
  start_server "$T/data" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
  hcurl () { timeout "$E2E_TIMEOUT" curl -sS --max-time "$E2E_TIMEOUT" \
               --cacert "$T/cert.pem" "$@"; }
  login
  fake_ok "$URL" "$T/cert.pem"
  [ "$(vm_count)" -eq "$NVM" ] || fail "HTTPS: VMs left"
  stop_server
else
  note "SKIPPED HTTPS: no openssl"
fi
echo "interop-fake-length: OK"
