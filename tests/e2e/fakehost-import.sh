#!/usr/bin/env bash
# `xva import` against a stand-in for a real host (tests/fakehost): the
# host answers 200 before it reads the body, refuses chunked uploads,
# never answers Expect: 100-continue, and tells the outcome only through
# the task.  A file goes with its Content-Length, a pipe with the 1 PiB
# fake length; a bad archive fails with the task's IMPORT_ERROR (exit 8).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"
require_client import

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
UUID_A=$(uuid_of "$T/a.xva")
SIZE_A=$(stat -c %s "$T/a.xva")
export SIZE_A

start_fakehost main
fh_login

# imported_ok WHAT: the last client run printed one new VM uuid, which
# the stand-in knows; sets NEW_UUID and NEW_VM.
imported_ok ()
{
  want_rc 0 "$1"
  [ "$(wc -l <"$T/out")" -eq 1 ] || client_fail "$1: stdout '$(cat "$T/out")'"
  NEW_UUID=$(cat "$T/out")
  [[ $NEW_UUID =~ ^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$ ]] ||
    client_fail "$1: '$NEW_UUID' is not a uuid"
  NEW_VM=$(fh_rpc VM.get_by_uuid "$FH_SID" "$NEW_UUID")
  export NEW_UUID NEW_VM
}

# no_expect_no_chunked WHAT: the last upload had neither.
no_expect_no_chunked ()
{
  fh_check 'R[-1]["path"] == "/import" and not R[-1]["chunked"]' \
    "$1: the client sent Transfer-Encoding (a real host answers 403)"
  fh_check 'R[-1]["expect"] is None' \
    "$1: the client sent Expect: 100-continue (a real host never answers 100)"
}

note "import of a file: Content-Length, no chunking, no Expect"
client import --url "$FH_URL" --user root -i "$T/a.xva"
no_expect_no_chunked "import -i FILE"
fh_check 'R[-1]["content_length"] == os.environ["SIZE_A"]' \
  "import -i FILE: Content-Length is not the file's size"
fh_check 'R[-1]["end_marker"] and R[-1]["bytes_in"] == int(os.environ["SIZE_A"])' \
  "import -i FILE: the stand-in did not get the whole archive"
fh_check 'R[-1]["task_status"] == "success" and "task_id=" in R[-1]["query"]' \
  "import -i FILE: the task given in the query did not succeed"
imported_ok "import -i FILE"
[ "$NEW_UUID" != "$UUID_A" ] || fail "a plain import kept the archive's uuid"
fh_check 'R[-1]["result"] == [os.environ["NEW_VM"]]' \
  "the printed uuid is not the VM of the task's result"
hcurl -o "$T/back.xva" "$FH_URL/export?session_id=$FH_SID&uuid=$NEW_UUID"
check_export "$T/back.xva" "$T/a0.img" "$T/a1.img"

note "import --task-id: the given task is used and kept, with the result"
TASK=$(fh_rpc task.create "$FH_SID" "my import" "")
client import --url "$FH_URL" --user root --task-id "$TASK" -i "$T/a.xva"
imported_ok "import --task-id"
fh_check "'task_id=$TASK' in R[-1]['query'].split('&')" \
  "import --task-id: not the given task in the query"
[ "$(fh_rpc task.get_result "$FH_SID" "$TASK")" = "<value><array><data><value>$NEW_VM</value></data></array></value>" ] ||
  fail "import --task-id: the task's result is not the new VM"

note "import from a pipe: the 1 PiB length, the whole archive"
RC=0
cat "$T/a.xva" | env -u XVA_USER HOME="$T" XVA_PASSWORD="$PW" \
  timeout "$FH_TIMEOUT" "$XVA" import --url "$FH_URL" --user root -i - \
  >"$T/out" 2>"$T/err" || RC=$?
no_expect_no_chunked "import -i -"
fh_check 'R[-1]["content_length"] == str(FAKE)' \
  "import -i -: Content-Length is not the 1 PiB fake length"
fh_check 'R[-1]["end_marker"] and R[-1]["bytes_in"] == int(os.environ["SIZE_A"])' \
  "import -i -: the stand-in did not get the whole archive"
fh_check 'R[-1]["task_status"] == "success"' "import -i -: task not successful"
imported_ok "import -i -"

note "an archive only the host refuses (a data entry not whole blocks):"
note "the task's IMPORT_ERROR, exit 8"
head -c $((MIB + 100)) /dev/urandom >"$T/odd.img"
python3 "$SRCDIR/tests/gen/xvagen.py" -o "$T/odd.xva" --disk "$T/odd.img" ||
  fail "xvagen odd.xva"
n=$(fh_vm_count)
client import --url "$FH_URL" --user root -i "$T/odd.xva"
fh_check 'R[-1]["path"] == "/import" and R[-1]["error"][0] == "IMPORT_ERROR"' \
  "the stand-in did not refuse the archive with IMPORT_ERROR"
want_rc 8 "import that the host fails with IMPORT_ERROR"
grep -qE 'IMPORT_ERROR([^_A-Z]|$)' "$T/err" ||
  client_fail "the host's IMPORT_ERROR is not reported"
[ "$(fh_vm_count)" -eq "$n" ] || fail "the failed import left a VM"
[ ! -s "$T/out" ] || client_fail "a failed import printed '$(cat "$T/out")'"

python3 "$FH_TOOL" corrupt "$T/a.xva" "$T/bad.xva"
note "--force: the host keeps the mismatching archive"
client import --url "$FH_URL" --user root --force -i "$T/bad.xva"
fh_check '"force=true" in R[-1]["query"].split("&")' "--force: no force=true"
imported_ok "import --force of a corrupted archive"

