// Queue priorities for a worker that consumes several queues: a queue is consumed only while every
// queue of a higher priority has no ready messages. RabbitMQ hands a channel's deliveries out round
// robin over its subscriptions, so the worker steers it by pausing (basic.cancel) and resuming
// (basic.consume) the lower queues' subscriptions, from the ready counts a passive queue.declare
// gives, polled every `interval`.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "amqp/connection.hpp"
#include "amqp/consumer.hpp"

namespace warren::worker {

// How many messages of a queue are ready; nullopt when the broker cannot say.
using ReadyCount = std::function<std::optional<uint64_t>(const std::string& queue)>;

// The queues of `queues` to leave unconsumed now. Priorities default to 0; higher goes first; queues
// of one priority share. The queues of the highest priority are always consumed; each lower
// priority's only while every queue of every higher priority has no ready message. nullopt when a
// count that decides it is unknown (keep what holds). Asks `ready` only for the queues it needs.
std::optional<std::set<std::string>> PausedQueues(const std::vector<std::string>& queues,
                                                  const std::map<std::string, int>& priorities,
                                                  const ReadyCount& ready);

// Whether `priorities` set more than one priority among `queues` (else no gate is needed).
bool HasPriorityLevels(const std::vector<std::string>& queues, const std::map<std::string, int>& priorities);

class QueueGate {
 public:
  // Polls on a connection of its own and tells `consumer` which queues to pause. The consumer should
  // start with InitialPaused(): the lower queues wait for the first poll.
  QueueGate(amqp::ConnectionOptions connection, std::vector<std::string> queues,
            std::map<std::string, int> priorities, amqp::Consumer& consumer,
            std::chrono::milliseconds interval = std::chrono::milliseconds(200));
  ~QueueGate();
  QueueGate(const QueueGate&) = delete;
  QueueGate& operator=(const QueueGate&) = delete;

  // Every queue below the highest priority: what holds before anything is known.
  static std::vector<std::string> InitialPaused(const std::vector<std::string>& queues,
                                                const std::map<std::string, int>& priorities);

 private:
  void Loop(const std::stop_token& stop);

  const amqp::ConnectionOptions connection_;
  const std::vector<std::string> queues_;
  const std::map<std::string, int> priorities_;
  amqp::Consumer& consumer_;
  const std::chrono::milliseconds interval_;
  std::jthread thread_;  // last: starts once the members above exist
};

}  // namespace warren::worker
