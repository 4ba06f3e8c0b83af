#include "core/retry.hpp"

#include <algorithm>
#include <cmath>

namespace warren {

Duration RetryDelay(const RetryPolicy& policy, int failed_attempt, double unit_random) {
  const int exponent = std::clamp(failed_attempt - 1, 0, 62);
  const double full = std::min(static_cast<double>(policy.cap.count()),
                               static_cast<double>(policy.base.count()) * std::ldexp(1.0, exponent));
  const double jitter = std::clamp(policy.jitter, 0.0, 1.0) * std::clamp(unit_random, 0.0, 1.0);
  return Duration(static_cast<Duration::rep>(std::llround(full * (1.0 - jitter))));
}

const std::vector<Duration>& DelayTiers() {
  static const std::vector<Duration> tiers = [] {
    std::vector<Duration> t;
    for (int k = 0; k <= 24; ++k) {
      t.emplace_back(100LL << k);
    }
    return t;
  }();
  return tiers;
}

Duration PickDelayTier(Duration remaining) {
  const auto& tiers = DelayTiers();
  auto it = std::upper_bound(tiers.begin(), tiers.end(), remaining);
  return it == tiers.begin() ? Duration::zero() : *std::prev(it);
}

}  // namespace warren
