#!/usr/bin/env bash
# Runs libFuzzer targets built by the `fuzz` preset, each for SECONDS, from its committed corpus
# (fuzz/corpus/<target>/, read-only here) plus the inputs earlier runs found (BUILD/corpus/<target>/).
# A crash, leak, sanitizer report or failed check stops that target; the input is kept in
# BUILD/artifacts/<target>/ and the script fails after running the rest.
# Usage: fuzz/run.sh BUILD SECONDS TARGET...
set -uo pipefail
build=$1 seconds=$2
shift 2
here=$(cd "$(dirname "$0")" && pwd)
failed=()
summary=$build/fuzz-summary.txt
: > "$summary"
for target in "$@"; do
  binary=$build/bin/warren_fuzz_$target
  corpus=$build/corpus/$target
  artifacts=$build/artifacts/$target
  mkdir -p "$corpus" "$artifacts"
  dict=()
  if [ -f "$here/dict/$target.dict" ]; then dict=(-dict="$here/dict/$target.dict"); fi
  log=$build/fuzz-$target.log
  echo "fuzz: $target for ${seconds}s (log: $log)"
  # -timeout: one input taking 10 s is a finding too (a hang); -rss_limit_mb bounds a runaway input.
  UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 ASAN_OPTIONS=detect_leaks=1 \
    "$binary" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix="$artifacts/" "${dict[@]}" "$corpus" "$here/corpus/$target" > "$log" 2>&1
  status=$?
  runs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1)
  line="$target: ${seconds}s, ${runs:-?} executions, ${cov:-cov ?}, corpus $(ls "$corpus" | wc -l) found + $(ls "$here/corpus/$target" | wc -l) committed"
  if [ $status -ne 0 ]; then
    line="$line, FAILED (exit $status): $(ls "$artifacts" | head -3 | tr '\n' ' ')"
    failed+=("$target")
    grep -E 'ERROR|fuzz check failed|runtime error|SUMMARY' "$log" | head -5
  fi
  echo "$line" | tee -a "$summary"
done
if [ ${#failed[@]} -ne 0 ]; then
  echo "fuzz: ${failed[*]} failed; reproduce with $build/bin/warren_fuzz_<target> <artifact>" >&2
  exit 1
fi
