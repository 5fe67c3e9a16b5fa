#!/usr/bin/env bash
# Load: concurrent exports and imports plus a steady rate of RPC calls
# against one server on loopback (tests/e2e/loadgen.py): no request may
# fail, and between the start (idle, after a warm-up of the same load)
# and the end the server's file descriptors must not grow and its RSS
# must grow by less than 20 MiB.  Prints requests, failures, RPC latency
# p50 / p99, fd and RSS at start and end.
#
# `make check` runs a short version (10 transfers, 200 RPC/s, 10 s);
# `make soak` the full one (XVA_LOAD_TRANSFERS=50 XVA_LOAD_RATE=500
# XVA_LOAD_SECONDS=60).
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

TRANSFERS=${XVA_LOAD_TRANSFERS:-10}
RATE=${XVA_LOAD_RATE:-200}
SECONDS_=${XVA_LOAD_SECONDS:-10}
CHECKER="$BUILDDIR/tests/test-harden-check"
EXTRA=()
libs=$(ldd "$XVA" 2>/dev/null || true)
if grep -q libasan <<<"$libs"; then
  # ASan's quarantine holds freed memory back on purpose: the RSS says
  # nothing about leaks there (LeakSanitizer does, at exit).
  note "AddressSanitizer build: the RSS bound is not applied"
  EXTRA+=(--no-rss-check)
fi

head -c $((MIB + 4096)) /dev/urandom >"$T/d0.img"
truncate -s $((2 * MIB)) "$T/d0.img"
pack "$T/vm.xva" "load vm" "$T/d0.img"
start_server "$T/data" --max-connections 256
timeout $((SECONDS_ * 4 + 300)) python3 "$E2E/loadgen.py" --url "$URL" \
  --password "$PW" --pid "$SPID" --archive "$T/vm.xva" \
  --transfers "$TRANSFERS" --rpc-rate "$RATE" --duration "$SECONDS_" \
  "${EXTRA[@]}" >"$T/load.out" 2>&1 || {
    cat "$T/load.out"
    fail "the load run failed"
  }
cat "$T/load.out"
stop_server
"$CHECKER" check "$DATA" --clean || fail "the data directory is not consistent"
echo "harden-load: OK"
