#!/usr/bin/env bash
# Python's standard XML-RPC client against a real `xva serve`:
# tests/interop/python-xmlrpc.py (login, VM.get_all_records, tasks,
# logout, and the error codes of a bad session and an unknown method).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/d0.img" $((1 * MIB))
pack "$T/src.xva" "python source" "$T/d0.img"
start_server "$T/data"
login
import_file "$T/src.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import of the source VM"

timeout "$E2E_TIMEOUT" python3 "$SRCDIR/tests/interop/python-xmlrpc.py" \
  "$URL" "$PW" "python source" || fail "python-xmlrpc.py failed"

jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
echo "interop-python: OK"
