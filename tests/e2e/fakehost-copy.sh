#!/usr/bin/env bash
# `xva copy` from a stand-in for a real host (tests/fakehost) to a real
# `xva serve` and back: the disks arrive intact both ways, the upload to
# the stand-in is neither chunked nor sent with Expect, and a source
# that breaks off leaves no VM on the target.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"
require_client copy

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
UUID_A=$(uuid_of "$T/a.xva")
SIZE_A=$(stat -c %s "$T/a.xva")
export SIZE_A

start_server "$T/data"
login
start_fakehost host "$T/a.xva"
fh_login

# one_uuid WHAT: the last client run printed one uuid; sets NEW_UUID.
one_uuid ()
{
  want_rc 0 "$1"
  [ "$(wc -l <"$T/out")" -eq 1 ] || client_fail "$1: stdout '$(cat "$T/out")'"
  NEW_UUID=$(cat "$T/out")
  [[ $NEW_UUID =~ ^[0-9a-f-]{36}$ ]] || client_fail "$1: '$NEW_UUID'"
}

note "copy from the stand-in to xva serve"
client copy --from "$FH_URL" --to "$URL" --user root --uuid "$UUID_A"
one_uuid "copy stand-in -> serve"
UUID_S=$NEW_UUID
fh_check 'R[-1]["path"] == "/export" and R[-1]["bytes_out"] == R[-1]["body_length"]' \
  "copy: the stand-in did not send the whole export"
REF_S=$(jrpc VM.get_by_uuid "[\"$SID\",\"$UUID_S\"]")
export_vm "session_id=$SID&ref=$REF_S" "$T/s.xva"
check_export "$T/s.xva" "$T/a0.img" "$T/a1.img"
[ "$(vm_count)" -eq 1 ] || fail "serve should hold 1 VM"

note "copy by name, compressed on the wire"
client copy --from "$FH_URL" --to "$URL" --user root --name "vm a" \
  --compress zstd
one_uuid "copy --name --compress zstd"
fh_check "R[-1]['path'] == '/export' and 'use_compression=zstd' in R[-1]['query'].split('&')" \
  "copy --compress zstd: not asked of the source"
REF=$(jrpc VM.get_by_uuid "[\"$SID\",\"$NEW_UUID\"]")
export_vm "session_id=$SID&ref=$REF" "$T/z.xva"
check_export "$T/z.xva" "$T/a0.img" "$T/a1.img"

note "copy back from xva serve to the stand-in"
n=$(fh_vm_count)
client copy --from "$URL" --to "$FH_URL" --user root --uuid "$UUID_S"
one_uuid "copy serve -> stand-in"
UUID_F=$NEW_UUID
fh_check 'R[-1]["path"] == "/import" and not R[-1]["chunked"] and R[-1]["expect"] is None' \
  "copy to the stand-in: chunked or Expect (a real host refuses / ignores them)"
fh_check 'R[-1]["task_status"] == "success" and R[-1]["end_marker"]' \
  "copy to the stand-in: the whole archive did not arrive"
[ "$(fh_vm_count)" -eq $((n + 1)) ] || fail "copy back made no VM"
hcurl -o "$T/f.xva" "$FH_URL/export?session_id=$FH_SID&uuid=$UUID_F"
check_export "$T/f.xva" "$T/a0.img" "$T/a1.img"

note "copy into the stand-in's SR by uuid"
POOL=$(fh_rpc pool.get_all "$FH_SID" | tr -d '[]" ')
SR=$(fh_rpc pool.get_default_SR "$FH_SID" "$POOL")
SR_UUID=$(fh_rpc SR.get_uuid "$FH_SID" "$SR")
client copy --from "$URL" --to "$FH_URL" --user root --uuid "$UUID_S" \
  --sr-uuid "$SR_UUID"
one_uuid "copy --sr-uuid"
fh_check "'sr_uuid=$SR_UUID' in R[-1]['query'].split('&') or 'sr_id=$SR' in R[-1]['query'].split('&')" \
  "copy --sr-uuid: the SR is not in the import's query"

note "unknown VM on the source: exit 6"
client copy --from "$FH_URL" --to "$URL" --user root \
  --uuid 00000000-0000-4000-8000-000000000000
want_rc 6 "copy of an unknown VM"

note "the source breaks off mid-body: non-zero, no VM on the target"
start_fakehost cut --cut-export 2500000 "$T/a.xva"
n=$(vm_count)
client copy --from "$FH_URL" --to "$URL" --user root --uuid "$UUID_A"
[ "$RC" -ne 0 ] || client_fail "copy from a source that broke off exited 0"
fh_check 'R[-1]["cut"] == 2500000' "the stand-in did not cut the export"
sleep 1
[ "$(vm_count)" -eq "$n" ] || fail "a broken copy left a VM on the target"
no_staging
note "... also when the source's task claims success"
start_fakehost cutok --cut-export 2500000 --cut-task success "$T/a.xva"
client copy --from "$FH_URL" --to "$URL" --user root --uuid "$UUID_A"
want_rc 3 "copy from a source that broke off (task successful)"
sleep 1
[ "$(vm_count)" -eq "$n" ] || fail "a broken copy left a VM on the target"
no_staging

jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
echo "fakehost-copy: OK"
