// The event recorder inside `serve`: consumes lifecycle events from `warren.events.recorder` and applies
// them to the store in batched transactions, acking only after the commit. Several `serve` replicas
// share the queue; the store applies events idempotently, so a redelivered batch changes nothing.
// An enqueue publishes a job while its record is being inserted (decision 77), so a fast job's events
// can come before its record: a message naming a young job the store does not hold yet, whose events
// say `serve` stores it, stays unacked and is applied again a little later, until the job is
// `missing_job_wait` old.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

#include "amqp/consumer.hpp"
#include "api/metrics.hpp"
#include "core/queue_type.hpp"
#include "store/store.hpp"

namespace warren::api {

struct RecorderOptions {
  amqp::ConnectionOptions connection;
  QueueType queue_type = QueueType::kClassic;  // of the recorder queue
  std::chrono::milliseconds reconnect_max{5000};
  size_t max_batch = 500;   // events per store transaction
  Metrics* metrics = nullptr;  // counts what was applied; may be null
  // Event messages the broker may have in flight to us; those held for a job's record (decision 77)
  // take at most half of them.
  uint16_t prefetch = 1000;
  size_t log_lines_per_job = 1000;  // a job's newest log lines kept in the store (0: none)
  // How long after its id's time (UUIDv7) a job's events wait for its record; older ones are dropped
  // (a deleted job, or an enqueue whose insert failed after its publish).
  std::chrono::milliseconds missing_job_wait{60000};
  std::chrono::milliseconds missing_job_retry{10};  // the first retry; doubles per retry, to a second
  // After each committed batch: its events and the records they changed (the live event stream).
  std::function<void(const std::vector<JobEvent>&, const std::vector<JobRecord>&)> on_applied;
};

class Recorder {
 public:
  Recorder(RecorderOptions options, store::Store& store);
  ~Recorder();  // Stop()
  Recorder(const Recorder&) = delete;
  Recorder& operator=(const Recorder&) = delete;

  void Stop();
  bool WaitConnected(std::chrono::milliseconds timeout) const;
  uint64_t EventsApplied() const { return applied_.load(); }

 private:
  using Clock = std::chrono::steady_clock;
  // A message whose events name a job the store does not hold yet, waiting to be applied again.
  struct Deferred {
    amqp::Delivery delivery;
    std::vector<JobEvent> events;  // deferred: those of its events that wait for their job's record
    Clock::time_point retry_at{};
    std::chrono::milliseconds wait{0};  // until retry_at: doubles per retry; 0 for a new message
    Clock::time_point since{};          // first deferred
    bool last_chance = false;        // beyond the cap: applied once more, then dropped if still missing
  };

  void OnDelivery(amqp::Delivery delivery);  // consumer thread
  void Loop();                               // recorder thread
  // Applies one batch and settles each message: acked, deferred, or (store down) handed back.
  // Returns false when the store failed.
  bool Apply(std::vector<Deferred> batch);
  // Beyond half the prefetch, gives the longest-held deferred messages (held for at least
  // kMinHeldBeforeCap) a last chance: applied once more at once, then acked, found or not.
  void LimitHeld(Clock::time_point now);
  static constexpr std::chrono::milliseconds kMinHeldBeforeCap{2000};

  const RecorderOptions options_;
  store::Store& store_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<amqp::Delivery> pending_;  // guarded by mu_
  bool stopping_ = false;               // guarded by mu_
  std::atomic<uint64_t> applied_{0};
  std::vector<Deferred> deferred_;  // recorder thread only

  std::thread thread_;
  std::unique_ptr<amqp::Consumer> consumer_;  // last: its callback uses the members above
};

}  // namespace warren::api
