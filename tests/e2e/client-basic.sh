#!/usr/bin/env bash
# xva import and xva export against xva serve: a file goes up with its
# length, a pipe with the 1 PiB fake length (never chunked, no Expect);
# export by --uuid, --ref and --name, --compress, standard output,
# --metadata [--all], --json, --task-id, --session, --keep with a name
# template, a Unix socket, ~/.netrc; the tasks the client makes are
# destroyed and every disk that comes back is the one that went in.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

export HOME=$T                 # no ~/.netrc of the machine's
mkdisk "$T/a0.img" $((3 * MIB))
mkdisk "$T/a1.img" $((2 * MIB))
pack "$T/a.xva" "vm a" "$T/a0.img" "$T/a1.img"
pack "$T/c.xva" "vm c" "$T/a1.img"
ASIZE=$(stat -c %s "$T/a.xva")

start_server "$T/data" --unix "$T/s.sock"
login
export XVA_PASSWORD=$PW
ntasks ()
{
  { jrpc_raw task.get_all "[\"$SID\"]" | grep -o 'OpaqueRef:' || true; } |
    wc -l
}
start_proxy raw "$PORT" --log "$T/heads"
P=$PROXY_URL

# put_head: the head of the last PUT the proxy saw.
put_head ()
{
  tr -d '\r' <"$T/heads" | awk '/^PUT /{h=""; on=1} on{h=h $0 "\n"} /^$/{on=0} END{printf "%s", h}'
}

note "import a file: Content-Length is its size"
NT0=$(ntasks)
xc_ok import --url "$P" -i "$T/a.xva"
UUID_A=$(cat "$T/xout")
[[ $UUID_A =~ ^[0-9a-f]{8}-[0-9a-f-]{27}$ ]] || fail "import printed '$UUID_A'"
REF_A=$(jrpc VM.get_by_uuid "[\"$SID\",\"$UUID_A\"]")
put_head | grep -qix "content-length: $ASIZE" ||
  fail "file import: $(put_head)"
[ "$(ntasks)" -eq "$NT0" ] || fail "the client left its task behind"

note "import from a pipe: 1 PiB length, raw bytes, no Expect"
: >"$T/heads"
xc_ok import --url "$P" < <(cat "$T/a.xva")
UUID_B=$(cat "$T/xout")
[[ $UUID_B =~ ^[0-9a-f-]{36}$ ]] && [ "$UUID_B" != "$UUID_A" ] ||
  fail "pipe import printed '$UUID_B'"
put_head | grep -qix 'content-length: 1125899906842624' ||
  fail "pipe import did not send the fake length: $(put_head)"
put_head | grep -qi '^transfer-encoding' && fail "pipe import was chunked"
put_head | grep -qi '^expect' && fail "the client sent Expect"
[ "$(vm_count)" -eq 2 ] || fail "want 2 VMs"
xc_ok import --url "$URL" -i "$T/c.xva"
UUID_C=$(cat "$T/xout")

note "export --uuid, --ref, --name: the disks that come back"
xc_ok export --url "$P" --uuid "$UUID_A" -o "$T/e1.xva"
check_export "$T/e1.xva" "$T/a0.img" "$T/a1.img"
grep -qaF "$UUID_A" "$T/e1.xva" || fail "--uuid exported another VM"
xc_ok export --url "$URL" --ref "$REF_A" -o "$T/e2.xva"
check_export "$T/e2.xva" "$T/a0.img" "$T/a1.img"
xc_ok export --url "$URL" --name "vm c" -o "$T/e3.xva"
check_export "$T/e3.xva" "$T/a1.img"
grep -qaF "$UUID_C" "$T/e3.xva" || fail "--name exported another VM"
xc_rc 1 export --url "$URL" --name "vm a" -o "$T/amb.xva"
grep -q 'give --uuid' "$T/xerr" || fail "ambiguous name: $(cat "$T/xerr")"
[ ! -e "$T/amb.xva" ] || fail "an ambiguous export wrote a file"
xc_rc 6 export --url "$URL" --name "no such vm" -o "$T/none.xva"
xc_rc 6 export --url "$URL" --ref "OpaqueRef:nonesuch" -o "$T/none.xva"
[ ! -e "$T/none.xva" ] || fail "a failed export wrote a file"

