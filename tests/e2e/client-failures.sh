#!/usr/bin/env bash
# The client's failures and transports: bad credentials (5), unknown VM
# (6), connection refused after bounded retries (7), a real host's
# HTTP/1.0 export without length (passed, then a flipped byte and a cut
# stream caught: 3), no space on the client side (4), a truncated upload
# (the host's failure: 8), a real host's early 200 and 302 on import, HTTPS with --cacert
# and --insecure (a file and a pipe), and the server killed
# mid-transfer.  A failed export leaves no file.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

export HOME=$T
mkdisk "$T/a0.img" $((3 * MIB))
pack "$T/a.xva" "fail vm" "$T/a0.img"
dd if=/dev/urandom of="$T/big.img" bs=1M count=12 status=none
pack "$T/big.xva" "big vm" "$T/big.img"

start_server "$T/data"
login
export XVA_PASSWORD=$PW
export XVA_RETRY_DELAY_MS=100
xc_ok import --url "$URL" -i "$T/a.xva"
UA=$(cat "$T/xout")
xc_ok import --url "$URL" -i "$T/big.xva"
UBIG=$(cat "$T/xout")
mkdir "$T/out"

note "bad credentials: 5"
XVA_PASSWORD=wrong xc_rc 5 export --url "$URL" --uuid "$UA" -o "$T/out/x.xva"
grep -q 'authentication failed' "$T/xerr" || fail "$(cat "$T/xerr")"
XVA_PASSWORD=wrong xc_rc 5 import --url "$URL" -i "$T/a.xva"
XVA_PASSWORD=wrong xc_rc 5 copy --from "$URL" --to "$URL" --uuid "$UA"

note "unknown VM: 6"
xc_rc 6 export --url "$URL" --uuid 00000000-0000-4000-8000-000000000000 \
  -o "$T/out/x.xva"
[ -z "$(ls "$T/out")" ] || fail "failed exports left $(ls "$T/out")"

note "connection refused: 7 after bounded retries"
FREE=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
t0=$(date +%s%N)
XVA_RETRY_TRIES=3 XVA_RETRY_DELAY_MS=200 xc_rc 7 export \
  --url "http://127.0.0.1:$FREE" --uuid "$UA" -o "$T/out/x.xva"
ms=$(( ($(date +%s%N) - t0) / 1000000 ))
[ "$(grep -c 'trying again' "$T/xerr")" -eq 2 ] ||
  fail "want 2 retries: $(cat "$T/xerr")"
[ "$ms" -ge 700 ] && [ "$ms" -lt 20000 ] ||
  fail "3 tries with 200 ms and 600 ms pauses took $ms ms"
XVA_RETRY_TRIES=1 xc_rc 7 import --url "http://127.0.0.1:$FREE" \
  -i "$T/a.xva"
grep -q 'trying again' "$T/xerr" && fail "retried with XVA_RETRY_TRIES=1"

note "a real host's export: HTTP/1.0, no length, ends at close"
start_proxy http10 "$PORT"
xc_ok export --url "$PROXY_URL" --uuid "$UA" -o "$T/out/h10.xva"
check_export "$T/out/h10.xva" "$T/a0.img"
SIZE=$(stat -c %s "$T/out/h10.xva")
stop_proxy
rm "$T/out/h10.xva"

note "a byte flipped in transit: 3, no file"
start_proxy http10 "$PORT" --flip $((SIZE / 2))
xc_rc 3 export --url "$PROXY_URL" --uuid "$UA" -o "$T/out/flip.xva"
grep -qi 'checksum' "$T/xerr" || fail "flip: $(cat "$T/xerr")"
stop_proxy
[ -z "$(ls -A "$T/out")" ] || fail "the flipped export left $(ls -A "$T/out")"

note "a stream that ends early (no length): 3, no file"
start_proxy http10 "$PORT" --cut $((SIZE / 2))
xc_rc 3 export --url "$PROXY_URL" --uuid "$UA" -o "$T/out/cut.xva"
stop_proxy
[ -z "$(ls -A "$T/out")" ] || fail "the cut export left $(ls -A "$T/out")"
start_proxy http10 "$PORT" --cut $((SIZE / 2))
xc_rc 3 export --url "$PROXY_URL" --uuid "$UA" -o - 
stop_proxy

note "no space on the client side (a file size limit): 4, no file"
(ulimit -f 1024
 xc_rc 4 export --url "$URL" --uuid "$UA" -o "$T/out/nospace.xva")
[ -z "$(ls -A "$T/out")" ] || fail "no space: left $(ls -A "$T/out")"

