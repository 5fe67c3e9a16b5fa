#!/usr/bin/env bash
# The stand-in for a real host (tests/fakehost/fakehost.py) behaves as
# http-api.md section 7 says a real host does, checked with curl and raw
# sockets, so that the fakehost-*.sh tests of xva's client test against
# the right thing.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
UUID_A=$(uuid_of "$T/a.xva")
SIZE_A=$(stat -c %s "$T/a.xva")
export SIZE_A

start_fakehost main --member --progress-interval 0 "$T/a.xva"
fh_login
[ "$(fh_vm_count)" -eq 1 ] || fail "the stand-in should start with 1 VM"
VM_A=$(fh_rpc VM.get_by_uuid "$FH_SID" "$UUID_A")
[ "$(fh_rpc VM.get_uuid "$FH_SID" "$VM_A")" = "$UUID_A" ] || fail get_uuid
fh_rpc VM.get_by_name_label "$FH_SID" "vm a" | grep -qF "$VM_A" ||
  fail "VM.get_by_name_label"
POOL=$(fh_rpc pool.get_all "$FH_SID" | tr -d '[]" ')
SR=$(fh_rpc pool.get_default_SR "$FH_SID" "$POOL")
SR_UUID=$(fh_rpc SR.get_uuid "$FH_SID" "$SR")
[ "$(fh_rpc SR.get_by_uuid "$FH_SID" "$SR_UUID")" = "$SR" ] ||
  fail SR.get_by_uuid

note "RPC errors"
out=$(python3 "$FH_TOOL" rpc "$FH_URL" session.login_with_password root \
      wrong) && fail "a wrong password logged in"
[[ $out == "SESSION_AUTHENTICATION_FAILED root"* ]] || fail "wrong pw: $out"
out=$(fh_rpc_error VM.get_all OpaqueRef:nosuch)
[ "$out" = "SESSION_INVALID OpaqueRef:nosuch" ] || fail "bad session: $out"
out=$(fh_rpc_error VM.get_by_uuid "$FH_SID" 0000)
[ "$out" = "UUID_INVALID VM 0000" ] || fail "unknown uuid: $out"
out=$(fh_rpc_error VM.no_such_call "$FH_SID")
[[ $out == MESSAGE_METHOD_UNKNOWN* ]] || fail "unknown method: $out"

note "export: HTTP/1.0, Connection: close, no length, no chunking"
hcurl -D "$T/h" -o "$T/e.xva" "$FH_URL/export?session_id=$FH_SID&uuid=$UUID_A" ||
  fail "curl export"
tr -d '\r' <"$T/h" >"$T/h.txt"
head -n 1 "$T/h.txt" | grep -qx 'HTTP/1.0 200 OK' || fail "$(head -1 "$T/h.txt")"
grep -qix 'connection: close' "$T/h.txt" || fail "no Connection: close"
grep -qix 'content-type: application/octet-stream' "$T/h.txt" ||
  fail "content-type"
! grep -qi '^content-length:' "$T/h.txt" || fail "export has a length"
! grep -qi '^transfer-encoding:' "$T/h.txt" || fail "export is chunked"
TASK=$(header_of "$T/h" task-id)
[ "$(fh_wait_task "$TASK")" = success ] || fail "export task"
check_export "$T/e.xva" "$T/a0.img" "$T/a1.img"
[ "$(fh_rpc task.get_progress "$FH_SID" "$TASK")" = 1.0 ] ||
  fail "progress of a finished export"

note "export of an unknown VM: 404 and UUID_INVALID on the given task"
TASK=$(fh_rpc task.create "$FH_SID" t d)
st=$(http_status "$FH_URL/export?session_id=$FH_SID&task_id=$TASK&uuid=nope")
[ "$st" = 404 ] || fail "unknown VM: status $st"
[ "$(fh_rpc task.get_error_info "$FH_SID" "$TASK")" = '["UUID_INVALID", "VM", "nope"]' ] ||
  fail "unknown VM: $(fh_rpc task.get_error_info "$FH_SID" "$TASK")"
st=$(http_status "$FH_URL/export?session_id=OpaqueRef:old&uuid=$UUID_A")
[ "$st" = 401 ] || fail "stale session: status $st"

note "import: 200 and task-id before the body is read"
TASK=$(python3 "$FH_TOOL" early200 "$FH_URL" "/import?session_id=$FH_SID" \
       "$T/a.xva") || fail "no early 200 on /import"
[ "$(fh_wait_task "$TASK")" = success ] || fail "early200 import task"
fh_check 'R[-1]["end_marker"] and R[-1]["bytes_in"] == int(os.environ["SIZE_A"])' \
  "the import did not read the whole archive"
RES=$(fh_rpc task.get_result "$FH_SID" "$TASK")
[[ $RES == '<value><array><data><value>OpaqueRef:'*'</value></data></array></value>' ]] ||
  fail "import result: $RES"
