#include "amqp/topology.hpp"

#include <algorithm>
#include <charconv>

#include "core/retry.hpp"

namespace warren::amqp {
namespace {

template <typename Int>
std::optional<Int> HeaderInt(const Delivery& d, std::string_view name) {
  auto it = d.headers.find(std::string(name));
  if (it == d.headers.end()) {
    return std::nullopt;
  }
  Int value{};
  const auto& text = it->second;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    return std::nullopt;
  }
  return value;
}

// A durable quorum queue; at-least-once dead-lettering when `dead_letter` (it requires reject-publish).
QueueSpec QuorumSpec(const std::string& name, bool dead_letter) {
  QueueSpec spec{name, {{"x-queue-type", "quorum"}}, {}};
  if (dead_letter) {
    spec.string_args["x-dead-letter-strategy"] = "at-least-once";
    spec.string_args["x-overflow"] = "reject-publish";
  }
  return spec;
}

}  // namespace

QueueSpec JobQueueSpec(const std::string& name, QueueType type) {
  // Classic is the default: on a single node a fresh quorum queue's queue.declare was seen to hang
  // after the broker was SIGKILLed and restarted (docs/architecture.md decisions 22 and 63).
  if (type == QueueType::kClassic || name == kDemoQueue) {
    return QueueSpec{name, {}, {}};
  }
  if (type == QueueType::kPriority) {
    // warren.dead keeps arrival order: it is read by people and by retry-dead, not by workers.
    QueueSpec spec{name, {}, {}};
    if (name != kDeadQueue) {
      spec.int_args["x-max-priority"] = kJobPriorityLevels;
    }
    return spec;
  }
  if (name == kDeadQueue) {
    return QuorumSpec(name, false);
  }
  QueueSpec spec = QuorumSpec(name, true);
  spec.string_args["x-dead-letter-exchange"] = "";
  spec.string_args["x-dead-letter-routing-key"] = std::string(kDeadQueue);
  spec.int_args["x-delivery-limit"] = kQuorumDeliveryLimit;
  return spec;
}

Topology DueTopology(QueueType type) {
  Topology t;
  const std::string unrouted(kUnroutedQueue);
  t.exchanges.push_back(ExchangeSpec{unrouted, "fanout"});
  t.exchanges.push_back(ExchangeSpec{std::string(kDueExchange), "direct", unrouted});
  t.queues.push_back(type == QueueType::kQuorum ? QuorumSpec(unrouted, false) : QueueSpec{unrouted, {}, {}});
  t.bindings.push_back(BindingSpec{unrouted, unrouted, ""});
  return t;
}

BindingSpec DueBinding(const std::string& queue) {
  return BindingSpec{queue, std::string(kDueExchange), queue};
}

Topology JobTopology(const std::vector<std::string>& queues, QueueType type) {
  Topology t = DueTopology(type);
  t.exchanges.push_back(ExchangeSpec{std::string(kEventsExchange), "topic"});
  for (const auto& q : queues) {
    t.queues.push_back(JobQueueSpec(q, type));
    t.bindings.push_back(DueBinding(q));
  }
  return t;
}

std::string DelayTierName(Duration tier) { return "warren.wait." + std::to_string(tier.count()); }

Topology DelayTopology(QueueType type) {
  Topology t;
  for (const Duration tier : DelayTiers()) {
    const std::string name = DelayTierName(tier);
    t.exchanges.push_back(ExchangeSpec{name, "fanout"});
    // With no x-dead-letter-routing-key the message keeps its routing key: the job queue it was
    // published for, bound to warren.due under its name.
    QueueSpec spec = type == QueueType::kQuorum ? QuorumSpec(name, true) : QueueSpec{name, {}, {}};
    spec.string_args["x-dead-letter-exchange"] = std::string(kDueExchange);
    spec.int_args["x-message-ttl"] = tier.count();
    t.queues.push_back(std::move(spec));
    t.bindings.push_back(BindingSpec{name, name, ""});
  }
  return t;
}

Topology JobTopologyWithDelays(const std::vector<std::string>& queues, QueueType type) {
  Topology t = JobTopology(queues, type);
  t.exchanges.push_back(ExchangeSpec{std::string(kControlExchange), "fanout"});
  t.queues.push_back(JobQueueSpec(std::string(kDeadQueue), type));
  Append(t, DelayTopology(type));
  return t;
}

Topology ServePublisherTopology(const std::vector<std::string>& queues, QueueType type) {
  Topology t = JobTopologyWithDelays(queues, type);
  t.exchanges.push_back(ExchangeSpec{std::string(kChangesExchange), "fanout"});
  return t;
}

