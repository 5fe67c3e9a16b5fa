#!/usr/bin/env bash
# Disaster recovery with the metadata handlers: the VM records are saved
# with /export_metadata?all=true; records are re-created over the disks
# that are still in the SRs with /import_metadata (plain, restore,
# dry_run, vdi: remapping); a VDI that is gone is VDI_LOCATION_MISSING.
#
# VM.destroy removes a VM's disks unless another VM uses them, so the
# "lost records, surviving disks" state is reached by re-creating the
# records of a VM (a second VM over the same disks) before destroying
# the first one.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/d0.img" $((2 * MIB))
mkdisk "$T/d1.img" $((1 * MIB))
mkdisk "$T/e0.img" $((2 * MIB))
pack "$T/vm.xva" "dr vm" "$T/d0.img" "$T/d1.img"
pack "$T/other.xva" "other vm" "$T/e0.img"

start_server "$T/data"
login

# vdis_of VM: the VDI uuids of the VM's disks, in userdevice order.
vdis_of ()
{
  jrpc_raw VBD.get_all_records "[\"$SID\"]" >"$T/vbds.json"
  jrpc_raw VDI.get_all_records "[\"$SID\"]" >"$T/vdis.json"
  python3 - "$1" "$T/vbds.json" "$T/vdis.json" <<'EOF'
import json, sys
vm = sys.argv[1]
vbds = json.load(open(sys.argv[2]))['result']
vdis = json.load(open(sys.argv[3]))['result']
mine = sorted((r for r in vbds.values() if r['VM'] == vm and r['type'] == 'Disk'),
              key=lambda r: int(r['userdevice']))
for r in mine:
    print(vdis[r['VDI']]['uuid'])
EOF
}

# put_meta FILE QUERY: PUT /import_metadata; sets ST (the status) and
# TASK.
put_meta ()
{
  ST=$(hcurl -o "$T/body" -D "$T/headers" -w '%{http_code}' -T "$1" \
       "$URL/import_metadata?session_id=$SID${2:+&$2}") || true
  TASK=$(header_of "$T/headers" task-id)
}

import_file "$T/vm.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import"
VM1=$(task_vm "$TASK")
UUID1=$(vm_uuid "$VM1")
vdis_of "$VM1" >"$T/vdis1"
[ "$(wc -l <"$T/vdis1")" -eq 2 ] || fail "VM1 has $(wc -l <"$T/vdis1") disks"
import_file "$T/other.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import of the other VM"
VM3=$(task_vm "$TASK")
V3=$(vdis_of "$VM3")

note "export_metadata?all=true: every VM, no disk data"
st=$(hcurl -o "$T/meta.tar" -w '%{http_code}' \
     "$URL/export_metadata?session_id=$SID&all=true") || true
[ "$st" = 200 ] || fail "export_metadata all=true: $st"
[ "$(tar -tf "$T/meta.tar")" = ova.xml ] || fail "metadata archive content"
grep -qaF "$UUID1" "$T/meta.tar" || fail "VM1 is not in the metadata"
grep -qaF "$(vm_uuid "$VM3")" "$T/meta.tar" || fail "VM3 is not in it"
# One VM's metadata, for the remapping below.
st=$(hcurl -o "$T/meta1.tar" -w '%{http_code}' \
     "$URL/export_metadata?session_id=$SID&ref=$VM1") || true
[ "$st" = 200 ] || fail "export_metadata ref: $st"
NIMG=$(images | wc -l)

note "dry_run creates nothing"
put_meta "$T/meta1.tar" dry_run=true
[ "$ST" = 200 ] ||
  fail "dry run: $(cat "$T/body")"
[ "$(wait_task "$TASK")" = success ] || fail "dry run task"
[ "$(vm_count)" -eq 2 ] || fail "dry run made a VM"

note "import_metadata re-creates the records over the same disks"
put_meta "$T/meta1.tar" ""
[ "$ST" = 200 ] ||
  fail "import_metadata: $(cat "$T/body")"