note "a real host's import: 200 before the body, the outcome in the task"
start_proxy raw "$PORT" --early-200
xc_ok import --url "$PROXY_URL" -i "$T/a.xva"
UE=$(cat "$T/xout")
xc_ok import --url "$PROXY_URL" < <(cat "$T/big.xva")
UEB=$(cat "$T/xout")
xc_ok export --url "$URL" --uuid "$UE" -o "$T/early.xva"
check_export "$T/early.xva" "$T/a0.img"
xc_ok export --url "$URL" --uuid "$UEB" -o "$T/earlyb.xva"
check_export "$T/earlyb.xva" "$T/big.img"
n=$(vm_count)
xc_rc 6 import --url "$PROXY_URL" -i "$T/a.xva" \
  --sr-uuid 00000000-0000-4000-8000-000000000000
grep -q 'UUID_INVALID' "$T/xerr" || fail "early 200: $(cat "$T/xerr")"
[ "$(vm_count)" -eq "$n" ] || fail "a failed import made a VM"
stop_proxy

note "a real host's redirect: 302 before the body, the body sent again"
start_proxy raw "$PORT" --redirect-put --log "$T/rheads"
xc_ok import --url "$PROXY_URL" < <(cat "$T/a.xva")
UR=$(cat "$T/xout")
grep -q '^REDIRECTED PUT /import?' "$T/rheads" || fail "no redirect happened"
grep -q '^PUT /import?' "$T/rheads" || fail "the redirect was not followed"
xc_ok export --url "$URL" --uuid "$UR" -o "$T/redir.xva"
check_export "$T/redir.xva" "$T/a0.img"
stop_proxy

note "a truncated upload: the host fails it (8), nothing imported"
n=$(vm_count)
xc_rc 8 import --url "$URL" < <(head -c $((SIZE / 2)) "$T/a.xva")
grep -q 'the host failed the import: IMPORT_ERROR' "$T/xerr" ||
  fail "truncated upload: $(cat "$T/xerr")"
grep -q 'the archive is damaged' "$T/xerr" ||
  fail "truncated upload: what the client saw is not said: $(cat "$T/xerr")"
[ "$(vm_count)" -eq "$n" ] || fail "a truncated upload made a VM"
no_staging

if command -v openssl >/dev/null 2>&1; then
  note "HTTPS: --cacert, --insecure, and an unknown certificate (7)"
  openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 \
    -nodes -keyout "$T/key.pem" -out "$T/cert.pem" -days 2 \
    -subj /CN=127.0.0.1 -addext subjectAltName=IP:127.0.0.1 \
    >/dev/null 2>&1 || fail "openssl req failed"
  start_second_server "$T/tls" --tls-cert "$T/cert.pem" \
    --tls-key "$T/key.pem"
  [[ $URL2 == https://* ]] || fail "the TLS server is at $URL2"
  xc_ok import --url "$URL2" --cacert "$T/cert.pem" -i "$T/a.xva"
  UT=$(cat "$T/xout")
  xc_ok import --url "$URL2" --cacert "$T/cert.pem" < <(cat "$T/big.xva")
  UTB=$(cat "$T/xout")
  xc_ok export --url "$URL2" --cacert "$T/cert.pem" --uuid "$UT" \
    -o "$T/tls.xva"
  check_export "$T/tls.xva" "$T/a0.img"
  xc_ok export --url "$URL2" --insecure --uuid "$UTB" -o "$T/tlsb.xva"
  check_export "$T/tlsb.xva" "$T/big.img"
  XVA_RETRY_TRIES=1 xc_rc 7 export --url "$URL2" --uuid "$UT" \
    -o "$T/out/x.xva"
  xc_ok copy --from "$URL" --to "$URL2" --cacert "$T/cert.pem" --uuid "$UA"
  SPID=$SPID2 stop_server
else
  note "SKIPPED HTTPS: no openssl"
fi
[ -z "$(ls -A "$T/out")" ] || fail "left in out/: $(ls -A "$T/out")"

note "the server killed mid-transfer: the failure is reported, no file"
start_proxy raw "$PORT" --rate 1500000
XVA_RETRY_TRIES=2 timeout "$E2E_TIMEOUT" "$XVA" export --url "$PROXY_URL" \
  --uuid "$UBIG" -o "$T/out/killed.xva" >"$T/kout" 2>"$T/kerr" &
XPID=$!
EXTRA_PIDS="${EXTRA_PIDS:-} $XPID"
for i in $(seq 1 100); do
  [ -n "$(find "$T/out" -name 'killed.xva.tmp-*' -size +1k)" ] && break
  sleep 0.1
done
[ -n "$(find "$T/out" -name 'killed.xva.tmp-*')" ] ||
  fail "the export did not start: $(cat "$T/kerr")"
kill9_server
rc=0
wait "$XPID" || rc=$?
[ "$rc" -eq 7 ] || fail "killed server: exit $rc, want 7: $(cat "$T/kerr")"
grep -q 'broke after' "$T/kerr" || fail "killed server: $(cat "$T/kerr")"
grep -q Sanitizer "$T/kerr" && fail "sanitizer report: $(cat "$T/kerr")"
[ -z "$(ls -A "$T/out")" ] || fail "killed server: left $(ls -A "$T/out")"
stop_proxy
echo "client-failures: OK"
