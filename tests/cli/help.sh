#!/usr/bin/env bash
# --help on every command, and the exit status of bad usage (2).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

note "xva --help"
xva_ok --help
grep -qi '^usage' "$T/stdout" || fail "xva --help: no Usage line on stdout"
for c in pack verify extract inspect; do
  grep -q "$c" "$T/stdout" || fail "xva --help does not mention $c"
done

for c in pack verify extract inspect; do
  note "xva $c --help"
  xva_ok "$c" --help
  grep -qi "^usage: *xva $c" "$T/stdout" ||
    fail "xva $c --help: no 'Usage: xva $c' line on stdout"
done

mkrandom "$T/d.img" 4096
xva_ok pack -q -o "$T/a.xva" "$T/d.img"

note "bad usage exits 2 with a message"
usage ()
{
  xva_fails 2 "$@"
}
usage
usage no-such-command
usage --no-such-option
usage pack
usage pack --no-such-option "$T/d.img"
usage pack --checksum md5 -o "$T/x.xva" "$T/d.img"
usage pack --compress lz4 -o "$T/x.xva" "$T/d.img"
usage pack --vcpus notanumber -o "$T/x.xva" "$T/d.img"
usage pack --memory lots -o "$T/x.xva" "$T/d.img"
usage pack -o
usage verify --no-such-option "$T/a.xva"
usage verify "$T/a.xva" "$T/a.xva"
usage extract --no-such-option "$T/a.xva"
usage extract -C
usage extract -C "$T" "$T/a.xva" "$T/a.xva"
usage inspect --no-such-option "$T/a.xva"
usage inspect "$T/a.xva" "$T/a.xva"
[ ! -e "$T/x.xva" ] || fail "a pack with bad usage left $T/x.xva"

note "missing files are local I/O errors (4)"
xva_fails 4 verify "$T/no-such.xva"
xva_fails 4 inspect --json "$T/no-such.xva"
mkdir -p "$T/xd"
xva_fails 4 extract -C "$T/xd" "$T/no-such.xva"
no_files "$T/xd"
xva_fails 4 pack -o "$T/y.xva" "$T/no-such.img"
[ ! -e "$T/y.xva" ] || fail "a failed pack left $T/y.xva"

echo "PASS"
