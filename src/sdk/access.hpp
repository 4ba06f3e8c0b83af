// The SDK's seam to the engine: public JobContexts over worker::JobContext, public handlers as
// worker::Handlers. Pure: unit-testable without a broker.
#pragma once

#include <string_view>

#include "core/queue_type.hpp"
#include "warren/job.hpp"
#include "worker/handler_registry.hpp"

namespace warren::sdk {

struct Access {
  // A public view of `impl`, valid while `impl` is.
  static JobContext Context(const worker::JobContext& impl) { return JobContext(impl); }
};

// Runs `fn` with a public JobContext and maps its outcome: a returned value succeeds with it as the
// result; warren::FatalError fails the job for good (dead at once); any other exception fails the
// attempt (retried while attempts remain), with what() as the error.
worker::Handler Adapt(Handler fn);

// The queue type the options' quorum_queues and priority_queues ask for; std::invalid_argument naming
// `options` when they ask for both.
QueueType QueueTypeOf(bool quorum_queues, bool priority_queues, std::string_view options);

}  // namespace warren::sdk
