// A job as a worker sees it, decoded from an AMQP delivery.
#pragma once

#include <string>

#include <nlohmann/json.hpp>

#include "amqp/message.hpp"

namespace warren::worker {

struct Job {
  std::string id;       // message_id; empty for seed-style messages
  std::string type;     // the handler to run
  nlohmann::json args;  // null for seed-style messages
  std::string queue;
  bool redelivered = false;
  bool seed_style = false;  // the classic demo's plain-text body: the body is the command
};

// DESIGN decision 4: a message with a `type` property is a typed job whose body holds JSON args; a
// message without one is a seed-style job whose type is its body text, as the Flask demo sends.
// A typed job whose body is not valid JSON keeps the raw body as a string argument.
Job JobFromDelivery(const amqp::Delivery& delivery);

}  // namespace warren::worker
