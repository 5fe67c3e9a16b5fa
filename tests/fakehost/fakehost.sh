# Shell helpers of the tests/e2e/fakehost-*.sh scripts: a stand-in for a
# real XenServer / XCP-ng host (fakehost.py) and xva's client run against
# it.  Source it after tests/e2e/functions.sh (which gives T, PW, fail,
# note, mkdisk, pack, check_export and the clean-up of EXTRA_PIDS).

FH_DIR="$SRCDIR/tests/fakehost"
FH_TOOL="$FH_DIR/fhtool.py"
FAKE_LENGTH=1125899906842624
# Seconds before one client run counts as hung.
FH_TIMEOUT=${FH_TIMEOUT:-60}

# require_client CMD...: skip (77) while this xva has no such command.
require_client ()
{
  local c
  for c in "$@"; do
    if ! "$XVA" --help 2>/dev/null | grep -q "^  $c "; then
      echo "SKIP: this xva has no '$c' command yet" >&2
      exit 77
    fi
  done
}

# start_fakehost NAME [ARGS...]: starts a stand-in host with root's
# password $PW, logging its requests to $T/NAME.log.  Sets FH_PID,
# FH_URL, FH_PORT, FH_LOG, and FH_URL2 (the member's listener, if any).
start_fakehost ()
{
  local name=$1 i out
  shift
  FH_LOG="$T/$name.log"
  out="$T/$name.out"
  : >"$out"
  echo "=== fakehost $name $*" >>"$T/server.log"
  python3 "$FH_DIR/fakehost.py" --password "$PW" --log "$FH_LOG" "$@" \
    >"$out" 2>>"$T/server.log" &
  FH_PID=$!
  # No job notice when the clean-up kills it.
  disown "$FH_PID" 2>/dev/null || true
  EXTRA_PIDS="${EXTRA_PIDS:-} $FH_PID"
  for i in $(seq 1 300); do
    grep -q '^listening on http' "$out" && break
    kill -0 "$FH_PID" 2>/dev/null || fail "fakehost $name exited early"
    sleep 0.1
  done
  FH_URL=$(sed -n '1s/^listening on //p' "$out")
  FH_URL2=$(sed -n '2s/^listening on //p' "$out")
  [ -n "$FH_URL" ] || fail "fakehost $name did not start within 30 s"
  FH_PORT=${FH_URL##*:}
}

stop_fakehost ()
{
  [ -n "${FH_PID:-}" ] || return 0
  local i
  kill "$FH_PID" 2>/dev/null || true
  for i in $(seq 1 50); do
    kill -0 "$FH_PID" 2>/dev/null || break
    sleep 0.1
  done
  FH_PID=
}

# fh_rpc METHOD ARGS...: an XML-RPC call to the stand-in; prints the
# value; fails the test on a XenAPI failure.
fh_rpc ()
{
  local out
  out=$(python3 "$FH_TOOL" rpc "$FH_URL" "$@") ||
    fail "fakehost RPC $1 failed: $out"
  printf '%s\n' "$out"
}

# fh_rpc_error METHOD ARGS...: the call must fail; prints its error.
fh_rpc_error ()
{
  local out
  if out=$(python3 "$FH_TOOL" rpc "$FH_URL" "$@"); then
    fail "fakehost RPC $1 should have failed: $out"
  fi
  printf '%s\n' "$out"
}

# fh_login: FH_SID = a new session of root on the stand-in.
fh_login ()
{
  FH_SID=$(fh_rpc session.login_with_password root "$PW")
}

fh_vm_count ()
{
  fh_rpc VM.get_all "$FH_SID" | python3 -c \
    'import json,sys; print(len(json.load(sys.stdin)))'
}

# fh_log EXPR / fh_check EXPR MESSAGE: the stand-in's request log
# (fhtool.py log / check; L all entries, R transfers, C RPC calls).
fh_log ()
{
  python3 "$FH_TOOL" log "$FH_LOG" "$1"
}

fh_check ()
{
  python3 "$FH_TOOL" check "$FH_LOG" "$1" || fail "$2"
}

# fh_wait_task TASK: its status once it is no longer pending.
fh_wait_task ()
{
  python3 "$FH_TOOL" wait-task "$FH_URL" "$FH_SID" "$1" 60
}

# client CMD ARGS...: runs `xva CMD ARGS` with XVA_PASSWORD=$PW (no
# XVA_USER, HOME=$T: no ~/.netrc) and a time limit; stdout to $T/out, stderr to $T/err, status in RC.  Never
# fails by itself.
client ()
{
  RC=0
  env -u XVA_USER -u XVA_TO_USER -u XVA_TO_PASSWORD HOME="$T" \
    XVA_PASSWORD="$PW" timeout "$FH_TIMEOUT" "$XVA" "$@" \
    >"$T/out" 2>"$T/err" </dev/null || RC=$?
  echo "--- xva $* -> $RC" >>"$T/client.log"
  cat "$T/err" >>"$T/client.log"
}

# client_fail WHAT: fails the test, showing the client's stderr.
client_fail ()
{
  echo "--- the client's stderr:" >&2
  head -c 2000 "$T/err" >&2
  fail "$*"
}

# want_rc N WHAT: the last client run must have exited N.
want_rc ()
{
  [ "$RC" = "$1" ] || client_fail "$2: exit $RC, want $1"
}

# err_has TEXT WHAT: the last client run's stderr must contain TEXT.
err_has ()
{
  grep -qF -- "$1" "$T/err" || client_fail "$2: '$1' not in stderr"
}

# only_files DIR NAME...: DIR holds exactly the named files (nothing
# left behind: no temporary file, no partial output).
only_files ()
{
  local dir=$1 got want
  shift
  got=$(cd "$dir" && find . -mindepth 1 -printf '%P\n' | sort)
  want=$(printf '%s\n' "$@" | sed '/^$/d' | sort)
  [ "$got" = "$want" ] ||
    fail "$dir holds [$(echo $got)], want [$(echo $want)]"
}

# uuid_of ARCHIVE: the uuid of the archive's (first) VM.
uuid_of ()
{
  "$XVA" inspect "$1" | sed -n 's/^  uuid: *//p' | head -n 1
}
