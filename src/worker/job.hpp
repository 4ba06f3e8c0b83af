// A job as a worker sees it, decoded from an AMQP delivery.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "amqp/message.hpp"
#include "core/job.hpp"

namespace warren::worker {

struct Job {
  std::string id;       // message_id; empty for seed-style messages
  std::string type;     // the handler to run
  nlohmann::json args;  // null for seed-style messages
  std::string queue;
  int attempt = 1;
  int max_attempts = 1;
  std::optional<Duration> timeout;
  std::optional<TimePoint> deadline;
  std::optional<TimePoint> not_before;  // a delayed, scheduled or retried job waits until then
  nlohmann::json history = nlohmann::json::array();  // earlier attempts, carried in the message
  bool redelivered = false;
  bool seed_style = false;  // the classic demo's plain-text body: the body is the command
  bool stored = false;      // serve stores its record: its events say so (JobEvent::stored)
  std::optional<TimePoint> retried_at;  // an attempt the API's retry made, and when
};

// DESIGN decision 4: a message with a `type` property is a typed job (amqp::DecodeJobMessage); a
// message without one is a seed-style job whose type is its body text, as the Flask demo sends.
Job JobFromDelivery(const amqp::Delivery& delivery);

}  // namespace warren::worker