VM_B=${RES#<value><array><data><value>}
VM_B=${VM_B%%</value>*}
UUID_B=$(fh_rpc VM.get_uuid "$FH_SID" "$VM_B")
[ "$UUID_B" != "$UUID_A" ] || fail "an import kept the uuid"
hcurl -o "$T/b.xva" "$FH_URL/export?session_id=$FH_SID&ref=$VM_B"
check_export "$T/b.xva" "$T/a0.img" "$T/a1.img"
grep -qaF "$UUID_B" "$T/b.xva" || fail "the export does not carry the new uuid"

note "import: Expect: 100-continue is not answered with 100"
line=$(python3 "$FH_TOOL" expect "$FH_URL" "/import?session_id=$FH_SID" \
       "$T/a.xva")
[[ $line == "HTTP/1.1 200 OK" ]] || fail "Expect: first line '$line'"
fh_check 'R[-1]["expect"] == "100-continue"' "the log misses Expect"

note "import: chunked is refused (403, IMPORT_ERROR_CANNOT_HANDLE_CHUNKED)"
TASK=$(fh_rpc task.create "$FH_SID" t d)
st=$(cat "$T/a.xva" | hcurl -o /dev/null -w '%{http_code}' -T - \
     -H 'Expect:' "$FH_URL/import?session_id=$FH_SID&task_id=$TASK") || true
[ "$st" = 403 ] || fail "chunked import: status $st"
[ "$(fh_rpc task.get_error_info "$FH_SID" "$TASK")" = '["IMPORT_ERROR_CANNOT_HANDLE_CHUNKED"]' ] ||
  fail "chunked: $(fh_rpc task.get_error_info "$FH_SID" "$TASK")"

note "import with the 1 PiB length, closed after the last byte"
TASK=$(python3 "$FH_TOOL" fakelen "$FH_URL" "/import?session_id=$FH_SID" \
       "$T/a.xva") || fail "fake-length import"
[ "$(fh_wait_task "$TASK")" = success ] || fail "fake-length import task"
fh_check \
  'R[-1]["content_length"] == str(FAKE) and R[-1]["end_marker"] and R[-1]["bytes_in"] == int(os.environ["SIZE_A"]) and R[-1]["task_status"] == "success"' \
  "fake-length import"

note "a corrupted chunk fails the task with IMPORT_ERROR, and no VM is made"
python3 "$FH_TOOL" corrupt "$T/a.xva" "$T/bad.xva"
n=$(fh_vm_count)
TASK=$(fh_rpc task.create "$FH_SID" t d)
hcurl -o /dev/null -H 'Expect:' -T "$T/bad.xva" \
  "$FH_URL/import?session_id=$FH_SID&task_id=$TASK"
[ "$(fh_wait_task "$TASK")" = failure ] || fail "corrupt import succeeded"
fh_rpc task.get_error_info "$FH_SID" "$TASK" | grep -q '"IMPORT_ERROR", "Block Ref:[0-9]*/00000000 checksum failed' ||
  fail "corrupt: $(fh_rpc task.get_error_info "$FH_SID" "$TASK")"
[ "$(fh_vm_count)" -eq "$n" ] || fail "the failed import left a VM"
note "... and with force=true it is kept"
hcurl -o /dev/null -H 'Expect:' -T "$T/bad.xva" \
  "$FH_URL/import?session_id=$FH_SID&force=true"
fh_check 'R[-1]["task_status"] == "success" and len(R[-1]["mismatches"]) == 1' \
  "force=true"

note "unknown SR: HANDLE_INVALID / UUID_INVALID"
TASK=$(fh_rpc task.create "$FH_SID" t d)
hcurl -o /dev/null -H 'Expect:' -T "$T/a.xva" \
  "$FH_URL/import?session_id=$FH_SID&task_id=$TASK&sr_uuid=nosuch"
[ "$(fh_rpc task.get_error_info "$FH_SID" "$TASK")" = '["UUID_INVALID", "SR", "nosuch"]' ] ||
  fail "unknown sr_uuid"
TASK=$(fh_rpc task.create "$FH_SID" t d)
hcurl -o /dev/null -H 'Expect:' -T "$T/a.xva" \
  "$FH_URL/import?session_id=$FH_SID&task_id=$TASK&sr_id=OpaqueRef:x"
[ "$(fh_rpc task.get_error_info "$FH_SID" "$TASK")" = '["HANDLE_INVALID", "SR", "OpaqueRef:x"]' ] ||
  fail "unknown sr_id"

note "restore=true keeps the VM's uuid"
TASK=$(fh_rpc task.create "$FH_SID" t d)
hcurl -o /dev/null -H 'Expect:' -T "$T/a.xva" \
  "$FH_URL/import?session_id=$FH_SID&task_id=$TASK&restore=true"
RES=$(fh_rpc task.get_result "$FH_SID" "$TASK")
VM_R=${RES#<value><array><data><value>}
VM_R=${VM_R%%</value>*}
[ "$(fh_rpc VM.get_uuid "$FH_SID" "$VM_R")" = "$UUID_A" ] || fail "restore"

note "metadata export and import"
hcurl -D "$T/hm" -o "$T/m.tar" \
  "$FH_URL/export_metadata?session_id=$FH_SID&ref=$VM_R"
[ "$(tar -tf "$T/m.tar")" = ova.xml ] || fail "export_metadata"
TASK=$(fh_rpc task.create "$FH_SID" t d)
n=$(fh_vm_count)
hcurl -o /dev/null -T "$T/m.tar" \
  "$FH_URL/import_metadata?session_id=$FH_SID&task_id=$TASK"
[ "$(fh_wait_task "$TASK")" = success ] || fail "import_metadata: $(fh_rpc task.get_error_info "$FH_SID" "$TASK")"
[ "$(fh_vm_count)" -eq $((n + 1)) ] || fail "import_metadata made no VM"
hcurl -o "$T/mall.tar" "$FH_URL/export_metadata?session_id=$FH_SID&all=true"
[ "$(tar -xOf "$T/mall.tar" ova.xml | grep -o '<value>VM</value>' | wc -l)" -ge 3 ] ||
  fail "export_metadata all=true"

note "redirect: 302 to the member with the same path and query"
start_fakehost redir --redirect "$T/a.xva"
fh_login
Q="session_id=$FH_SID&uuid=$UUID_A&use_compression=zstd"
hcurl -D "$T/h302" -o /dev/null "$FH_URL/export?$Q"
head -n 1 "$T/h302" | grep -q '^HTTP/1.1 302' || fail "no 302"
[ "$(header_of "$T/h302" location)" = "$FH_URL2/export?$Q" ] ||
  fail "Location: $(header_of "$T/h302" location)"
hcurl -L -o "$T/r.xva" "$FH_URL/export?$Q"
check_export "$T/r.xva" "$T/a0.img" "$T/a1.img"
fh_check 'R[-1]["role"] == "member" and R[-1]["query"] == R[-2]["query"] and R[-2]["status"] == 302' \
  "export redirect"
hcurl -L -o /dev/null -H 'Expect:' -T "$T/a.xva" "$FH_URL/import?session_id=$FH_SID"
fh_check 'R[-1]["role"] == "member" and R[-1]["task_status"] == "success" and R[-2]["status"] == 302' \
  "import redirect"

note "cut exports"
start_fakehost cut --cut-export 1500000 "$T/a.xva"
fh_login
hcurl -D "$T/hc" -o "$T/c.xva" "$FH_URL/export?session_id=$FH_SID&uuid=$UUID_A" || true
[ "$(stat -c %s "$T/c.xva")" -eq 1500000 ] || fail "cut: $(stat -c %s "$T/c.xva") bytes"
[ "$(fh_wait_task "$(header_of "$T/hc" task-id)")" = failure ] || fail "cut task"
start_fakehost cutok --cut-export 1500000 --cut-task success "$T/a.xva"
fh_login
hcurl -D "$T/hc" -o "$T/c.xva" "$FH_URL/export?session_id=$FH_SID&uuid=$UUID_A" || true
[ "$(stat -c %s "$T/c.xva")" -eq 1500000 ] || fail "cut: $(stat -c %s "$T/c.xva") bytes"
[ "$(fh_wait_task "$(header_of "$T/hc" task-id)")" = success ] || fail "cut task"
! "$XVA" verify -q "$T/c.xva" 2>/dev/null || fail "a cut archive verifies"

note "sessions expire when idle"
start_fakehost idle --session-idle 2 "$T/a.xva"
python3 - "$FH_URL" "$PW" <<'PY' || fail "session expiry"
import sys, time, xmlrpc.client
s = xmlrpc.client.ServerProxy(sys.argv[1] + '/')
sid = s.session.login_with_password('root', sys.argv[2])['Value']
assert s.VM.get_all(sid)['Status'] == 'Success'
time.sleep(3)
r = s.VM.get_all(sid)
assert r == {'Status': 'Failure', 'ErrorDescription': ['SESSION_INVALID', sid]}, r
PY

note "at most 200 sessions: the 201st evicts the least recently used"
python3 - "$FH_URL" "$PW" <<'PY' || fail "session limit"
import sys, xmlrpc.client
s = xmlrpc.client.ServerProxy(sys.argv[1] + '/')
refs = [s.session.login_with_password('root', sys.argv[2])['Value']
        for _ in range(200)]
assert s.VM.get_all(refs[0])['Status'] == 'Success'    # refs[1] is now oldest
s.session.login_with_password('root', sys.argv[2])
r = s.VM.get_all(refs[1])
assert r['Status'] == 'Failure' and r['ErrorDescription'][0] == 'SESSION_INVALID', r
assert s.VM.get_all(refs[0])['Status'] == 'Success'
PY

echo "fakehost-selftest: OK"
