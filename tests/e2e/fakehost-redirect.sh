#!/usr/bin/env bash
# `xva export` and `xva import` against a stand-in pool master that
# answers /export and /import with 302 to a member (tests/fakehost,
# --redirect): the client follows with the same path and query, and the
# member, which shares the master's sessions and tasks, does the work.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"
require_client export import

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
UUID_A=$(uuid_of "$T/a.xva")
SIZE_A=$(stat -c %s "$T/a.xva")
export SIZE_A

start_fakehost pool --redirect "$T/a.xva"
[ -n "$FH_URL2" ] || fail "the stand-in has no member listener"
fh_login

# followed PATH WHAT: the last two transfers are the master's 302 and
# the member's answer to the same path and query.
followed ()
{
  fh_check "R[-2]['role'] == 'master' and R[-2]['status'] == 302 and R[-2]['path'] == '$1'" \
    "$2: the master's 302 is not the second last request"
  fh_check "R[-1]['role'] == 'member' and R[-1]['path'] == '$1' and R[-1]['query'] == R[-2]['query']" \
    "$2: the redirect was not followed to the member with the same query"
}

note "export: 302 followed"
mkdir "$T/o"
client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o/e.xva"
want_rc 0 "export through a 302"
followed /export "export"
fh_check 'R[-1]["status"] == 200 and R[-1]["bytes_out"] == R[-1]["body_length"]' \
  "export: the member did not send the whole archive"
check_export "$T/o/e.xva" "$T/a0.img" "$T/a1.img"
only_files "$T/o" e.xva

note "export with --compress zstd: 302 followed with use_compression"
client export --url "$FH_URL" --user root --uuid "$UUID_A" --compress zstd \
  -o "$T/o/z.xva"
want_rc 0 "export --compress zstd through a 302"
followed /export "export --compress zstd"
fh_check "'use_compression=zstd' in R[-1]['query'].split('&')" \
  "the member's query lost use_compression"
check_export "$T/o/z.xva" "$T/a0.img" "$T/a1.img"

note "import of a file: 302 followed, the member imports"
n=$(fh_vm_count)
client import --url "$FH_URL" --user root -i "$T/a.xva"
want_rc 0 "import through a 302"
followed /import "import"
fh_check 'not R[-1]["chunked"] and R[-1]["expect"] is None' \
  "import: chunked or Expect sent to the member"
fh_check 'R[-1]["task_status"] == "success" and R[-1]["end_marker"] and R[-1]["bytes_in"] == int(os.environ["SIZE_A"])' \
  "import: the member did not get the whole archive"
[ "$(wc -l <"$T/out")" -eq 1 ] || client_fail "import: stdout '$(cat "$T/out")'"
NEW_UUID=$(cat "$T/out")
[ "$(fh_vm_count)" -eq $((n + 1)) ] || fail "import through a 302 made no VM"
fh_rpc VM.get_by_uuid "$FH_SID" "$NEW_UUID" >/dev/null

note "import with --sr-uuid and --restore: the query goes along"
POOL=$(fh_rpc pool.get_all "$FH_SID" | tr -d '[]" ')
SR=$(fh_rpc pool.get_default_SR "$FH_SID" "$POOL")
SR_UUID=$(fh_rpc SR.get_uuid "$FH_SID" "$SR")
client import --url "$FH_URL" --user root --restore --sr-uuid "$SR_UUID" \
  -i "$T/a.xva"
want_rc 0 "import --restore --sr-uuid through a 302"
followed /import "import --restore --sr-uuid"
fh_check "'restore=true' in R[-1]['query'].split('&')" \
  "the member's query lost restore=true"
[ "$(cat "$T/out")" = "$UUID_A" ] || client_fail "--restore: uuid '$(cat "$T/out")'"

# Last: a pipe cannot be sent twice, so the client must learn about the
# redirect before it sends the body.
note "import from a pipe: 302 followed"
n=$(fh_vm_count)
RC=0
cat "$T/a.xva" | env -u XVA_USER HOME="$T" XVA_PASSWORD="$PW" \
  timeout "$FH_TIMEOUT" "$XVA" import --url "$FH_URL" --user root -i - \
  >"$T/out" 2>"$T/err" || RC=$?
want_rc 0 "import from a pipe through a 302"
fh_check 'R[-1]["role"] == "member" and R[-1]["task_status"] == "success" and R[-1]["bytes_in"] == int(os.environ["SIZE_A"])' \
  "import from a pipe: the member did not import the whole archive"
[ "$(fh_vm_count)" -eq $((n + 1)) ] || fail "import from a pipe made no VM"

echo "fakehost-redirect: OK"
