// Every route of `warren serve` in one place, with the guard that runs before each handler: bearer-token
// auth per route (auth.hpp's table), then 415 for a body that is not JSON. serve.cpp wires the real
// publisher, store and pool; unit tests wire fakes and check the route list against the OpenAPI
// document and the auth table.
#pragma once

#include <memory>

#include "api/auth.hpp"
#include "api/event_hub.hpp"
#include "api/jobs_routes.hpp"
#include "api/scale_routes.hpp"
#include "api/router.hpp"
#include "api/system_routes.hpp"
#include "core/config.hpp"

namespace warren::api {

struct ApiDeps {
  store::Store* store = nullptr;
  TaskRunner* tasks = nullptr;
  PublishFn publish;
  PublishBatchFn publish_batch;
  std::function<amqp::PublisherState()> broker_state;
  QueueStatsFn queue_stats;  // may be empty
  const WorkerRegistry* workers = nullptr;  // may be null
  Metrics* metrics = nullptr;               // may be null
  ChangeFn on_change;                       // may be empty
  std::function<void(const std::vector<std::string>&)> published;  // may be empty (see JobsApi)
  EventHub* events = nullptr;               // GET /v1/events streams from it; may be null (no route)
  SupervisorFn supervisor;                  // empty: not under `warren up` (POST /v1/workers/scale: 409)
  ClockFn clock = SystemNow;
};

// The job queues GET /v1/queues reports: the API's default queue, the demo's, then work.queues.
std::vector<std::string> KnownQueues(const Settings& settings);

// Adds every route and sets the guard, and with `deps.metrics` the answer observer that counts every
// request by route pattern. The Authenticator is shared by the guard. Returns the jobs API's enqueue,
// for the periodic scheduler.
SubmitFn AddApiRoutes(Router& router, const Settings& settings, ApiDeps deps);

}  // namespace warren::api
