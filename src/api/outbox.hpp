// The API's side of the store's publish outbox (store::Store::MarkPublished): jobs RabbitMQ confirmed
// are marked published in batches (one store transaction per few milliseconds, not per job), and a
// sweeper publishes again the jobs whose insert outlived its publish: `serve` was killed between the
// two, or its publish was lost with the broker. Without it such a job would stay `queued` forever,
// and a client retrying with its idempotency key would get a 200 for a job that never runs.
//
// A job that was published but not yet marked when serve died is published twice: at-least-once. A
// worker that settled the attempt acks the copy (worker.cpp); another worker would run it again.
#pragma once

#include <chrono>
#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "api/jobs_routes.hpp"
#include "store/store.hpp"

namespace warren::api {

struct OutboxOptions {
  std::chrono::milliseconds mark_interval{20};
  std::chrono::milliseconds sweep_interval{5000};
  // A job unpublished this long after its insert is taken for lost: well past any publish in flight.
  std::chrono::milliseconds stale_after{30'000};
  size_t sweep_batch = 500;
};

class Outbox {
 public:
  Outbox(store::Store& store, PublishFn publish, ClockFn clock, OutboxOptions options = {});
  ~Outbox();  // Stop()
  Outbox(const Outbox&) = delete;
  Outbox& operator=(const Outbox&) = delete;

  void Published(const std::vector<std::string>& ids);  // thread-safe, never waits for the store
  // One sweep now (the background thread sweeps every sweep_interval). Returns how many jobs it
  // published again. Blocking: talks to the store.
  size_t Sweep();
  void Stop();  // writes the pending marks, joins

 private:
  void Loop();
  void Flush();

  store::Store& store_;
  const PublishFn publish_;
  const ClockFn clock_;
  const OutboxOptions options_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<std::string> marks_;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace warren::api
