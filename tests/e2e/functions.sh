# Shared helpers of the tests/e2e/*.sh scripts: a real `xva serve` on a
# free port of 127.0.0.1 over a temporary data directory, driven by curl.
# Source it after `set -euo pipefail`.
#
# Environment: XVA (the xva binary), SRCDIR (the source tree), BUILDDIR.

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  echo "SKIP: functions.sh holds the helpers of the e2e tests; it is not one"
  exit 77
fi

: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
: "${XVA:=$BUILDDIR/xva}"
E2E="$SRCDIR/tests/e2e"
MIB=1048576
PW="e2e-$RANDOM-$RANDOM-secret"       # root's password of every server
# Seconds before one curl or xva call counts as hung.
E2E_TIMEOUT=${E2E_TIMEOUT:-120}

fail ()
{
  echo "FAIL: $*" >&2
  if [ -n "${T:-}" ] && [ -s "$T/server.log" ]; then
    echo "--- last lines of the server's log:" >&2
    tail -n 30 "$T/server.log" >&2
  fi
  exit 1
}

note ()
{
  echo "# $*"
}

# requires CMD...: skip the test (77) when a tool is missing.
requires ()
{
  local c
  for c in "$@"; do
    if ! command -v "$c" >/dev/null 2>&1; then
      echo "SKIP: $c not found" >&2
      exit 77
    fi
  done
}

requires curl python3 timeout cmp truncate
[ -x "$XVA" ] || fail "xva binary not found: XVA=$XVA"
if ! "$XVA" serve --help >/dev/null 2>&1; then
  echo "SKIP: this xva has no 'serve' command (built without server/)" >&2
  exit 77
fi

T=$(mktemp -d "${TMPDIR:-/tmp}/xva-e2e.XXXXXX")
SPID=
cleanup ()
{
  if [ -n "${SPID:-}" ]; then
    kill -KILL "$SPID" 2>/dev/null || true
    wait "$SPID" 2>/dev/null || true
  fi
  if [ -n "${EXTRA_PIDS:-}" ]; then
    # shellcheck disable=SC2086
    kill -KILL $EXTRA_PIDS 2>/dev/null || true
  fi
  [ -n "${E2E_KEEP:-}" ] && { echo "kept $T" >&2; return; }
  chmod -R u+rwX "$T" 2>/dev/null || true
  rm -rf "$T"
}
trap cleanup EXIT

# ---- the server -----------------------------------------------------------

