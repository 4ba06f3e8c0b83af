// Operational routes:
//   GET /healthz       → 200 while the process serves HTTP (liveness: no dependency is checked)
//   GET /readyz        → 200 when RabbitMQ (the publisher is ready) and the store (Ping) are reachable,
//                        else 503 naming what is not
//   GET /v1/queues     → the job queues this server knows, with what RabbitMQ can say about them
//   GET /v1/job-types  → the job types POST /v1/jobs accepts (empty list and "any": true when open)
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "amqp/publisher.hpp"
#include "api/blocking_pool.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "api/worker_registry.hpp"
#include "store/store.hpp"

namespace warren::api {

// What a passive queue.declare tells: messages ready for delivery and consumers. Unacked messages and
// rates need the management HTTP API and are not reported.
struct QueueStats {
  uint64_t ready = 0;
  uint32_t consumers = 0;
  // From the management plugin when it answers (amqp::ManagementClient), else unknown.
  std::optional<uint64_t> unacked;
  std::optional<double> publish_rate;
  std::optional<double> deliver_rate;
  std::optional<double> ack_rate;
};
// Blocking (it talks to the broker): runs on the TaskRunner. nullopt when the queue does not exist or
// the broker cannot say.
using QueueStatsFn = std::function<std::optional<QueueStats>(const std::string& queue)>;

struct SystemApi {
  store::Store* store = nullptr;  // outlives the routes
  TaskRunner* tasks = nullptr;    // outlives the routes
  std::function<amqp::PublisherState()> broker_state;
  QueueStatsFn queue_stats;         // may be empty (unit tests): counts are then null
  std::vector<std::string> queues;  // the job queues to report, in order
  std::vector<std::string> job_types;
  const WorkerRegistry* workers = nullptr;  // may be null (unit tests): no workers known
  const Metrics* metrics = nullptr;         // may be null: GET /metrics then shows the gauges only
  std::function<std::string()> extra_metrics;  // more Prometheus lines (the supervisor's); may be empty
};

void AddSystemRoutes(Router& router, SystemApi api);

}  // namespace warren::api
