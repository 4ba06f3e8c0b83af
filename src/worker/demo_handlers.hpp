// The classic demo's job types, kept as Warren's built-in examples: `hey`, `hello`, and the reply to
// any other seed-style command.
#pragma once

#include "worker/handler_registry.hpp"

namespace warren::worker {

void RegisterDemoHandlers(HandlerRegistry& registry);

}  // namespace warren::worker
