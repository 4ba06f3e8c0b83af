#include "sdk/enqueue_request.hpp"

#include <stdexcept>
#include <variant>

#include <fmt/format.h>

#include "amqp/topology.hpp"

namespace warren::sdk {

namespace {

std::string DurationText(std::chrono::milliseconds d) { return fmt::format("{}ms", d.count()); }

std::string TimeText(std::chrono::system_clock::time_point t) {
  return FormatTime(std::chrono::floor<std::chrono::milliseconds>(t));
}

}  // namespace

nlohmann::json EnqueueBody(const std::string& type, const nlohmann::json& args,
                           const EnqueueOptions& options) {
  nlohmann::json body = {
      {"type", type}, {"queue", options.queue}, {"args", args}, {"priority", options.priority}};
  if (options.max_attempts) {
    body["max_attempts"] = *options.max_attempts;
  }
  if (options.timeout) {
    body["timeout"] = DurationText(*options.timeout);
  }
  if (options.delay) {
    body["delay"] = DurationText(*options.delay);
  }
  if (options.run_at) {
    body["run_at"] = TimeText(*options.run_at);
  }
  if (options.deadline) {
    body["deadline"] = TimeText(*options.deadline);
  }
  if (!options.tags.empty()) {
    body["tags"] = options.tags;
  }
  return body;
}

JobRecord NewEnqueuedJob(const std::string& type, const nlohmann::json& args, const EnqueueOptions& options,
                         TimePoint now) {
  auto spec = ParseJobSpec(EnqueueBody(type, args, options), JobLimits{}, now);
  if (const auto* error = std::get_if<FieldError>(&spec)) {
    throw std::invalid_argument(error->message);
  }
  return NewJobRecord(NewJobId(now), std::move(std::get<JobSpec>(spec)), now);
}

amqp::OutgoingMessage FirstMessage(const JobRecord& record, TimePoint now) {
  auto message = amqp::EncodeJobMessage(record, 1);
  if (record.spec.run_at && *record.spec.run_at > now) {
    amqp::RouteThroughDelay(message, *record.spec.run_at, *record.spec.run_at - now);
  }
  return message;
}

}  // namespace warren::sdk
