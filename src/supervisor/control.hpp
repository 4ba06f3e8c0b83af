// The control channel of `warren up`: where a running stack keeps its pid file, control socket and
// (when detached) its log, and the commands the socket takes. `warren scale`, `warren down` and serve's
// POST /v1/workers/scale are its clients.
#pragma once

#include <string>
#include <string_view>
#include <variant>

#include "core/config.hpp"

namespace warren::supervisor {

inline constexpr int kMaxWorkers = kMaxUpWorkers;
// The environment variable through which `up` tells its children (serve) where its control socket is.
inline constexpr std::string_view kControlEnv = "WARREN_SUPERVISOR_CONTROL";
// Set ("1") by `up --detach` for the `up` it starts in the background, which then runs the stack
// whatever its command line says: that is the user's, with --detach in whichever spelling they gave.
inline constexpr std::string_view kDetachedEnv = "WARREN_UP_DETACHED";

struct StackPaths {
  std::string pid_file;  // <data_dir>/warren-up.pid: the supervisor's pid while it runs
  std::string socket;    // <data_dir>/warren-up.sock
  std::string log;       // <data_dir>/warren-up.log: a detached stack's output
};
StackPaths PathsFor(const Settings& settings);

struct ScaleCommand {
  int workers = 0;
};
struct StatusCommand {};
using ControlCommand = std::variant<ScaleCommand, StatusCommand>;

// "scale workers=N" or "status"; otherwise the reason it is not a command.
std::variant<ControlCommand, std::string> ParseControlLine(std::string_view line);
// `warren scale`'s argument "workers=N" (0..kMaxWorkers); otherwise the reason.
std::variant<int, std::string> ParseScaleArgument(std::string_view argument);

// The pid in a pid file when that process still runs and is a `warren up`; 0 otherwise (no file,
// garbage, a dead process, or a pid the system has since given to another program).
int RunningStackPid(const std::string& pid_file);

}  // namespace warren::supervisor
