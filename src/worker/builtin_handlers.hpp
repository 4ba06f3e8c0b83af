// Built-in job types for trying Warren out, testing and benchmarking, under the reserved `warren.`
// prefix: warren.noop, warren.echo (returns its args), warren.sleep ({"seconds": N}) and warren.fail
// ({"error": "..."}).
#pragma once

#include "worker/handler_registry.hpp"

namespace warren::worker {

void RegisterBuiltinHandlers(HandlerRegistry& registry);

}  // namespace warren::worker
