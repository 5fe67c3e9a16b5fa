#!/bin/bash
# The `make run` demo: pack a sparse 64 MiB disk into an XVA archive,
# verify it, inspect it, extract it again and compare the image with the
# original.  Usage: scripts/run.sh PATH/TO/xva
set -euo pipefail

xva=${1:?usage: $0 PATH/TO/xva}
case $xva in
  /*) ;;
  *) xva=$PWD/$xva ;;
esac
if [ ! -x "$xva" ]; then
  echo "run.sh: $xva is not an executable" >&2
  exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xva-demo.XXXXXX")
trap 'rm -rf "$work"' EXIT
cd "$work"

step=0
say () {
  step=$((step + 1))
  printf '\n[%d] %s\n' "$step" "$*"
}
fail () {
  printf 'FAILED: %s\n' "$*"
  exit 1
}

say "make a 64 MiB sparse disk with random data at scattered offsets"
truncate -s 64M demo-disk
# offset (MiB) : length (KiB)
for piece in 0:1024 5:256 17:2048 33:4 40:512 63:1024; do
  off=${piece%%:*}
  len=${piece##*:}
  dd if=/dev/urandom of=demo-disk bs=1K count="$len" seek=$((off * 1024)) \
     conv=notrunc status=none
done
echo "demo-disk: $(stat -c %s demo-disk) bytes, $(du -k demo-disk | cut -f1) KiB allocated"

say "xva pack -o demo.xva --name demo --vif demo-disk"
"$xva" pack -v -o demo.xva --name demo --vif demo-disk \
  || fail "xva pack exited with $?"
echo "demo.xva: $(stat -c %s demo.xva) bytes"

say "xva pack --compress zstd -o demo.xva.zst demo-disk"
"$xva" pack -q --compress zstd -o demo.xva.zst --name demo demo-disk \
  || fail "xva pack --compress zstd exited with $?"
echo "demo.xva.zst: $(stat -c %s demo.xva.zst) bytes"

say "xva verify demo.xva"
"$xva" verify demo.xva || fail "xva verify exited with $?"

say "xva verify < demo.xva.zst (from a pipe)"
"$xva" verify -q < demo.xva.zst || fail "xva verify (zstd) exited with $?"
echo "OK"

say "xva inspect demo.xva"
"$xva" inspect demo.xva || fail "xva inspect exited with $?"

say "xva extract -C out demo.xva"
"$xva" extract -C out demo.xva || fail "xva extract exited with $?"

say "compare the extracted image with the original"
images=(out/*.img)
[ "${#images[@]}" -eq 1 ] && [ -f "${images[0]}" ] \
  || fail "expected one image in out/, found: ${images[*]}"
cmp demo-disk "${images[0]}" || fail "${images[0]} differs from demo-disk"
echo "${images[0]} is identical to demo-disk" \
     "($(du -k "${images[0]}" | cut -f1) KiB allocated)"

say "extract again over the same files without --force (must refuse)"
if "$xva" extract -q -C out demo.xva 2>err.txt; then
  fail "xva extract overwrote existing files"
fi
echo "refused: $(cat err.txt)"
cmp demo-disk "${images[0]}" || fail "the refused extract changed ${images[0]}"

printf '\nAll %d steps passed.\n' "$step"
