#!/usr/bin/env bash
# Runs the libFuzzer targets built by `make fuzz` (tests/fuzz/fuzz.mk):
#   scripts/fuzz.sh BIN_DIR TARGET...
# each for FUZZ_SECONDS (default 60) on a scratch copy of its seed corpus
# (tests/fuzz/corpus/<target>/; new inputs the run finds stay in
# build-fuzz/corpus/, not in the tree). A crash, leak or sanitizer report
# fails the run; the input that caused it is left in build-fuzz/crashes/
# and its path printed (keep it in the corpus once fixed). Prints one line
# per target: executions, seconds, corpus size.
set -uo pipefail
bindir=$1
shift
secs=${FUZZ_SECONDS:-60}
work=build-fuzz
mkdir -p "$work/corpus" "$work/crashes" "$work/logs"
failed=()
for t in "$@"; do
  seeds=tests/fuzz/corpus/$t
  scratch=$work/corpus/$t
  mkdir -p "$scratch"
  log=$work/logs/$t.log
  dict=()
  [ -f "tests/fuzz/$t.dict" ] && dict=(-dict="tests/fuzz/$t.dict")
  # -rss_limit_mb: the Lua sandbox alone may take 64 MiB, ASan doubles it
  "$bindir/$t" "${dict[@]}" -max_total_time="$secs" -timeout=20 -rss_limit_mb=2048 \
    -max_len=16384 -print_final_stats=1 -artifact_prefix="$work/crashes/$t-" \
    "$scratch" "$seeds" >"$log" 2>&1
  rc=$?
  execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$')
  cov=$(grep -o 'cov: [0-9]*' "$log" | tail -1)
  if [ $rc -ne 0 ]; then
    echo "fuzz $t: FAILED (exit $rc) after ${execs:-?} runs; log: $log"
    grep -E '^(==[0-9]+==ERROR|SUMMARY|artifact_prefix|Test unit written)' "$log" | head -5
    failed+=("$t")
  else
    echo "fuzz $t: ${execs:-?} runs in ${secs}s, ${cov:-cov ?}, no crash"
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: failed: ${failed[*]}"
  exit 1
fi
echo "fuzz: all passed"
