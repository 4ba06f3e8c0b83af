#!/usr/bin/env bash
# `make bench`: runs the micro-benchmarks and writes their JSON under bench/results/.
# The side-by-side system benchmarks (Warren vs the demo, Celery and the raw broker) grow here next.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
build/bin/warren_micro_bench --benchmark_repetitions=3 --benchmark_report_aggregates_only=true \
  --benchmark_out="bench/results/micro-$stamp.json" --benchmark_out_format=json
echo "bench: results in bench/results/micro-$stamp.json"
