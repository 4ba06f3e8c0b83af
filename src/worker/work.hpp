// `warren work`: a worker process.
#pragma once

#include "core/config.hpp"

namespace warren::worker {

// Runs until SIGINT/SIGTERM, then drains; returns the process exit code.
int RunWork(const Settings& settings);

}  // namespace warren::worker
