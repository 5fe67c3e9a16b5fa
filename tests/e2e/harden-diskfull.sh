#!/usr/bin/env bash
# Disk full: an import into an SR that has no room fails with SR_FULL
# (HTTP 507 when the caller did not name the task) and leaves nothing
# behind; the VMs already there are untouched.  Two ways to run out of
# room: an SR directory on a 4 MiB tmpfs (in a private mount namespace,
# when mounting is permitted), and RLIMIT_FSIZE on the server (EFBIG:
# the server must ignore SIGXFSZ, or the first write past the limit
# kills it).
set -euo pipefail

# A private mount namespace, so that the tmpfs goes away with the test
# whatever happens.
if [ -z "${XVA_HARDEN_NS:-}" ] && command -v unshare >/dev/null 2>&1 &&
   unshare -m --propagation private true 2>/dev/null; then
  XVA_HARDEN_NS=1 exec unshare -m --propagation private bash "$0" "$@"
fi

. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

CHECKER="$BUILDDIR/tests/test-harden-check"

mkdisk "$T/d0.img" $((2 * MIB))
pack "$T/small.xva" "small vm" "$T/d0.img"
mkdisk "$T/big.img" $((16 * MIB))
head -c $((6 * MIB)) /dev/urandom | dd of="$T/big.img" conv=notrunc status=none
pack "$T/big.xva" "big vm" "$T/big.img"

start_server "$T/data"
login
import_file "$T/small.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "first import"
VM0=$(task_vm "$TASK")
stop_server

# intact: the first VM still exports the same disk.
intact ()
{
  export_vm "session_id=$SID&ref=$VM0" "$T/back.xva"
  check_export "$T/back.xva" "$T/d0.img"
}

# full_import QUERY: imports big.xva, which must fail with SR_FULL:
# status 507, the task's error SR_FULL; with a named task (task_id in
# QUERY) the status is 200 and the task tells.
full_import ()
{
  local st tk
  st=$(hcurl -o "$T/body" -D "$T/h" -w '%{http_code}' -T "$T/big.xva" \
       "$URL/import?session_id=$SID${1:+&$1}") || true
  tk=$(header_of "$T/h" task-id)
  [ -n "$tk" ] || fail "no task-id ($1): status $st"
  case $1 in
    *task_id=*) [ "$st" = 200 ] || [ "$st" = 507 ] ||
                  fail "named task ($1): status $st" ;;
    *) [ "$st" = 507 ] || fail "import into a full SR ($1): status $st, want 507: $(cat "$T/body")" ;;
  esac
  [ "$(wait_task "$tk")" = failure ] || fail "the full import did not fail"
  task_field "$tk" error_info | grep -q SR_FULL ||
    fail "the task's error is not SR_FULL: $(task_field "$tk" error_info)"
  note "status $st, task error $(task_field "$tk" error_info | tr -d '\n ')"
}

nothing_left ()
{
  no_staging
  images | cmp -s - "$T/images" || fail "$1: images changed: $(images)"
  [ "$(vm_count)" -eq "$NVM" ] || fail "$1: the number of VMs changed"
}

note "an SR on a 4 MiB tmpfs"
SR=$(timeout 60 "$XVA" sr-create --data "$T/data" --name "tiny sr") ||
  fail "sr-create"
SRDIR="$T/data/sr/$SR"
[ -d "$SRDIR" ] || fail "no SR directory $SRDIR"
if [ -n "${XVA_HARDEN_NS:-}" ] &&
   mount -t tmpfs -o size=4m,mode=0700 xva-full "$SRDIR" 2>"$T/mount.err"; then
  start_server "$T/data"
  login
  NVM=$(vm_count)
  images >"$T/images"
  full_import "sr_uuid=$SR"
  nothing_left "tmpfs"
  [ -z "$(ls -A "$SRDIR")" ] || fail "left on the tmpfs: $(ls -A "$SRDIR")"
  TK=$(jrpc task.create "[\"$SID\",\"full\",\"\"]")
  full_import "sr_uuid=$SR&task_id=$TK"
  nothing_left "tmpfs, named task"
  intact
  note "a VM that fits still goes into that SR"
  import_file "$T/small.xva" "sr_uuid=$SR"
  [ "$(wait_task "$TASK")" = success ] || fail "small import into the tmpfs SR"
  V=$(task_vm "$TASK")
  export_vm "session_id=$SID&ref=$V" "$T/tiny.xva"
  check_export "$T/tiny.xva" "$T/d0.img"
  jrpc VM.destroy "[\"$SID\",\"$V\"]" >/dev/null
  stop_server
  umount "$SRDIR"
else
  note "SKIPPED the tmpfs part: mounting is not permitted here ($(cat "$T/mount.err" 2>/dev/null))"
fi

note "RLIMIT_FSIZE of 4 MiB on the server: EFBIG is SR_FULL"
cat >"$T/xva-limited" <<EOS
#!/bin/sh
ulimit -f 4096
exec "$XVA" "\$@"
EOS
chmod +x "$T/xva-limited"
XVA="$T/xva-limited" start_server "$T/data"
login
NVM=$(vm_count)
images >"$T/images"
full_import ""
kill -0 "$SPID" || fail "the server died of the file size limit"
nothing_left "RLIMIT_FSIZE"
intact
stop_server

"$CHECKER" check "$T/data" --clean || fail "the data directory is not consistent"
echo "harden-diskfull: OK"
