// What Client::enqueue publishes, built and validated without I/O.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "amqp/message.hpp"
#include "core/job.hpp"
#include "warren/client.hpp"

namespace warren::sdk {

// The POST /v1/jobs body that asks for the same job, so ParseJobSpec applies the same rules and limits.
nlohmann::json EnqueueBody(const std::string& type, const nlohmann::json& args,
                           const EnqueueOptions& options);
// A new job record for the request; throws std::invalid_argument with ParseJobSpec's one-line message.
JobRecord NewEnqueuedJob(const std::string& type, const nlohmann::json& args, const EnqueueOptions& options,
                         TimePoint now);
// The job's first message: to its queue, or through the delay tiers when it runs later than `now`.
amqp::OutgoingMessage FirstMessage(const JobRecord& record, TimePoint now);

}  // namespace warren::sdk
