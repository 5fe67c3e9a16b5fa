#!/usr/bin/env bash
# Failures and odd clients: HTTP statuses (401, 404, 405, 413), a
# truncated upload, garbage, a cancelled import, the xen-api client's
# probe and fake 1 PiB length, SIGTERM and kill -9 during an import.
# Whatever fails leaves no VM, no staging directory and no image.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/vm.xva" "f vm" "$T/d0.img"
# A bigger one for uploads slow enough to interrupt.
head -c $((6 * MIB)) /dev/urandom >"$T/big.img"
pack "$T/big.xva" "big" "$T/big.img"

start_server "$T/data"
login
import_file "$T/vm.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "first import"
VM=$(task_vm "$TASK")

# nothing_new: the VMs and images are those of $T/state.
save_state ()
{
  NVM=$(vm_count)
  images >"$T/state"
}
nothing_new ()
{
  [ "$(vm_count)" -eq "$NVM" ] || fail "$1: the number of VMs changed"
  images | cmp -s - "$T/state" || fail "$1: images changed: $(images)"
  no_staging
}
save_state

note "401: bad password, no credentials, bad session"
st=$(hcurl -u "root:wrong$PW" -o /dev/null -D "$T/h" -w '%{http_code}' \
     "$URL/export?ref=$VM") || true
[ "$st" = 401 ] || fail "bad password: status $st"
tr -d '\r' <"$T/h" | grep -qx 'WWW-Authenticate: Basic realm="xva"' ||
  fail "401 without WWW-Authenticate: $(cat "$T/h")"
st=$(http_status "$URL/export?ref=$VM")
[ "$st" = 401 ] || fail "no credentials: status $st"
TK=$(jrpc task.create "[\"$SID\",\"t\",\"\"]")
st=$(http_status -u "nobody:x" "$URL/export?ref=$VM&task_id=$TK")
[ "$st" = 401 ] || fail "unknown user: status $st"
[ "$(wait_task "$TK")" = failure ] || fail "bad password: task not failed"
task_field "$TK" error_info | grep -q SESSION_AUTHENTICATION_FAILED ||
  fail "bad password: $(task_field "$TK" error_info)"
TK=$(jrpc task.create "[\"$SID\",\"t\",\"\"]")
st=$(http_status -T "$T/vm.xva" \
     "$URL/import?session_id=OpaqueRef:stale&task_id=$TK")
[ "$st" = 401 ] || fail "stale session: status $st"
task_field "$TK" error_info | grep -q SESSION_INVALID ||
  fail "stale session: $(task_field "$TK" error_info)"
nothing_new "401"

note "404: unknown VM"
st=$(http_status -D "$T/h" "$URL/export?session_id=$SID&uuid=00000000-0000-4000-8000-000000000001")
[ "$st" = 404 ] || fail "unknown uuid: $st"
TASK=$(header_of "$T/h" task-id)
task_field "$TASK" error_info | grep -q UUID_INVALID ||
  fail "unknown uuid: $(task_field "$TASK" error_info)"
st=$(http_status -D "$T/h" "$URL/export?session_id=$SID&ref=OpaqueRef:nonesuch")
[ "$st" = 404 ] || fail "unknown ref: $st"
task_field "$(header_of "$T/h" task-id)" error_info | grep -q HANDLE_INVALID ||
  fail "unknown ref: no HANDLE_INVALID"
st=$(http_status "$URL/export_metadata?session_id=$SID&uuid=nonesuch")
[ "$st" = 404 ] || fail "export_metadata of an unknown uuid: $st"

note "405: other methods"
for m in "DELETE /export" "PUT /export" "GET /import" "GET /jsonrpc" \
         "HEAD /export" "PATCH /import_metadata" "OPTIONS /"; do
  st=$(http_status -X "${m% *}" "$URL${m#* }?session_id=$SID")
  [ "$st" = 405 ] || fail "$m: status $st (want 405)"
done

