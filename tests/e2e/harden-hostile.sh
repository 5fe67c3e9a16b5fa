#!/usr/bin/env bash
# Hostile HTTP clients: idle connections and headers sent slowly time
# out (--timeout), the connection cap (--max-connections) refuses or
# queues and never crashes, oversized headers get 431 (or a closed
# connection), a declared length of 1 PiB is never allocated (the RSS
# stays small), unknown methods get 405, and path traversal in query
# parameters or archive entry names reaches nothing outside the data
# directory.  The server must still answer after each of them.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

HOST=127.0.0.1
HP="$E2E/hostile.py"
TMO=3
CHECKER="$BUILDDIR/tests/test-harden-check"

alive ()
{
  kill -0 "$SPID" 2>/dev/null || fail "the server died ($1)"
  [ "$(jrpc session.login_with_password "[\"root\",\"$PW\"]" | cut -c1-10)" = OpaqueRef: ] ||
    fail "the server does not answer after $1"
}

# status_field NAME: a field of /proc/$SPID/status, in kB.
status_kb ()
{
  awk -v f="$1:" '$1 == f { print $2 }' "/proc/$SPID/status"
}

# A box around the data directory: nothing in it but the data
# directory may change.
BOX="$T/box"
mkdir -p "$BOX/inner"
echo "canary $RANDOM" >"$BOX/canary"
echo "inner canary" >"$BOX/inner/canary"
cp "$BOX/canary" "$T/canary.want"
outside ()
{
  find "$BOX" -path "$BOX/data" -prune -o -printf '%p %s %T@\n' | sort
}

mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/vm.xva" "h vm" "$T/d0.img"
start_server "$BOX/data" --timeout "$TMO" --max-connections 6
login
import_file "$T/vm.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "first import"
VM=$(task_vm "$TASK")
outside >"$T/outside.before"

note "an idle connection is closed after --timeout ($TMO s)"
t=$(timeout 30 python3 "$HP" idle $HOST "$PORT" 20)
[ "$t" != open ] || fail "an idle connection stayed open 20 s"
awk -v t="$t" -v m="$TMO" 'BEGIN { exit !(t >= m - 0.5 && t <= m + 2.5) }' ||
  fail "the idle connection closed after $t s (timeout $TMO)"
note "closed after $t s"

note "headers sent one byte every 0.5 s are cut after --timeout"
t=$(timeout 40 python3 "$HP" slow $HOST "$PORT" 0.5 20)
[ "$t" != open ] && [ "$t" != "sent all" ] ||
  fail "a client sending its headers slowly kept its connection ($t)"
[[ $t != reply* ]] || fail "slow headers: $t"
awk -v t="$t" -v m="$TMO" 'BEGIN { exit !(t >= m - 0.5 && t <= m + 2.5) }' ||
  fail "the slow client was cut after $t s (timeout $TMO)"
note "cut after $t s"
grep -q 'request headers did not arrive within' "$T/server.log" ||
  fail "the cut is not logged"
alive "slow headers"

note "the connection cap: the 7th of 6 connections is refused or queued"
timeout 40 python3 "$HP" cap $HOST "$PORT" 6 >"$T/cap"
cat "$T/cap"
first=$(sed -n 1p "$T/cap")
case $first in
  refused|"queued HTTP/1.1 "*) ;;
  *) fail "connection over the cap: $first" ;;
esac
sed -n 2p "$T/cap" | grep -q '^after HTTP/1.1 401' ||
  fail "no service once the held connections closed: $(cat "$T/cap")"
note "100 connections at once against a cap of 6"
out=$(timeout 120 python3 "$HP" flood $HOST "$PORT" 100)
note "$out"
[[ $out =~ ^replies=([0-9]+)\ closed=([0-9]+)\ errors=([0-9]+)$ ]] ||
  fail "flood: $out"
[ "${BASH_REMATCH[1]}" -ge 6 ] || fail "flood: fewer than 6 replies: $out"
alive "the connection cap"