note "--restore keeps the VM's uuid"
client import --url "$FH_URL" --user root --restore -i "$T/a.xva"
fh_check '"restore=true" in R[-1]["query"].split("&")' "--restore: no restore=true"
imported_ok "import --restore"
[ "$NEW_UUID" = "$UUID_A" ] || fail "--restore gave uuid $NEW_UUID, want $UUID_A"

note "--sr-uuid and --sr-id"
POOL=$(fh_rpc pool.get_all "$FH_SID" | tr -d '[]" ')
SR=$(fh_rpc pool.get_default_SR "$FH_SID" "$POOL")
SR_UUID=$(fh_rpc SR.get_uuid "$FH_SID" "$SR")
client import --url "$FH_URL" --user root --sr-uuid "$SR_UUID" -i "$T/a.xva"
imported_ok "import --sr-uuid"
fh_check "'sr_uuid=$SR_UUID' in R[-1]['query'].split('&') or 'sr_id=$SR' in R[-1]['query'].split('&')" \
  "--sr-uuid: the SR is not in the query"
client import --url "$FH_URL" --user root --sr-id "$SR" -i "$T/a.xva"
imported_ok "import --sr-id"
client import --url "$FH_URL" --user root \
  --sr-uuid 00000000-0000-4000-8000-000000000000 -i "$T/a.xva"
[ "$RC" -eq 6 ] || [ "$RC" -eq 8 ] ||
  client_fail "import into an unknown SR: exit $RC, want 6 (or 8)"
err_has UUID_INVALID "import into an unknown SR"

note "a gzip archive goes as it is (the host detects it)"
pack "$T/g.xva" "vm g" "$T/a0.img"
gzip -c "$T/g.xva" >"$T/g.xva.gz"
client import --url "$FH_URL" --user root -i "$T/g.xva.gz"
imported_ok "import of a gzip archive"
fh_check 'R[-1]["compression"] == "gzip"' "the gzip archive did not go as it is"

note "--metadata over the host's own disks; --dry-run makes nothing"
hcurl -o "$T/m.tar" "$FH_URL/export_metadata?session_id=$FH_SID&uuid=$UUID_A"
n=$(fh_vm_count)
client import --url "$FH_URL" --user root --metadata --dry-run -i "$T/m.tar"
want_rc 0 "import --metadata --dry-run"
fh_check 'R[-1]["path"] == "/import_metadata" and "dry_run=true" in R[-1]["query"].split("&")' \
  "--metadata --dry-run: not /import_metadata?dry_run=true"
[ "$(fh_vm_count)" -eq "$n" ] || fail "--dry-run made a VM"
client import --url "$FH_URL" --user root --metadata -i "$T/m.tar"
imported_ok "import --metadata"
[ "$(fh_vm_count)" -eq $((n + 1)) ] || fail "--metadata made no VM"
VDI=$(fh_rpc VDI.get_all "$FH_SID" | python3 -c 'import json,sys; print(json.load(sys.stdin)[0])')
VDI_UUID=$(fh_rpc VDI.get_uuid "$FH_SID" "$VDI")
client import --url "$FH_URL" --user root --metadata --dry-run \
  --vdi "11111111-2222-4333-8444-555555555555=$VDI_UUID" -i "$T/m.tar"
want_rc 0 "import --metadata --vdi"
fh_check "'vdi:11111111-2222-4333-8444-555555555555=$VDI_UUID' in [__import__('urllib.parse').parse.unquote(x) for x in R[-1]['query'].split('&')]" \
  "--vdi: no vdi:SRC=DST in the query"

note "the host refuses archives from a newer xapi"
start_fakehost old --xapi-version 0.1
client import --url "$FH_URL" --user root -i "$T/a.xva"
want_rc 8 "import into an older host"
err_has IMPORT_INCOMPATIBLE_VERSION "import into an older host"

# Last, so that the checks above run whatever happens here.
note "a corrupted archive: the task's IMPORT_ERROR, exit 8, no VM"
start_fakehost main2
fh_login
n=$(fh_vm_count)
client import --url "$FH_URL" --user root -i "$T/bad.xva"
[ "$(fh_vm_count)" -eq "$n" ] || fail "the failed import left a VM"
[ ! -s "$T/out" ] || client_fail "a failed import printed '$(cat "$T/out")'"
want_rc 8 "import of a corrupted archive"
grep -qE 'IMPORT_ERROR([^_A-Z]|$)' "$T/err" ||
  client_fail "import of a corrupted archive: the task's IMPORT_ERROR is not reported"
fh_check 'R[-1]["path"] == "/import" and R[-1]["error"][0] == "IMPORT_ERROR"' \
  "the corrupted archive did not reach the host whole (no IMPORT_ERROR on the task)"
note "... also from a pipe"
RC=0
cat "$T/bad.xva" | env -u XVA_USER HOME="$T" XVA_PASSWORD="$PW" \
  timeout "$FH_TIMEOUT" "$XVA" import --url "$FH_URL" --user root -i - \
  >"$T/out" 2>"$T/err" || RC=$?
[ "$(fh_vm_count)" -eq "$n" ] || fail "the failed import left a VM"
want_rc 8 "import of a corrupted archive from a pipe"
grep -qE 'IMPORT_ERROR([^_A-Z]|$)' "$T/err" ||
  client_fail "import of a corrupted archive from a pipe: the task's IMPORT_ERROR is not reported"
[ "$(fh_vm_count)" -eq "$n" ] || fail "the failed import left a VM"

echo "fakehost-import: OK"
