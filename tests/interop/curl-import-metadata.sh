#!/bin/sh
# PUT /import_metadata with curl: VM records re-created from an ova.xml
# tar (from /export_metadata) over the disks still in the SRs, once
# with HTTP Basic auth and once with a session from
# session.login_with_password over JSON-RPC.  Prints one line per
# import: "vm OpaqueRef:..." (the new VM).
#
# Environment: XVA_URL, XVA_USER (default root), XVA_PASSWORD, META_TAR,
# OUT_DIR (for headers).
set -eu
: "${XVA_URL:?}" "${XVA_PASSWORD:?}" "${META_TAR:?}" "${OUT_DIR:?}"
XVA_USER=${XVA_USER:-root}

jrpc () {
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":1}" \
    "$XVA_URL/jsonrpc"
}
result () {
  sed -n 's/^{"jsonrpc":"2.0","result":"\([^"]*\)","id":1}$/\1/p'
}
wait_vm () {
  while :; do
    STATUS=$(jrpc task.get_status "[\"$SID\",\"$1\"]" | result)
    [ "$STATUS" = pending ] || break
    sleep 0.2
  done
  if [ "$STATUS" != success ]; then
    echo "import_metadata task $1: $STATUS" >&2
    jrpc task.get_error_info "[\"$SID\",\"$1\"]" >&2
    return 1
  fi
  jrpc task.get_result "[\"$SID\",\"$1\"]" | result |
    grep -o 'OpaqueRef:[0-9a-f-]*' | sed 's/^/vm /'
}

# 1. HTTP Basic auth.
curl -fsS -u "$XVA_USER:$XVA_PASSWORD" -D "$OUT_DIR/meta-basic.headers" \
  -o /dev/null -T "$META_TAR" "$XVA_URL/import_metadata"
TASK1=$(tr -d '\r' <"$OUT_DIR/meta-basic.headers" |
        sed -n 's/^task-id: //Ip')

# 2. A session.
SID=$(jrpc session.login_with_password "[\"$XVA_USER\",\"$XVA_PASSWORD\"]" |
      result)
wait_vm "$TASK1"
curl -fsS -D "$OUT_DIR/meta-session.headers" -o /dev/null -T "$META_TAR" \
  "$XVA_URL/import_metadata?session_id=$SID"
wait_vm "$(tr -d '\r' <"$OUT_DIR/meta-session.headers" |
           sed -n 's/^task-id: //Ip')"
jrpc session.logout "[\"$SID\"]" >/dev/null