[ "$(wait_task "$TASK")" = success ] || fail "import_metadata task"
VM2=$(task_vm "$TASK")
[ "$(vm_count)" -eq 3 ] || fail "want 3 VMs"
[ "$(vm_uuid "$VM2")" != "$UUID1" ] || fail "a plain metadata import kept the uuid"
vdis_of "$VM2" >"$T/vdis2"
cmp -s "$T/vdis2" "$T/vdis1" || fail "VM2 ($VM2) does not use VM1's disks: $(cat "$T/vdis2") (VM1 $VM1: $(cat "$T/vdis1"))"
[ "$(images | wc -l)" -eq "$NIMG" ] || fail "import_metadata made images"

note "the first VM's records are lost: its disks live on in VM2"
jrpc VM.destroy "[\"$SID\",\"$VM1\"]" >/dev/null
[ "$(images | wc -l)" -eq "$NIMG" ] ||
  fail "VM.destroy removed disks that VM2 uses"
export_vm "session_id=$SID&ref=$VM2" "$T/vm2.xva"
check_export "$T/vm2.xva" "$T/d0.img" "$T/d1.img"

note "restore=true brings VM1 back with its uuid, over its disks"
# The metadata of every VM: VM3 still exists and is not older, so it
# is replaced only with force.
UUID3=$(vm_uuid "$VM3")
put_meta "$T/meta.tar" "restore=true"
[ "$ST" = 409 ] || fail "restore over an existing VM without force: $ST"
[ "$(wait_task "$TASK")" = failure ] || fail "refused restore: task"
[ "$(vm_count)" -eq 2 ] || fail "a refused restore changed the VMs"
put_meta "$T/meta.tar" "restore=true&force=true"
[ "$ST" = 200 ] ||
  fail "restore from all=true metadata: $(cat "$T/body")"
[ "$(wait_task "$TASK")" = success ] || fail "restore task"
VM1B=$(jrpc VM.get_by_uuid "[\"$SID\",\"$UUID1\"]")
vdis_of "$VM1B" | cmp -s - "$T/vdis1" || fail "restored VM1 lost its disks"
export_vm "session_id=$SID&uuid=$UUID1" "$T/vm1b.xva"
check_export "$T/vm1b.xva" "$T/d0.img" "$T/d1.img"
[ "$(images | wc -l)" -eq "$NIMG" ] || fail "the restore made images"
[ "$(vm_count)" -eq 3 ] || fail "want 3 VMs after the restore"
VM3=$(jrpc VM.get_by_uuid "[\"$SID\",\"$UUID3\"]")
[ "$(vdis_of "$VM3")" = "$V3" ] || fail "restored VM3 lost its disk"

note "vdi:<src>=<dst> maps a disk of the archive onto another VDI"
SRC0=$(head -n 1 "$T/vdis1")
put_meta "$T/meta1.tar" "vdi:$SRC0=$V3"
[ "$ST" = 200 ] ||
  fail "vdi: mapping: $(cat "$T/body")"
[ "$(wait_task "$TASK")" = success ] || fail "vdi: mapping task"
VM4=$(task_vm "$TASK")
[ "$(vdis_of "$VM4" | head -n 1)" = "$V3" ] || fail "vdi: map ignored"
export_vm "session_id=$SID&ref=$VM4" "$T/vm4.xva"
check_export "$T/vm4.xva" "$T/e0.img" "$T/d1.img"

note "disks that are gone: VDI_LOCATION_MISSING, nothing created"
for v in "$VM2" "$VM1B" "$VM4"; do
  jrpc VM.destroy "[\"$SID\",\"$v\"]" >/dev/null
done
before=$(vm_count)
put_meta "$T/meta1.tar" ""
[ "$ST" = 404 ] || fail "missing disks: status $ST ($(cat "$T/body"))"
[ "$(wait_task "$TASK")" = failure ] || fail "missing disks: task"
task_field "$TASK" error_info | grep -q VDI_LOCATION_MISSING ||
  fail "missing disks: $(task_field "$TASK" error_info)"
[ "$(vm_count)" -eq "$before" ] || fail "a failed metadata import made a VM"
no_staging

stop_server
echo "dr: OK"
