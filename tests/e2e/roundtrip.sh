#!/usr/bin/env bash
# Import with curl (a file, then a pipe: chunked), export with Basic auth
# and with a session, every compression, ref and uuid, metadata: the
# images that come back are the ones that went in.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB + 512))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"

start_server "$T/data"
login

note "import with curl -T FILE (Content-Length)"
import_file "$T/a.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import task not successful"
VM_A=$(task_vm "$TASK")
UUID_A=$(vm_uuid "$VM_A")
[ "$(vm_count)" -eq 1 ] || fail "want 1 VM after the import"
[ "$(images | wc -l)" -eq 2 ] || fail "want 2 images in the store: $(images)"
jrpc VM.get_name_label "[\"$SID\",\"$VM_A\"]" | grep -qx "vm a" ||
  fail "imported VM has the wrong name"

note "import with curl -T - from a pipe (chunked)"
st=$(cat "$T/a.xva" | hcurl -o "$T/body" -D "$T/headers" \
     -w '%{http_code}' -T - "$URL/import?session_id=$SID") || true
[ "$st" = 200 ] || fail "chunked import: status $st: $(cat "$T/body")"
tr -d '\r' <"$T/headers" | grep -qi '^task-id: OpaqueRef:' ||
  fail "chunked import: no task-id header"
TASK=$(header_of "$T/headers" task-id)
[ "$(wait_task "$TASK")" = success ] || fail "chunked import failed"
VM_B=$(task_vm "$TASK")
[ "$VM_B" != "$VM_A" ] || fail "the second import gave the same VM"
[ "$(vm_uuid "$VM_B")" != "$UUID_A" ] || fail "the second import kept the uuid"
[ "$(vm_count)" -eq 2 ] || fail "want 2 VMs"
[ "$(images | wc -l)" -eq 4 ] || fail "want 4 images: $(images)"

note "export with HTTP Basic auth, by ref"
st=$(hcurl -u "root:$PW" -o "$T/e1.xva" -D "$T/h1" -w '%{http_code}' \
     "$URL/export?ref=$VM_A") || true
[ "$st" = 200 ] || fail "Basic export: status $st"
check_export "$T/e1.xva" "$T/a0.img" "$T/a1.img"
tr -d '\r' <"$T/h1" >"$T/h1.txt"
grep -qi '^content-type: application/octet-stream$' "$T/h1.txt" ||
  fail "export: Content-Type"
grep -qi '^content-disposition: attachment; filename="vm a.xva"$' \
  "$T/h1.txt" || fail "export: Content-Disposition: $(cat "$T/h1.txt")"
grep -qi '^cache-control: no-cache, no-store$' "$T/h1.txt" ||
  fail "export: Cache-Control"
grep -qi '^transfer-encoding: chunked$' "$T/h1.txt" ||
  fail "export: not chunked"
TASK=$(header_of "$T/h1" task-id)
[ "$(wait_task "$TASK")" = success ] || fail "export task not successful"

note "export with session_id (query), by uuid"
export_vm "session_id=$SID&uuid=$UUID_A" "$T/e2.xva"
check_export "$T/e2.xva" "$T/a0.img" "$T/a1.img"
cmp "$T/e1.xva" "$T/e2.xva" >/dev/null 2>&1 ||
  note "(the two plain exports differ byte-wise: fine, mtimes)"

note "export with session_id as a cookie; ref wins over uuid"
st=$(hcurl -b "session_id=$SID" -o "$T/e3.xva" -w '%{http_code}' \
     "$URL/export?ref=$VM_B&uuid=$UUID_A") || true
[ "$st" = 200 ] || fail "cookie export: status $st"
check_export "$T/e3.xva" "$T/a0.img" "$T/a1.img"
UUID_B=$(vm_uuid "$VM_B")
grep -qaF "$UUID_B" "$T/e3.xva" && ! grep -qaF "$UUID_A" "$T/e3.xva" ||
  fail "ref did not win over uuid: the archive is not VM B's"

for c in gzip true zstd; do
  note "export with use_compression=$c"
  export_vm "session_id=$SID&ref=$VM_A&use_compression=$c" "$T/c-$c.xva"
  timeout "$E2E_TIMEOUT" "$XVA" verify "$T/c-$c.xva" >"$T/verify.txt" ||
    fail "xva verify of the $c export failed"
  want=$c
  [ "$c" = true ] && want=gzip
  grep -q "^compression: $want$" "$T/verify.txt" ||
    fail "use_compression=$c: $(grep compression "$T/verify.txt")"
  check_export "$T/c-$c.xva" "$T/a0.img" "$T/a1.img"
done
export_vm "session_id=$SID&ref=$VM_A&use_compression=false" "$T/c-no.xva"
timeout 60 "$XVA" verify "$T/c-no.xva" | grep -q '^compression: none$' ||
  fail "use_compression=false compressed"

note "a compressed archive imports too"
import_file "$T/c-zstd.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import of the zstd export"
VM_Z=$(task_vm "$TASK")
export_vm "session_id=$SID&ref=$VM_Z" "$T/z.xva"
check_export "$T/z.xva" "$T/a0.img" "$T/a1.img"

note "export_metadata: ova.xml only"
st=$(hcurl -o "$T/m.tar" -D "$T/hm" -w '%{http_code}' \
     "$URL/export_metadata?session_id=$SID&ref=$VM_A") || true
[ "$st" = 200 ] || fail "export_metadata: status $st"
tar -tf "$T/m.tar" >"$T/m.list" || fail "export_metadata: not a tar"
[ "$(cat "$T/m.list")" = ova.xml ] ||
  fail "export_metadata holds: $(cat "$T/m.list")"
grep -q "$UUID_A" "$T/m.tar" || fail "export_metadata: not VM A's metadata"
tr -d '\r' <"$T/hm" | grep -qi '^task-id: OpaqueRef:' ||
  fail "export_metadata: no task-id"
hcurl -o "$T/m2.tar" "$URL/export_metadata/?session_id=$SID&uuid=$UUID_A&use_compression=zstd"
tar -tf "$T/m2.tar" >/dev/null || fail "export_metadata/ with use_compression is not a plain tar"

note "the trailing slash is the same route"
st=$(http_status -T "$T/a.xva" "$URL/import/?session_id=$SID")
[ "$st" = 200 ] || fail "PUT /import/: $st"

jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
# Secrets never reach the log.
if grep -qF "$PW" "$T/server.log"; then
  fail "the password is in the server's log"
fi
if grep -qF "$SID" "$T/server.log"; then
  fail "a session id is in the server's log"
fi
grep -q 'GET /export?ref=' "$T/server.log" || fail "requests are not logged"
echo "roundtrip: OK"
