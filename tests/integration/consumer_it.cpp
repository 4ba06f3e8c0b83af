// Consumer against a real RabbitMQ: settlements, in particular acks coalesced into multiple acks.
#include <future>
#include <mutex>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "amqp/consumer.hpp"
#include "amqp/publisher.hpp"
#include "support/support.hpp"

namespace warren::amqp {
namespace {

using testing::TestBroker;
using namespace std::chrono_literals;

// Publishes `n` confirmed messages to `queue` (declared durable).
void Fill(const std::string& queue, int n) {
  PublisherOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.declare.queues = {QueueSpec{queue}};
  o.declarations_settled = true;  // no broker kill right after: no first-connect hold
  Publisher p(o);
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", queue});
  for (int i = 0; i < n; ++i) {
    std::promise<PublishOutcome> done;
    p.Publish(OutgoingMessage{"", queue, std::to_string(i)}, [&](PublishOutcome outcome) { done.set_value(outcome); });
    ASSERT_EQ(done.get_future().get(), PublishOutcome::kConfirmed);
  }
}

ConsumerOptions Consuming(const std::string& queue, uint16_t prefetch) {
  ConsumerOptions options;
  options.connection.url = TestBroker::Get().AmqpUrl();
  options.declare.queues = {QueueSpec{queue}};
  options.consume = {queue};
  options.prefetch = prefetch;
  return options;
}

class Collected {
 public:
  void Add(Delivery d) {
    std::lock_guard lock(mu_);
    deliveries_.push_back(std::move(d));
  }
  std::vector<Delivery> WaitFor(size_t n) {
    for (int i = 0; i < 200; ++i) {
      {
        std::lock_guard lock(mu_);
        if (deliveries_.size() >= n) {
          return deliveries_;
        }
      }
      std::this_thread::sleep_for(50ms);
    }
    std::lock_guard lock(mu_);
    return deliveries_;
  }

 private:
  std::mutex mu_;
  std::vector<Delivery> deliveries_;
};

// The consumer folds acks into one basic.ack(multiple) only up to the oldest delivery still unsettled:
// acking deliveries 1, 3 and 4 while 2 is held must leave 2 in the broker's hands, to be requeued
// later. A multiple ack that reached past it would ack it (the queue would end empty) and the later
// requeue would close the channel (unknown delivery tag).
TEST(Consumer, CoalescedAcksNeverCoverAHeldDelivery) {
  const std::string queue = "it.consumer.held";
  Fill(queue, 4);
  Collected collected;
  Consumer consumer(Consuming(queue, 10), [&](Delivery d) { collected.Add(std::move(d)); });
  const auto got = collected.WaitFor(4);
  ASSERT_EQ(got.size(), 4U);
  consumer.Settle(got[0], Settlement::kAck);
  consumer.Settle(got[2], Settlement::kAck);
  consumer.Settle(got[3], Settlement::kAck);
  std::this_thread::sleep_for(500ms);
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 1);  // the held one, unacked

  consumer.StopConsuming();
  std::this_thread::sleep_for(200ms);
  consumer.Settle(got[1], Settlement::kRequeue);
  std::this_thread::sleep_for(500ms);
  EXPECT_TRUE(consumer.Connected()) << "a settlement closed the channel";
  EXPECT_TRUE(consumer.IsLive(got[1])) << "the consumer reconnected: a settlement closed its channel";
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 1);  // requeued, ready again
}

// Acks that arrive together for every delivery so far settle all of them.
TEST(Consumer, AckedDeliveriesLeaveTheQueue) {
  const std::string queue = "it.consumer.acked";
  Fill(queue, 50);
  Collected collected;
  Consumer consumer(Consuming(queue, 100), [&](Delivery d) { collected.Add(std::move(d)); });
  const auto got = collected.WaitFor(50);
  ASSERT_EQ(got.size(), 50U);
  for (auto it = got.rbegin(); it != got.rend(); ++it) {  // newest first: only the last makes a run
    consumer.Settle(*it, Settlement::kAck);
  }
  for (int i = 0; i < 40 && TestBroker::Get().QueueDepth(queue) != 0; ++i) {
    std::this_thread::sleep_for(50ms);
  }
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 0);
  EXPECT_TRUE(consumer.IsLive(got[0]));
}

}  // namespace
}  // namespace warren::amqp