note "--compress gzip and zstd"
for c in gzip zstd; do
  xc_ok export --url "$URL" --uuid "$UUID_B" --compress "$c" -o "$T/$c.xva"
  "$XVA" verify "$T/$c.xva" | grep -qx "compression: $c" ||
    fail "--compress $c: $("$XVA" verify "$T/$c.xva")"
  check_export "$T/$c.xva" "$T/a0.img" "$T/a1.img"
done

note "standard output, and export piped into import"
xc_ok export --url "$URL" --uuid "$UUID_A"
cp "$T/xout" "$T/stdout.xva"
check_export "$T/stdout.xva" "$T/a0.img" "$T/a1.img"
timeout "$E2E_TIMEOUT" "$XVA" export --url "$URL" --uuid "$UUID_C" -o - |
  timeout "$E2E_TIMEOUT" "$XVA" import --url "$URL" >"$T/piped" ||
  fail "export | import failed"
UUID_P=$(cat "$T/piped")
[[ $UUID_P =~ ^[0-9a-f-]{36}$ ]] || fail "export | import printed '$UUID_P'"
xc_ok export --url "$URL" --uuid "$UUID_P" -o "$T/p.xva"
check_export "$T/p.xva" "$T/a1.img"

note "--json"
xc_ok export --url "$URL" --uuid "$UUID_A" -o "$T/j.xva" --json
python3 "$E2E/jtool.py" check "j['vm_uuid'] == '$UUID_A' and j['file'] == '$T/j.xva' and j['bytes'] == $(stat -c %s "$T/j.xva") and j['checksum'] == 'xxhash' and j['seconds'] >= 0" <"$T/xout" ||
  fail "export --json: $(cat "$T/xout")"
xc_ok import --url "$URL" -i "$T/c.xva" --json
python3 "$E2E/jtool.py" check "len(j['vm_uuids']) == 1 and j['bytes'] == $(stat -c %s "$T/c.xva") and j['checksum'] == 'xxhash'" <"$T/xout" ||
  fail "import --json: $(cat "$T/xout")"
UUID_J=$(python3 "$E2E/jtool.py" eval "j['vm_uuids'][0]" <"$T/xout")
jrpc VM.get_by_uuid "[\"$SID\",\"$UUID_J\"]" >/dev/null

