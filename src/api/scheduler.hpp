// The periodic scheduler inside `serve`. Every second, for each [[periodic]] job, the ticks due (core's
// DueTicks, counted from the last tick the store recorded) are enqueued exactly as POST /v1/jobs
// would, with TickKey as the idempotency key, and then recorded. Several `serve` replicas on one store
// may all see a tick: the key makes the store keep one job, so each tick runs once.
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
  PeriodicScheduler(std::vector<PeriodicJob> jobs, store::Store& store, SubmitFn submit, ClockFn clock = SystemNow);
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
  std::jthread thread_;
};

}  // namespace warren::api
