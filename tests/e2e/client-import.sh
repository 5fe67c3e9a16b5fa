#!/usr/bin/env bash
# xva import's parameters against xva serve: --sr-uuid and --sr-id (SRs
# from xva sr-create), --restore, --force on a corrupted archive (which
# the host refuses without it: its task's error is shown), a metadata-only
# backup and restore: export --metadata --all, a VM record destroyed,
# import --metadata brings it back; --dry-run and --vdi SRC=DST.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

export HOME=$T
mkdisk "$T/d0.img" $((3 * MIB))
mkdisk "$T/d1.img" $((1 * MIB))
mkdisk "$T/e0.img" $((2 * MIB))
pack "$T/vm.xva" "imp vm" "$T/d0.img" "$T/d1.img"
pack "$T/other.xva" "other vm" "$T/e0.img"

start_server "$T/data"
login
export XVA_PASSWORD=$PW
SR1=$(timeout 60 "$XVA" sr-create --data "$T/data" --name "sr one") ||
  fail "sr-create"
SR2=$(timeout 60 "$XVA" sr-create --data "$T/data" --name "sr two") ||
  fail "sr-create"
SR2_REF=$(jrpc SR.get_by_uuid "[\"$SID\",\"$SR2\"]")

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

note "--sr-uuid and --sr-id"
xc_ok import --url "$URL" -i "$T/vm.xva" --sr-uuid "$SR1"
U1=$(cat "$T/xout")
[ "$(find "$T/data/sr/$SR1" -name '*.img' | wc -l)" -eq 2 ] ||
  fail "--sr-uuid: the disks are not in SR $SR1"
xc_ok import --url "$URL" -i "$T/other.xva" --sr-id "$SR2_REF"
U3=$(cat "$T/xout")
[ "$(find "$T/data/sr/$SR2" -name '*.img' | wc -l)" -eq 1 ] ||
  fail "--sr-id: the disk is not in SR $SR2"
xc_rc 6 import --url "$URL" -i "$T/vm.xva" \
  --sr-uuid 00000000-0000-4000-8000-000000000000
xc_rc 6 import --url "$URL" -i "$T/vm.xva" --sr-id OpaqueRef:nonesuch
xc_rc 2 import --url "$URL" -i "$T/vm.xva" --sr-id "$SR2_REF" \
  --sr-uuid "$SR1"
[ "$(vm_count)" -eq 2 ] || fail "want 2 VMs"

note "--restore keeps the uuid; over a VM that is not older only with --force"
xc_ok export --url "$URL" --uuid "$U1" -o "$T/u1.xva"
xc_rc 8 import --url "$URL" -i "$T/u1.xva" --restore --sr-uuid "$SR1"
grep -q 'the host failed the import: VM_TO_IMPORT_IS_NOT_NEWER_VERSION' \
  "$T/xerr" || fail "restore refusal: $(cat "$T/xerr")"
xc_ok import --url "$URL" -i "$T/u1.xva" --restore --force --sr-uuid "$SR1"
[ "$(cat "$T/xout")" = "$U1" ] || fail "--restore gave $(cat "$T/xout")"
[ "$(vm_count)" -eq 2 ] || fail "--restore made a VM instead of replacing"
xc_ok import --url "$URL" -i "$T/u1.xva" --sr-uuid "$SR1"
UPLAIN=$(cat "$T/xout")
[ "$UPLAIN" != "$U1" ] || fail "an import without --restore kept the uuid"
jrpc VM.destroy "[\"$SID\",\"$(jrpc VM.get_by_uuid "[\"$SID\",\"$UPLAIN\"]")\"]" >/dev/null

note "a corrupted archive: the host refuses it (8) unless --force"
cp "$T/vm.xva" "$T/bad.xva"
python3 - "$T/bad.xva" <<'EOF'
import os, sys
p = sys.argv[1]
with open(p, 'r+b') as f:
    off = os.path.getsize(p) // 2
    f.seek(off)
    b = f.read(1)
    f.seek(off)
    f.write(bytes([b[0] ^ 0x55]))
EOF
if "$XVA" verify -q "$T/bad.xva" 2>/dev/null; then
  fail "the corrupted archive verifies: the test would prove nothing"
fi
before=$(vm_count)
xc_rc 8 import --url "$URL" -i "$T/bad.xva"
grep -q 'the host failed the import: IMPORT_ERROR' "$T/xerr" ||
  fail "corrupt import: $(cat "$T/xerr")"
