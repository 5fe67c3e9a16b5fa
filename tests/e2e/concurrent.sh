#!/usr/bin/env bash
# 8 imports at once, then 8 exports at once: every VM comes back with
# its own disks.
set -euo pipefail
. "$(dirname "${BASH_SOURCE[0]}")/functions.sh"

N=8
for i in $(seq 1 $N); do
  mkdisk "$T/d$i.img" $((2 * MIB + i * 4096))
  pack "$T/vm$i.xva" "vm $i" "$T/d$i.img"
done

start_server "$T/data" --max-connections 32
login

note "$N simultaneous imports (half of them chunked)"
pids=()
for i in $(seq 1 $N); do
  if [ $((i % 2)) -eq 0 ]; then
    cat "$T/vm$i.xva" | hcurl -o "$T/ib$i" -D "$T/ih$i" \
      -w '%{http_code}' -T - "$URL/import?session_id=$SID" \
      >"$T/ist$i" 2>&1 &
  else
    hcurl -o "$T/ib$i" -D "$T/ih$i" -w '%{http_code}' -T "$T/vm$i.xva" \
      "$URL/import?session_id=$SID" >"$T/ist$i" 2>&1 &
  fi
  pids+=($!)
done
EXTRA_PIDS="${pids[*]}"
for i in $(seq 1 $N); do
  wait "${pids[$((i - 1))]}" || fail "import $i: curl failed: $(cat "$T/ist$i")"
done
EXTRA_PIDS=
declare -A vms
for i in $(seq 1 $N); do
  [ "$(cat "$T/ist$i")" = 200 ] || fail "import $i: status $(cat "$T/ist$i")"
  TASK=$(header_of "$T/ih$i" task-id)
  [ "$(wait_task "$TASK")" = success ] || fail "import $i: task"
  vms[$i]=$(task_vm "$TASK")
done
[ "$(vm_count)" -eq $N ] || fail "want $N VMs, have $(vm_count)"
[ "$(images | wc -l)" -eq $N ] || fail "want $N images"
no_staging

note "$N simultaneous exports (some compressed)"
pids=()
for i in $(seq 1 $N); do
  comp=
  [ $((i % 3)) -eq 0 ] && comp="&use_compression=zstd"
  [ $((i % 3)) -eq 1 ] && comp="&use_compression=gzip"
  hcurl -o "$T/e$i.xva" -w '%{http_code}' \
    "$URL/export?session_id=$SID&ref=${vms[$i]}$comp" >"$T/est$i" 2>&1 &
  pids+=($!)
done
EXTRA_PIDS="${pids[*]}"
for i in $(seq 1 $N); do
  wait "${pids[$((i - 1))]}" || fail "export $i: curl failed"
done
EXTRA_PIDS=
for i in $(seq 1 $N); do
  [ "$(cat "$T/est$i")" = 200 ] || fail "export $i: status $(cat "$T/est$i")"
  check_export "$T/e$i.xva" "$T/d$i.img"
done

note "imports and exports mixed"
pids=()
for i in 1 2 3 4; do
  hcurl -o /dev/null -w '%{http_code}' -T "$T/vm$i.xva" \
    "$URL/import?session_id=$SID" >"$T/mi$i" 2>&1 &
  pids+=($!)
  hcurl -o "$T/m$i.xva" -w '%{http_code}' \
    "$URL/export?session_id=$SID&ref=${vms[$((i + 4))]}" >"$T/me$i" 2>&1 &
  pids+=($!)
done
EXTRA_PIDS="${pids[*]}"
for p in "${pids[@]}"; do
  wait "$p" || fail "a mixed transfer failed"
done
EXTRA_PIDS=
for i in 1 2 3 4; do
  [ "$(cat "$T/mi$i")" = 200 ] || fail "mixed import $i: $(cat "$T/mi$i")"
  [ "$(cat "$T/me$i")" = 200 ] || fail "mixed export $i: $(cat "$T/me$i")"
  check_export "$T/m$i.xva" "$T/d$((i + 4)).img"
done
[ "$(vm_count)" -eq $((N + 4)) ] || fail "want $((N + 4)) VMs"

stop_server
echo "concurrent: OK"
