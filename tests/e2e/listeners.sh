#!/usr/bin/env bash
# Listeners and wire forms: start-up rules (password), several TCP
# listeners, the Unix sockets (trusted, mode 0600), JSON-RPC with curl,
# XML-RPC with Python's xmlrpc.client, HTTPS with a certificate made
# here.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/vm.xva" "l vm" "$T/d0.img"

note "a new data directory needs a password"
if env -u XVA_PASSWORD timeout 60 "$XVA" serve --data "$T/nopw" \
     --listen 127.0.0.1:0 >"$T/out" 2>"$T/err"; then
  fail "xva serve started on a new directory without a password"
fi
grep -q 'XVA_PASSWORD' "$T/err" || fail "no hint about the password: $(cat "$T/err")"
grep -q 'listening' "$T/out" && fail "it said it listens"

note "--password-file wins over XVA_PASSWORD; two listeners and --unix"
FILEPW="file-$RANDOM-pw"
printf '%s\n' "$FILEPW" >"$T/pw"
chmod 600 "$T/pw"
start_server "$T/data" --password-file "$T/pw" --listen 127.0.0.1:0 \
  --unix "$T/s.sock"
[ "$(grep -c '^listening on http://127.0.0.1:' "$T/server.out")" -eq 2 ] ||
  fail "want two TCP listeners: $(cat "$T/server.out")"
grep -qx "listening on unix:$T/s.sock" "$T/server.out" ||
  fail "the Unix socket is not listed: $(cat "$T/server.out")"
URL2=$(grep '^listening on http' "$T/server.out" | sed -n '2s/^listening on //p')
[ "$URL2" != "$URL" ] || fail "both listeners on one port"
code=$(jrpc_error session.login_with_password "[\"root\",\"$PW\"]")
[ "$code" = SESSION_AUTHENTICATION_FAILED ] || fail "env password accepted"
SID=$(jrpc session.login_with_password "[\"root\",\"$FILEPW\"]")
URL=$URL2 jrpc pool.get_all "[\"$SID\"]" >/dev/null

note "Unix sockets are mode 0600 and trusted"
for s in "$T/s.sock" "$T/data/xva.sock"; do
  [ -S "$s" ] || fail "$s is not a socket"
  [ "$(stat -c %a "$s")" = 600 ] || fail "$s: mode $(stat -c %a "$s")"
