#include "supervisor/autoscale.hpp"

#include <algorithm>

#include <fmt/format.h>

namespace warren::supervisor {
namespace {

// A worker just started (or told to drain) changes the picture only after it connected.
constexpr std::chrono::seconds kSettle{5};

int CeilDiv(uint64_t a, uint64_t b) { return static_cast<int>((a + b - 1) / b); }

}  // namespace

ScaleDecision DecideScale(const Settings::Autoscale& policy, int concurrency, int workers,
                          const LoadSample& load, std::chrono::steady_clock::time_point now,
                          std::chrono::steady_clock::time_point busy_since,
                          std::chrono::steady_clock::time_point last_change) {
  const int slots_per_worker = std::max(concurrency, 1);
  if (workers < policy.min) {
    return {policy.min, fmt::format("below the minimum of {}", policy.min)};
  }
  if (workers > policy.max) {
    return {policy.max, fmt::format("above the maximum of {}", policy.max)};
  }
  if (now - last_change < kSettle) {
    return {workers, {}};
  }
  // Up: enough workers for every waiting and running job to have a slot, at most the maximum.
  const bool waited_too_long = load.oldest_wait && *load.oldest_wait > policy.target_wait;
  const bool backlog =
      load.ready > 0 && load.ready + load.unacked > static_cast<uint64_t>(workers) * slots_per_worker;
  if ((waited_too_long || backlog) && workers < policy.max) {
    const int wanted = std::clamp(CeilDiv(load.ready + load.unacked, static_cast<uint64_t>(slots_per_worker)),
                                  workers + 1, policy.max);
    const std::string why =
        waited_too_long ? fmt::format("the oldest waiting job has waited {} (target {})",
                                      FormatDuration(*load.oldest_wait), FormatDuration(policy.target_wait))
                        : fmt::format("{} jobs waiting and {} running for {} slots", load.ready, load.unacked,
                                      workers * slots_per_worker);
    return {wanted, why};
  }
  // Down: once nothing waited for the cool-down, keep the slots the running jobs need (the minimum when
  // the broker cannot say what runs: a removed worker drains, so a busy one finishes its jobs first).
  if (load.ready == 0 && workers > policy.min && now - busy_since >= policy.cooldown) {
    const uint64_t running = load.unacked_known ? load.unacked : 0;
    const int needed = std::max(policy.min, CeilDiv(running, static_cast<uint64_t>(slots_per_worker)));
    if (needed < workers) {
      return {needed, fmt::format("no job waited for {} (the cool-down)", FormatDuration(policy.cooldown))};
    }
  }
  return {workers, {}};
}

}  // namespace warren::supervisor
