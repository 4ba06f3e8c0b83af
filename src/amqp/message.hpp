// What Warren publishes and receives, independent of rabbitmq-c's types.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "amqp/topology_spec.hpp"

namespace warren::amqp {

struct OutgoingMessage {
  std::string exchange;     // "" is the default exchange: routing_key names the queue
  std::string routing_key;
  std::string body;
  std::string content_type;  // empty: the property is not sent (the demo sends none)
  std::string message_id;    // empty: the publisher assigns one (it matches basic.return to the publish)
  std::string type;          // AMQP `type` property: the job type; empty for seed-style messages
  std::map<std::string, std::string> headers;
  bool persistent = true;  // delivery_mode = 2
  // AMQP `priority` (a job's priority, 0..9): orders a priority queue (QueueType::kPriority); other
  // queues ignore it. 0 is not sent.
  uint8_t priority = 0;
  // AMQP `timestamp` (seconds since 1970): when the job became ready to run. The management API shows
  // the head message's as head_message_timestamp, which is how the autoscaler sees the oldest wait.
  std::optional<int64_t> timestamp;
  // A job queue declared (once per connection, as JobQueueSpec with the publisher's queue type) before
  // the first publish that names it, so a job for a new queue is never returned as unroutable.
  std::string declare_job_queue;
};

struct Delivery {
  std::string queue;
  std::string routing_key;  // as published (or as dead-lettered): for a job, the queue it was meant for
  std::string body;
  std::string content_type;
  std::string message_id;
  std::string type;
  uint8_t priority = 0;  // AMQP `priority`; 0 when not sent
  std::optional<int64_t> timestamp;            // AMQP `timestamp`, when sent
  std::map<std::string, std::string> headers;  // string and integer headers, rendered as text
  bool redelivered = false;
  uint64_t delivery_tag = 0;
  uint64_t connection_generation = 0;  // acks for an older connection's tags are dropped
};

}  // namespace warren::amqp