# start_server DATA [ARGS...]: starts `xva serve --data DATA --listen
# 127.0.0.1:0 ARGS` with root's password $PW (for a new DATA) and waits
# for its "listening on" lines.  Sets SPID, URL (the first listener),
# PORT and DATA.  The log goes to $T/server.log.
start_server ()
{
  local data=$1 i line
  shift
  DATA=$data
  : >"$T/server.out"
  echo "=== xva serve --data $data $*" >>"$T/server.log"
  XVA_PASSWORD=$PW "$XVA" serve --data "$data" --listen 127.0.0.1:0 "$@" \
    >"$T/server.out" 2>>"$T/server.log" &
  SPID=$!
  for i in $(seq 1 600); do
    if grep -q '^listening on http' "$T/server.out"; then
      break
    fi
    if ! kill -0 "$SPID" 2>/dev/null; then
      wait "$SPID" || true
      SPID=
      fail "xva serve exited before listening"
    fi
    sleep 0.1
  done
  line=$(grep -m1 '^listening on http' "$T/server.out") ||
    fail "xva serve did not say where it listens within 60 s"
  URL=${line#listening on }
  PORT=${URL##*:}
  case $PORT in
    ''|*[!0-9]*|0) fail "bad port in '$line'" ;;
  esac
}

# stop_server: SIGTERM; the server must stop cleanly (exit 0) within
# 30 s.
stop_server ()
{
  local rc=0 i
  [ -n "$SPID" ] || return 0
  kill -TERM "$SPID"
  for i in $(seq 1 300); do
    kill -0 "$SPID" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$SPID" 2>/dev/null; then
    fail "xva serve did not stop within 30 s of SIGTERM"
  fi
  wait "$SPID" || rc=$?
  SPID=
  [ "$rc" -eq 0 ] || fail "xva serve exited $rc after SIGTERM"
  if grep -q 'Sanitizer' "$T/server.log"; then
    fail "the server's log has a sanitizer report"
  fi
}

# kill9_server: kills the server without warning.
kill9_server ()
{
  kill -KILL "$SPID"
  wait "$SPID" 2>/dev/null || true
  SPID=
}

# ---- HTTP -----------------------------------------------------------------

# hcurl ARGS...: curl with a time limit; no failure on HTTP errors.
hcurl ()
{
  timeout "$E2E_TIMEOUT" curl -sS --max-time "$E2E_TIMEOUT" "$@"
}

# bg_curl ARGS...: curl in the background (CURL_PID, also in
# EXTRA_PIDS so that the clean-up kills it); killing CURL_PID kills curl.
bg_curl ()
{
  timeout "$E2E_TIMEOUT" curl -sS --max-time "$E2E_TIMEOUT" "$@" &
  CURL_PID=$!
  EXTRA_PIDS="$CURL_PID"
}

# http_status ARGS...: prints the status code of the request.
http_status ()
{
  hcurl -o /dev/null -w '%{http_code}' "$@" || true
}

# jrpc_raw METHOD PARAMS: the reply of a JSON-RPC 2.0 call over curl.
jrpc_raw ()
{
  hcurl -X POST -H 'Content-Type: application/json' --data-binary \
    "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":0}" \
    "$URL/jsonrpc" || fail "curl: JSON-RPC $1 failed"
}

# jrpc METHOD PARAMS: a JSON-RPC call; prints its result (a string as
# is, anything else as JSON); fails the test on an error.
jrpc ()
{
  local out re='^\{"jsonrpc":"2\.0","result":"([^"\\]*)","id":0\}$'
  out=$(jrpc_raw "$1" "$2")
  # Plain string results without starting Python (the common case).
  if [[ $out =~ $re ]]; then
    printf '%s\n' "${BASH_REMATCH[1]}"
    return 0
  fi
  python3 "$E2E/jtool.py" result <<<"$out" ||
    fail "JSON-RPC $1 $2 failed: $out"
}

# jrpc_error METHOD PARAMS: the call must fail; prints the error code.
jrpc_error ()
{
  local out
  out=$(hcurl -X POST -H 'Content-Type: application/json' --data-binary \
        "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":0}" \
        "$URL/jsonrpc") || fail "curl: JSON-RPC $1 failed"
  python3 "$E2E/jtool.py" error <<<"$out" ||
    fail "JSON-RPC $1 $2 should have failed: $out"
}

# jq_eval EXPR: evaluates EXPR with j = the JSON on stdin.
jq_eval ()
{
  python3 "$E2E/jtool.py" eval "$1"
}

# login: sets SID to a new session of root.
login ()
{
  SID=$(jrpc session.login_with_password "[\"root\",\"$PW\"]")
  case $SID in
    OpaqueRef:*) ;;
    *) fail "login gave '$SID'" ;;
  esac
}

# header_of FILE NAME: the value of header NAME in a curl -D dump.
header_of ()
{
  tr -d '\r' <"$1" | sed -n "s/^$2: *//Ip" | tail -n 1
}

# import_file FILE QUERY: curl -T FILE to /import?QUERY with the
# session; the status must be 200.  Sets TASK (the task-id header).
import_file ()
{
  local st
  st=$(hcurl -o "$T/body" -D "$T/headers" -w '%{http_code}' -T "$1" \
       "$URL/import?session_id=$SID${2:+&$2}") || true
  [ "$st" = 200 ] || fail "import of $1 ($2): status $st: $(cat "$T/body")"
  TASK=$(header_of "$T/headers" task-id)
  [ -n "$TASK" ] || fail "import of $1: no task-id header"
}