grep -qi 'checksum' "$T/xerr" || fail "corrupt import: $(cat "$T/xerr")"
[ ! -s "$T/xout" ] || fail "a failed import printed $(cat "$T/xout")"
[ "$(vm_count)" -eq "$before" ] || fail "a refused import made a VM"
no_staging
xc_rc 8 import --url "$URL" < <(cat "$T/bad.xva")
[ "$(vm_count)" -eq "$before" ] || fail "a refused pipe import made a VM"
xc_ok import --url "$URL" -i "$T/bad.xva" --force
UF=$(cat "$T/xout")
grep -qi 'mismatch' "$T/xerr" || fail "--force: no warning: $(cat "$T/xerr")"
jrpc VM.get_by_uuid "[\"$SID\",\"$UF\"]" >/dev/null
[ "$(vm_count)" -eq $((before + 1)) ] || fail "--force did not import"
jrpc VM.destroy "[\"$SID\",\"$(jrpc VM.get_by_uuid "[\"$SID\",\"$UF\"]")\"]" >/dev/null

note "metadata backup: export --metadata --all"
VM1=$(jrpc VM.get_by_uuid "[\"$SID\",\"$U1\"]")
VM3=$(jrpc VM.get_by_uuid "[\"$SID\",\"$U3\"]")
vdis_of "$VM1" >"$T/vdis1"
V3=$(vdis_of "$VM3")
xc_ok export --url "$URL" --metadata --all -o "$T/backup.xva"
xc_ok export --url "$URL" --metadata --uuid "$U1" -o "$T/meta1.xva"
NIMG=$(images | wc -l)

note "--metadata --dry-run creates nothing"
n=$(vm_count)
xc_ok import --url "$URL" --metadata --dry-run -i "$T/meta1.xva"
[ "$(vm_count)" -eq "$n" ] || fail "a dry run made a VM"
[ ! -s "$T/xout" ] || fail "a dry run printed uuids: $(cat "$T/xout")"

note "--metadata makes a second VM over the same disks"
xc_ok import --url "$URL" --metadata -i "$T/meta1.xva"
U2=$(cat "$T/xout")
VM2=$(jrpc VM.get_by_uuid "[\"$SID\",\"$U2\"]")
vdis_of "$VM2" | cmp -s - "$T/vdis1" || fail "VM2 does not use VM1's disks"
[ "$(images | wc -l)" -eq "$NIMG" ] || fail "--metadata made images"

note "VM1's record is destroyed; --metadata --restore brings it back"
jrpc VM.destroy "[\"$SID\",\"$VM1\"]" >/dev/null
jrpc_error VM.get_by_uuid "[\"$SID\",\"$U1\"]" >/dev/null
xc_ok import --url "$URL" --metadata --restore --force -i "$T/backup.xva"
grep -qx "$U1" "$T/xout" || fail "the restore printed $(cat "$T/xout")"
VM1B=$(jrpc VM.get_by_uuid "[\"$SID\",\"$U1\"]")
vdis_of "$VM1B" | cmp -s - "$T/vdis1" || fail "the restored VM lost its disks"
xc_ok export --url "$URL" --uuid "$U1" -o "$T/restored.xva"
check_export "$T/restored.xva" "$T/d0.img" "$T/d1.img"
[ "$(images | wc -l)" -eq "$NIMG" ] || fail "the restore made images"

note "--vdi SRC=DST maps a disk onto another VDI"
SRC0=$(head -n 1 "$T/vdis1")
xc_ok import --url "$URL" --metadata -i "$T/meta1.xva" --vdi "$SRC0=$V3"
U4=$(cat "$T/xout")
VM4=$(jrpc VM.get_by_uuid "[\"$SID\",\"$U4\"]")
[ "$(vdis_of "$VM4" | head -n 1)" = "$V3" ] || fail "--vdi was ignored"
xc_ok export --url "$URL" --uuid "$U4" -o "$T/vm4.xva"
check_export "$T/vm4.xva" "$T/e0.img" "$T/d1.img"
xc_rc 2 import --url "$URL" -i "$T/meta1.xva" --vdi "$SRC0=$V3"
xc_rc 2 import --url "$URL" --metadata -i "$T/meta1.xva" --vdi "nonsense"

note "disks that are gone: the host's error code is shown (8)"
for v in "$VM2" "$VM1B" "$VM4"; do
  jrpc VM.destroy "[\"$SID\",\"$v\"]" >/dev/null
done
xc_rc 8 import --url "$URL" --metadata -i "$T/meta1.xva"
grep -q 'the host failed the import: VDI_LOCATION_MISSING' "$T/xerr" ||
  fail "missing disks: $(cat "$T/xerr")"
no_staging

stop_server
echo "client-import: OK"
