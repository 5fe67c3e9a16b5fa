#!/usr/bin/env bash
# Runs every libFuzzer target of a build for a bounded time, starting
# from the seed corpora, and prints for each the executions and whether
# it crashed.  Exit status 1 when any target crashed (the input is kept
# under BUILDDIR/fuzz-artifacts/).
#
# Usage: run.sh BUILDDIR SECONDS [CORPUSDIR]
#   CORPUSDIR: the seeds made by mkcorpus.sh (default tests/fuzz/corpus)
#   FUZZ_JOBS: targets run at once (default 2)
set -uo pipefail

build=${1:?usage: run.sh BUILDDIR SECONDS [CORPUSDIR]}
secs=${2:?usage: run.sh BUILDDIR SECONDS [CORPUSDIR]}
src=$(cd "$(dirname "$0")/../.." && pwd)
seeds=${3:-$src/tests/fuzz/corpus}
jobs=${FUZZ_JOBS:-2}
bin=$build/tests/fuzz
work=$build/fuzz-work
art=$build/fuzz-artifacts

# Longest input per target (http: an archive comes in through @Z).
declare -A maxlen=([reader]=131072 [roundtrip]=64 [xml]=65536
                   [json]=16384 [tar]=4096 [rpc]=16384 [http]=16384
                   [position]=512)
# libFuzzer's leak check after each input: not for http, whose
# connection threads give their memory back after the input's run
# (the check would run, at a third of a second, after nearly every
# input).  LeakSanitizer still checks at the end of the run, after the
# server is stopped.
declare -A extra=([http]=-detect_leaks=0)

targets=()
for t in reader roundtrip xml json tar rpc http position; do
  if [ ! -x "$bin/fuzz-$t" ]; then
    echo "fuzz: $bin/fuzz-$t is missing (configure with -DXVA_FUZZ=ON)" >&2
    exit 1
  fi
  targets+=("$t")
done
mkdir -p "$work" "$art"

run_one () {
  local t=$1 log=$work/$t.log rc
  mkdir -p "$work/$t" "$seeds/$t"
  rm -f "$art/$t"-*
  local dict=()
  if [ -f "$src/tests/fuzz/$t.dict" ]; then
    dict=(-dict="$src/tests/fuzz/$t.dict")
  fi
  # The server targets make their data directories here (left behind
  # by a crash, removed otherwise).
  rm -rf "$work/tmp-$t"
  mkdir -p "$work/tmp-$t"
  # shellcheck disable=SC2086
  TMPDIR=$work/tmp-$t \
  ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1} \
  UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1} \
    "$bin/fuzz-$t" -max_total_time="$secs" -max_len="${maxlen[$t]}" \
      -timeout=30 -rss_limit_mb=2048 -print_final_stats=1 ${extra[$t]:-} \
      "${dict[@]}" -artifact_prefix="$art/$t-" "$work/$t" "$seeds/$t" \
      >"$log" 2>&1
  rc=$?
  echo "$rc" >"$work/$t.rc"
  if [ "$rc" = 0 ]; then
    rm -rf "$work/tmp-$t"
  fi
}

running=0
for t in "${targets[@]}"; do
  run_one "$t" &
  running=$((running + 1))
  if [ "$running" -ge "$jobs" ]; then
    wait -n
    running=$((running - 1))
  fi
done
wait

failed=0
for t in "${targets[@]}"; do
  log=$work/$t.log
  rc=$(cat "$work/$t.rc" 2>/dev/null || echo 1)
  execs=$(awk '/^stat::number_of_executed_units:/ {print $2}' "$log")
  newu=$(awk '/^stat::new_units_added:/ {print $2}' "$log")
  crash=$(ls "$art/$t"-* 2>/dev/null | head -1)
  if [ "$rc" = 0 ] && [ -z "$crash" ]; then
    printf 'fuzz %-9s %10s executions in %ss, %s new units, no crash\n' \
      "$t" "${execs:-?}" "$secs" "${newu:-?}"
  else
    failed=1
    printf 'fuzz %-9s %10s executions: CRASH (exit %s) %s\n' "$t" \
      "${execs:-?}" "$rc" "${crash:-}"
    grep -E -A 12 'ERROR:|invariant failed|runtime error' "$log" | head -40
  fi
done
exit "$failed"
