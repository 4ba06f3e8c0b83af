// Lifecycle events, grouped: while one batch waits for its confirm, the events that arrive meanwhile
// gather into the next, which goes out as one message the moment the first is confirmed (group
// commit, no timer). A lone event is published as itself; a batch as a JSON array under the routing
// key `job.batch`. The recorder reads both. At 5,000 jobs/s this turns ~10,000 event messages a second
// into a few hundred, each a broker write and fsync fewer.
//
// Only an event that settles a delivery (an outcome, with a `done` callback) starts a batch at once.
// The others (`started`, `progress`, `log`) linger until the next outcome or the next Flush(), the
// worker's 20 ms watchdog tick: a short job's `started` then rides in its outcome's message, so the
// broker stores, routes and delivers one event message per job instead of two, and the recorder
// rewrites the job's record once (bench/README.md, the latency profile). The record shows `running`
// at most a tick late; the event's own time is when the job started.
//
// A job's `progress` events replace one another while they wait: only the newest of an attempt's
// waiting ones goes out (the record keeps only the newest anyway, job_state.cpp). A command printing
// `::progress` lines as fast as it can therefore costs one event per batch, not a queue that grows
// without bound while each batch waits for its confirm.
#pragma once

#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "amqp/publisher.hpp"
#include "core/job.hpp"

namespace warren::worker {

class EventBatcher {
 public:
  explicit EventBatcher(amqp::Publisher& publisher) : publisher_(publisher) {}

  // Thread-safe, non-blocking. `done` (may be empty) runs once with the outcome of the batch that
  // carried the event. An event without `done` waits for the next outcome or Flush().
  void Send(const JobEvent& event, const std::string& queue, const std::string& type, amqp::PublishCallback done);
  // Sends the lingering events now, unless a batch is in flight (its confirm sends them). Thread-safe.
  void Flush();

  static constexpr size_t kMaxEvents = 500;
  static constexpr size_t kMaxBytes = 1 << 20;

 private:
  struct Pending {
    amqp::OutgoingMessage message;  // the event as a message of its own
    amqp::PublishCallback done;
    std::string progress_of;  // "id/attempt" of a progress event; empty for any other
  };
  void FlushLocked(std::unique_lock<std::mutex>& lock);

  amqp::Publisher& publisher_;
  std::mutex mu_;
  std::deque<Pending> pending_;  // guarded by mu_
  // The waiting progress event of each attempt (deque elements stay put while others are added and
  // the front is taken). Guarded by mu_.
  std::unordered_map<std::string, Pending*> waiting_progress_;
  bool in_flight_ = false;  // guarded by mu_
};

}  // namespace warren::worker
