#!/usr/bin/env bash
# xva copy between two xva serve processes (two data directories, two
# ports): the export streams into the import with no temporary file; the
# copied disks are the originals byte for byte; --sr-uuid, --name,
# --compress; a refused target leaves nothing on either side.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

export HOME=$T
mkdisk "$T/d0.img" $((4 * MIB))
mkdisk "$T/d1.img" $((1 * MIB + 512))
pack "$T/vm.xva" "copy me" "$T/d0.img" "$T/d1.img"

start_server "$T/data1"
start_second_server "$T/data2"
login
export XVA_PASSWORD=$PW
SID1=$SID
xc_ok import --url "$URL" -i "$T/vm.xva"
SRC=$(cat "$T/xout")

# on2 METHOD PARAMS: a JSON-RPC call on the second server.
on2 ()
{
  URL=$URL2 jrpc "$@"
}
SID2=$(URL=$URL2 jrpc session.login_with_password "[\"root\",\"$PW\"]")
count2 ()
{
  { URL=$URL2 jrpc_raw VM.get_all "[\"$SID2\"]" | grep -o 'OpaqueRef:' ||
      true; } | wc -l
}

note "copy by uuid, --json"
xc_ok copy --from "$URL" --to "$URL2" --uuid "$SRC" --json
python3 "$E2E/jtool.py" check "j['vm_uuid'] == '$SRC' and len(j['vm_uuids']) == 1 and j['checksum'] == 'xxhash' and j['bytes'] > 2 * 1048576" <"$T/xout" ||
  fail "copy --json: $(cat "$T/xout")"
NEW=$(python3 "$E2E/jtool.py" eval "j['vm_uuids'][0]" <"$T/xout")
[ "$NEW" != "$SRC" ] || fail "the copy kept the uuid"
[ "$(count2)" -eq 1 ] || fail "want 1 VM on the target"
xc_ok export --url "$URL2" --uuid "$NEW" -o "$T/back.xva"
check_export "$T/back.xva" "$T/d0.img" "$T/d1.img"
find "$T" -maxdepth 1 -name '*.tmp-*' | grep -q . && fail "copy made a file"

note "copy by name, zstd on the wire, into an SR made by sr-create"
SR=$(timeout 60 "$XVA" sr-create --data "$T/data2" --name "copies") ||
  fail "sr-create failed"
xc_ok copy --from "$URL" --to "$URL2" --name "copy me" --compress zstd \
  --sr-uuid "$SR"
NEW2=$(cat "$T/xout")
[[ $NEW2 =~ ^[0-9a-f-]{36}$ ]] || fail "copy printed '$NEW2'"
[ "$(find "$T/data2/sr/$SR" -name '*.img' | wc -l)" -eq 2 ] ||
  fail "the copy's disks are not in SR $SR"
xc_ok export --url "$URL2" --uuid "$NEW2" -o "$T/back2.xva"
check_export "$T/back2.xva" "$T/d0.img" "$T/d1.img"

note "the source's task and the target's are cleaned up"
for u in "$URL" "$URL2"; do
  s=$SID1
  [ "$u" = "$URL2" ] && s=$SID2
  n=$({ URL=$u jrpc_raw task.get_all "[\"$s\"]" | grep -o 'OpaqueRef:' ||
        true; } | wc -l)
  [ "$n" -eq 0 ] || fail "$n tasks left on $u"
done

note "a target that refuses: unknown SR (6), bad password (5)"
before=$(count2)
xc_rc 6 copy --from "$URL" --to "$URL2" --uuid "$SRC" \
  --sr-uuid 00000000-0000-4000-8000-000000000000
printf 'wrong\n' >"$T/badpw"
xc_rc 5 copy --from "$URL" --to "$URL2" --uuid "$SRC" \
  --to-password-file "$T/badpw"
xc_rc 6 copy --from "$URL" --to "$URL2" --uuid \
  00000000-0000-4000-8000-000000000000
[ "$(count2)" -eq "$before" ] || fail "a failed copy left a VM"
DATA=$T/data2 no_staging
xc_rc 2 copy --from "$URL" --uuid "$SRC"

stop_server
SPID=$SPID2 stop_server
echo "client-copy: OK"