done
out=$(hcurl --unix-socket "$T/s.sock" -X POST --data-binary \
  '{"jsonrpc":"2.0","method":"session.login_with_password","params":["root","anything"],"id":0}' \
  http://localhost/jsonrpc)
USID=$(python3 "$E2E/jtool.py" result <<<"$out") ||
  fail "trusted login over the Unix socket failed: $out"
st=$(hcurl --unix-socket "$T/s.sock" -o /dev/null -D "$T/h" -w '%{http_code}' \
     -T "$T/vm.xva" http://localhost/import) || true
[ "$st" = 200 ] || fail "import over the Unix socket without credentials: $st"
TASK=$(header_of "$T/h" task-id)
[ "$(wait_task "$TASK")" = success ] || fail "Unix socket import"
VM=$(task_vm "$TASK")
st=$(hcurl --unix-socket "$T/data/xva.sock" -o "$T/u.xva" -w '%{http_code}' \
     "http://localhost/export?ref=$VM") || true
[ "$st" = 200 ] || fail "export over the control socket: $st"
check_export "$T/u.xva" "$T/d0.img"
out=$(hcurl --unix-socket "$T/s.sock" -X POST --data-binary \
  "{\"jsonrpc\":\"2.0\",\"method\":\"VM.get_all\",\"params\":[\"$USID\"],\"id\":0}" \
  http://localhost/jsonrpc)
grep -q "$VM" <<<"$out" || fail "VM.get_all over the Unix socket: $out"
note "the control route is not on TCP"
nsr=$(jrpc_raw SR.get_all "[\"$SID\"]" | grep -o 'OpaqueRef:' | wc -l)
hcurl -o /dev/null -X POST "$URL/xva/sr-create?name=x" || true
[ "$(jrpc_raw SR.get_all "[\"$SID\"]" | grep -o 'OpaqueRef:' | wc -l)" -eq "$nsr" ] ||
  fail "an SR was made over TCP"

note "JSON-RPC with curl: 2.0, 1.0, errors, Content-Type"
hcurl -D "$T/h" -o "$T/b" -X POST --data-binary \
  '{"jsonrpc":"2.0","method":"system.listMethods","params":[],"id":"x"}' \
  "$URL/jsonrpc"
tr -d '\r' <"$T/h" | grep -qix 'Content-Type: application/json' ||
  fail "JSON-RPC Content-Type: $(cat "$T/h")"
python3 "$E2E/jtool.py" check \
  "j['id'] == 'x' and 'VM.get_all_records' in j['result']" <"$T/b" ||
  fail "system.listMethods: $(head -c 300 "$T/b")"
hcurl -o "$T/b" -X POST --data-binary \
  "{\"method\":\"session.login_with_password\",\"params\":[\"root\",\"$FILEPW\"],\"id\":7}" \
  "$URL/jsonrpc"
python3 "$E2E/jtool.py" check \
  "j['id'] == 7 and j['result'].startswith('OpaqueRef:') and j.get('error') is None" \
  <"$T/b" || fail "JSON-RPC 1.0 login: $(cat "$T/b")"
hcurl -o "$T/b" -X POST --data-binary \
  '{"method":"VM.get_all","params":["OpaqueRef:stale"],"id":1}' "$URL/jsonrpc"
python3 "$E2E/jtool.py" check \
  "j['result'] is None and j['error'][0] == 'SESSION_INVALID'" <"$T/b" ||
  fail "JSON-RPC 1.0 error form: $(cat "$T/b")"
code=$(jrpc_error VM.get_all '["OpaqueRef:stale"]')
[ "$code" = SESSION_INVALID ] || fail "JSON-RPC 2.0 error: $code"

note "XML-RPC with Python's xmlrpc.client"
python3 - "$URL" "$FILEPW" "$VM" <<'EOF' || fail "XML-RPC client failed"
import sys, xmlrpc.client
url, pw, vm = sys.argv[1:4]
s = xmlrpc.client.ServerProxy(url + '/')
r = s.session.login_with_password('root', pw, '2.21', 'e2e')
assert r['Status'] == 'Success', r
sid = r['Value']
r = s.VM.get_all_records(sid)
assert r['Status'] == 'Success', r
assert vm in r['Value'], list(r['Value'])
assert r['Value'][vm]['name_label'] == 'l vm', r['Value'][vm]['name_label']
r = s.session.logout(sid)
assert r['Status'] == 'Success', r
r = s.VM.get_all_records(sid)
assert r['Status'] == 'Failure' and r['ErrorDescription'][0] == 'SESSION_INVALID', r
r = xmlrpc.client.ServerProxy(url + '/RPC2').session.login_with_password('root', 'bad')
assert r['Status'] == 'Failure', r
assert r['ErrorDescription'][0] == 'SESSION_AUTHENTICATION_FAILED', r
EOF
hcurl -D "$T/h" -o /dev/null -X POST --data-binary \
  '<?xml version="1.0"?><methodCall><methodName>system.listMethods</methodName><params/></methodCall>' \
  "$URL/"
tr -d '\r' <"$T/h" | grep -qi '^Content-Type: text/xml' ||
  fail "XML-RPC Content-Type: $(cat "$T/h")"
stop_server
[ ! -e "$T/s.sock" ] || fail "the Unix socket was not removed at stop"
[ ! -e "$T/data/xva.sock" ] || fail "the control socket was not removed"

if command -v openssl >/dev/null 2>&1; then
  note "HTTPS with a self-signed certificate"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -keyout "$T/key.pem" \
    -out "$T/cert.pem" -days 2 -subj /CN=127.0.0.1 \
    -addext subjectAltName=IP:127.0.0.1 >/dev/null 2>&1 ||
    fail "openssl req failed"
  start_server "$T/tls" --tls-cert "$T/cert.pem" --tls-key "$T/key.pem"
  [ -z "$(grep '^listening on http://' "$T/server.out")" ] ||
    fail "a TLS server says http://"
  line=$(grep -m1 '^listening on https://127.0.0.1:' "$T/server.out") ||
    fail "no https listener: $(cat "$T/server.out")"
  URL=${line#listening on }
  PORT=${URL##*:}
  hc () { hcurl --cacert "$T/cert.pem" "$@"; }
  out=$(hc -X POST --data-binary \
    "{\"jsonrpc\":\"2.0\",\"method\":\"session.login_with_password\",\"params\":[\"root\",\"$PW\"],\"id\":0}" \
    "$URL/jsonrpc")
  SID=$(python3 "$E2E/jtool.py" result <<<"$out") || fail "HTTPS login: $out"
  st=$(hc -o /dev/null -D "$T/h" -w '%{http_code}' -T "$T/vm.xva" \
       "$URL/import?session_id=$SID") || true
  [ "$st" = 200 ] || fail "HTTPS import: $st"
  TASK=$(header_of "$T/h" task-id)
  out=$(hc -X POST --data-binary \
    "{\"jsonrpc\":\"2.0\",\"method\":\"task.get_result\",\"params\":[\"$SID\",\"$TASK\"],\"id\":0}" \
    "$URL/jsonrpc")
  VM=$(grep -o 'OpaqueRef:[0-9a-f-]*' <<<"$out" | tail -n 1)
  [ -n "$VM" ] || fail "HTTPS import: no VM in $out"
  for v in 1.2 1.3; do
    st=$(hc --tlsv$v --tls-max $v -o "$T/s$v.xva" -w '%{http_code}' \
         "$URL/export?session_id=$SID&ref=$VM") || true
    [ "$st" = 200 ] || fail "HTTPS export over TLS $v: $st"
    check_export "$T/s$v.xva" "$T/d0.img"
  done
  if hcurl -o /dev/null "http://127.0.0.1:$PORT/jsonrpc" -X POST -d '{}' \
       2>/dev/null; then
    st=$(http_status "http://127.0.0.1:$PORT/jsonrpc" -X POST -d '{}')
    [ "$st" != 200 ] || fail "plain HTTP answered on the HTTPS port"
  fi
  if hcurl -o /dev/null "$URL/jsonrpc" -X POST -d '{}' 2>/dev/null; then
    fail "an unknown certificate was accepted"
  fi
  stop_server
else
  note "SKIPPED HTTPS: no openssl"
fi

echo "listeners: OK"
