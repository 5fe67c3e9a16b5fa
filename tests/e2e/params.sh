#!/usr/bin/env bash
# The parameters of /import: sr_id and sr_uuid (SRs made by
# `xva sr-create`, offline and while the server runs), restore, force,
# and task_id adoption.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/vm.xva" "p vm" "$T/d0.img"

note "sr-create refuses a directory that is not a data directory"
if "$XVA" sr-create --data "$T/nothing" --name x >"$T/out" 2>"$T/err"; then
  fail "sr-create made an SR in a non-existent data directory"
fi
[ ! -e "$T/nothing" ] || fail "sr-create created $T/nothing"

# A data directory made by a first run, then an SR made offline.
start_server "$T/data"
stop_server
SR1=$(timeout 60 "$XVA" sr-create --data "$T/data" --name "offline sr") ||
  fail "offline sr-create failed"
[ -d "$T/data/sr/$SR1" ] || fail "no directory for SR $SR1"

start_server "$T/data"
login
SR2=$(timeout 60 "$XVA" sr-create --data "$T/data" --name "online sr") ||
  fail "sr-create while the server runs failed"
[ -d "$T/data/sr/$SR2" ] || fail "no directory for SR $SR2"
[ "$(jrpc SR.get_name_label "[\"$SID\",\"$(jrpc SR.get_by_uuid \
     "[\"$SID\",\"$SR2\"]")\"]")" = "online sr" ] ||
  fail "the running server does not know SR $SR2"
jrpc SR.get_by_uuid "[\"$SID\",\"$SR1\"]" >/dev/null

note "sr_uuid"
import_file "$T/vm.xva" "sr_uuid=$SR1"
[ "$(wait_task "$TASK")" = success ] || fail "import into sr_uuid"
VM1=$(task_vm "$TASK")
n=$(find "$T/data/sr/$SR1" -name '*.img' | wc -l)
[ "$n" -eq 1 ] || fail "want the image in SR $SR1, found $n there"

note "sr_id"
SR2_REF=$(jrpc SR.get_by_uuid "[\"$SID\",\"$SR2\"]")
import_file "$T/vm.xva" "sr_id=$SR2_REF"
[ "$(wait_task "$TASK")" = success ] || fail "import into sr_id"
n=$(find "$T/data/sr/$SR2" -name '*.img' | wc -l)
[ "$n" -eq 1 ] || fail "want the image in SR $SR2, found $n there"

note "an unknown SR is 404, and nothing is imported"
before=$(vm_count)
st=$(http_status -D "$T/h" -T "$T/vm.xva" \
     "$URL/import?session_id=$SID&sr_uuid=00000000-0000-4000-8000-000000000000")
[ "$st" = 404 ] || fail "unknown sr_uuid: status $st"
TASK=$(header_of "$T/h" task-id)
[ "$(wait_task "$TASK")" = failure ] || fail "unknown sr_uuid: task"
task_field "$TASK" error_info | grep -q UUID_INVALID ||
  fail "unknown sr_uuid: $(task_field "$TASK" error_info)"
st=$(http_status -T "$T/vm.xva" \
     "$URL/import?session_id=$SID&sr_id=OpaqueRef:nonesuch")
[ "$st" = 404 ] || fail "unknown sr_id: status $st"
[ "$(vm_count)" -eq "$before" ] || fail "a VM was made for an unknown SR"

note "restore=true over an existing VM keeps its uuid"
UUID1=$(vm_uuid "$VM1")
export_vm "session_id=$SID&ref=$VM1" "$T/vm1.xva"
# The same archive again without restore: a new VM with a new uuid.
import_file "$T/vm1.xva" "sr_uuid=$SR1"
[ "$(wait_task "$TASK")" = success ] || fail "plain re-import"
[ "$(vm_uuid "$(task_vm "$TASK")")" != "$UUID1" ] ||
  fail "an import without restore kept the uuid"
before=$(vm_count)
note "restore over a VM that is not older: 409, VM_TO_IMPORT_IS_NOT_NEWER_VERSION"
st=$(http_status -D "$T/h" -T "$T/vm1.xva" \
     "$URL/import?session_id=$SID&sr_uuid=$SR1&restore=true")
[ "$st" = 409 ] || fail "restore over an equal version: status $st"
[ "$(wait_task "$(header_of "$T/h" task-id)")" = failure ] ||
  fail "restore over an equal version: task"
[ "$(vm_count)" -eq "$before" ] || fail "a refused restore changed the VMs"
note "restore with force replaces it, keeping the uuid"
import_file "$T/vm1.xva" "sr_uuid=$SR1&restore=true&force=true"
[ "$(wait_task "$TASK")" = success ] || fail "restore import"
VMR=$(task_vm "$TASK")
[ "$(vm_uuid "$VMR")" = "$UUID1" ] || fail "restore did not keep the uuid"
[ "$(vm_count)" -eq "$before" ] || fail "restore added a VM"
export_vm "session_id=$SID&uuid=$UUID1" "$T/vmr.xva"
check_export "$T/vmr.xva" "$T/d0.img"
note "restore after VM.destroy re-creates the VM with its uuid"
jrpc VM.destroy "[\"$SID\",\"$VMR\"]" >/dev/null
[ "$(vm_count)" -eq $((before - 1)) ] || fail "VM.destroy did not destroy"
jrpc_error VM.get_by_uuid "[\"$SID\",\"$UUID1\"]" >/dev/null
import_file "$T/vm1.xva" "sr_uuid=$SR1&restore=true"
[ "$(wait_task "$TASK")" = success ] || fail "restore after destroy"
[ "$(vm_uuid "$(task_vm "$TASK")")" = "$UUID1" ] ||
  fail "restore after destroy: new uuid"
[ "$(vm_count)" -eq "$before" ] || fail "restore after destroy: VM count"
note "restore=TRUE is not restore (only exactly 'true')"
import_file "$T/vm1.xva" "sr_uuid=$SR1&restore=TRUE"
[ "$(wait_task "$TASK")" = success ] || fail "import with restore=TRUE"
[ "$(vm_uuid "$(task_vm "$TASK")")" != "$UUID1" ] ||
  fail "restore=TRUE was taken as true"

note "a corrupted archive fails without force, and leaves nothing"
cp "$T/vm.xva" "$T/bad.xva"
off=$(grep -obUaF 'XVA-E2E-MARKER-d0.img' "$T/bad.xva" | head -n 1 | cut -d: -f1)
[ -n "$off" ] || fail "marker not found in the archive"
printf 'Y' | dd of="$T/bad.xva" bs=1 seek="$off" conv=notrunc status=none
before=$(vm_count)
images >"$T/images.before"
st=$(hcurl -o "$T/body" -D "$T/h" -w '%{http_code}' -T "$T/bad.xva" \
     "$URL/import?session_id=$SID") || true
[ "$st" = 400 ] || fail "corrupted import: status $st (want 400)"
TASK=$(header_of "$T/h" task-id)
[ "$(wait_task "$TASK")" = failure ] || fail "corrupted import: task"
task_field "$TASK" error_info | grep -q '"IMPORT_ERROR' ||
  fail "corrupted import: $(task_field "$TASK" error_info)"
[ "$(vm_count)" -eq "$before" ] || fail "the corrupted import made a VM"
images | cmp -s - "$T/images.before" || fail "the failed import left images"
no_staging

note "force=true keeps the data of a corrupted archive"
import_file "$T/bad.xva" "force=true"
[ "$(wait_task "$TASK")" = success ] || fail "forced import failed"
VMF=$(task_vm "$TASK")
export_vm "session_id=$SID&ref=$VMF" "$T/vmf.xva"
mkdir -p "$T/xf"
timeout 60 "$XVA" extract -q -C "$T/xf" "$T/vmf.xva" || fail "extract forced"
n=$(cmp -l "$T/xf"/0-*.img "$T/d0.img" 2>/dev/null | wc -l) || true
[ "$n" -eq 1 ] || fail "the forced import differs in $n bytes (want 1)"
grep -q 'mismatch' "$T/server.log" ||
  fail "the kept checksum mismatch is not recorded in the log"
note "force=yes is not force"
st=$(http_status -T "$T/bad.xva" "$URL/import?session_id=$SID&force=yes")
[ "$st" = 400 ] || fail "force=yes: status $st"

note "task_id: the import adopts a task made by task.create"
TK=$(jrpc task.create "[\"$SID\",\"my import\",\"e2e\"]")
[ "$(jrpc task.get_status "[\"$SID\",\"$TK\"]")" = pending ] ||
  fail "new task not pending"
import_file "$T/vm.xva" "task_id=$TK"
[ "$TASK" = "$TK" ] || fail "task-id header $TASK, want the adopted $TK"
[ "$(wait_task "$TK")" = success ] || fail "adopted task not successful"
[ "$(task_field "$TK" name_label)" = "my import" ] ||
  fail "the adopted task lost its label"
[ "$(task_field "$TK" progress)" = 1.0 ] ||
  fail "adopted task progress $(task_field "$TK" progress)"
VMT=$(task_vm "$TK")
jrpc VM.get_record "[\"$SID\",\"$VMT\"]" >/dev/null

note "task_id as a cookie, on an export"
TK2=$(jrpc task.create "[\"$SID\",\"my export\",\"e2e\"]")
st=$(hcurl -b "task_id=$TK2" -o "$T/t.xva" -D "$T/h" -w '%{http_code}' \
     "$URL/export?session_id=$SID&ref=$VMT") || true
[ "$st" = 200 ] || fail "export with a task cookie: $st"
[ "$(header_of "$T/h" task-id)" = "$TK2" ] || fail "cookie task not adopted"
[ "$(wait_task "$TK2")" = success ] || fail "adopted export task"
check_export "$T/t.xva" "$T/d0.img"

note "an unknown task_id is refused"
st=$(http_status -T "$T/vm.xva" \
     "$URL/import?session_id=$SID&task_id=OpaqueRef:nonesuch")
[ "$st" = 404 ] || fail "unknown task_id: status $st"

stop_server
echo "params: OK"
