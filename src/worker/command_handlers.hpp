// Command jobs: each `[jobs.<type>]` of the config becomes a handler that expands the argv template
// with the job's values and runs it without a shell (command_runner.hpp).
//
// Exit status 0 succeeds (stdout is the result), 75 (EX_TEMPFAIL) asks for another attempt, and any
// other status fails the job for good: it goes dead at once, since a program that wanted another try
// had 75 to say so. A timeout, a cancel or a signal is an interrupted attempt and is retried while
// attempts remain.
#pragma once

#include <map>
#include <string>

#include "core/command_config.hpp"
#include "worker/command_reaper.hpp"
#include "worker/handler_registry.hpp"

namespace warren::worker {

// The job as the command reads it on stdin.
nlohmann::json CommandInput(const Job& job);

// `reaper` (may be null) is told of each command's process group, to end it should the worker die.
void RegisterCommandHandlers(HandlerRegistry& registry, const std::map<std::string, CommandJob>& jobs,
                             Duration kill_grace, CommandReaper* reaper = nullptr);

}  // namespace warren::worker
