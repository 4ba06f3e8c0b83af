// The periodic scheduler inside `serve`. Every second, for each [[periodic]] job, the ticks due (core's
// DueTicks, counted from the last tick the store recorded) are enqueued exactly as POST /v1/jobs
// would, with TickKey as the idempotency key, and then recorded. Several `serve` replicas on one store
// may all see a tick: the key makes the store keep one job, so each tick runs once.
//
// A tick another scheduler enqueued (200: its key is known) is recorded only once that job is surely
// in RabbitMQ: it has run or moved on, or it is older than `settle` (the publish timeout and then
// some). Before that, the other scheduler's publish may still fail and undo its row; recording the
// tick then would lose it for good, since the next rounds start after the recorded tick.
#pragma once

#include <chrono>
#include <stop_token>
#include <thread>
#include <vector>

#include "api/jobs_routes.hpp"
#include "core/periodic.hpp"
#include "store/store.hpp"

namespace warren::api {

class PeriodicScheduler {
 public:
  PeriodicScheduler(std::vector<PeriodicJob> jobs, store::Store& store, SubmitFn submit,
                    ClockFn clock = SystemNow, Duration settle = std::chrono::seconds(15));
  ~PeriodicScheduler();  // Stop()
  PeriodicScheduler(const PeriodicScheduler&) = delete;
  PeriodicScheduler& operator=(const PeriodicScheduler&) = delete;

  // Polls every `interval` on a thread of its own until Stop().
  void Start(std::chrono::milliseconds interval = std::chrono::seconds(1));
  void Stop();
  // One round: enqueues what is due now. Returns how many ticks were enqueued (or found enqueued).
  size_t RunOnce();

 private:
  const std::vector<PeriodicJob> jobs_;
  store::Store& store_;
  const SubmitFn submit_;
  const ClockFn clock_;
  const Duration settle_;
  std::jthread thread_;
};

}  // namespace warren::api
