// The workers `serve` has heard from: their heartbeats (amqp::EncodeWorkerHeartbeat), kept in memory.
// A worker whose heartbeats stop for three intervals is shown as "gone"; after an hour it is dropped.
// Each `serve` reads every heartbeat on a private queue, so every replica knows every worker.
#pragma once

#include <map>
#include <mutex>
#include <string>

#include <nlohmann/json.hpp>

#include "api/jobs_routes.hpp"

namespace warren::api {

class WorkerRegistry {
 public:
  explicit WorkerRegistry(ClockFn clock = SystemNow) : clock_(std::move(clock)) {}

  // Thread-safe. Ignores anything that is not a heartbeat with an id. True for the first heartbeat of a
  // worker this registry did not know.
  bool Observe(const nlohmann::json& heartbeat);
  // Every known worker, newest start first: its last heartbeat, `last_seen`, and `state` ("running",
  // "draining", "stopped", or "gone" when it fell silent).
  nlohmann::json List() const;
  // The job types live workers handle, with how many live workers handle each.
  std::map<std::string, int> HandledTypes() const;

 private:
  struct Entry {
    nlohmann::json heartbeat;
    TimePoint last_seen;
  };
  bool Live(const Entry& entry, TimePoint now) const;

  const ClockFn clock_;
  mutable std::mutex mu_;
  mutable std::map<std::string, Entry> workers_;  // guarded by mu_
};

}  // namespace warren::api
