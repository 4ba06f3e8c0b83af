// The autoscaler's decision, as a pure function of what it sampled: `warren up` adds workers while
// jobs wait longer than the target or outnumber the free slots, and removes idle ones after a
// cool-down. Removal goes through the ordinary scale-down, which drains.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>

#include "core/config.hpp"

namespace warren::supervisor {

// The job queues `up`'s workers consume, summed.
struct LoadSample {
  uint64_t ready = 0;    // jobs waiting in the queues
  uint64_t unacked = 0;  // jobs handed to workers (running or about to); nullopt-free: 0 when unknown
  bool unacked_known = false;
  std::optional<Duration> oldest_wait;  // the longest a waiting job has waited, when the broker says
};

struct ScaleDecision {
  int workers = 0;
  std::string reason;  // empty when nothing changes
};

// `busy_since`: when work was last seen (ready or handed-out jobs); the cool-down runs from there.
// `last_change`: when the worker count last changed (a new worker needs a moment before it counts).
ScaleDecision DecideScale(const Settings::Autoscale& policy, int concurrency, int workers,
                          const LoadSample& load, std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::time_point busy_since,
                          std::chrono::steady_clock::time_point last_change);

}  // namespace warren::supervisor