# task_field TASK FIELD: a field of the task's record.
task_field ()
{
  jrpc task.get_record "[\"$SID\",\"$1\"]" | jq_eval "j['$2']"
}

# wait_task TASK: waits (60 s) until the task is no longer pending and
# prints its status.
wait_task ()
{
  local i st
  for i in $(seq 1 600); do
    st=$(jrpc task.get_status "[\"$SID\",\"$1\"]")
    case $st in
      pending|cancelling) sleep 0.1 ;;
      *) echo "$st"; return 0 ;;
    esac
  done
  fail "task $1 still $st after 60 s"
}

# task_vm TASK: the one VM ref of a successful import task's result.
task_vm ()
{
  local res refs
  res=$(jrpc task.get_result "[\"$SID\",\"$1\"]")
  refs=$(grep -o 'OpaqueRef:[0-9a-f-]*' <<<"$res" || true)
  [[ $res == '<value><array><data><value>OpaqueRef:'*'</value></data></array></value>' ]] &&
    [ "$(wc -l <<<"$refs")" -eq 1 ] || fail "task $1: bad result '$res'"
  printf '%s\n' "$refs"
}

# vm_uuid REF / vm_count
vm_uuid ()
{
  jrpc VM.get_uuid "[\"$SID\",\"$1\"]"
}

vm_count ()
{
  jrpc_raw VM.get_all "[\"$SID\"]" | grep -o 'OpaqueRef:[0-9a-f-]*' | wc -l
}

# export_vm QUERY OUT: GET /export?QUERY into OUT; the status must be
# 200.  Sets TASK.
export_vm ()
{
  local st
  st=$(hcurl -o "$2" -D "$T/headers" -w '%{http_code}' \
       "$URL/export?$1") || true
  [ "$st" = 200 ] || fail "export $1: status $st: $(head -c 300 "$2")"
  TASK=$(header_of "$T/headers" task-id)
}

# ---- the data directory ---------------------------------------------------

# leftovers: staging directories and images under $DATA/sr, one a line.
images ()
{
  find "$DATA/sr" -type f -name '*.img' | sort
}

no_staging ()
{
  local left
  left=$(find "$DATA/sr" -name '.import-*' | head -5)
  [ -z "$left" ] || fail "staging left behind: $left"
}

# ---- archives -------------------------------------------------------------

# mkdisk FILE SIZE: a sparse disk of SIZE with random data at its start,
# in its middle and at its end, and a marker string at byte 100000.
mkdisk ()
{
  local f=$1 size=$2
  rm -f "$f"
  truncate -s "$size" "$f"
  dd if=/dev/urandom of="$f" bs=65536 count=4 conv=notrunc status=none
  dd if=/dev/urandom of="$f" bs=4096 count=16 seek=$((size / 8192)) \
     conv=notrunc status=none
  dd if=/dev/urandom of="$f" bs=512 count=1 seek=$((size / 512 - 1)) \
     conv=notrunc status=none
  printf 'XVA-E2E-MARKER-%s' "$(basename "$f")" |
    dd of="$f" bs=1 seek=100000 conv=notrunc status=none
}

# pack OUT NAME DISK...: xva pack (with a VIF).
pack ()
{
  local out=$1 name=$2
  shift 2
  timeout "$E2E_TIMEOUT" "$XVA" pack -q --vif -o "$out" --name "$name" "$@" ||
    fail "xva pack $out failed"
}

