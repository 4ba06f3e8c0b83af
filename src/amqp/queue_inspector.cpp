#include "amqp/queue_inspector.hpp"

#include <spdlog/spdlog.h>

namespace warren::amqp {

QueueInspector::QueueInspector(ConnectionOptions options) : options_(std::move(options)) {}

QueueInspector::~QueueInspector() = default;

std::optional<QueueCounts> QueueInspector::Inspect(const std::string& queue) {
  std::lock_guard lock(mu_);
  // Two tries: a connection idle since the last call may have been closed by the broker meanwhile.
  for (int attempt = 0; attempt < 2; ++attempt) {
    try {
      if (!connection_) {
        connection_ = std::make_unique<Connection>(options_);
      }
      const auto counts = connection_->InspectQueue(queue);
      return QueueCounts{counts.first, counts.second};
    } catch (const AmqpError& e) {
      // A missing queue closes the channel (404 NOT_FOUND): the connection is not reusable either way.
      connection_.reset();
      if (std::string_view(e.what()).find("NOT_FOUND") != std::string_view::npos) {
        return std::nullopt;
      }
      if (attempt == 1) {
        spdlog::debug("queue inspector: {}: {}", queue, e.what());
      }
    }
  }
  return std::nullopt;
}

}  // namespace warren::amqp