note "--task-id: a task made over JSON-RPC is followed and kept"
TASK=$(jrpc task.create "[\"$SID\",\"mine\",\"made by curl\"]")
xc_ok export --url "$URL" --uuid "$UUID_A" -o "$T/t.xva" --task-id "$TASK"
[ "$(jrpc task.get_status "[\"$SID\",\"$TASK\"]")" = success ] ||
  fail "--task-id export: the task is not a success"
check_export "$T/t.xva" "$T/a0.img" "$T/a1.img"
TASK2=$(jrpc task.create "[\"$SID\",\"mine too\",\"made by curl\"]")
xc_ok import --url "$URL" -i "$T/c.xva" --task-id "$TASK2"
[ "$(jrpc task.get_status "[\"$SID\",\"$TASK2\"]")" = success ] ||
  fail "--task-id import: the task is not a success"
VM_T=$(task_vm "$TASK2")
[ "$(vm_uuid "$VM_T")" = "$(cat "$T/xout")" ] ||
  fail "--task-id import: printed $(cat "$T/xout"), the task made $VM_T"

note "--session: no login and no logout"
(unset XVA_PASSWORD
 xc_ok export --url "$URL" --session "$SID" --uuid "$UUID_C" -o "$T/s.xva")
check_export "$T/s.xva" "$T/a1.img"
jrpc pool.get_all "[\"$SID\"]" >/dev/null    # still logged in
xc_rc 5 export --url "$URL" --session "OpaqueRef:stale" --uuid "$UUID_C" \
  -o "$T/stale.xva"

note "--keep N with a {name}-{date} template"
mkdir "$T/keep"
for f in vm_c-20200101T000000Z.xva vm_c-20210101T000000Z.xva \
         vm_c-20190101T000000Z.xva other-20200101T000000Z.xva \
         vm_c-20180101T000000Z.xva.tmp-abc123 vm_c-notadate.xva; do
  echo old >"$T/keep/$f"
done
xc_ok export --url "$URL" --uuid "$UUID_C" -o "$T/keep/{name}-{date}.xva" \
  --keep 2 --json
NEW=$(python3 "$E2E/jtool.py" eval "j['file']" <"$T/xout")
[[ $NEW == "$T/keep/vm_c-"*T*Z.xva ]] || fail "template gave '$NEW'"
check_export "$NEW" "$T/a1.img"
want=$(printf '%s\n' "$(basename "$NEW")" vm_c-20210101T000000Z.xva \
       other-20200101T000000Z.xva vm_c-20180101T000000Z.xva.tmp-abc123 \
       vm_c-notadate.xva | sort)
[ "$(ls "$T/keep" | sort)" = "$want" ] ||
  fail "--keep 2 left: $(ls "$T/keep")"
sleep 1
xc_ok export --url "$URL" --uuid "$UUID_C" -o "$T/keep/{name}-{date}.xva" \
  --keep 1
[ "$(ls "$T/keep" | grep -c '^vm_c-.*Z\.xva$')" -eq 1 ] ||
  fail "--keep 1 left: $(ls "$T/keep")"
[ -e "$T/keep/other-20200101T000000Z.xva" ] || fail "--keep removed another VM's export"
xc_rc 2 export --url "$URL" --uuid "$UUID_C" -o "$T/keep/x.xva" --keep 1

note "--metadata and --metadata --all"
xc_ok export --url "$URL" --uuid "$UUID_A" --metadata -o "$T/m.xva"
"$XVA" inspect --json "$T/m.xva" >"$T/m.json"
python3 "$E2E/jtool.py" check "j['metadata_only'] and j['complete'] and [v['uuid'] for v in j['vms']] == ['$UUID_A']" <"$T/m.json" ||
  fail "metadata export: $(cat "$T/m.json")"
xc_ok export --url "$URL" --metadata --all -o "$T/mall.xva"
for u in "$UUID_A" "$UUID_B" "$UUID_C"; do
  grep -qaF "$u" "$T/mall.xva" || fail "--all lacks VM $u"
done
xc_rc 2 export --url "$URL" --all -o "$T/x.xva"
xc_rc 2 export --url "$URL" --uuid "$UUID_A" --metadata --compress gzip \
  -o "$T/x.xva"

note "unix:PATH: trusted, no password"
(unset XVA_PASSWORD
 xc_ok import --url "unix:$T/s.sock" -i "$T/c.xva"
 xc_ok export --url "unix:$T/s.sock" --uuid "$UUID_A" -o "$T/u.xva")
check_export "$T/u.xva" "$T/a0.img" "$T/a1.img"

note "~/.netrc gives the password"
printf 'machine elsewhere login root password nope\nmachine 127.0.0.1 login root password %s\nmachine 127.0.0.1 login nobody password "not it"\n' "$PW" >"$T/.netrc"
chmod 600 "$T/.netrc"
(unset XVA_PASSWORD
 xc_ok export --url "$URL" --uuid "$UUID_C" -o "$T/n.xva"
 xc_rc 5 export --url "$URL" --user nobody --uuid "$UUID_C" -o "$T/n2.xva")
check_export "$T/n.xva" "$T/a1.img"
rm "$T/.netrc"
(unset XVA_PASSWORD
 xc_rc 2 export --url "$URL" --uuid "$UUID_C" -o "$T/n3.xva")

note "password file, and no password on the command line"
printf '%s\n' "$PW" >"$T/pw"
(unset XVA_PASSWORD
 xc_ok export --url "$URL" --password-file "$T/pw" --uuid "$UUID_C" \
   -o "$T/pf.xva")
xc_rc 2 export --url "$URL" --password x --uuid "$UUID_C" -o "$T/x.xva"
xc_rc 2 export --url "http://root:pw@127.0.0.1:$PORT" --uuid "$UUID_C" \
  -o "$T/x.xva"

[ "$(ntasks)" -eq $((NT0 + 2)) ] ||
  fail "tasks: $(ntasks), want $((NT0 + 2)) (the two made by curl)"
no_temporaries "$T"
stop_proxy
jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
echo "client-basic: OK"
