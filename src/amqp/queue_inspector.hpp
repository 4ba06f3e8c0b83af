// Asks the broker how a queue stands, with a passive queue.declare: messages ready and consumers.
// (Unacked messages and rates are only in the management HTTP API.) Thread-safe: calls share one
// connection behind a mutex, opened on first use and again after any failure.
#pragma once

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>

#include "amqp/connection.hpp"

namespace warren::amqp {

struct QueueCounts {
  uint64_t ready = 0;
  uint32_t consumers = 0;
};

class QueueInspector {
 public:
  explicit QueueInspector(ConnectionOptions options);
  ~QueueInspector();
  QueueInspector(const QueueInspector&) = delete;
  QueueInspector& operator=(const QueueInspector&) = delete;

  // nullopt when the queue does not exist or the broker cannot be reached. Blocking (bounded by the
  // connection's timeouts): call it off the I/O threads.
  std::optional<QueueCounts> Inspect(const std::string& queue);

 private:
  const ConnectionOptions options_;
  std::mutex mu_;
  std::unique_ptr<Connection> connection_;  // guarded by mu_
};

}  // namespace warren::amqp
