#!/usr/bin/env bash
# Crash safety: the server is killed (SIGKILL) at random moments of 20
# imports (uploads slowed down so that most kills land mid-import; every
# fifth right after the import completed) and restarted each time.  After
# each restart the store is consistent: through the server's API and the
# data directory (crashcheck.py: no half VM, every VDI has its image, no
# orphan image, no staging directory, no task left pending), then, with
# the server stopped, through the store API (test-harden-check: SQLite's
# PRAGMA integrity_check and the same invariants).  A VM whose import
# was reported complete before the kill is there; one whose upload was
# cut is not; every VM there exports and verifies and its disk matches.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

CHECKER="$BUILDDIR/tests/test-harden-check"
CC="$E2E/crashcheck.py"
ROUNDS=${XVA_CRASH_ROUNDS:-20}
libs=$(ldd "$XVA" 2>/dev/null || true)
if grep -q libasan <<<"$libs"; then
  # Every restart and check is several times slower under ASan.
  ROUNDS=${XVA_CRASH_ROUNDS:-8}
  note "AddressSanitizer build: $ROUNDS rounds instead of 20"
fi
RATE=$((5 * MIB / 2))             # bytes/s of the slowed uploads
[ -x "$CHECKER" ] || fail "no checker at $CHECKER"

# Four disks of 2 MiB of random data (nothing for the writer to skip).
for d in 0 1 2 3; do
  head -c $((2 * MIB)) /dev/urandom >"$T/disk$d.img"
done
declare -A DISK_OF                # VM name -> its disk
for i in $(seq 1 "$ROUNDS"); do
  pack "$T/vm$i.xva" "crash-$i" "$T/disk$((i % 4)).img"
done
SIZE=$(stat -c %s "$T/vm1.xva")
UPLOAD_MS=$((SIZE * 1000 / RATE))

# ckstore: SIGTERM, the store API's check (the sweep of a clean stop
# finds nothing), then the server again.
ckstore ()
{
  stop_server
  "$CHECKER" check "$DATA" --clean >>"$T/check.log" 2>&1 ||
    { tail -5 "$T/check.log" >&2; fail "round $1: the store is not consistent"; }
  start_server "$DATA"
  tlogin
}

# tlogin: a session through the trusted control socket (no password
# hashing: restarts are many).
tlogin ()
{
  local out
  out=$(hcurl --unix-socket "$DATA/xva.sock" -X POST --data-binary \
    '{"jsonrpc":"2.0","method":"session.login_with_password","params":["root",""],"id":0}' \
    http://localhost/jsonrpc) || fail "trusted login"
  SID=$(grep -o 'OpaqueRef:[0-9a-f-]*' <<<"$out") || fail "trusted login: $out"
}

# apicheck ROUND: crashcheck.py; sets VMS (names, one a line).
apicheck ()
{
  timeout 120 python3 "$CC" "$URL" "$PW" "$DATA" >"$T/cc.out" ||
    { cat "$T/cc.out" >&2; fail "round $1: inconsistent after the restart"; }
  VMS=$(sed -n 's/^vm //p' "$T/cc.out")
}

# verify_vm NAME: exports the VM named NAME and compares its disk.
verify_vm ()
{
  local ref
  ref=$(jrpc VM.get_by_name_label "[\"$SID\",\"$1\"]" |
        grep -o 'OpaqueRef:[0-9a-f-]*' | head -n 1)
  [ -n "$ref" ] || fail "no VM named $1"
  export_vm "session_id=$SID&ref=$ref" "$T/out.xva"
  check_export "$T/out.xva" "${DISK_OF[$1]}"
}

start_server "$T/data"
login
KNOWN=()                           # names that must be there
mid=0 after=0 appeared=0
for i in $(seq 1 "$ROUNDS"); do
  name="crash-$i"
  DISK_OF[$name]="$T/disk$((i % 4)).img"
  TK=$(jrpc task.create "[\"$SID\",\"$name\",\"\"]")
  bg_curl --limit-rate "$RATE" -o /dev/null -T "$T/vm$i.xva" \
    "$URL/import?session_id=$SID&task_id=$TK" 2>/dev/null
  if [ $((i % 5)) -eq 0 ]; then
    # Right after completion: the task has succeeded, then the kill.
    wait "$CURL_PID" || fail "round $i: the upload failed"
    EXTRA_PIDS=
    [ "$(wait_task "$TK")" = success ] || fail "round $i: import failed"
    kill9_server
    KNOWN+=("$name")
    how="after completion"
    after=$((after + 1))
  else
    # Anywhere from the start of the upload to a little past its end
    # (the commit).
    ms=$((RANDOM % (UPLOAD_MS * 12 / 10 + 1) + 20))
    sleep "$(awk -v m="$ms" 'BEGIN { printf "%.3f", m / 1000 }')"
    kill9_server
    kill "$CURL_PID" 2>/dev/null || true
    wait "$CURL_PID" 2>/dev/null || true
    EXTRA_PIDS=
    how="after ${ms} ms of ~${UPLOAD_MS} ms"
  fi
  start_server "$DATA"
  tlogin
  apicheck "$i"
  for k in "${KNOWN[@]}"; do
    grep -qx "$k" <<<"$VMS" || fail "round $i: VM $k vanished after the kill"
  done
  if grep -qx "$name" <<<"$VMS"; then
    state="VM whole"
    [[ " ${KNOWN[*]} " == *" $name "* ]] || { KNOWN+=("$name"); appeared=$((appeared + 1)); }
    verify_vm "$name"
  else
    state="no VM"
    [ $((i % 5)) -ne 0 ] || fail "round $i: the completed import is gone"
    mid=$((mid + 1))
  fi
  n=$(grep -c . <<<"$VMS" || true)
  [ "$n" -eq "${#KNOWN[@]}" ] ||
    fail "round $i: $n VMs, want ${#KNOWN[@]}: $VMS"
  # An earlier VM, every third round.
  if [ "${#KNOWN[@]}" -gt 1 ] && [ $((i % 3)) -eq 0 ]; then
    verify_vm "${KNOWN[$((i % ${#KNOWN[@]}))]}"
  fi
  ckstore "$i"
  note "round $i: killed $how: $state; ${#KNOWN[@]} VMs, consistent"
done

note "every VM once more"
for k in "${KNOWN[@]}"; do
  verify_vm "$k"
done
stop_server
"$CHECKER" check "$DATA" --clean || fail "the final check"
sweeps=$(grep -c 'start-up sweep: removed' "$T/server.log" || true)
note "$ROUNDS kills: $mid mid-import (nothing left), $after after completion," \
     "$appeared cut after the commit (VM whole); $sweeps restarts swept leftovers"
# The kills must mostly have landed mid-import, or the test tested little.
[ "$mid" -ge $((ROUNDS / 4)) ] ||
  fail "only $mid of $ROUNDS kills landed mid-import"
[ "$sweeps" -ge 1 ] || fail "no restart had leftovers to sweep"
echo "harden-crash: OK"
