#!/usr/bin/env bash
# The server under valgrind memcheck: one VM imported and exported end
# to end with curl (plus a login, a refused request and a metadata
# export), then SIGTERM.  Any memory error, and any definite or indirect
# leak, makes valgrind exit 99; the exit status must be 0.  Library
# false positives go in tests/e2e/valgrind.supp (each one explained).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

requires valgrind
libs=$(ldd "$XVA" 2>/dev/null || true)
if grep -q libasan <<<"$libs"; then
  echo "SKIP: valgrind cannot run an AddressSanitizer build; the plain" \
       "build runs this test" >&2
  exit 77
fi
SUPP="$E2E/valgrind.supp"
cat >"$T/xva-vg" <<EOS
#!/bin/sh
exec valgrind -q --error-exitcode=99 --leak-check=full \\
  --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect \\
  --track-origins=yes --suppressions="$SUPP" --log-file="$T/valgrind.log" \\
  "$XVA" "\$@"
EOS
chmod +x "$T/xva-vg"

mkdisk "$T/d0.img" $((3 * MIB))
pack "$T/vm.xva" "vg vm" "$T/d0.img"
# The data directory is made without valgrind (the first start hashes
# root's password, which is slow under valgrind and OpenSSL's affair).
start_server "$T/data"
stop_server
XVA="$T/xva-vg" start_server "$T/data"
login
st=$(http_status "$URL/export?session_id=OpaqueRef:bogus&uuid=x")
[ "$st" = 401 ] || fail "bogus session: $st"
import_file "$T/vm.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import under valgrind"
VM=$(task_vm "$TASK")
export_vm "session_id=$SID&ref=$VM" "$T/out.xva"
check_export "$T/out.xva" "$T/d0.img"
export_vm "session_id=$SID&ref=$VM&use_compression=zstd" "$T/outz.xva"
check_export "$T/outz.xva" "$T/d0.img"
hcurl -o "$T/meta.tar" "$URL/export_metadata?session_id=$SID&ref=$VM" ||
  fail "export_metadata"
jrpc session.logout "[\"$SID\"]" >/dev/null

note "SIGTERM; valgrind checks for leaks at exit"
kill -TERM "$SPID"
rc=0
for i in $(seq 1 1200); do
  kill -0 "$SPID" 2>/dev/null || break
  sleep 0.1
done
kill -0 "$SPID" 2>/dev/null && fail "the server under valgrind did not stop in 120 s"
wait "$SPID" || rc=$?
SPID=
if [ "$rc" -ne 0 ] || [ -s "$T/valgrind.log" ]; then
  cat "$T/valgrind.log" >&2
  fail "valgrind: exit status $rc (99: memory errors or leaks)"
fi
note "valgrind: no errors, no leaks"
echo "harden-valgrind: OK"