note "header size: 100 KiB and 1 MiB headers get 431 or a closed connection"
for size in 102400 1048576; do
  line=$(timeout 30 python3 "$HP" header $HOST "$PORT" $size)
  case $line in
    "HTTP/1.1 431 "*|closed) note "$size bytes: $line" ;;
    *) fail "a header of $size bytes: '$line' (want 431 or closed)" ;;
  esac
done
line=$(timeout 30 python3 "$HP" header $HOST "$PORT" 1000)
[[ $line == "HTTP/1.1 401 "* ]] || fail "a small header: '$line'"
alive "big headers"

note "a declared length of 1 PiB is never allocated"
rss0=$(status_kb VmRSS)
hwm0=$(status_kb VmHWM)
for p in /jsonrpc / /RPC2; do
  line=$(timeout 60 python3 "$HP" pib $HOST "$PORT" POST "$p" 1)
  [[ $line == "HTTP/1.1 413 "* ]] || fail "RPC POST $p with 1 PiB: '$line'"
done
TK=$(jrpc task.create "[\"$SID\",\"pib\",\"\"]")
line=$(timeout 120 python3 "$HP" pib $HOST "$PORT" PUT \
       "/import?session_id=$SID&task_id=$TK" 96)
note "PUT /import, 1 PiB declared, 96 MiB of zeros sent: $line"
# With a task_id the fake length is answered 200 ahead of the body (as
# xapi does); the outcome is the task's.
[[ $line == "HTTP/1.1 200 "* || $line == "HTTP/1.1 400 "* ||
   $line == closed* ]] || fail "1 PiB of zeros to /import: '$line'"
[ "$(wait_task "$TK")" = failure ] || fail "the 1 PiB import did not fail"
TK=$(jrpc task.create "[\"$SID\",\"pib meta\",\"\"]")
line=$(timeout 120 python3 "$HP" pib $HOST "$PORT" PUT \
       "/import_metadata?session_id=$SID&task_id=$TK" 16)
[[ $line == "HTTP/1.1 200 "* || $line == "HTTP/1.1 4"* ||
   $line == closed* ]] || fail "1 PiB of zeros to /import_metadata: '$line'"
[ "$(wait_task "$TK")" = failure ] || fail "the 1 PiB metadata import"
line=$(timeout 120 python3 "$HP" pib $HOST "$PORT" GET \
       "/export?session_id=$SID&ref=$VM" 16)
[[ $line == "HTTP/1.1 200 "* || $line == closed* ]] ||
  fail "GET /export with a 1 PiB body: '$line'"
line=$(timeout 60 python3 "$HP" pib $HOST "$PORT" PUT "/import" 4)
[[ $line == "HTTP/1.1 401 "* || $line == closed* ]] ||
  fail "1 PiB without credentials: '$line'"
for hex in FFFFFFFFFFFFFFFF 40000000000000 7FFFFFFF; do
  line=$(timeout 60 python3 "$HP" chunked $HOST "$PORT" /jsonrpc $hex)
  [[ $line != "HTTP/1.1 200 "* ]] ||
    fail "a chunk of 0x$hex bytes was answered 200"
done
sleep 1
rss1=$(status_kb VmRSS)
hwm1=$(status_kb VmHWM)
note "VmRSS ${rss0} -> ${rss1} kB, VmHWM ${hwm0} -> ${hwm1} kB"
[ $((hwm1 - hwm0)) -lt $((64 * 1024)) ] ||
  fail "the peak RSS grew by $(((hwm1 - hwm0) / 1024)) MiB"
[ $((rss1 - rss0)) -lt $((32 * 1024)) ] ||
  fail "the RSS grew by $(((rss1 - rss0) / 1024)) MiB"
alive "1 PiB lengths"

note "unknown methods get 405"
pairs=()
for m in BREW PROPFIND TRACE FOO get M-SEARCH; do
  for p in /export /import /jsonrpc /; do
    pairs+=("$m" "$p")
  done
