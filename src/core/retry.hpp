// When a failed attempt runs again, and how a wait is cut into the broker's delay tiers. Pure: the
// caller passes the random draw, so tests and benchmarks are deterministic.
#pragma once

#include <chrono>
#include <vector>

#include "core/duration.hpp"

namespace warren {

struct RetryPolicy {
  Duration base{1000};              // the wait after the first failed attempt
  Duration cap{60 * 60 * 1000};     // no wait is longer than this
  double jitter = 0.25;             // each wait is shortened by up to this fraction, at random
};

// The wait before attempt `failed_attempt + 1`: min(cap, base * 2^(failed_attempt - 1)), shortened by
// jitter * `unit_random` of itself (`unit_random` in [0, 1)). Jitter spreads a burst of failures (a
// dependency that was down for everyone) so their retries do not all land at once.
Duration RetryDelay(const RetryPolicy& policy, int failed_attempt, double unit_random);

// Delay queues have a queue-level TTL each (RabbitMQ expires messages only at the head of a queue, so
// one TTL per queue means no message waits behind a longer one). A wait takes the longest tier that
// does not overshoot, then the next, until less than the shortest tier is left: at most one hop per
// tier, never early.
// Tiers: 100 ms * 2^k for k = 0..24 (100 ms .. about 19.4 days); longer waits take the top tier again.
const std::vector<Duration>& DelayTiers();
// The longest tier not longer than `remaining`; zero when `remaining` is shorter than every tier.
Duration PickDelayTier(Duration remaining);

}  // namespace warren
