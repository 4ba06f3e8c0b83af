// `warren serve`: the HTTP API.
#pragma once

#include "core/config.hpp"

namespace warren::api {

// Runs until SIGINT/SIGTERM; returns the process exit code.
int RunServe(const Settings& settings);

}  // namespace warren::api
