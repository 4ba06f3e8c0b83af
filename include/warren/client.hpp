// Warren C++ SDK: enqueue jobs over AMQP, with the same validation as POST /v1/jobs.
//
//   warren::Client client({.amqp_url = "amqp://guest:guest@127.0.0.1:5672/"});
//   std::string id = client.enqueue("resize", {{"src", "a.png"}}, {.queue = "images"});
//
// enqueue() returns once RabbitMQ has confirmed the job (it is durable then). Workers run it and report
// events as for any job, but the job store never has a record of it: the recorder applies events only
// to jobs the HTTP API created (Store::ApplyEvents ignores unknown ids), so GET /v1/jobs/{id} answers
// 404 and the dashboard does not list it. Enqueue over HTTP when the job must be visible there, or
// needs an idempotency key.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren {

struct ClientOptions {
  // One broker, or a cluster's nodes comma-separated (tried in turn).
  std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/";
  // Declare Warren's queues as quorum queues, as `amqp.queue_type = "quorum"` does: every process
  // sharing the broker must agree, or the second declaration fails.
  bool quorum_queues = false;
  // Declare job queues with message priorities, as `amqp.queue_type = "priority"` does: a queue's
  // jobs of higher `priority` run first. Not with quorum_queues (3.10's quorum queues have none).
  bool priority_queues = false;
  // How long enqueue() waits for the connection and then for RabbitMQ's confirm.
  std::chrono::milliseconds publish_timeout{5000};
};

struct EnqueueOptions {
  std::string queue = "default";
  int priority = 0;                                  // 0..9
  std::optional<int> max_attempts;                   // 1..100; empty: 3
  std::optional<std::chrono::milliseconds> timeout;  // per attempt; the stop token fires after it
  std::optional<std::chrono::system_clock::time_point> deadline;  // do not start after this
  std::optional<std::chrono::milliseconds> delay;                 // run no earlier than now + delay
  std::optional<std::chrono::system_clock::time_point> run_at;    // or no earlier than this
  std::vector<std::string> tags;
};

// RabbitMQ did not confirm the job: nothing was queued (or, after a timeout, possibly was: enqueue
// again is safe only for idempotent handlers).
class EnqueueError : public std::runtime_error {
 public:
  EnqueueError(std::string reason, const std::string& message)
      : std::runtime_error(message), reason_(std::move(reason)) {}
  // "unavailable" (not connected), "blocked" (broker alarm), "rejected" (nack), "unroutable",
  // "timeout" (no confirm in time), "stopped" or "queue refused" (its queue exists as another type).
  [[nodiscard]] const std::string& reason() const { return reason_; }

 private:
  std::string reason_;
};

class Client {
 public:
  explicit Client(ClientOptions options = {});  // connects in the background
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  // Validates like POST /v1/jobs (std::invalid_argument with a one-line message naming the field, and
  // nothing published), publishes, and returns the job id once RabbitMQ confirmed it; throws
  // EnqueueError otherwise. Thread-safe: concurrent enqueues share one connection and are confirmed
  // in batches.
  std::string enqueue(const std::string& type, const nlohmann::json& args = nullptr,
                      const EnqueueOptions& options = {});
  // Asks every running worker to cancel job `id`: a running attempt's stop token fires, and a worker
  // that later receives the job does not start it. Workers not connected now never hear of it, and the
  // store is not updated until a worker reports; prefer POST /v1/jobs/{id}/cancel when `serve` runs.
  // Throws EnqueueError when RabbitMQ did not confirm.
  void cancel(const std::string& id);

  [[nodiscard]] bool wait_connected(std::chrono::milliseconds timeout) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren
