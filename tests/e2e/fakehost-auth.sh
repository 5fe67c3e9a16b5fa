#!/usr/bin/env bash
# Sessions of `xva export` / `xva import` against a stand-in for a real
# host (tests/fakehost): a wrong password and an expired session exit 5
# (SESSION_INVALID shown for the latter), a given session is used as it
# is and never logged out, the client's own session is logged out.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"
. "$SRCDIR/tests/fakehost/fakehost.sh"
require_client export import

mkdisk "$T/a0.img" $((2 * MIB))
pack "$T/a.xva" "vm a" "$T/a0.img"
UUID_A=$(uuid_of "$T/a.xva")

start_fakehost main "$T/a.xva"
fh_login
mkdir "$T/o"

note "wrong password: exit 5"
RC=0
env -u XVA_USER HOME="$T" XVA_PASSWORD="not-$PW" timeout "$FH_TIMEOUT" \
  "$XVA" export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o/e.xva" \
  >"$T/out" 2>"$T/err" || RC=$?
want_rc 5 "export with a wrong password"
err_has SESSION_AUTHENTICATION_FAILED "export with a wrong password"
only_files "$T/o"
RC=0
env -u XVA_USER HOME="$T" XVA_PASSWORD="not-$PW" timeout "$FH_TIMEOUT" \
  "$XVA" import --url "$FH_URL" --user root -i "$T/a.xva" \
  >"$T/out" 2>"$T/err" || RC=$?
want_rc 5 "import with a wrong password"
echo "not-$PW" >"$T/badpw"
client export --url "$FH_URL" --user root --password-file "$T/badpw" \
  --uuid "$UUID_A" -o "$T/o/e.xva"
want_rc 5 "export with a wrong --password-file"
client export --url "$FH_URL" --user nobody --uuid "$UUID_A" -o "$T/o/e.xva"
want_rc 5 "export as an unknown user"
only_files "$T/o"

note "the right --password-file"
echo "$PW" >"$T/pw"
RC=0
env -u XVA_USER -u XVA_PASSWORD HOME="$T" timeout "$FH_TIMEOUT" \
  "$XVA" export --url "$FH_URL" --user root --password-file "$T/pw" \
  --uuid "$UUID_A" -o "$T/o/e.xva" >"$T/out" 2>"$T/err" || RC=$?
want_rc 0 "export with --password-file"
check_export "$T/o/e.xva" "$T/a0.img"
rm -f "$T/o/e.xva"

note "a given live session is used and not logged out"
before=$(fh_log 'len([c for c in C if c["rpc"] == "session.login_with_password"])')
client export --url "$FH_URL" --session "$FH_SID" --uuid "$UUID_A" \
  -o "$T/o/s.xva"
want_rc 0 "export --session"
check_export "$T/o/s.xva" "$T/a0.img"
after=$(fh_log 'len([c for c in C if c["rpc"] == "session.login_with_password"])')
[ "$after" -eq "$before" ] || fail "export --session logged in anyway"
fh_rpc VM.get_all "$FH_SID" >/dev/null   # still valid: not logged out
client import --url "$FH_URL" --session "$FH_SID" -i "$T/a.xva"
want_rc 0 "import --session"
fh_rpc VM.get_all "$FH_SID" >/dev/null
rm -f "$T/o/s.xva"

note "an expired session: exit 5, SESSION_INVALID shown"
start_fakehost idle --session-idle 2 "$T/a.xva"
fh_login
OLD=$FH_SID
fh_rpc VM.get_all "$OLD" >/dev/null
sleep 3
client export --url "$FH_URL" --session "$OLD" --uuid "$UUID_A" \
  -o "$T/o/x.xva"
want_rc 5 "export with an expired session"
err_has SESSION_INVALID "export with an expired session"
only_files "$T/o"
client import --url "$FH_URL" --session "$OLD" -i "$T/a.xva"
want_rc 5 "import with an expired session"
err_has SESSION_INVALID "import with an expired session"
fh_check 'not any(r["path"] == "/import" and r.get("task_status") == "success" for r in R)' \
  "an import with an expired session made a VM"

note "an unknown session: exit 5"
client export --url "$FH_URL" --session OpaqueRef:00000000-0000-4000-8000-000000000000 \
  --uuid "$UUID_A" -o "$T/o/x.xva"
want_rc 5 "export with an unknown session"
err_has SESSION_INVALID "export with an unknown session"

note "the client's own session is logged out: no session piles up"
start_fakehost main2 "$T/a.xva"
fh_login
live0=$(fh_log '[c["live_sessions"] for c in C][-1]')
tasks0=$(fh_rpc task.get_all "$FH_SID")
for i in 1 2 3; do
  client export --url "$FH_URL" --user root --uuid "$UUID_A" -o "$T/o/e$i.xva"
  want_rc 0 "export $i"
  client import --url "$FH_URL" --user root -i "$T/a.xva"
  want_rc 0 "import $i"
done
fh_rpc VM.get_all "$FH_SID" >/dev/null
live1=$(fh_log '[c["live_sessions"] for c in C][-1]')
[ "$live1" -eq "$live0" ] ||
  fail "live sessions went from $live0 to $live1 over 6 client runs"
tasks1=$(fh_rpc task.get_all "$FH_SID")
[ "$tasks1" = "$tasks0" ] ||
  fail "the client's own tasks were not destroyed: $tasks0 -> $tasks1"

echo "fakehost-auth: OK"
