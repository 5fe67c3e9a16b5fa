#!/bin/sh
# GET /export with curl, as http-api.md describes it: once with HTTP
# Basic auth (zstd-compressed), once with a session from
# session.login_with_password over JSON-RPC (following the task).
#
# Environment: XVA_URL (http://HOST:PORT), XVA_USER (default root),
# XVA_PASSWORD, VM_UUID (the VM to export), OUT_DIR (where the
# archives go: basic.xva, session.xva).
set -eu
: "${XVA_URL:?}" "${XVA_PASSWORD:?}" "${VM_UUID:?}" "${OUT_DIR:?}"
XVA_USER=${XVA_USER:-root}

# jrpc METHOD PARAMS: the JSON-RPC reply.
jrpc () {
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":1}" \
    "$XVA_URL/jsonrpc"
}
# A string result out of a reply.
result () {
  sed -n 's/^{"jsonrpc":"2.0","result":"\([^"]*\)","id":1}$/\1/p'
}

# 1. HTTP Basic auth.
curl -fsS -u "$XVA_USER:$XVA_PASSWORD" -D "$OUT_DIR/basic.headers" \
  -o "$OUT_DIR/basic.xva" \
  "$XVA_URL/export?uuid=$VM_UUID&use_compression=zstd"

# 2. A session, then the export's task.
SID=$(jrpc session.login_with_password "[\"$XVA_USER\",\"$XVA_PASSWORD\"]" |
      result)
curl -fsS -D "$OUT_DIR/session.headers" -o "$OUT_DIR/session.xva" \
  "$XVA_URL/export?session_id=$SID&uuid=$VM_UUID"
TASK=$(tr -d '\r' <"$OUT_DIR/session.headers" | sed -n 's/^task-id: //Ip')
STATUS=$(jrpc task.get_status "[\"$SID\",\"$TASK\"]" | result)
echo "export task $TASK: $STATUS"
jrpc session.logout "[\"$SID\"]" >/dev/null
[ "$STATUS" = success ]
