// Helpers for tests of workers against the real broker: queue counts, a tap on lifecycle events, typed
// jobs to publish.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "amqp/consumer.hpp"
#include "amqp/message.hpp"
#include "core/job.hpp"
#include "core/queue_type.hpp"

namespace warren::testing {

// Messages ready and unacked in `queue`, or {-1, -1} when it does not exist.
std::pair<int, int> QueueCounts(const std::string& queue);
bool WaitForCounts(const std::string& queue, std::pair<int, int> want, std::chrono::milliseconds timeout);

// Collects the lifecycle events workers publish, as the recorder would.
class EventTap {
 public:
  EventTap();
  // Waits until an event of `kind` arrived for `job_id`.
  std::optional<JobEvent> WaitFor(const std::string& job_id, EventKind kind, std::chrono::milliseconds timeout);
  std::vector<JobEvent> EventsFor(const std::string& job_id);
  // How many AMQP messages carried `job_id`'s events (a batch carries several events in one).
  size_t MessagesFor(const std::string& job_id);
  // The jobs of every event of `kind` so far, in the order the events arrived.
  std::vector<std::string> JobsInOrder(EventKind kind);

 private:
  std::mutex mu_;
  std::vector<JobEvent> events_;
  std::vector<size_t> message_of_;  // message_of_[i]: the delivery that carried events_[i]
  size_t messages_ = 0;
  std::unique_ptr<amqp::Consumer> consumer_;
};

JobRecord TypedJob(const std::string& type, nlohmann::json args, const std::string& queue);
// Publishes a job's first message (through the delay tiers when its run_at is later) and waits for
// the confirm. The queues are declared as `queue_type`, as serve and work with that setting do.
void PublishJob(const JobRecord& record, QueueType queue_type = QueueType::kClassic);
// Publishes any message and waits for the confirm; a job queue the message names is declared as
// `queue_type`.
void PublishMessage(amqp::OutgoingMessage message, const amqp::Topology& declare = {},
                    QueueType queue_type = QueueType::kClassic);
// Takes every message in `queue` (basic.get with ack), for queues such as warren.dead.
std::vector<amqp::Delivery> TakeAll(const std::string& queue);

}  // namespace warren::testing
