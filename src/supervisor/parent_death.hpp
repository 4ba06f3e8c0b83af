// For `serve` and `work` started by `warren up`: die with the supervisor. `up` stops its children in
// order when it gets SIGINT/SIGTERM, but if it is SIGKILLed (or crashes) nothing would stop them;
// PR_SET_PDEATHSIG makes the kernel send them SIGTERM, which they handle as a graceful stop.
#pragma once

namespace warren::supervisor {

// Call early in `serve`/`work`, before their SIGTERM handling is set up or right after. The kernel
// ties the signal to the parent *thread* that spawned us; `up` spawns from its main thread, which lives
// as long as the process. Does nothing unless WARREN_SUPERVISOR_PID is set. If the supervisor is
// already gone, raises SIGTERM at once.
void FollowSupervisorDeath();

}  // namespace warren::supervisor
