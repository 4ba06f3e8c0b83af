// Puts back the jobs the broker could not route when their wait in a delay tier ended. A tier
// dead-letters through warren.due, to which every job queue is bound under its name; a job whose queue
// is gone (deleted by an operator, or lost in a broker crash, decision 43) goes on through warren.due's
// alternate exchange to warren.unrouted instead of being dropped. The relay consumes that queue and
// publishes each job again to its queue, which the publish declares (and binds) anew, acking only after
// RabbitMQ confirmed the copy. Every `serve` runs one; replicas compete for the queue (decision 78).
#pragma once

#include <chrono>
#include <condition_variable>
#include <map>
#include <memory>
#include <mutex>
#include <thread>

#include "amqp/consumer.hpp"
#include "amqp/message.hpp"
#include "amqp/publisher.hpp"
#include "core/queue_type.hpp"

namespace warren::api {

// The message that carries an unrouted delivery on: a copy for the job queue its routing key names
// (the queue declared on the fly), or, when that key names no job queue (a message published to
// warren.due by hand), a copy for warren.dead with reason `unroutable`.
amqp::OutgoingMessage UnroutedRelayMessage(const amqp::Delivery& delivery);

struct UnroutedRelayOptions {
  amqp::ConnectionOptions connection;
  QueueType queue_type = QueueType::kClassic;
  std::chrono::milliseconds reconnect_max{5000};
  // A copy RabbitMQ did not confirm is published again this long after, doubling per failure up to
  // retry_max; its delivery stays unacked meanwhile.
  std::chrono::milliseconds retry_after{1000};
  std::chrono::milliseconds retry_max{60'000};
  uint16_t prefetch = 64;
};

class UnroutedRelay {
 public:
  using PublishFn = std::function<void(amqp::OutgoingMessage, amqp::PublishCallback)>;

  // `publish` must not block, and must have stopped calling back before the relay is destroyed
  // (serve stops its publisher first).
  UnroutedRelay(UnroutedRelayOptions options, PublishFn publish);
  ~UnroutedRelay();  // Stop()
  UnroutedRelay(const UnroutedRelay&) = delete;
  UnroutedRelay& operator=(const UnroutedRelay&) = delete;

  void Stop();

 private:
  amqp::Consumer& Consumer();  // consumer_, read under mu_
  struct Retry {
    amqp::Delivery delivery;
    int failures = 0;
  };
  void Relay(amqp::Delivery delivery, int failures = 0);
  void RetryLoop(const std::stop_token& stop);

  const UnroutedRelayOptions options_;
  const PublishFn publish_;
  std::mutex mu_;
  std::condition_variable_any cv_;
  std::multimap<std::chrono::steady_clock::time_point, Retry> retries_;  // guarded by mu_: by when due
  std::unique_ptr<amqp::Consumer> consumer_;  // set under mu_, then never changed
  std::jthread retry_thread_;
};

}  // namespace warren::api
