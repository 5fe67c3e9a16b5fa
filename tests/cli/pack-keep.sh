#!/usr/bin/env bash
# xva pack -o with {name}, {uuid} and {date}, and --keep on local files:
# only the newest archives of that VM name are kept; other VMs, temporary
# files, directories and names of another shape are never touched.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

mkrandom "$T/d.img" $((1 * MIB))
mkdir -p "$T/out"

note "placeholders"
xva_ok pack --name "web/1 é" -o "$T/out/{name}-{uuid}-{date}.xva" "$T/d.img"
f=$(find "$T/out" -name 'web_1___-*.xva')
[ -n "$f" ] || fail "no web_1___-UUID-DATE.xva: $(ls "$T/out")"
[[ $(basename "$f") =~ ^web_1___-[0-9a-f-]{36}-20[0-9]{6}T[0-9]{6}Z\.xva$ ]] ||
  fail "bad name $(basename "$f")"
xva_ok inspect --json "$f"
json_check "$T/stdout" "j['vms'][0]['uuid'] in '$(basename "$f")'"
rm -f "$f"

note "--keep 2 keeps the newest two of this VM"
touch "$T/out/vm-20100101T000000Z.xva" \
      "$T/out/other-20100101T000000Z.xva" \
      "$T/out/vm-20100101T000000Z.xva.tmp-abcdef" \
      "$T/out/vm-2010.xva"
mkdir "$T/out/vm-20000101T000000Z.xva"
for i in 1 2 3; do
  [ "$i" -eq 1 ] || sleep 1.05
  xva_ok pack --keep 2 --name vm -o "$T/out/{name}-{date}.xva" "$T/d.img"
done
mapfile -t kept < <(cd "$T/out" && ls vm-20[2-9]*.xva | sort)
[ "${#kept[@]}" -eq 2 ] || fail "kept ${#kept[@]}: $(ls "$T/out")"
[ ! -e "$T/out/vm-20100101T000000Z.xva" ] || fail "the oldest was kept"
for f in other-20100101T000000Z.xva vm-20100101T000000Z.xva.tmp-abcdef \
         vm-2010.xva vm-20000101T000000Z.xva; do
  [ -e "$T/out/$f" ] || fail "--keep removed $f"
done
for f in "${kept[@]}"; do
  xva_ok verify -q "$T/out/$f"
done

note "bad uses"
xva_fails 2 pack --keep 2 -o "$T/out/fixed.xva" "$T/d.img"
xva_fails 2 pack --keep 2 -o "$T/{date}/x.xva" "$T/d.img"
xva_fails 2 pack --keep 0 -o "$T/out/{date}.xva" "$T/d.img"
xva_fails 2 pack -o "$T/out/{nope}.xva" "$T/d.img"
echo "PASS"
