#include "amqp/topology.hpp"

#include <charconv>

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

}  // namespace

QueueSpec JobQueueSpec(const std::string& name) {
  // Plain durable (classic) queues for now, like the demo's. Quorum queues are the aim (replication,
  // delivery counting for poison jobs), but a fresh quorum queue's queue.declare was seen to hang after
  // the single managed broker was SIGKILLed and restarted; see docs/architecture.md.
  return QueueSpec{name, {}, {}};
}

Topology JobTopology(const std::vector<std::string>& queues) {
  Topology t;
  t.exchanges.push_back(ExchangeSpec{std::string(kEventsExchange), "topic"});
  for (const auto& q : queues) {
    t.queues.push_back(JobQueueSpec(q));
  }
  return t;
}

Topology RecorderTopology() {
  Topology t;
  t.exchanges.push_back(ExchangeSpec{std::string(kEventsExchange), "topic"});
  t.queues.push_back(JobQueueSpec(std::string(kRecorderQueue)));
  t.bindings.push_back(BindingSpec{std::string(kRecorderQueue), std::string(kEventsExchange), "#"});
  return t;
}

OutgoingMessage EncodeJobMessage(const JobRecord& record, int attempt) {
  OutgoingMessage m;
  m.exchange = "";
  m.routing_key = record.spec.queue;
  m.declare_queue = JobQueueSpec(record.spec.queue);
  m.body = record.spec.args.dump();
  m.content_type = "application/json";
  m.message_id = record.id;
  m.type = record.spec.type;
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
    j.timeout = Duration(*ms);
  }
  if (auto it = delivery.headers.find(std::string(kDeadlineHeader)); it != delivery.headers.end()) {
    j.deadline = ParseTime(it->second);
  }
  return j;
}

OutgoingMessage EncodeEventMessage(const JobEvent& event, const std::string& queue, const std::string& type) {
  OutgoingMessage m;
  m.exchange = std::string(kEventsExchange);
  m.routing_key = "job." + std::string(ToString(event.kind)) + "." + queue + "." + type;
  m.body = ToJson(event).dump();
  m.content_type = "application/json";
  m.type = "warren.event";
  return m;
}

}  // namespace warren::amqp
