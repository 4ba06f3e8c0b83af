// Warren's names on the broker, and how a job travels as an AMQP message. One place, so `serve`,
// `work`, the SDK and the tests agree.
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "amqp/connection.hpp"
#include "amqp/message.hpp"
#include "core/job.hpp"
#include "core/queue_type.hpp"

namespace warren::amqp {

// The classic demo's queue: declared exactly as the demo declares it (durable, no arguments), or the
// demo's own `queue_declare(durable=True)` would fail with 406 PRECONDITION_FAILED.
inline constexpr std::string_view kDemoQueue = "task_queue";
// Lifecycle events from workers; routing key `job.<kind>.<queue>.<type>`.
inline constexpr std::string_view kEventsExchange = "warren.events";
// The recorder's queue, shared by every `serve` replica (competing consumers).
inline constexpr std::string_view kRecorderQueue = "warren.events.recorder";

// Where jobs go after their last attempt, with their error and attempt history in headers.
inline constexpr std::string_view kDeadQueue = "warren.dead";
// Commands for every running worker (cancel a job); each worker binds a private queue of its own.
inline constexpr std::string_view kControlExchange = "warren.control";

// A quorum job queue dead-letters a message delivered this many times (to warren.dead): the broker's
// guard against a job that kills every worker before the worker's own redelivery rule (an attempt
// per redelivery, docs/architecture.md decision 34) can act.
inline constexpr int64_t kQuorumDeliveryLimit = 20;

// The declaration of job queue `name` (warren.dead too). Classic: durable, no arguments. Quorum:
// `x-queue-type: quorum` with kQuorumDeliveryLimit, dead-lettering at-least-once to warren.dead
// (warren.dead itself has neither). `task_queue` is always classic with no arguments, as the demo
// declares it, or the demo's own declaration would fail with 406 PRECONDITION_FAILED.
QueueSpec JobQueueSpec(const std::string& name, QueueType type);
// Everything a job publisher or worker needs declared for `queues` (each bound to kDueExchange), plus the
// events exchange.
Topology JobTopology(const std::vector<std::string>& queues, QueueType type);
// The events exchange and the recorder queue bound to all of it (quorum: no delivery limit, since the
// recorder hands a batch back whenever the store fails).
Topology RecorderTopology(QueueType type);

// Jobs leave the delay tiers through this direct exchange, to which every job queue is bound under its
// own name. What it cannot route (the job's queue was deleted, or lost in a broker crash) goes to its
// alternate exchange, a fanout to the queue of the same name, which `serve` drains back into the job
// queues (api/unrouted_relay.hpp). The default exchange would drop such a job (decision 78).
inline constexpr std::string_view kDueExchange = "warren.due";
inline constexpr std::string_view kUnroutedQueue = "warren.unrouted";  // its exchange has the same name
// warren.due with its alternate exchange and warren.unrouted.
Topology DueTopology(QueueType type);
// Job queue `queue`'s binding to kDueExchange.
BindingSpec DueBinding(const std::string& queue);

// The delay tiers (core/retry.hpp): per tier a fanout exchange and a queue of the same name,
// `warren.wait.<ms>`, whose queue-level TTL dead-letters through kDueExchange under the message's own
// routing key, which is its job queue. A job waiting for its time travels
// tier -> job queue -> (a worker sees it is early) -> next tier, until its time has come.
// Quorum tiers dead-letter at-least-once (which needs `x-overflow: reject-publish`), so a job moving
// from a tier to its queue is not dropped in a failover. (Earlier builds named their tiers
// `warren.delay.<ms>` and dead-lettered by name through the default exchange; what those still hold
// reaches its queue as before.)
std::string DelayTierName(Duration tier);
Topology DelayTopology(QueueType type);
// Everything a job publisher or worker needs: job queues, delay tiers, the dead queue, the events
// and control exchanges.
Topology JobTopologyWithDelays(const std::vector<std::string>& queues, QueueType type);
// What `serve`'s publisher sends to: the job topology with delays, and warren.changes (its change
// feed). A publish to a missing exchange closes the channel and fails every publish in flight on it,
// so all of it is declared on connect, whichever of serve's connections comes first.
Topology ServePublisherTopology(const std::vector<std::string>& queues, QueueType type);

// Headers Warren sets on typed job messages.
inline constexpr std::string_view kAttemptHeader = "x-warren-attempt";
inline constexpr std::string_view kMaxAttemptsHeader = "x-warren-max-attempts";
inline constexpr std::string_view kTimeoutHeader = "x-warren-timeout-ms";
inline constexpr std::string_view kDeadlineHeader = "x-warren-deadline";
inline constexpr std::string_view kPriorityHeader = "x-warren-priority";
inline constexpr std::string_view kNotBeforeHeader = "x-warren-not-before";  // RFC 3339: run at/after
inline constexpr std::string_view kHistoryHeader = "x-warren-history";       // JSON: earlier attempts
inline constexpr std::string_view kStoredHeader = "x-warren-stored";         // "1": serve stores its record
// RFC 3339: when the API retried the job (EncodeRetryMessage). A cancel from before then is not for it.
inline constexpr std::string_view kRetriedAtHeader = "x-warren-retried-at";
inline constexpr std::string_view kErrorHeader = "x-warren-error";           // on warren.dead
inline constexpr std::string_view kDeadReasonHeader = "x-warren-dead-reason";

// DESIGN decision 4: metadata in properties and headers, args as the JSON body.
// message_id = job id, type = job type, content_type = application/json.
OutgoingMessage EncodeJobMessage(const JobRecord& record, int attempt = 1);

// What a worker reads back from a typed job message.
struct JobMessage {
  std::string id;
  std::string type;
  std::string queue;
  nlohmann::json args;
  int attempt = 1;
  int max_attempts = 1;
  std::optional<Duration> timeout;
  std::optional<TimePoint> deadline;
  std::optional<TimePoint> not_before;
  nlohmann::json history = nlohmann::json::array();  // earlier attempts: {attempt, worker, error, at}
  bool stored = false;  // kStoredHeader: the job's events may come before its record (decision 77)
  std::optional<TimePoint> retried_at;  // kRetriedAtHeader
};
// nullopt for seed-style messages (no `type` property).
std::optional<JobMessage> DecodeJobMessage(const Delivery& delivery);

// A copy of a delivered job message, to publish again (to its own queue by default). Headers the
// broker adds (x-delivery-count, x-death) are left out: they describe the old message.
OutgoingMessage CopyOf(const Delivery& delivery);
// Sends `message` (bound for its job queue) through the delay tiers so it arrives no earlier than
// `not_before`: through the longest tier that fits `remaining`, or straight to the queue when less
// than the shortest tier remains.
void RouteThroughDelay(OutgoingMessage& message, TimePoint not_before, Duration remaining);
// A job's first message: straight to its queue, or through the delay tiers when it runs later.
OutgoingMessage EncodeFirstMessage(const JobRecord& record, TimePoint now);
// The message of the attempt an API retry reserved (record.attempt), stamped with the retry's time
// (record.updated_at) so that workers which heard an earlier cancel of the job still run it.
OutgoingMessage EncodeRetryMessage(const JobRecord& record);

// A job cancelled by the API, and when. A worker skips or stops the job's messages, except those of a
// retry made after that time (kRetriedAtHeader): a cancelled job can be retried.
struct CancelNotice {
  std::string job_id;
  TimePoint at;
};
// {"cancel": "<job id>", "at": "<RFC 3339>"} to kControlExchange: not persistent (a worker that is
// not connected cannot hold the job anyway).
OutgoingMessage EncodeCancelMessage(const CancelNotice& cancel);
// {"cancelled": [ids], "at": [times]}: recent cancels, replayed by `serve` when a worker it did not
// know announces itself, so a worker that connected after a cancel still skips the job.
OutgoingMessage EncodeCancelReplayMessage(const std::vector<CancelNotice>& cancels);

// Worker heartbeats, every few seconds on kEventsExchange under `worker.heartbeat`: who the worker is,
// what it consumes and handles, how busy it is. Not persistent: a lost one is replaced by the next.
inline constexpr std::string_view kWorkerHeartbeatType = "warren.worker";
OutgoingMessage EncodeWorkerHeartbeat(const nlohmann::json& heartbeat);
// Job changes for the live event streams: every `serve` publishes what its recorder and its API changed
// to this fanout (one message per batch, a JSON array of {"kind", "data"}, not persistent), and every
// `serve` reads all of it, so a stream on any replica sees every job.
inline constexpr std::string_view kChangesExchange = "warren.changes";
inline constexpr std::string_view kChangesType = "warren.changes";
OutgoingMessage EncodeChangesMessage(const nlohmann::json& changes);

// A `serve`'s private queue (deleted with its connection), bound to every worker heartbeat and to
// kChangesExchange.
Topology ServeFeedTopology(const std::string& queue);

// Several events as one message: a JSON array of event bodies, routing key `job.batch`, type
// kEventBatchType. Readers of kEventsExchange accept both forms (DecodeEvents).
inline constexpr std::string_view kEventBatchType = "warren.events";
OutgoingMessage EncodeEventBatchMessage(const std::vector<std::string>& event_bodies);
// The events in a message of either form. Throws std::invalid_argument for anything else.
std::vector<JobEvent> DecodeEvents(const std::string& body);

// An event as published to kEventsExchange.
OutgoingMessage EncodeEventMessage(const JobEvent& event, const std::string& queue, const std::string& type);

}  // namespace warren::amqp
