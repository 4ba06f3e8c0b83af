#include "api/demo_routes.hpp"

#include <memory>
#include <utility>

#include <fmt/format.h>

namespace warren::api {
namespace {

Response Unavailable(std::string_view code, std::string_view message) {
  Response response = ErrorResponse(503, code, message);
  // The states behind a 503 here (reconnecting, alarm, slow confirm) last seconds; 1 s keeps a retrying
  // client close behind the broker's recovery without hammering it.
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

}  // namespace

amqp::OutgoingMessage SeedJobMessage(std::string cmd) {
  amqp::OutgoingMessage message;
  message.exchange = "";
  message.routing_key = std::string(kDemoQueue);
  message.body = std::move(cmd);
  message.persistent = true;
  return message;
}

Response AddJobResponse(amqp::PublishOutcome outcome, std::string_view cmd) {
  using amqp::PublishOutcome;
  switch (outcome) {
    case PublishOutcome::kConfirmed:
      // The leading space is the demo's: its Flask producer answers " [x] Sent: " + cmd.
      return TextResponse(200, fmt::format(" [x] Sent: {}", cmd));
    case PublishOutcome::kUnavailable:
      return Unavailable("broker_unavailable", "RabbitMQ is not reachable right now; the job was not queued");
    case PublishOutcome::kBlocked:
      return Unavailable("broker_blocked",
                         "RabbitMQ is blocking publishers (memory or disk alarm); the job was not queued");
    case PublishOutcome::kTimeout:
      // The message may have reached the queue with its confirm lost or late: say so, since a retry
      // can then run the job twice (delivery is at-least-once either way).
      return Unavailable("publish_timeout",
                         "RabbitMQ did not confirm the job in time; it may or may not have been queued");
    case PublishOutcome::kStopped:
      return Unavailable("shutting_down", "the server is shutting down; the job was not queued");
    case PublishOutcome::kRejected:
      // basic.nack: the broker refused the message (an internal error, or a queue at its length limit
      // with overflow=reject-publish). Nothing the client sent is wrong and a later try may succeed.
      return Unavailable("broker_rejected", "RabbitMQ refused the job; it was not queued");
    case PublishOutcome::kQueueRefused:
      break;  // task_queue is declared up front, never on the fly: this does not happen here
    case PublishOutcome::kUnroutable:
      // basic.return: task_queue is gone (deleted at runtime). The publisher declares it again when it
      // reconnects, so this too is a server-side condition that retrying can outlast.
      return Unavailable("unroutable", "RabbitMQ has no queue for the job; it was not queued");
  }
  return Unavailable("broker_unavailable", "RabbitMQ could not take the job; it was not queued");
}

void AddDemoRoutes(Router& router, PublishFn publish) {
  const auto ok = [](const Request& /*request*/, const Responder& respond) {
    respond(TextResponse(200, "OK"));
  };
  router.Add("GET", "/", ok);
  // HEAD / for load balancers' health checks (the server leaves the body out). Not for /add-job: a
  // HEAD must never publish.
  router.Add("HEAD", "/", ok);

  const auto missing_command = [](const Request& /*request*/, const Responder& respond) {
    respond(
        ErrorResponse(400, "empty_command", "the command is empty: use /add-job/<cmd>, e.g. /add-job/hey"));
  };
  router.Add("GET", "/add-job", missing_command);

  auto shared_publish = std::make_shared<PublishFn>(std::move(publish));
  router.Add("GET", "/add-job/{cmd}",
             [shared_publish, missing_command](const Request& request, const Responder& respond) {
               std::string cmd = request.Param("cmd");
               if (cmd.empty()) {
                 missing_command(request, respond);
                 return;
               }
               auto message = SeedJobMessage(cmd);
               // Runs on the publisher's thread: build the answer (a few bytes) and hand it to the Responder,
               // which posts it to the connection's strand. Nothing here blocks an io thread.
               (*shared_publish)(std::move(message),
                                 [respond, cmd = std::move(cmd)](amqp::PublishOutcome outcome) {
                                   respond(AddJobResponse(outcome, cmd));
                                 });
             });
}

}  // namespace warren::api
