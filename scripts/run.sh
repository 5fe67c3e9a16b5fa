#!/bin/bash
# The `make run` demo: pack a sparse 64 MiB disk into an XVA archive,
# verify it, inspect it, extract it again and compare the image with the
# original; then serve it: a data directory (made once, ./xva-data beside
# the sources, with a random root password in a 0600 file) gets the demo
# VM, and `xva serve` runs in the foreground until Ctrl-C.
#
# Usage: scripts/run.sh PATH/TO/xva
# Environment: XVA_DATA (the data directory), XVA_PORT (default 8080; 0
# picks a free port), XVA_NO_SERVE=1 (stop after the archive demo).
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

repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
data=${XVA_DATA:-$repo/xva-data}
port=${XVA_PORT:-8080}

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

# ---- the server ------------------------------------------------------------

if [ -n "${XVA_NO_SERVE:-}" ]; then
  exit 0
fi
if ! "$xva" serve --help >/dev/null 2>&1; then
  echo "(this xva has no 'serve' command: not serving)"
  exit 0
fi

pwfile=$data/root-password
fresh=0
if [ ! -e "$data/xva.db" ]; then
  fresh=1
  say "make the data directory $data (once)"
  mkdir -p "$data"
  chmod 700 "$data"
  (umask 077; head -c 18 /dev/urandom | base64 | tr -d '/+=\n' >"$pwfile")
  chmod 600 "$pwfile"
  echo "root's password is in $pwfile"
fi
[ -s "$pwfile" ] || fail "$pwfile is missing: remove $data to start over"

say "xva serve --data $data --listen 127.0.0.1:$port"
"$xva" serve --data "$data" --listen "127.0.0.1:$port" \
  --password-file "$pwfile" >"$work/serve.out" &
server=$!
stop_server () {
  kill -TERM "$server" 2>/dev/null || true
  wait "$server" 2>/dev/null || true
}
trap 'stop_server; rm -rf "$work"' EXIT
trap 'exit 0' INT TERM
for _ in $(seq 1 100); do
  grep -q '^listening on' "$work/serve.out" && break
  kill -0 "$server" 2>/dev/null ||
    fail "xva serve did not start (port $port in use? set XVA_PORT)"
  sleep 0.1
done
url=$(sed -n 's/^listening on //p' "$work/serve.out" | head -n 1)
[ -n "$url" ] || fail "xva serve did not say where it listens"
sock=$data/xva.sock

# JSON-RPC over the control socket (trusted: no password needed).
ctl_rpc () {
  curl -sS --unix-socket "$sock" -X POST --data-binary \
    "{\"jsonrpc\":\"2.0\",\"method\":\"$1\",\"params\":$2,\"id\":0}" \
    http://localhost/jsonrpc
}
first_ref () {
  grep -o 'OpaqueRef:[0-9a-f-]*' | head -n 1
}

if [ "$fresh" -eq 1 ]; then
  say "import the demo VM (curl -T demo.xva over the control socket)"
  headers=$(curl -sS -f --unix-socket "$sock" -D - -o /dev/null \
            -T demo.xva http://localhost/import) ||
    fail "the import of demo.xva failed"
  echo "$headers" | tr -d '\r' | grep -i '^task-id:' || true
fi
sid=$(ctl_rpc session.login_with_password '["root",""]' | first_ref)
vm=$(ctl_rpc VM.get_by_name_label "[\"$sid\",\"demo\"]" | first_ref)
ctl_rpc session.logout "[\"$sid\"]" >/dev/null

cat <<EOF

xva serve is running at $url (Ctrl-C stops it)
  data directory: $data
  user root, password file: $pwfile

Export the demo VM:
  curl -u "root:\$(cat $pwfile)" -o demo-export.xva \\
    "$url/export?ref=${vm:-<VM ref>}"
Import an archive:
  curl -u "root:\$(cat $pwfile)" -T demo-export.xva "$url/import"
XenAPI: JSON-RPC at $url/jsonrpc, XML-RPC at $url/
EOF
wait "$server"
