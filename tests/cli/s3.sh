#!/usr/bin/env bash
# The S3 layer against a real server: starts a throw-away single-node
# Ceph cluster with a RADOS Gateway (tests/s3/ceph.sh), runs every
# test-s3-* program of the build with XVA_S3_ENV pointing at it, and
# stops the cluster whatever happens.
#
# Exit 77 (skip) when the build has no S3 test programs (client/ not
# built) or the Ceph packages cannot be installed.
set -uo pipefail

: "${SRCDIR:=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}"
: "${BUILDDIR:=$SRCDIR/build}"
CEPH="$SRCDIR/tests/s3/ceph.sh"

mapfile -t progs < <(find "$BUILDDIR" -maxdepth 2 -type f -name 'test-s3-*' \
                       -perm -u+x | sort)
if [ "${#progs[@]}" -eq 0 ]; then
  echo "SKIP: no test-s3-* programs in $BUILDDIR (client/ not built)"
  exit 77
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/xva-s3.XXXXXX")
cleanup () {
  bash "$CEPH" stop "$work/ceph" || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 143' TERM INT HUP

t0=$(date +%s.%N)
XVA_CEPH_OWNER_PID=$$ bash "$CEPH" start "$work/ceph"
rc=$?
if [ "$rc" -eq 77 ]; then
  exit 77
fi
if [ "$rc" -ne 0 ]; then
  echo "FAIL: the Ceph cluster did not start (exit $rc); its logs:"
  for f in "$work"/ceph/log/*; do
    [ -f "$f" ] || continue
    echo "--- $f"
    tail -n 20 "$f"
  done
  exit 1
fi
t1=$(date +%s.%N)
python3 -c "print('# cluster up in %.1f s' % ($t1 - $t0))"

export XVA_S3_ENV="$work/ceph/s3.env"
passed=0
failed=0
skipped=0
for p in "${progs[@]}"; do
  name=$(basename "$p")
  s=$(date +%s.%N)
  timeout 300 "$p" >"$work/out" 2>&1
  prc=$?
  e=$(date +%s.%N)
  secs=$(python3 -c "print('%.1f' % ($e - $s))")
  case $prc in
    0) passed=$((passed + 1)); echo "PASS: $name (${secs} s)" ;;
    77) skipped=$((skipped + 1)); echo "SKIP: $name" ;;
    *) failed=$((failed + 1)); echo "FAIL: $name (exit $prc, ${secs} s)" ;;
  esac
  sed 's/^/    /' "$work/out" | head -n 60
done
echo "$passed passed, $failed failed, $skipped skipped"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