note "413: an RPC body declared too big"
st=$(http_status -X POST -H 'Content-Length: 999999999999' "$URL/jsonrpc")
[ "$st" = 413 ] || fail "huge RPC body: $st"

note "a truncated upload: IMPORT_ERROR_PREMATURE_EOF, nothing left"
head -c $(( $(stat -c %s "$T/vm.xva") / 2 )) "$T/vm.xva" >"$T/trunc.xva"
st=$(http_status -D "$T/h" -T "$T/trunc.xva" "$URL/import?session_id=$SID")
[ "$st" = 400 ] || fail "truncated upload: status $st"
TASK=$(header_of "$T/h" task-id)
[ "$(wait_task "$TASK")" = failure ] || fail "truncated upload: task"
task_field "$TASK" error_info | grep -q IMPORT_ERROR_PREMATURE_EOF ||
  fail "truncated upload: $(task_field "$TASK" error_info)"
nothing_new "truncated upload"
note "the same through a pipe (chunked)"
st=$(cat "$T/trunc.xva" | hcurl -o /dev/null -w '%{http_code}' -T - \
     "$URL/import?session_id=$SID") || true
[ "$st" = 400 ] || fail "truncated chunked upload: status $st"
nothing_new "truncated chunked upload"

note "garbage is 400 IMPORT_ERROR"
head -c 100000 /dev/urandom >"$T/garbage"
st=$(http_status -D "$T/h" -T "$T/garbage" "$URL/import?session_id=$SID")
[ "$st" = 400 ] || fail "garbage: status $st"
task_field "$(header_of "$T/h" task-id)" error_info | grep -q IMPORT_ERROR ||
  fail "garbage: no IMPORT_ERROR"
nothing_new "garbage"

note "the xen-api client's probe: 200 at once, nothing imported"
line=$(timeout 30 python3 "$E2E/rawput.py" probe 127.0.0.1 "$PORT" \
       "/import?session_id=$SID" 0)
[[ $line == "HTTP/1.1 200"* ]] || fail "probe (length 0): '$line'"
line=$(timeout 30 python3 "$E2E/rawput.py" probe 127.0.0.1 "$PORT" \
       "/import?session_id=$SID" 1125899906842624)
[[ $line == "HTTP/1.1 200"* ]] || fail "probe (fake length): '$line'"
sleep 0.5
nothing_new "probe"

note "the fake 1 PiB length, closed after the last byte: a success"
TK=$(jrpc task.create "[\"$SID\",\"fake length\",\"\"]")
timeout 60 python3 "$E2E/rawput.py" fake-length 127.0.0.1 "$PORT" \
  "/import?session_id=$SID&task_id=$TK" "$T/vm.xva" ||
  fail "fake-length upload"
[ "$(wait_task "$TK")" = success ] || fail "fake-length import: task"
VMF=$(task_vm "$TK")
export_vm "session_id=$SID&ref=$VMF" "$T/f.xva"
check_export "$T/f.xva" "$T/d0.img"
note "the same, reset (RST) after the last byte: a success"
TK=$(jrpc task.create "[\"$SID\",\"fake length, reset\",\"\"]")
timeout 60 python3 "$E2E/rawput.py" fake-length-reset 127.0.0.1 "$PORT" \
  "/import?session_id=$SID&task_id=$TK" "$T/vm.xva" ||
  fail "fake-length upload with a reset"
[ "$(wait_task "$TK")" = success ] || fail "fake-length import (reset): task"
save_state

# slow_upload QUERY: curl -T big.xva at 256 KiB/s in the background
# (CURL_PID); waits until the import has staged something.
slow_upload ()
{
  bg_curl --limit-rate 256K -o /dev/null -T "$T/big.xva" \
    "$URL/import?session_id=$SID&$1" 2>/dev/null
  local i
  for i in $(seq 1 200); do
    if [ -n "$(find "$DATA/sr" -name '.import-*' | head -n 1)" ]; then
      return 0
    fi
    sleep 0.1
  done
  fail "the slow upload staged nothing within 20 s"
}

