#!/bin/sh
# GET /export_metadata with curl: one VM's ova.xml with HTTP Basic auth,
# every VM's with a session from session.login_with_password over
# JSON-RPC (all=true).
#
# Environment: XVA_URL, XVA_USER (default root), XVA_PASSWORD, VM_UUID,
# OUT_DIR (where the tars go: basic.tar, all.tar).
set -eu
: "${XVA_URL:?}" "${XVA_PASSWORD:?}" "${VM_UUID:?}" "${OUT_DIR:?}"
XVA_USER=${XVA_USER:-root}

jrpc () {
  curl -fsS -H 'Content-Type: application/json' \
    -d "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":1}" \
    "$XVA_URL/jsonrpc"
}
result () {
  sed -n 's/^{"jsonrpc":"2.0","result":"\([^"]*\)","id":1}$/\1/p'
}

# 1. HTTP Basic auth: one VM.
curl -fsS -u "$XVA_USER:$XVA_PASSWORD" -o "$OUT_DIR/basic.tar" \
  "$XVA_URL/export_metadata?uuid=$VM_UUID"

# 2. A session: every VM.
SID=$(jrpc session.login_with_password "[\"$XVA_USER\",\"$XVA_PASSWORD\"]" |
      result)
curl -fsS -o "$OUT_DIR/all.tar" \
  "$XVA_URL/export_metadata?session_id=$SID&all=true"
jrpc session.logout "[\"$SID\"]" >/dev/null
tar -tf "$OUT_DIR/basic.tar"
