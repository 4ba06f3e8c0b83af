#!/usr/bin/env bash
# `make bench`: the micro-benchmarks, then the side-by-side system benchmarks (bench/system/run.py:
# Warren vs the Flask+pika demo, Celery 5 and raw rabbitmq-c, against one RabbitMQ started for the run).
# `make bench-quick` (bench/run.sh --quick): micro with a short min_time, system in quick mode.
# Results: bench/results/micro-*.json, bench/results/system-*.{md,json,png},
# bench/results/get-latency-*.{md,json}. See bench/README.md.
set -euo pipefail
cd "$(dirname "$0")/.."
quick=""
if [ "${1:-}" = "--quick" ]; then quick="--quick"; shift; fi
mkdir -p bench/results
stamp=$(date -u +%Y%m%dT%H%M%SZ)
if [ -n "$quick" ]; then
  micro_args=(--benchmark_min_time=0.05)
else
  micro_args=(--benchmark_repetitions=3 --benchmark_report_aggregates_only=true)
fi
build/bin/warren_micro_bench "${micro_args[@]}" \
  --benchmark_out="bench/results/micro-$stamp.json" --benchmark_out_format=json
echo "bench: micro results in bench/results/micro-$stamp.json"
/usr/bin/python3 bench/system/run.py $quick "$@"
# GET /v1/jobs/{id} with a large SQLite store: 1,000,000 jobs (100,000 in quick mode).
if [ -n "$quick" ]; then
  /usr/bin/python3 bench/system/get_latency.py --jobs 100000 --seconds 5
else
  /usr/bin/python3 bench/system/get_latency.py --jobs 1000000 --seconds 15
fi
