// Declarations a connection makes on the broker. Plain data, shared by connections and messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace warren::amqp {

// A durable queue. The demo declares `task_queue` with no arguments; ours must match it exactly.
struct QueueSpec {
  std::string name;
  std::map<std::string, std::string> string_args;
  std::map<std::string, int64_t> int_args;
};

struct ExchangeSpec {
  std::string name;
  std::string type = "topic";
};

struct BindingSpec {
  std::string queue;
  std::string exchange;
  std::string routing_key;
};

// What a connection declares on every (re)connect, in this order: exchanges, queues, bindings.
struct Topology {
  std::vector<ExchangeSpec> exchanges;
  std::vector<QueueSpec> queues;
  std::vector<BindingSpec> bindings;
};

}  // namespace warren::amqp