Topology RecorderTopology(QueueType type) {
  Topology t;
  t.exchanges.push_back(ExchangeSpec{std::string(kEventsExchange), "topic"});
  t.queues.push_back(type == QueueType::kQuorum ? QuorumSpec(std::string(kRecorderQueue), false)
                                                : QueueSpec{std::string(kRecorderQueue), {}, {}});
  t.bindings.push_back(BindingSpec{std::string(kRecorderQueue), std::string(kEventsExchange), "#"});
  return t;
}

OutgoingMessage EncodeJobMessage(const JobRecord& record, int attempt) {
  OutgoingMessage m;
  m.exchange = "";
  m.routing_key = record.spec.queue;
  m.declare_job_queue = record.spec.queue;
  m.body = DumpJson(record.spec.args);
  m.content_type = "application/json";
  m.message_id = record.id;
  m.type = record.spec.type;
  m.priority = static_cast<uint8_t>(std::clamp(record.spec.priority, 0, 255));
  m.timestamp = std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
  m.headers[std::string(kAttemptHeader)] = std::to_string(attempt);
  m.headers[std::string(kMaxAttemptsHeader)] = std::to_string(record.spec.max_attempts);
  m.headers[std::string(kPriorityHeader)] = std::to_string(record.spec.priority);
  if (record.spec.timeout) {
    m.headers[std::string(kTimeoutHeader)] = std::to_string(record.spec.timeout->count());
  }
  if (record.spec.deadline) {
    m.headers[std::string(kDeadlineHeader)] = FormatTime(*record.spec.deadline);
  }
  return m;
}

std::optional<JobMessage> DecodeJobMessage(const Delivery& delivery) {
  if (delivery.type.empty()) {
    return std::nullopt;
  }
  JobMessage j;
  j.id = delivery.message_id;
  j.type = delivery.type;
  j.queue = delivery.queue;
  j.args = nlohmann::json::parse(delivery.body, nullptr, /*allow_exceptions=*/false);
  if (j.args.is_discarded()) {
    j.args = delivery.body;  // a non-JSON body from a foreign producer stays readable as a string
  }
  j.attempt = std::max(1, HeaderInt<int>(delivery, kAttemptHeader).value_or(1));
  j.max_attempts = std::max(1, HeaderInt<int>(delivery, kMaxAttemptsHeader).value_or(1));
  if (auto ms = HeaderInt<int64_t>(delivery, kTimeoutHeader); ms && *ms > 0) {
    // A foreign producer's huge timeout would overflow the deadline the worker computes from it.
    j.timeout = std::min(Duration(*ms), kMaxDuration);
  }
  if (auto it = delivery.headers.find(std::string(kDeadlineHeader)); it != delivery.headers.end()) {
    j.deadline = ParseTime(it->second);
  }
  if (auto it = delivery.headers.find(std::string(kNotBeforeHeader)); it != delivery.headers.end()) {
    j.not_before = ParseTime(it->second);
  }
  if (auto it = delivery.headers.find(std::string(kStoredHeader)); it != delivery.headers.end()) {
    j.stored = it->second == "1";
  }
  if (auto it = delivery.headers.find(std::string(kRetriedAtHeader)); it != delivery.headers.end()) {
    j.retried_at = ParseTime(it->second);
  }
  if (auto it = delivery.headers.find(std::string(kHistoryHeader)); it != delivery.headers.end()) {
    auto history = nlohmann::json::parse(it->second, nullptr, /*allow_exceptions=*/false);
    if (history.is_array()) {
      j.history = std::move(history);
    }
  }
  return j;
}

OutgoingMessage CopyOf(const Delivery& delivery) {
  OutgoingMessage m;
  m.exchange = "";
  m.routing_key = delivery.queue;
  m.declare_job_queue = delivery.queue;
  m.body = delivery.body;
  m.content_type = delivery.content_type;
  m.message_id = delivery.message_id;
  m.type = delivery.type;
  m.priority = delivery.priority;
  m.timestamp = delivery.timestamp;  // when it became ready to run: the autoscaler times the wait from it
  m.headers = delivery.headers;
  m.headers.erase("x-delivery-count");
  m.headers.erase("x-death");
  m.headers.erase("x-first-death-exchange");
  m.headers.erase("x-first-death-queue");
  m.headers.erase("x-first-death-reason");
  return m;
}

void RouteThroughDelay(OutgoingMessage& message, TimePoint not_before, Duration remaining) {
  message.headers[std::string(kNotBeforeHeader)] = FormatTime(not_before);
  // It waits for a worker from its time on, not from when it entered the delay tiers.
  message.timestamp = std::chrono::duration_cast<std::chrono::seconds>(not_before.time_since_epoch()).count();
  const Duration tier = PickDelayTier(remaining);
  if (tier > Duration::zero()) {
    message.exchange = DelayTierName(tier);  // fanout: the routing key (the job queue) rides along
  }
}

