// When to restart a child that died: 1s, 2s, 4s, ... capped at 30s, back to 1s once a child has
// stayed up long enough to count as healthy. Pure: the caller passes how long the child ran.
#pragma once

#include <chrono>

namespace warren::supervisor {

class RestartBackoff {
 public:
  using Duration = std::chrono::milliseconds;
  static constexpr Duration kInitial{1000};
  static constexpr Duration kMax{30000};
  static constexpr Duration kHealthyUptime{60000};

  RestartBackoff(Duration initial = kInitial, Duration max = kMax, Duration healthy_uptime = kHealthyUptime)
      : initial_(initial), max_(max), healthy_uptime_(healthy_uptime), next_(initial) {}

  // The delay before restarting a child that ran for `uptime` and then died.
  Duration OnExit(Duration uptime);
  void Reset() { next_ = initial_; }

 private:
  Duration initial_;
  Duration max_;
  Duration healthy_uptime_;
  Duration next_;
};

}  // namespace warren::supervisor
