// The jobs API, /v1/jobs:
//   POST   /v1/jobs              → 202 + the job once RabbitMQ confirmed it (a job for later goes through
//                                  the broker's delay tiers); a known idempotency key → 200 + the
//                                  existing job, never a second one, also under concurrent requests
//   POST   /v1/jobs/batch        → up to max_batch jobs, all-or-nothing, one confirm round
//   GET    /v1/jobs/{id}         → the job (read-your-writes: found as soon as its POST returned)
//   GET    /v1/jobs?state=&type=&queue=&limit=&cursor= → newest first, keyset pages
//   POST   /v1/jobs/{id}/cancel  → queued/scheduled/failed: cancelled (200); running: cancel requested
//                                  (202); terminal: 409
//   POST   /v1/jobs/{id}/retry   → from dead, failed, cancelled, expired: a new attempt, republished (202)
//   DELETE /v1/jobs/{id}         → terminal jobs only (200), 409 otherwise
//
// Handlers validate on the io thread (cheap, pure), then run every store call on the TaskRunner and
// answer through the Responder; publishes go to the publisher, whose callback answers (or posts the
// undo of a failed enqueue back to the TaskRunner: never a store call on the publisher's thread).
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "amqp/message.hpp"
#include "amqp/publisher.hpp"
#include "api/blocking_pool.hpp"
#include "api/demo_routes.hpp"
#include "api/http.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "core/command_config.hpp"
#include "core/job.hpp"
#include "store/store.hpp"

namespace warren::api {

// amqp::Publisher::PublishBatch in production, a fake in unit tests. Must not block.
using PublishBatchFn = std::function<void(std::vector<amqp::OutgoingMessage>, amqp::PublishCallback)>;
using ClockFn = std::function<TimePoint()>;

// Told of every change the API makes to a job, after it is durable: "enqueued" (after the confirm),
// "cancelled", "retried" (after the confirm), "deleted". Feeds the live event stream. Must not block.
using ChangeFn = std::function<void(std::string_view kind, const JobRecord& record)>;

struct JobsApi {
  store::Store* store = nullptr;  // outlives the routes
  TaskRunner* tasks = nullptr;    // outlives the routes
  PublishFn publish;
  PublishBatchFn publish_batch;
  ClockFn clock = SystemNow;
  JobLimits limits;
  size_t max_batch = 1000;
  std::vector<std::string> job_types;  // non-empty: POST rejects other types with 422
  // Per-type defaults from the config's [jobs.<type>] (command jobs), for requests that leave them out.
  std::map<std::string, CommandJob> type_defaults;
  Metrics* metrics = nullptr;  // may be null (unit tests)
  ChangeFn on_change;          // may be empty
  // Told the ids of new jobs RabbitMQ confirmed, to take them out of the store's publish outbox
  // (api/outbox.hpp). Must not block. May be empty: they are then swept and published again.
  std::function<void(const std::vector<std::string>& ids)> published;
};

// Enqueues a validated job as POST /v1/jobs does (store, then RabbitMQ; idempotency keys honoured),
// for callers inside serve such as the periodic scheduler. `respond` gets what the client would.
using SubmitFn = std::function<void(JobSpec, const Responder&)>;

SubmitFn AddJobsRoutes(Router& router, JobsApi api);

// The 503 for a job the publisher could not hand to RabbitMQ: the same codes as /add-job
// (AddJobResponse), with a message that names the queue when nothing routes to it.
Response PublishFailureResponse(amqp::PublishOutcome outcome, std::string_view queue);
// 503 store_unavailable + Retry-After: the store failed (I/O, lost connection); nothing was changed
// that the client must know about.
Response StoreFailureResponse();
// 503 overloaded + Retry-After: too many store calls wait already.
Response BusyResponse();

}  // namespace warren::api
