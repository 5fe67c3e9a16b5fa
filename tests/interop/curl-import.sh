#!/bin/sh
# PUT /import with curl: an archive uploaded with HTTP Basic auth (the
# handler makes the task; its id comes in the task-id header), then
# with a session from session.login_with_password over JSON-RPC and a
# task made beforehand (task_id).  Prints one line per import:
# "vm OpaqueRef:..." (the new VM).
#
# Environment: XVA_URL, XVA_USER (default root), XVA_PASSWORD, XVA_FILE
# (the archive), SR_UUID (optional: else the pool's default SR),
# OUT_DIR (for headers).
set -eu
: "${XVA_URL:?}" "${XVA_PASSWORD:?}" "${XVA_FILE:?}" "${OUT_DIR:?}"
XVA_USER=${XVA_USER:-root}

jrpc () {
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":1}" \
    "$XVA_URL/jsonrpc"
}
result () {
  sed -n 's/^{"jsonrpc":"2.0","result":"\([^"]*\)","id":1}$/\1/p'
}
# wait_vm TASK: waits for the task, prints "vm <ref>" of its result.
wait_vm () {
  while :; do
    STATUS=$(jrpc task.get_status "[\"$SID\",\"$1\"]" | result)
    [ "$STATUS" = pending ] || break
    sleep 0.2
  done
  if [ "$STATUS" != success ]; then
    echo "import task $1: $STATUS" >&2
    jrpc task.get_error_info "[\"$SID\",\"$1\"]" >&2
    return 1
  fi
  jrpc task.get_result "[\"$SID\",\"$1\"]" | result |
    grep -o 'OpaqueRef:[0-9a-f-]*' | sed 's/^/vm /'
}

Q=${SR_UUID:+sr_uuid=$SR_UUID}

# 1. HTTP Basic auth; the status says how it went.
curl -fsS -u "$XVA_USER:$XVA_PASSWORD" -D "$OUT_DIR/basic.headers" \
  -o /dev/null -T "$XVA_FILE" "$XVA_URL/import?$Q"
TASK1=$(tr -d '\r' <"$OUT_DIR/basic.headers" | sed -n 's/^task-id: //Ip')

# 2. A session and a task of our own.
SID=$(jrpc session.login_with_password "[\"$XVA_USER\",\"$XVA_PASSWORD\"]" |
      result)
wait_vm "$TASK1"
TASK2=$(jrpc task.create "[\"$SID\",\"curl import\",\"\"]" | result)
curl -fsS -o /dev/null -T "$XVA_FILE" \
  "$XVA_URL/import?session_id=$SID&task_id=$TASK2${Q:+&$Q}"
wait_vm "$TASK2"
jrpc task.destroy "[\"$SID\",\"$TASK2\"]" >/dev/null
jrpc session.logout "[\"$SID\"]" >/dev/null
