// The producing side of the live event stream: what this `serve` changed (its recorder's applied events,
// its API's enqueues, cancels, retries and deletes) becomes JobChanges, published in batches to the
// `warren.changes` fanout, from which every replica's EventHub is fed (amqp/topology.hpp).
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "amqp/message.hpp"
#include "api/event_hub.hpp"
#include "core/job.hpp"

namespace warren::api {

// An API change: kind "enqueued", "cancelled", "retried" or "deleted".
JobChange ChangeOf(std::string_view kind, const JobRecord& record);
// A recorded lifecycle event, with the state it left the job in.
JobChange ChangeOf(const JobEvent& event, const JobRecord& record);

// The wire form: a JSON array of {"kind", "data"}. DecodeChanges skips malformed entries and throws
// std::invalid_argument when the body is not a JSON array.
nlohmann::json EncodeChanges(const std::vector<JobChange>& changes);
std::vector<JobChange> DecodeChanges(const std::string& body);

// Collects changes and publishes them every `interval` (or at `max_batch`), one message per batch, so
// a burst of enqueues costs the broker one small message per interval, not one per job. Fire and
// forget: a change lost with the broker only leaves a gap the client's reload (reset event) covers.
class ChangeFeed {
 public:
  using PublishFn = std::function<void(amqp::OutgoingMessage)>;

  explicit ChangeFeed(PublishFn publish, std::chrono::milliseconds interval = std::chrono::milliseconds(100),
                      size_t max_batch = 1000);
  ~ChangeFeed();  // Stop()
  ChangeFeed(const ChangeFeed&) = delete;
  ChangeFeed& operator=(const ChangeFeed&) = delete;

  void Add(JobChange change);  // thread-safe, never blocks on the broker
  void Stop();                 // publishes what is pending, then joins

 private:
  void Loop();

  const PublishFn publish_;
  const std::chrono::milliseconds interval_;
  const size_t max_batch_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::vector<JobChange> pending_;  // guarded by mu_
  bool stopping_ = false;           // guarded by mu_
  std::thread thread_;
};

}  // namespace warren::api
