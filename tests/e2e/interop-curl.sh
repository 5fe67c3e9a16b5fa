#!/usr/bin/env bash
# The curl scripts of tests/interop (curl-export.sh,
# curl-export-metadata.sh, curl-import.sh, curl-import-metadata.sh),
# written as a user would from docs/http-api.md, against a real `xva
# serve`: each handler with HTTP Basic auth and with a session.  What
# they make is checked here: archives that `xva verify` accepts and
# whose disks are the source disks, metadata that names the VM, new VMs
# over the same or new disks.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
requires tar sed

IOP="$SRCDIR/tests/interop"
mkdisk "$T/d0.img" $((3 * MIB))
mkdisk "$T/d1.img" $((1 * MIB + 512))
pack "$T/src.xva" "curl source" "$T/d0.img" "$T/d1.img"

start_server "$T/data"
login
SR_REF=$(jrpc pool.get_default_SR "[\"$SID\",\"$(jrpc pool.get_all \
  "[\"$SID\"]" | grep -o 'OpaqueRef:[0-9a-f-]*' | head -n 1)\"]")
SR_UUID=$(jrpc SR.get_uuid "[\"$SID\",\"$SR_REF\"]")

# run_script NAME ENV...: tests/interop/NAME with the server's address,
# root's password and ENV; its output in $T/NAME.out.
run_script ()
{
  local name=$1
  shift
  mkdir -p "$T/out-$name"
  env XVA_URL="$URL" XVA_USER=root XVA_PASSWORD="$PW" \
      OUT_DIR="$T/out-$name" "$@" \
      timeout "$E2E_TIMEOUT" sh "$IOP/$name" >"$T/$name.out" 2>"$T/$name.err" ||
    fail "$name failed: $(cat "$T/$name.err")"
  cat "$T/$name.out"
}

# new_vms FILE: the refs of the "vm REF" lines; two of them, not SRC.
new_vms ()
{
  sed -n 's/^vm //p' "$1" >"$1.vms"
  [ "$(wc -l <"$1.vms")" -eq 2 ] || fail "$1: want 2 new VMs: $(cat "$1")"
  [ -z "${SRC:-}" ] || ! grep -qxF "$SRC" "$1.vms" ||
    fail "$1: the source VM came back"
  [ "$(sort -u "$1.vms" | wc -l)" -eq 2 ] || fail "$1: the same VM twice"
}

note "the source VM: curl-import.sh (Basic auth, then a session)"
run_script curl-import.sh XVA_FILE="$T/src.xva" SR_UUID="$SR_UUID"
new_vms "$T/curl-import.sh.out"
SRC=$(head -n 1 "$T/curl-import.sh.out.vms")
IMPORTED2=$(sed -n 2p "$T/curl-import.sh.out.vms")
SRC_UUID=$(vm_uuid "$SRC")
[ "$(vm_count)" -eq 2 ] || fail "want 2 VMs after curl-import.sh"
for v in "$SRC" "$IMPORTED2"; do
  [ "$(jrpc VM.get_name_label "[\"$SID\",\"$v\"]")" = "curl source" ] ||
    fail "imported VM $v has the wrong name"
  export_vm "session_id=$SID&ref=$v" "$T/check.xva"
  check_export "$T/check.xva" "$T/d0.img" "$T/d1.img"
done
# Without sr_uuid the default SR is used: the same script works.
run_script curl-import.sh XVA_FILE="$T/src.xva" >/dev/null
for v in $(sed -n 's/^vm //p' "$T/curl-import.sh.out"); do
  jrpc VM.destroy "[\"$SID\",\"$v\"]" >/dev/null
done
jrpc VM.destroy "[\"$SID\",\"$IMPORTED2\"]" >/dev/null
[ "$(vm_count)" -eq 1 ] || fail "want the source VM only"

note "curl-export.sh"
run_script curl-export.sh VM_UUID="$SRC_UUID"
grep -q '^export task OpaqueRef:.*: success$' "$T/curl-export.sh.out" ||
  fail "curl-export.sh: $(cat "$T/curl-export.sh.out")"
O="$T/out-curl-export.sh"
timeout "$E2E_TIMEOUT" "$XVA" verify "$O/basic.xva" >"$T/verify.txt" ||
  fail "the Basic-auth export does not verify"
grep -q '^compression: zstd$' "$T/verify.txt" ||
  fail "the Basic-auth export is not zstd: $(cat "$T/verify.txt")"
check_export "$O/basic.xva" "$T/d0.img" "$T/d1.img"
check_export "$O/session.xva" "$T/d0.img" "$T/d1.img"
grep -qi '^task-id: OpaqueRef:' "$O/basic.headers" ||
  fail "the Basic-auth export has no task-id"

note "curl-export-metadata.sh"
run_script curl-export-metadata.sh VM_UUID="$SRC_UUID"
[ "$(cat "$T/curl-export-metadata.sh.out")" = ova.xml ] ||
  fail "curl-export-metadata.sh: $(cat "$T/curl-export-metadata.sh.out")"
O="$T/out-curl-export-metadata.sh"
for f in basic.tar all.tar; do
  [ "$(tar -tf "$O/$f")" = ova.xml ] || fail "$f: $(tar -tf "$O/$f")"
  grep -qaF "$SRC_UUID" "$O/$f" || fail "$f does not name the VM"
done

note "curl-import-metadata.sh: two VMs over the source VM's disks"
NIMG=$(images | wc -l)
run_script curl-import-metadata.sh META_TAR="$O/basic.tar"
new_vms "$T/curl-import-metadata.sh.out"
[ "$(images | wc -l)" -eq "$NIMG" ] || fail "import_metadata made images"
[ "$(vm_count)" -eq 3 ] || fail "want 3 VMs after curl-import-metadata.sh"
while read -r v; do
  [ "$(vm_uuid "$v")" != "$SRC_UUID" ] || fail "$v kept the source uuid"
  export_vm "session_id=$SID&ref=$v" "$T/check.xva"
  check_export "$T/check.xva" "$T/d0.img" "$T/d1.img"
done <"$T/curl-import-metadata.sh.out.vms"

note "the scripts fail on a wrong password"
if env XVA_URL="$URL" XVA_PASSWORD="wrong$PW" VM_UUID="$SRC_UUID" \
     OUT_DIR="$T" timeout "$E2E_TIMEOUT" sh "$IOP/curl-export.sh" \
     >/dev/null 2>&1; then
  fail "curl-export.sh succeeded with a wrong password"
fi

jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
echo "interop-curl: OK"
