// A thread that owns one AMQP connection for publishing with publisher confirms.
// Requests from any thread are queued, published back to back and confirmed in batches
// (group commit): one fsync on the broker covers every publish in flight.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "amqp/connection.hpp"
#include "amqp/message.hpp"
#include "core/queue_type.hpp"

namespace warren::amqp {

enum class PublishOutcome {
  kConfirmed,    // basic.ack: RabbitMQ has the message durably
  kRejected,     // basic.nack: the broker refused it
  kUnroutable,   // basic.return: no queue is bound for it
  kUnavailable,  // not connected to the broker (down, unreachable, reconnecting)
  kBlocked,      // the broker blocks publishers (memory or disk alarm)
  kTimeout,      // no confirm within the timeout
  kStopped,      // the publisher is shutting down
  // Not sent: the job queue it names exists with other arguments than this publisher declares (another
  // queue type), so RabbitMQ refused the declaration. Retrying does not help; nothing else is affected.
  kQueueRefused,
};
const char* ToString(PublishOutcome outcome);

enum class PublisherState { kConnecting, kReady, kBlocked, kStopped };

// Called once per request: on the publisher's thread, or on the caller's when it fails fast (not connected,
// blocked, stopping); never under the publisher's lock, so it may publish again. Keep it short.
using PublishCallback = std::function<void(PublishOutcome)>;

struct PublisherOptions {
  ConnectionOptions connection;
  std::chrono::milliseconds confirm_timeout{5000};
  std::chrono::milliseconds reconnect_max{5000};
  Topology declare;  // declared on every (re)connect before publishing
  QueueType queue_type = QueueType::kClassic;  // of the job queues messages ask for (declare_job_queue)
  size_t max_in_flight = 50'000;   // more unconfirmed publishes than this answer kBlocked
  // The confirm of a message bound for a job queue this publisher declared on the fly (a queue outside
  // `declare`, named by a message's declare_job_queue) less than this long ago is passed on only once
  // the declaration is this old: the declaration may have created the queue (decision 76).
  std::chrono::milliseconds new_queue_settle = kNewQueueSettle;
  // True when CheckDeclarations declared `declare` (and waited for it to settle) before this publisher
  // started. Otherwise the first connect's declarations may be what created those queues, so every
  // confirm is held until they are new_queue_settle old (a broker that was down at start-up).
  bool declarations_settled = false;
};

class Publisher {
 public:
  explicit Publisher(PublisherOptions options);
  ~Publisher();  // Stop()
  Publisher(const Publisher&) = delete;
  Publisher& operator=(const Publisher&) = delete;

  // Thread-safe and non-blocking. `done` runs exactly once.
  void Publish(OutgoingMessage message, PublishCallback done);
  // All-or-nothing from the caller's view: `done` gets kConfirmed only if every message was confirmed.
  void PublishBatch(std::vector<OutgoingMessage> messages, PublishCallback done);

  PublisherState State() const;
  // Waits until the publisher is ready or the timeout passes (tests, start-up logs).
  bool WaitReady(std::chrono::milliseconds timeout) const;
  void Stop();

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::amqp
