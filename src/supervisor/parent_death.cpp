#include "supervisor/parent_death.hpp"

#include <sys/prctl.h>
#include <unistd.h>
#include <csignal>

#include <charconv>
#include <cstdlib>
#include <string_view>

namespace warren::supervisor {

void FollowSupervisorDeath() {
  const char* env = std::getenv("WARREN_SUPERVISOR_PID");
  if (env == nullptr) {
    return;
  }
  const std::string_view text(env);
  pid_t supervisor = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), supervisor);
  if (ec != std::errc{} || supervisor <= 1) {
    return;
  }
  ::prctl(PR_SET_PDEATHSIG, SIGTERM);
  // The supervisor may have died between our fork and the prctl: then no signal will ever come.
  if (::getppid() != supervisor) {
    ::raise(SIGTERM);
  }
}

}  // namespace warren::supervisor
