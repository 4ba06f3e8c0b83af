// Micro-benchmarks of the hot paths that exist so far. `make bench` runs them.
#include <benchmark/benchmark.h>

#include "core/duration.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "worker/job.hpp"

namespace {

void BM_ParseDuration(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(warren::ParseDuration("1.5s"));
  }
}
BENCHMARK(BM_ParseDuration);

void BM_InvalidQueueName(benchmark::State& state) {
  for (auto _ : state) {
    benchmark::DoNotOptimize(warren::InvalidQueueName("warren.q.default"));
  }
}
BENCHMARK(BM_InvalidQueueName);

void BM_DecodeSeedJob(benchmark::State& state) {
  warren::amqp::Delivery d;
  d.body = "hey";
  d.queue = "task_queue";
  for (auto _ : state) {
    benchmark::DoNotOptimize(warren::worker::JobFromDelivery(d));
  }
}
BENCHMARK(BM_DecodeSeedJob);

void BM_DecodeTypedJob(benchmark::State& state) {
  warren::amqp::Delivery d;
  d.type = "resize";
  d.body = R"({"src":"s3://bucket/in/photo-0001.png","dst":"s3://bucket/out/photo-0001.webp","width":1024})";
  for (auto _ : state) {
    benchmark::DoNotOptimize(warren::worker::JobFromDelivery(d));
  }
}
BENCHMARK(BM_DecodeTypedJob);

void BM_JsonEscape(benchmark::State& state) {
  const std::string line = "job 0190 failed: \"disk full\"\n\tat /var/lib/warren";
  for (auto _ : state) {
    benchmark::DoNotOptimize(warren::JsonEscape(line));
  }
}
BENCHMARK(BM_JsonEscape);

}  // namespace

BENCHMARK_MAIN();