OutgoingMessage EncodeFirstMessage(const JobRecord& record, TimePoint now) {
  auto message = EncodeJobMessage(record, 1);
  if (record.spec.run_at && *record.spec.run_at > now) {
    RouteThroughDelay(message, *record.spec.run_at, *record.spec.run_at - now);
  }
  return message;
}

OutgoingMessage EncodeRetryMessage(const JobRecord& record) {
  auto message = EncodeJobMessage(record, record.attempt);
  message.headers[std::string(kRetriedAtHeader)] = FormatTime(record.updated_at);
  return message;
}

OutgoingMessage EncodeCancelMessage(const CancelNotice& cancel) {
  OutgoingMessage m;
  m.exchange = std::string(kControlExchange);
  m.body = DumpJson(nlohmann::json{{"cancel", cancel.job_id}, {"at", FormatTime(cancel.at)}});
  m.content_type = "application/json";
  m.type = "warren.control";
  m.persistent = false;
  return m;
}

OutgoingMessage EncodeCancelReplayMessage(const std::vector<CancelNotice>& cancels) {
  OutgoingMessage m = EncodeCancelMessage({});
  auto ids = nlohmann::json::array();
  auto times = nlohmann::json::array();
  for (const auto& cancel : cancels) {
    ids.push_back(cancel.job_id);
    times.push_back(FormatTime(cancel.at));
  }
  m.body = DumpJson(nlohmann::json{{"cancelled", std::move(ids)}, {"at", std::move(times)}});
  return m;
}

OutgoingMessage EncodeEventBatchMessage(const std::vector<std::string>& event_bodies) {
  OutgoingMessage m;
  m.exchange = std::string(kEventsExchange);
  m.routing_key = "job.batch";
  m.body.reserve(2 + event_bodies.size() * 200);
  m.body += '[';
  for (size_t i = 0; i < event_bodies.size(); ++i) {
    if (i > 0) {
      m.body += ',';
    }
    m.body += event_bodies[i];
  }
  m.body += ']';
  m.content_type = "application/json";
  m.type = std::string(kEventBatchType);
  return m;
}

std::vector<JobEvent> DecodeEvents(const std::string& body) {
  const auto json = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (json.is_discarded()) {
    throw std::invalid_argument("not JSON");
  }
  std::vector<JobEvent> events;
  if (json.is_array()) {
    events.reserve(json.size());
    for (const auto& e : json) {
      events.push_back(JobEventFromJson(e));
    }
  } else {
    events.push_back(JobEventFromJson(json));
  }
  return events;
}

OutgoingMessage EncodeWorkerHeartbeat(const nlohmann::json& heartbeat) {
  OutgoingMessage m;
  m.exchange = std::string(kEventsExchange);
  m.routing_key = "worker.heartbeat";
  m.body = DumpJson(heartbeat);
  m.content_type = "application/json";
  m.type = std::string(kWorkerHeartbeatType);
  m.persistent = false;
  return m;
}

OutgoingMessage EncodeChangesMessage(const nlohmann::json& changes) {
  OutgoingMessage m;
  m.exchange = std::string(kChangesExchange);
  m.body = DumpJson(changes);
  m.content_type = "application/json";
  m.type = std::string(kChangesType);
  m.persistent = false;
  return m;
}

Topology ServeFeedTopology(const std::string& queue) {
  Topology t;
  t.exchanges.push_back(ExchangeSpec{std::string(kEventsExchange), "topic"});
  t.exchanges.push_back(ExchangeSpec{std::string(kChangesExchange), "fanout"});
  QueueSpec spec{queue, {}, {}};
  spec.durable = false;
  spec.exclusive = true;
  spec.auto_delete = true;
  t.queues.push_back(spec);
  t.bindings.push_back(BindingSpec{queue, std::string(kEventsExchange), "worker.#"});
  t.bindings.push_back(BindingSpec{queue, std::string(kChangesExchange), ""});
  return t;
}

OutgoingMessage EncodeEventMessage(const JobEvent& event, const std::string& queue, const std::string& type) {
  OutgoingMessage m;
  m.exchange = std::string(kEventsExchange);
  m.routing_key = "job." + std::string(ToString(event.kind)) + "." + queue + "." + type;
  m.body = DumpJson(ToJson(event));
  m.content_type = "application/json";
  m.type = "warren.event";
  return m;
}

}  // namespace warren::amqp