# check_export ARCHIVE DISK...: verifies the archive, extracts it and
# compares its images (in userdevice order) with the DISKs.
check_export ()
{
  local a=$1 dir i=0 d img
  shift
  timeout "$E2E_TIMEOUT" "$XVA" verify -q "$a" ||
    fail "xva verify $a failed"
  dir=$(mktemp -d "$T/extract.XXXXXX")
  timeout "$E2E_TIMEOUT" "$XVA" extract -q -C "$dir" "$a" ||
    fail "xva extract $a failed"
  for d in "$@"; do
    img=$(find "$dir" -maxdepth 1 -name "$i-*.img" | head -n 1)
    [ -n "$img" ] || fail "$a: no image of userdevice $i ($(ls "$dir"))"
    cmp "$img" "$d" || fail "$a: disk $i differs from $d"
    i=$((i + 1))
  done
  [ "$(find "$dir" -maxdepth 1 -name '*.img' | wc -l)" -eq "$#" ] ||
    fail "$a: $(find "$dir" -maxdepth 1 -name '*.img' | wc -l) images, want $#"
  rm -rf "$dir"
}

# ---- the client (xva export / import / copy) --------------------------------

# xc CMD ARGS...: runs `xva CMD ARGS` with a time limit; sets XRC (exit
# status), stdout in $T/xout, stderr in $T/xerr.  Never fails by itself,
# but a sanitizer report fails the test.
xc ()
{
  XRC=0
  timeout "$E2E_TIMEOUT" "$XVA" "$@" >"$T/xout" 2>"$T/xerr" || XRC=$?
  if grep -q 'Sanitizer' "$T/xerr"; then
    cat "$T/xerr" >&2
    fail "xva $1: sanitizer report"
  fi
}

# xc_ok CMD ARGS...: xc, and the command must succeed.
xc_ok ()
{
  xc "$@"
  [ "$XRC" -eq 0 ] || fail "xva $* exited $XRC: $(cat "$T/xerr")"
}

# xc_rc WANT CMD ARGS...: xc, and the exit status must be WANT.
xc_rc ()
{
  local want=$1
  shift
  xc "$@"
  [ "$XRC" -eq "$want" ] ||
    fail "xva $* exited $XRC, want $want: $(cat "$T/xerr")"
}

# start_second_server DATA [ARGS...]: another `xva serve` beside the first
# one (SPID, URL, PORT, DATA stay the first's).  Sets SPID2, URL2, PORT2,
# DATA2; the clean-up kills it.
start_second_server ()
{
  local s1=$SPID u1=$URL p1=$PORT d1=$DATA
  EXTRA_PIDS="${EXTRA_PIDS:-} $s1"
  start_server "$@"
  SPID2=$SPID URL2=$URL PORT2=$PORT DATA2=$DATA
  EXTRA_PIDS="${EXTRA_PIDS:-} $SPID2"
  SPID=$s1 URL=$u1 PORT=$p1 DATA=$d1
}

# start_proxy MODE UPSTREAM_PORT [ARGS...]: tests/e2e/client-proxy.py in
# front of a server.  Sets PROXY_PID and PROXY_URL; the clean-up kills it.
start_proxy ()
{
  local i port=
  rm -f "$T/proxy.out"
  python3 "$E2E/client-proxy.py" "$@" >"$T/proxy.out" 2>>"$T/proxy.log" &
  PROXY_PID=$!
  EXTRA_PIDS="${EXTRA_PIDS:-} $PROXY_PID"
  for i in $(seq 1 100); do
    port=$(sed -n 's/^port //p' "$T/proxy.out" 2>/dev/null)
    [ -n "$port" ] && break
    sleep 0.1
  done
  [ -n "$port" ] || fail "the proxy did not start: $(cat "$T/proxy.log")"
  PROXY_URL=http://127.0.0.1:$port
}

# stop_proxy: kills the proxy.
stop_proxy ()
{
  kill -KILL "$PROXY_PID" 2>/dev/null || true
  wait "$PROXY_PID" 2>/dev/null || true
}

# no_temporaries DIR: nothing of an unfinished export is left in DIR.
no_temporaries ()
{
  local left
  left=$(find "$1" -maxdepth 1 -name '*.tmp-*' | head -5)
  [ -z "$left" ] || fail "temporary files left behind: $left"
}
