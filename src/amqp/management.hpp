// What only RabbitMQ's management HTTP API knows about a queue: unacknowledged messages and rates.
// Optional: when the plugin is off or unreachable, the answers are nullopt and Warren reports null.
// A failed call is not retried for a while, so GET /v1/queues never waits on a dead port each time.
#pragma once

#include <chrono>
#include <mutex>
#include <optional>
#include <string>

namespace warren::amqp {

struct ManagementOptions {
  std::string host = "127.0.0.1";
  unsigned short port = 15672;  // 0: off
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  std::chrono::milliseconds timeout{1000};
  std::chrono::milliseconds retry_after_failure{30'000};
};

struct ManagementQueueStats {
  std::optional<uint64_t> unacked;
  std::optional<double> publish_rate;  // messages/s, as the plugin averages them
  std::optional<double> deliver_rate;
  std::optional<double> ack_rate;
  std::optional<int64_t> head_timestamp;  // seconds since 1970 of the oldest waiting message, when known
};

class ManagementClient {
 public:
  explicit ManagementClient(ManagementOptions options) : options_(std::move(options)) {}
  // Blocking (bounded by the timeout); thread-safe.
  std::optional<ManagementQueueStats> Queue(const std::string& name);

 private:
  // {status, body}; nullopt when the server could not be reached or answered garbage.
  std::optional<std::pair<int, std::string>> Get(const std::string& path);

  const ManagementOptions options_;
  std::mutex mu_;
  std::chrono::steady_clock::time_point quiet_until_{};  // guarded by mu_: after a failure
};

// Base64 of `text` (HTTP Basic credentials).
std::string Base64(const std::string& text);

}  // namespace warren::amqp
