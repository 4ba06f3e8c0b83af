// Declarations a connection makes on the broker. Plain data, shared by connections and messages.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace warren::amqp {

// A queue, durable unless said otherwise. The demo declares `task_queue` durable with no arguments;
// ours must match it exactly.
struct QueueSpec {
  std::string name;
  std::map<std::string, std::string> string_args;
  std::map<std::string, int64_t> int_args;
  bool durable = true;
  bool exclusive = false;    // private to the declaring connection, deleted with it
  bool auto_delete = false;
  // On (re)connect, a declaration the broker refuses is skipped with a warning instead of failing the
  // connection: in a cluster a classic queue whose node is down answers 404, and the demo's
  // task_queue must not stop `serve` from publishing every other job (docs/architecture.md 63).
  bool optional = false;
};

struct ExchangeSpec {
  std::string name;
  std::string type = "topic";
  // Where the broker sends a message this exchange cannot route (`alternate-exchange`); empty: none.
  std::string alternate_exchange;
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

// Appends `more`'s declarations to `into`, keeping their order.
inline void Append(Topology& into, const Topology& more) {
  into.exchanges.insert(into.exchanges.end(), more.exchanges.begin(), more.exchanges.end());
  into.queues.insert(into.queues.end(), more.queues.begin(), more.queues.end());
  into.bindings.insert(into.bindings.end(), more.bindings.begin(), more.bindings.end());
}

}  // namespace warren::amqp
