#include "supervisor/restart_backoff.hpp"

#include <algorithm>

namespace warren::supervisor {

RestartBackoff::Duration RestartBackoff::OnExit(Duration uptime) {
  if (uptime >= healthy_uptime_) {
    // It worked for a while: this failure is news, not a crash loop.
    next_ = initial_;
  }
  const Duration delay = next_;
  next_ = std::min(next_ * 2, max_);
  return delay;
}

}  // namespace warren::supervisor
