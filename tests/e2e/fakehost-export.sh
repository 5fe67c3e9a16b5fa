#!/usr/bin/env bash
# `xva export` against a stand-in for a real host (tests/fakehost): the
# body comes as HTTP/1.0 with no length and ends at close, so the client
# must judge it by the archive's end marker and the task.  A file is
# kept only when both say it is complete.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"
require_client export

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
UUID_A=$(uuid_of "$T/a.xva")
[ -n "$UUID_A" ] || fail "no uuid in a.xva"

start_fakehost main "$T/a.xva"
fh_login
VM_A=$(fh_rpc VM.get_by_uuid "$FH_SID" "$UUID_A")
logins ()
{
  fh_log 'len([c for c in C if c["rpc"] == "session.login_with_password"]), len([c for c in C if c["rpc"] == "session.logout"])'
}

note "export by uuid to a file; log in once, log out at the end"
mkdir "$T/o1"
before=$(logins)
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o1/e.xva"
want_rc 0 "export --uuid"
after=$(logins)
python3 -c "import sys; b, a = eval(sys.argv[1]), eval(sys.argv[2]); sys.exit(0 if (a[0] - b[0], a[1] - b[1]) == (1, 1) else 1)" \
  "$before" "$after" ||
  fail "one export: logins/logouts went from $before to $after, want +1 each"
only_files "$T/o1" e.xva
fh_check 'R[-1]["path"] == "/export" and R[-1]["status"] == 200 and R[-1]["bytes_out"] == R[-1]["body_length"]' \
  "the stand-in did not send a whole export"
fh_check '"task_id=" in R[-1]["query"]' "the client gave the export no task_id"
check_export "$T/o1/e.xva" "$T/a0.img" "$T/a1.img"

note "export by name and by ref"
client export --url "$FH_URL" --user root --name "vm a" -o "$T/o1/n.xva"
want_rc 0 "export --name"
check_export "$T/o1/n.xva" "$T/a0.img" "$T/a1.img"
client export --url "$FH_URL" --user root --ref "$VM_A" -o "$T/o1/r.xva"
want_rc 0 "export --ref"
check_export "$T/o1/r.xva" "$T/a0.img" "$T/a1.img"

note "export --task-id: the given task is used and kept"
TASK=$(fh_rpc task.create "$FH_SID" "my export" "")
client export --url "$FH_URL" --user root --uuid "$UUID_A" --task-id "$TASK" \
  -o "$T/o1/t.xva"
want_rc 0 "export --task-id"
fh_check "'task_id=$TASK' in R[-1]['query'].split('&')" \
  "export --task-id: not the given task in the query"
[ "$(fh_rpc task.get_status "$FH_SID" "$TASK")" = success ] ||
  fail "export --task-id: the given task is not successful (or was destroyed)"
check_export "$T/o1/t.xva" "$T/a0.img" "$T/a1.img"

note "export to standard output"
RC=0
XVA_PASSWORD=$PW HOME=$T timeout "$FH_TIMEOUT" "$XVA" export --url "$FH_URL" \
  --user root --uuid "$UUID_A" -o - >"$T/stdout.xva" 2>"$T/err" || RC=$?
want_rc 0 "export -o -"
check_export "$T/stdout.xva" "$T/a0.img" "$T/a1.img"

note "export with --compress (done by the host)"
for c in gzip zstd; do
  client export --url "$FH_URL" --user root --uuid "$UUID_A" --compress "$c" \
    -o "$T/o1/c-$c.xva"
  want_rc 0 "export --compress $c"
  fh_check "'use_compression=' in R[-1]['query']" \
    "--compress $c: no use_compression in the query"
  "$XVA" verify "$T/o1/c-$c.xva" | grep -q "^compression: $c$" ||
    fail "--compress $c: the file is not $c"
  check_export "$T/o1/c-$c.xva" "$T/a0.img" "$T/a1.img"
done

note "export --metadata"
client export --url "$FH_URL" --user root --uuid "$UUID_A" --metadata \
  -o "$T/o1/m.tar"
want_rc 0 "export --metadata"
[ "$(tar -tf "$T/o1/m.tar")" = ova.xml ] || fail "--metadata: not ova.xml only"
fh_check 'R[-1]["path"] == "/export_metadata"' "--metadata did not use /export_metadata"

note "the task completes a moment after the connection closes"
start_fakehost late --finish-delay 2 "$T/a.xva"
mkdir "$T/o2"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o2/e.xva"
want_rc 0 "export whose task completes 2 s after the body"
check_export "$T/o2/e.xva" "$T/a0.img" "$T/a1.img"

note "the host breaks the connection mid-body and fails the task"
start_fakehost cut --cut-export 1500000 "$T/a.xva"
mkdir "$T/o3"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o3/e.xva"
[ "$RC" -ne 0 ] || client_fail "a cut export (task failed) exited 0"
fh_check 'R[-1]["cut"] == 1500000' "the stand-in did not cut the export"
err_has VDI_IO_ERROR "a cut export did not report the task's error"
only_files "$T/o3"
note "... and an existing file is left as it was"
echo "old content" >"$T/o3/keep.xva"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o3/keep.xva"
[ "$RC" -ne 0 ] || client_fail "a cut export exited 0"
[ "$(cat "$T/o3/keep.xva")" = "old content" ] ||
  fail "a failed export replaced the existing file"
only_files "$T/o3" keep.xva

note "the host cuts the body but marks the task successful: exit 3"
start_fakehost cutok --cut-export 1500000 --cut-task success "$T/a.xva"
mkdir "$T/o4"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o4/e.xva"
want_rc 3 "a cut export whose task succeeded"
only_files "$T/o4"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o -
[ "$RC" -ne 0 ] || client_fail "a cut export to stdout exited 0"

note "a running VM: the host fails the task with VM_BAD_POWER_STATE: exit 8"
start_fakehost running --power-state Running "$T/a.xva"
mkdir "$T/o6"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o6/e.xva"
fh_check 'R[-1]["path"] == "/export" and R[-1]["error"][0] == "VM_BAD_POWER_STATE"' \
  "the stand-in did not refuse the running VM"
want_rc 8 "export of a running VM"
err_has VM_BAD_POWER_STATE "export of a running VM"
only_files "$T/o6"

note "unknown VM: exit 6"
start_fakehost main2 "$T/a.xva"
mkdir "$T/o5"
client export --url "$FH_URL" --user root \
  --uuid 00000000-0000-4000-8000-000000000000 -o "$T/o5/e.xva"
want_rc 6 "export of an unknown uuid"
client export --url "$FH_URL" --user root --name "no such vm" -o "$T/o5/e.xva"
want_rc 6 "export of an unknown name"
client export --url "$FH_URL" --user root \
  --ref OpaqueRef:00000000-0000-4000-8000-000000000000 -o "$T/o5/e.xva"
want_rc 6 "export of an unknown ref"
only_files "$T/o5"

# Last, so that the checks above run whatever happens here.
note "the host cuts only the end marker and marks the task successful: exit 3"
SIZE_A=$(stat -c %s "$T/a.xva")
start_fakehost nomarker --cut-export $((SIZE_A - 1024)) --cut-task success \
  "$T/a.xva"
mkdir "$T/o7"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o7/e.xva"
fh_check "R[-1]['cut'] == $((SIZE_A - 1024)) and R[-1]['body_length'] == $SIZE_A" \
  "the stand-in did not cut just the end marker"
want_rc 3 "an export without its end marker (task successful)"
only_files "$T/o7"

echo "fakehost-export: OK"