done
timeout 60 python3 "$HP" method $HOST "$PORT" "${pairs[@]}" >"$T/methods"
[ "$(wc -l <"$T/methods")" -eq $((${#pairs[@]} / 2)) ] ||
  fail "unknown methods: $(cat "$T/methods")"
bad=$(grep -v ' HTTP/1.1 405 ' "$T/methods" || true)
[ -z "$bad" ] || fail "unknown methods not answered 405: $bad"
alive "unknown methods"

note "path traversal in parameters"
EVIL="$BOX/evil"
for q in "sr_uuid=../../evil" "sr_uuid=..%2F..%2F..%2Fevil" "sr_uuid=a/b" \
         "sr_uuid=$EVIL" "sr_id=OpaqueRef:../../evil" "sr_id=../../../evil" \
         "task_id=../../evil" "task_id=OpaqueRef:../../../evil" \
         "task_id=$EVIL"; do
  st=$(http_status -T "$T/vm.xva" "$URL/import?session_id=$SID&$q")
  [ "$st" = 404 ] || fail "import with $q: status $st (want 404)"
done
for q in "ref=../../evil" "ref=OpaqueRef:../../../evil" "uuid=../../evil" \
         "uuid=$EVIL" "uuid=..%2F..%2Fxva.db"; do
  st=$(http_status -o /dev/null "$URL/export?session_id=$SID&$q")
  [ "$st" = 404 ] || fail "export with $q: status $st (want 404)"
  st=$(http_status -o /dev/null "$URL/export_metadata?session_id=$SID&$q")
  [ "$st" = 404 ] || fail "export_metadata with $q: status $st (want 404)"
done
hcurl -o "$T/meta.tar" "$URL/export_metadata?session_id=$SID&ref=$VM" ||
  fail "export_metadata"
st=$(http_status -T "$T/meta.tar" \
     "$URL/import_metadata?session_id=$SID&dry_run=true&vdi:../../evil=../../../evil")
case $st in 200|4??) ;; *) fail "import_metadata with vdi: traversal: $st" ;; esac

note "path traversal in archive entry names and ova.xml"
for mode in ref-dotdot ref-abs entry-dotdot uuid-dotdot location-abs; do
  case $mode in
    ref-abs|location-abs) arg="$EVIL" ;;
    *) arg=evil ;;
  esac
  python3 "$E2E/evilxva.py" "$T/vm.xva" "$T/e.xva" $mode "$arg" ||
    fail "evilxva.py $mode"
  for q in "" "&restore=true" "&force=true"; do
    st=$(hcurl -o "$T/body" -D "$T/h" -w '%{http_code}' -T "$T/e.xva" \
         "$URL/import?session_id=$SID$q") || true
    note "$mode$q: $st $(head -c 80 "$T/body")"
    case $st in
      200)
        TK=$(header_of "$T/h" task-id)
        if [ "$(wait_task "$TK")" = success ]; then
          V=$(task_vm "$TK")
          export_vm "session_id=$SID&ref=$V" "$T/back.xva"
          check_export "$T/back.xva" "$T/d0.img"
        fi ;;
      4??) ;;
      *) fail "import of $mode$q: status $st" ;;
    esac
  done
done
alive "path traversal"

note "nothing outside the data directory changed"
outside >"$T/outside.after"
diff "$T/outside.before" "$T/outside.after" ||
  fail "files outside the data directory changed"
cmp -s "$BOX/canary" "$T/canary.want" || fail "the canary changed"
[ ! -e "$EVIL" ] && [ ! -e "$BOX/evil-sr" ] && [ ! -e "$BOX/data/evil" ] ||
  fail "an evil path was created"
left=$(find "$BOX/data" -mindepth 1 | sed "s|^$BOX/data/||" |
       grep -Ev '^(xva\.db(-wal|-shm)?|xva\.lock|xva\.sock|sr|sr/[0-9a-f-]{36}|sr/[0-9a-f-]{36}/[0-9a-f-]{36}\.img)$' || true)
[ -z "$left" ] || fail "unexpected entries in the data directory: $left"

stop_server
if [ -x "$CHECKER" ]; then
  "$CHECKER" check "$BOX/data" --clean --password "$PW" ||
    fail "the data directory is not consistent"
else
  fail "no checker at $CHECKER"
fi
echo "harden-hostile: OK"
