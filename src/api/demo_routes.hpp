// The seed demo's routes, wire-compatible with its Flask producer:
//   GET / (and HEAD /) → 200 "OK"
//   GET /add-job/<cmd> → publishes <cmd> (persistent, default exchange, queue task_queue), waits for the
//                        publisher confirm, then 200 " [x] Sent: <cmd>"; 503 + Retry-After when RabbitMQ
//                        cannot take it.
#pragma once

#include <functional>
#include <string>
#include <string_view>

#include "amqp/message.hpp"
#include "amqp/publisher.hpp"
#include "api/http.hpp"
#include "api/router.hpp"

namespace warren::api {

inline constexpr std::string_view kDemoQueue = "task_queue";

// Publishing as the routes see it: amqp::Publisher::Publish in production, a fake in unit tests.
// Must not block; `done` runs exactly once, on any thread.
using PublishFn = std::function<void(amqp::OutgoingMessage, amqp::PublishCallback)>;

void AddDemoRoutes(Router& router, PublishFn publish);

// Exactly what the demo's pika producer sends: the command as the body of a persistent message to
// task_queue through the default exchange, with no content type and no type (a seed-style job).
amqp::OutgoingMessage SeedJobMessage(std::string cmd);

// The answer to /add-job once the publisher has spoken. Only kConfirmed is a 200: every other outcome
// means RabbitMQ does not (or may not) hold the job, which is never the client's fault, so it is a 503
// with Retry-After rather than a 4xx, and never a 500 (nothing in Warren is broken).
Response AddJobResponse(amqp::PublishOutcome outcome, std::string_view cmd);

}  // namespace warren::api
