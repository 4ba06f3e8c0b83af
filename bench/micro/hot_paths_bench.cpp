// Micro-benchmarks of the hot paths that exist so far. `make bench` runs them.
#include <benchmark/benchmark.h>
#include <unistd.h>

#include <filesystem>

#include "core/duration.hpp"
#include "core/job.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "store/sqlite/sqlite_store.hpp"
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

// The recorder's share of a job in `serve`: a `started` and a `succeeded` event applied to a stored
// record, in batches of state.range(0) jobs, on a real SQLite file (the default store).
void BM_ApplyEventsSqlite(benchmark::State& state) {
  const auto dir = std::filesystem::temp_directory_path() / ("warren-bench-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  {
    auto store = warren::store::sqlite::OpenSqliteStore((dir / "apply.db").string());
    store->Migrate();
    const auto batch = static_cast<size_t>(state.range(0));
    int64_t jobs = 0;
    for (auto _ : state) {
      state.PauseTiming();
      std::vector<warren::JobRecord> records;
      const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
      for (size_t i = 0; i < batch; ++i) {
        warren::JobSpec spec;
        spec.type = "resize";
        spec.args = {{"src", "s3://bucket/in/photo.png"}, {"width", 1024}};
        records.push_back(warren::NewJobRecord(warren::NewJobId(now), std::move(spec), now));
      }
      store->InsertJobs(records);
      std::vector<warren::JobEvent> events;
      for (const auto& r : records) {
        for (auto kind : {warren::EventKind::kStarted, warren::EventKind::kSucceeded}) {
          warren::JobEvent e;
          e.job_id = r.id;
          e.kind = kind;
          e.attempt = 1;
          e.at = now;
          e.worker = "bench-worker";
          if (kind == warren::EventKind::kSucceeded) {
            e.result = {{"ok", true}};
          }
          events.push_back(std::move(e));
        }
      }
      state.ResumeTiming();
      benchmark::DoNotOptimize(store->ApplyEvents(events));
      jobs += static_cast<int64_t>(batch);
    }
    state.SetItemsProcessed(jobs);
  }
  std::filesystem::remove_all(dir);
}
BENCHMARK(BM_ApplyEventsSqlite)->Arg(1)->Arg(32)->Unit(benchmark::kMicrosecond);

}  // namespace

BENCHMARK_MAIN();
