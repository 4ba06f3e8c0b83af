// Warren's names on the broker, and how a job travels as an AMQP message. One place, so `serve`,
// `work`, the SDK and the tests agree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "amqp/connection.hpp"
#include "amqp/message.hpp"
#include "core/job.hpp"

namespace warren::amqp {

// The classic demo's queue: declared exactly as the demo declares it (durable, no arguments), or the
// demo's own `queue_declare(durable=True)` would fail with 406 PRECONDITION_FAILED.
inline constexpr std::string_view kDemoQueue = "task_queue";
// Lifecycle events from workers; routing key `job.<kind>.<queue>.<type>`.
inline constexpr std::string_view kEventsExchange = "warren.events";
// The recorder's queue, shared by every `serve` replica (competing consumers).
inline constexpr std::string_view kRecorderQueue = "warren.events.recorder";

// The declaration of job queue `name`: durable, with no arguments, so the demo's own declaration of
// `task_queue` matches it.
QueueSpec JobQueueSpec(const std::string& name);
// Everything a job publisher or worker needs declared for `queues`, plus the events exchange.
Topology JobTopology(const std::vector<std::string>& queues);
// The events exchange and the recorder queue bound to all of it.
Topology RecorderTopology();

// Headers Warren sets on typed job messages.
inline constexpr std::string_view kAttemptHeader = "x-warren-attempt";
inline constexpr std::string_view kMaxAttemptsHeader = "x-warren-max-attempts";
inline constexpr std::string_view kTimeoutHeader = "x-warren-timeout-ms";
inline constexpr std::string_view kDeadlineHeader = "x-warren-deadline";
inline constexpr std::string_view kPriorityHeader = "x-warren-priority";

// DESIGN decision 4: metadata in properties and headers, args as the JSON body.
// message_id = job id, type = job type, content_type = application/json.
OutgoingMessage EncodeJobMessage(const JobRecord& record, int attempt = 1);

// What a worker reads back from a typed job message.
struct JobMessage {
  std::string id;
  std::string type;
  std::string queue;
  nlohmann::json args;
  int attempt = 1;
  int max_attempts = 1;
  std::optional<Duration> timeout;
  std::optional<TimePoint> deadline;
};
// nullopt for seed-style messages (no `type` property).
std::optional<JobMessage> DecodeJobMessage(const Delivery& delivery);

// An event as published to kEventsExchange.
OutgoingMessage EncodeEventMessage(const JobEvent& event, const std::string& queue, const std::string& type);

}  // namespace warren::amqp
