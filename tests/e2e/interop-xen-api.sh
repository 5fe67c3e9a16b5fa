#!/usr/bin/env bash
# Xen Orchestra's XenAPI client, the `xen-api` npm package (4.7.6, as
# pinned in tests/interop/package-lock.json), against a real `xva
# serve`: tests/interop/xen-api.test.mjs under `node --test`, with the
# client's default options, without event watching and over XML-RPC.
#
# The client is installed with `npm ci` into tests/interop/node_modules
# when it is not there yet.  The test is skipped (77) only when that
# install fails because npm cannot reach its registry; a missing node or
# npm, or any other install failure, is a failure.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

IOP="$SRCDIR/tests/interop"
WANT_VERSION=4.7.6

command -v node >/dev/null 2>&1 ||
  fail "node not found: Node.js 18 or later runs this test"
command -v npm >/dev/null 2>&1 || fail "npm not found"
major=$(node -p 'process.versions.node.split(".")[0]')
[ "$major" -ge 18 ] || fail "node $(node --version): 18 or later is needed"

client_version ()
{
  (cd "$IOP" &&
   node -p 'require("./node_modules/xen-api/package.json").version' \
     2>/dev/null) || true
}

# Several build folders may run this test at once over the same source
# tree: one installs, the others wait.
if command -v flock >/dev/null 2>&1; then
  exec 9>"${TMPDIR:-/tmp}/xva-interop-npm.lock"
  flock -w 600 9 || fail "another npm install held the lock for 10 minutes"
fi
if [ "$(client_version)" != "$WANT_VERSION" ]; then
  note "npm ci in tests/interop (xen-api $WANT_VERSION)"
  if ! (cd "$IOP" && timeout 600 npm ci --no-audit --no-fund) \
       >"$T/npm.log" 2>&1; then
    if ! timeout 60 npm ping >"$T/ping.log" 2>&1; then
      echo "SKIP: npm cannot reach its registry" \
           "($(npm config get registry 2>/dev/null)): the xen-api client" \
           "cannot be installed" >&2
      tail -n 5 "$T/npm.log" >&2
      exit 77
    fi
    tail -n 30 "$T/npm.log" >&2
    fail "npm ci failed although the registry answers"
  fi
fi
[ "$(client_version)" = "$WANT_VERSION" ] ||
  fail "tests/interop/node_modules has xen-api '$(client_version)'," \
       "want $WANT_VERSION"
exec 9>&-

# The source VM: two disks, imported with curl.
mkdisk "$T/d0.img" $((3 * MIB))
mkdisk "$T/d1.img" $((2 * MIB + 512))
pack "$T/src.xva" "interop source" "$T/d0.img" "$T/d1.img"

start_server "$T/data"
login
import_file "$T/src.xva" ""
[ "$(wait_task "$TASK")" = success ] || fail "import of the source VM"
SRC=$(task_vm "$TASK")

mkdir "$T/work"
note "node --test tests/interop/xen-api.test.mjs"
rc=0
(cd "$IOP" &&
 XVA="$XVA" XVA_URL="$URL" XVA_PASSWORD="$PW" \
 XVA_VM_NAME="interop source" XVA_DISKS="$T/d0.img:$T/d1.img" \
 XVA_WORKDIR="$T/work" XVA_SERVER_LOG="$T/server.log" \
 timeout 600 node --test --test-reporter=spec xen-api.test.mjs) || rc=$?
[ "$rc" -eq 0 ] || fail "the xen-api client test failed (exit $rc)"

note "nothing is left behind"
[ "$(vm_count)" -eq 1 ] || fail "$(vm_count) VMs, want the source VM only"
[ "$(jrpc VM.get_name_label "[\"$SID\",\"$SRC\"]")" = "interop source" ] ||
  fail "the source VM changed"
[ "$(images | wc -l)" -eq 2 ] || fail "images left: $(images)"
no_staging
jrpc session.logout "[\"$SID\"]" >/dev/null
stop_server
if grep -qF "$PW" "$T/server.log"; then
  fail "the password is in the server's log"
fi
echo "interop-xen-api: OK"
