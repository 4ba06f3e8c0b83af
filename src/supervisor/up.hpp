// `warren up`: the managed broker, `serve` and N workers under one supervisor.
#pragma once

#include <string>

#include "core/config.hpp"

namespace warren::supervisor {

struct UpOptions {
  std::string config_path;  // passed on to the children; empty when none
};

// Runs until SIGINT/SIGTERM, then stops workers, serve and the broker in that order.
int RunUp(const Settings& settings, const UpOptions& options);

}  // namespace warren::supervisor