note "task.cancel stops a running import within seconds; nothing left"
TK=$(jrpc task.create "[\"$SID\",\"to cancel\",\"\"]")
slow_upload "task_id=$TK"
sleep 1
[ "$(jrpc task.get_status "[\"$SID\",\"$TK\"]")" = pending ] ||
  fail "the slow import ended before it was cancelled"
t0=$SECONDS
jrpc task.cancel "[\"$SID\",\"$TK\"]" >/dev/null
wait "$CURL_PID" && fail "the cancelled upload's curl succeeded"
EXTRA_PIDS=
[ $((SECONDS - t0)) -le 5 ] ||
  fail "the cancelled upload ran $((SECONDS - t0)) s more"
[ "$(wait_task "$TK")" = cancelled ] ||
  fail "cancelled import: status $(task_field "$TK" status)"
nothing_new "cancelled import"

note "task.cancel stops a running export within seconds"
# More data than the socket buffers of a loopback connection hold.
head -c $((24 * MIB)) /dev/urandom >"$T/huge.img"
pack "$T/huge.xva" "huge" "$T/huge.img"
import_file "$T/huge.xva" ""
rm -f "$T/huge.xva"
[ "$(wait_task "$TASK")" = success ] || fail "import of the huge VM"
BIGVM=$(task_vm "$TASK")
save_state
TK=$(jrpc task.create "[\"$SID\",\"export to cancel\",\"\"]")
bg_curl --limit-rate 100K -o "$T/cut.xva" \
  "$URL/export?session_id=$SID&ref=$BIGVM&task_id=$TK" 2>/dev/null
sleep 1.5
[ "$(jrpc task.get_status "[\"$SID\",\"$TK\"]")" = pending ] ||
  fail "the slow export ended before it was cancelled"
t0=$SECONDS
jrpc task.cancel "[\"$SID\",\"$TK\"]" >/dev/null
[ "$(wait_task "$TK")" = cancelled ] ||
  fail "cancelled export: status $(task_field "$TK" status)"
[ $((SECONDS - t0)) -le 5 ] ||
  fail "the cancelled export ran $((SECONDS - t0)) s more"
# The client still reads what the kernel buffered; the stream then
# breaks off (no end of the chunked body).
kill "$CURL_PID" 2>/dev/null || true
wait "$CURL_PID" 2>/dev/null || true
EXTRA_PIDS=
if timeout 60 "$XVA" verify -q "$T/cut.xva" 2>/dev/null; then
  fail "the cut export is a complete archive"
fi

note "a client that goes away mid-export: the task fails, the VM is free"
bg_curl --limit-rate 100K -o /dev/null -D "$T/h" \
  "$URL/export?session_id=$SID&ref=$BIGVM" 2>/dev/null
sleep 1.5
TK=$(header_of "$T/h" task-id)
[ -n "$TK" ] || fail "no task-id on the slow export"
kill "$CURL_PID"
wait "$CURL_PID" 2>/dev/null || true
EXTRA_PIDS=
[ "$(wait_task "$TK")" = failure ] || fail "abandoned export: task"
export_vm "session_id=$SID&ref=$BIGVM" "$T/after.xva"
check_export "$T/after.xva" "$T/huge.img"
nothing_new "export cancel"

note "SIGTERM during an import: a clean stop, nothing left"
slow_upload ""
stop_server
wait "$CURL_PID" && fail "the upload interrupted by SIGTERM succeeded"
EXTRA_PIDS=
nothing_new_offline ()
{
  images | cmp -s - "$T/state" || fail "$1: images changed: $(images)"
  no_staging
}
nothing_new_offline "SIGTERM"

note "kill -9 during an import: no trace after a restart"
start_server "$T/data"
login
slow_upload ""
kill9_server
wait "$CURL_PID" && fail "the upload to a killed server succeeded"
EXTRA_PIDS=
start_server "$T/data"
login
nothing_new "kill -9"
grep -q 'start-up sweep: removed 1 staging' "$T/server.log" ||
  fail "the restart did not report the swept staging directory"

stop_server
echo "failures: OK"
