// `warren up --detach`, `warren down` and `warren scale`: running the local stack in the background and
// steering it through its control socket (supervisor/control.hpp).
#pragma once

#include <string>
#include <vector>

#include "core/config.hpp"

namespace warren::cli {

// Starts `warren <up_args>` (the same command line, marked with supervisor::kDetachedEnv so that it
// runs the stack instead of detaching again) in a new session with its output in
// <data_dir>/warren-up.log, and returns once the stack is ready (0) or failed to start (1, with the
// log's last lines on stderr).
int RunUpDetached(const Settings& settings, const std::vector<std::string>& up_args);
// True in the `up` that RunUpDetached started.
bool IsDetachedUp();
// Stops the `warren up` running for the data dir (SIGTERM, then waits for its ordered shutdown).
int RunDown(const Settings& settings);
// `warren scale workers=N`.
int RunScale(const Settings& settings, const std::string& argument);

}  // namespace warren::cli
