#include "warren/client.hpp"

#include <future>
#include <stdexcept>

#include <unistd.h>

#include <fmt/format.h>

#include "amqp/publisher.hpp"
#include "amqp/topology.hpp"
#include "core/log.hpp"
#include "sdk/access.hpp"
#include "sdk/enqueue_request.hpp"

namespace warren {

namespace {

std::string Explain(amqp::PublishOutcome outcome) {
  switch (outcome) {
    case amqp::PublishOutcome::kConfirmed:
      return "confirmed";
    case amqp::PublishOutcome::kRejected:
      return "RabbitMQ refused it (nack)";
    case amqp::PublishOutcome::kUnroutable:
      return "RabbitMQ had no queue for it";
    case amqp::PublishOutcome::kUnavailable:
      return "not connected to RabbitMQ";
    case amqp::PublishOutcome::kBlocked:
      return "RabbitMQ blocks publishers (memory or disk alarm)";
    case amqp::PublishOutcome::kTimeout:
      return "RabbitMQ did not confirm it in time";
    case amqp::PublishOutcome::kStopped:
      return "the client is shutting down";
    case amqp::PublishOutcome::kQueueRefused:
      return "its queue exists on RabbitMQ with other arguments (another queue type) than this client "
             "declares";
  }
  return "unknown outcome";
}

}  // namespace

struct Client::Impl {
  explicit Impl(ClientOptions o) : options(std::move(o)), publisher(PublisherOptionsFor(options)) {}

  static amqp::PublisherOptions PublisherOptionsFor(const ClientOptions& o) {
    amqp::SplitAmqpUrls(o.amqp_url);  // throws std::invalid_argument naming the problem
    amqp::PublisherOptions p;
    p.connection.url = o.amqp_url;
    p.queue_type = sdk::QueueTypeOf(o.quorum_queues, o.priority_queues, "ClientOptions");
    p.connection.name = fmt::format("warren sdk client pid {}", getpid());
    p.confirm_timeout = o.publish_timeout;
    // The delay tiers and warren.dead; each job's queue is declared with its first message.
    p.declare = amqp::JobTopologyWithDelays({}, p.queue_type);
    return p;
  }

  // Publishes and waits for the outcome (the publisher answers every request exactly once, within its
  // confirm timeout; the margin here only guards against a bug there).
  amqp::PublishOutcome Publish(amqp::OutgoingMessage message) {
    // A broker alarm (blocked) is said at once, as `serve` answers it: waiting for it to clear would
    // only end in "not connected" after the timeout.
    if (publisher.State() != amqp::PublisherState::kBlocked &&
        !publisher.WaitReady(options.publish_timeout)) {
      return publisher.State() == amqp::PublisherState::kBlocked ? amqp::PublishOutcome::kBlocked
                                                                 : amqp::PublishOutcome::kUnavailable;
    }
    auto done = std::make_shared<std::promise<amqp::PublishOutcome>>();
    auto outcome = done->get_future();
    publisher.Publish(std::move(message), [done](amqp::PublishOutcome o) { done->set_value(o); });
    if (outcome.wait_for(options.publish_timeout + std::chrono::seconds(5)) != std::future_status::ready) {
      return amqp::PublishOutcome::kTimeout;
    }
    return outcome.get();
  }

  const ClientOptions options;
  amqp::Publisher publisher;
};

Client::Client(ClientOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Client::~Client() = default;

std::string Client::enqueue(const std::string& type, const nlohmann::json& args,
                            const EnqueueOptions& options) {
  const TimePoint now = SystemNow();
  const JobRecord record = sdk::NewEnqueuedJob(type, args, options, now);
  const auto outcome = impl_->Publish(sdk::FirstMessage(record, now));
  if (outcome != amqp::PublishOutcome::kConfirmed) {
    throw EnqueueError(
        amqp::ToString(outcome),
        fmt::format("job {} ({}) for queue '{}' was not queued: {} ({})", record.id, type, record.spec.queue,
                    Explain(outcome), RedactedUrl(impl_->options.amqp_url)));
  }
  return record.id;
}

void Client::cancel(const std::string& id) {
  if (!IsJobId(id)) {
    throw std::invalid_argument(fmt::format("Client::cancel: '{}' is not a job id", id));
  }
  const auto outcome = impl_->Publish(amqp::EncodeCancelMessage({id, SystemNow()}));
  // Unroutable: no worker is connected, so none runs the job now.
  if (outcome != amqp::PublishOutcome::kConfirmed && outcome != amqp::PublishOutcome::kUnroutable) {
    throw EnqueueError(amqp::ToString(outcome),
                       fmt::format("the cancel for job {} was not sent: {}", id, Explain(outcome)));
  }
}

bool Client::wait_connected(std::chrono::milliseconds timeout) const {
  return impl_->publisher.WaitReady(timeout);
}

}  // namespace warren
