#include "support/worker_support.hpp"

#include <future>
#include <set>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "amqp/publisher.hpp"
#include "amqp/topology.hpp"
#include "support/support.hpp"

namespace warren::testing {

using namespace std::chrono_literals;

std::pair<int, int> QueueCounts(const std::string& queue) {
  std::string out;
  TestBroker::Get().Ctl({"list_queues", "-q", "--no-table-headers", "name", "messages_ready",
                         "messages_unacknowledged"},
                        &out);
  std::istringstream lines(out);
  std::string name;
  int ready = 0;
  int unacked = 0;
  while (lines >> name >> ready >> unacked) {
    if (name == queue) {
      return {ready, unacked};
    }
  }
  return {-1, -1};
}

// Quorum queues report their counts to rabbitmqctl with a delay of a few seconds: allow for it.
bool WaitForCounts(const std::string& queue, std::pair<int, int> want, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (QueueCounts(queue) == want) {
      return true;
    }
    std::this_thread::sleep_for(100ms);
  }
  return false;
}

EventTap::EventTap() {
  amqp::ConsumerOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.declare = amqp::RecorderTopology(QueueType::kClassic);
  o.consume = {std::string(amqp::kRecorderQueue)};
  o.prefetch = 100;
  consumer_ = std::make_unique<amqp::Consumer>(std::move(o), [this](amqp::Delivery d) {
    {
      std::lock_guard lock(mu_);
      if (d.type != amqp::kWorkerHeartbeatType) {
        ++messages_;
        for (auto& event : amqp::DecodeEvents(d.body)) {
          events_.push_back(std::move(event));
          message_of_.push_back(messages_);
        }
      }
    }
    consumer_->Settle(d, amqp::Settlement::kAck);
  });
  EXPECT_TRUE(consumer_->WaitConnected(10s));
}

std::optional<JobEvent> EventTap::WaitFor(const std::string& job_id, EventKind kind,
                                          std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    {
      std::lock_guard lock(mu_);
      for (const auto& e : events_) {
        if (e.job_id == job_id && e.kind == kind) {
          return e;
        }
      }
    }
    std::this_thread::sleep_for(20ms);
  }
  return std::nullopt;
}

std::vector<JobEvent> EventTap::EventsFor(const std::string& job_id) {
  std::lock_guard lock(mu_);
  std::vector<JobEvent> out;
  for (const auto& e : events_) {
    if (e.job_id == job_id) {
      out.push_back(e);
    }
  }
  return out;
}

size_t EventTap::MessagesFor(const std::string& job_id) {
  std::lock_guard lock(mu_);
  std::set<size_t> messages;
  for (size_t i = 0; i < events_.size(); ++i) {
    if (events_[i].job_id == job_id) {
      messages.insert(message_of_[i]);
    }
  }
  return messages.size();
}

std::vector<std::string> EventTap::JobsInOrder(EventKind kind) {
  std::lock_guard lock(mu_);
  std::vector<std::string> ids;
  for (const auto& e : events_) {
    if (e.kind == kind) {
      ids.push_back(e.job_id);
    }
  }
  return ids;
}

JobRecord TypedJob(const std::string& type, nlohmann::json args, const std::string& queue) {
  JobSpec spec;
  spec.type = type;
  spec.queue = queue;
  spec.args = std::move(args);
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  return NewJobRecord(NewJobId(now), spec, now);
}

void PublishMessage(amqp::OutgoingMessage message, const amqp::Topology& declare, QueueType queue_type) {
  amqp::PublisherOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.declare = declare;
  o.queue_type = queue_type;
  o.declarations_settled = true;  // no broker kill right after: no first-connect hold
  amqp::Publisher p(o);
  ASSERT_TRUE(p.WaitReady(10s));
  std::promise<amqp::PublishOutcome> done;
  p.Publish(std::move(message), [&](amqp::PublishOutcome r) { done.set_value(r); });
  ASSERT_EQ(done.get_future().get(), amqp::PublishOutcome::kConfirmed);
}

void PublishJob(const JobRecord& record, QueueType queue_type) {
  const auto now = std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  PublishMessage(amqp::EncodeFirstMessage(record, now), amqp::JobTopologyWithDelays({record.spec.queue}, queue_type),
                 queue_type);
}

std::vector<amqp::Delivery> TakeAll(const std::string& queue) {
  std::mutex mu;
  std::vector<amqp::Delivery> out;
  auto last = std::chrono::steady_clock::now();
  amqp::ConsumerOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.declare.queues = {amqp::JobQueueSpec(queue, QueueType::kClassic)};
  o.consume = {queue};
  o.prefetch = 100;
  std::unique_ptr<amqp::Consumer> consumer;
  consumer = std::make_unique<amqp::Consumer>(std::move(o), [&](amqp::Delivery d) {
    consumer->Settle(d, amqp::Settlement::kAck);
    std::lock_guard lock(mu);
    out.push_back(std::move(d));
    last = std::chrono::steady_clock::now();
  });
  EXPECT_TRUE(consumer->WaitConnected(10s));
  {
    std::lock_guard lock(mu);
    last = std::chrono::steady_clock::now();
  }
  for (;;) {
    std::this_thread::sleep_for(50ms);
    std::lock_guard lock(mu);
    if (std::chrono::steady_clock::now() - last > 500ms) {
      break;
    }
  }
  consumer->Stop();
  std::lock_guard lock(mu);
  return out;
}

}  // namespace warren::testing
