#include "api/unrouted_relay.hpp"

#include <spdlog/spdlog.h>

#include "amqp/topology.hpp"
#include "core/names.hpp"
#include "core/retry.hpp"
#include "core/thread_name.hpp"

namespace warren::api {

amqp::OutgoingMessage UnroutedRelayMessage(const amqp::Delivery& delivery) {
  amqp::OutgoingMessage message = amqp::CopyOf(delivery);
  // Not Warren's own queues (warren.unrouted itself, warren.dead, the recorder's, the tiers): a copy
  // sent to one would be read as something else, or come straight back.
  if (!InvalidJobQueueName(delivery.routing_key)) {
    message.routing_key = delivery.routing_key;
    message.declare_job_queue = delivery.routing_key;
    return message;
  }
  message.routing_key = std::string(amqp::kDeadQueue);
  message.declare_job_queue = std::string(amqp::kDeadQueue);
  message.headers[std::string(amqp::kDeadReasonHeader)] = "unroutable";
  message.headers[std::string(amqp::kErrorHeader)] =
      fmt::format("routing key '{}' names no job queue", delivery.routing_key);
  return message;
}

UnroutedRelay::UnroutedRelay(UnroutedRelayOptions options, PublishFn publish)
    : options_(std::move(options)), publish_(std::move(publish)) {
  amqp::ConsumerOptions consumer;
  consumer.connection = options_.connection;
  consumer.declare = amqp::DueTopology(options_.queue_type);
  consumer.consume = {std::string(amqp::kUnroutedQueue)};
  consumer.prefetch = options_.prefetch;
  consumer.reconnect_max = options_.reconnect_max;
  consumer.thread_name = "unrouted-relay";
  // One queue, so a per-consumer prefetch is all it needs; a quorum warren.unrouted refuses a channel's.
  consumer.channel_prefetch = false;
  // Under mu_: the consumer's thread may deliver (and a confirm callback settle) before this returns.
  std::lock_guard lock(mu_);
  consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer),
                                               [this](amqp::Delivery d) { Relay(std::move(d)); });
  retry_thread_ = std::jthread([this](const std::stop_token& stop) { RetryLoop(stop); });
}

UnroutedRelay::~UnroutedRelay() { Stop(); }

amqp::Consumer& UnroutedRelay::Consumer() {
  std::lock_guard lock(mu_);
  return *consumer_;
}

void UnroutedRelay::Stop() {
  if (retry_thread_.joinable()) {
    retry_thread_.request_stop();
    retry_thread_.join();
  }
  Consumer().Stop();
}

void UnroutedRelay::Relay(amqp::Delivery delivery, int failures) {
  amqp::OutgoingMessage message = UnroutedRelayMessage(delivery);
  const std::string to = message.routing_key;
  publish_(std::move(message), [this, delivery = std::move(delivery), to,
                                failures](amqp::PublishOutcome outcome) mutable {
    if (outcome == amqp::PublishOutcome::kConfirmed) {
      Consumer().Settle(delivery, amqp::Settlement::kAck);
      spdlog::warn("job {} fell due with no queue '{}' to receive it; put into {}", delivery.message_id,
                   delivery.routing_key, to);
      return;
    }
    // Doubling waits, so a queue that stays refused (it exists as another type) costs little, and a
    // warning per job at its 1st, 2nd, 4th, 8th … failure.
    ++failures;
    const auto wait =
        RetryDelay(RetryPolicy{options_.retry_after, options_.retry_max, /*jitter=*/0.0}, failures,
                   /*unit_random=*/0.0);
    if ((failures & (failures - 1)) == 0) {
      spdlog::warn("job {} for queue '{}' not put back yet ({}, {} time(s)); trying again in {} ms",
                   delivery.message_id, delivery.routing_key, amqp::ToString(outcome), failures,
                   wait.count());
    }
    {
      std::lock_guard lock(mu_);
      retries_.emplace(std::chrono::steady_clock::now() + wait, Retry{std::move(delivery), failures});
    }
    cv_.notify_one();
  });
}

void UnroutedRelay::RetryLoop(const std::stop_token& stop) {
  NameThisThread("unrouted-retry");
  std::unique_lock lock(mu_);
  while (!stop.stop_requested()) {
    if (retries_.empty()) {
      cv_.wait(lock, stop, [this] { return !retries_.empty(); });
      continue;
    }
    const auto due = retries_.begin()->first;
    if (std::chrono::steady_clock::now() < due) {
      // Until it is due, or an earlier entry came (then look again).
      cv_.wait_until(lock, stop, due,
                     [this, due] { return !retries_.empty() && retries_.begin()->first < due; });
      continue;
    }
    Retry retry = std::move(retries_.begin()->second);
    retries_.erase(retries_.begin());
    amqp::Consumer& consumer = *consumer_;
    lock.unlock();
    // A delivery of a lost connection is the broker's again: it comes back as a new delivery.
    if (consumer.IsLive(retry.delivery)) {
      Relay(std::move(retry.delivery), retry.failures);
    }
    lock.lock();
  }
}

}  // namespace warren::api
