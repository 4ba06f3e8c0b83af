// Publisher against a real RabbitMQ: confirms, returns, batches, and failing fast without a broker.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <future>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "amqp/publisher.hpp"
#include "amqp/topology.hpp"
#include "support/support.hpp"
#include "support/tcp_proxy.hpp"

namespace warren::amqp {
namespace {

using testing::TestBroker;
using namespace std::chrono_literals;

PublisherOptions Options(const std::string& url, std::vector<QueueSpec> declare = {}) {
  PublisherOptions o;
  o.connection.url = url;
  o.connection.heartbeat = std::chrono::seconds(5);
  o.confirm_timeout = 5s;
  o.declare.queues = std::move(declare);
  // As after serve's start-up check: these tests do not kill the broker right after connecting.
  o.declarations_settled = true;
  return o;
}

PublishOutcome PublishAndWait(Publisher& p, OutgoingMessage m) {
  std::promise<PublishOutcome> promise;
  auto fut = promise.get_future();
  p.Publish(std::move(m), [&](PublishOutcome o) { promise.set_value(o); });
  EXPECT_EQ(fut.wait_for(10s), std::future_status::ready);
  return fut.get();
}

// Publishes to `queue` a message whose confirm's callback holds the publisher's thread for `hold`, and
// returns once it does: what is published meanwhile waits, and goes out in one turn after.
void HoldThePublishersThread(Publisher& p, const std::string& queue, std::chrono::milliseconds hold) {
  auto holding = std::make_shared<std::promise<void>>();
  auto held = holding->get_future();
  p.Publish(OutgoingMessage{"", queue, "holds the thread"}, [holding, hold](PublishOutcome) {
    holding->set_value();
    std::this_thread::sleep_for(hold);
  });
  ASSERT_EQ(held.wait_for(10s), std::future_status::ready);
}

TEST(Publisher, ConfirmedMessagesAreInTheDurableQueue) {
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.confirmed"}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", "it.publisher.confirmed"});
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "it.publisher.confirmed", "one"}), PublishOutcome::kConfirmed);
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "it.publisher.confirmed", "two"}), PublishOutcome::kConfirmed);
  EXPECT_EQ(TestBroker::Get().QueueDepth("it.publisher.confirmed"), 2);
}

TEST(Publisher, UnroutableMessagesAreReportedNotLost) {
  Publisher p(Options(TestBroker::Get().AmqpUrl()));
  ASSERT_TRUE(p.WaitReady(10s));
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "it.no.such.queue", "lost?"}), PublishOutcome::kUnroutable);
  // The channel stays usable afterwards.
  Publisher q(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.after_return"}}));
  ASSERT_TRUE(q.WaitReady(10s));
  EXPECT_EQ(PublishAndWait(q, OutgoingMessage{"", "it.no.such.queue", "x"}), PublishOutcome::kUnroutable);
  EXPECT_EQ(PublishAndWait(q, OutgoingMessage{"", "it.publisher.after_return", "y"}), PublishOutcome::kConfirmed);
}

TEST(Publisher, ConcurrentPublishesShareConfirmRounds) {
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.many"}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", "it.publisher.many"});
  constexpr int kCount = 2000;
  std::atomic<int> confirmed{0};
  std::atomic<int> done{0};
  std::promise<void> all;
  for (int i = 0; i < kCount; ++i) {
    p.Publish(OutgoingMessage{"", "it.publisher.many", std::to_string(i)}, [&](PublishOutcome o) {
      confirmed += o == PublishOutcome::kConfirmed ? 1 : 0;
      if (++done == kCount) {
        all.set_value();
      }
    });
  }
  ASSERT_EQ(all.get_future().wait_for(30s), std::future_status::ready);
  EXPECT_EQ(confirmed.load(), kCount);
  EXPECT_EQ(TestBroker::Get().QueueDepth("it.publisher.many"), kCount);
}

TEST(Publisher, BatchIsConfirmedAsOne) {
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.batch"}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", "it.publisher.batch"});
  std::vector<OutgoingMessage> batch;
  for (int i = 0; i < 100; ++i) {
    batch.push_back(OutgoingMessage{"", "it.publisher.batch", std::to_string(i)});
  }
  std::promise<PublishOutcome> promise;
  p.PublishBatch(std::move(batch), [&](PublishOutcome o) { promise.set_value(o); });
  EXPECT_EQ(promise.get_future().get(), PublishOutcome::kConfirmed);
  EXPECT_EQ(TestBroker::Get().QueueDepth("it.publisher.batch"), 100);

  // One unroutable message fails the whole batch from the caller's view.
  std::vector<OutgoingMessage> mixed{{"", "it.publisher.batch", "ok"}, {"", "it.no.such.queue", "bad"}};
  std::promise<PublishOutcome> mixed_promise;
  p.PublishBatch(std::move(mixed), [&](PublishOutcome o) { mixed_promise.set_value(o); });
  EXPECT_EQ(mixed_promise.get_future().get(), PublishOutcome::kUnroutable);
}

TEST(Publisher, WhatWasAcceptedBeforeStopIsPublishedAndConfirmed) {
  // A worker's drain submits its last outcome events and then stops the publisher: none of them may
  // come back kStopped, or their jobs would be handed back and run again.
  constexpr int kMessages = 500;
  std::atomic<int> confirmed{0};
  std::atomic<int> other{0};
  {
    Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.stop"}}));
    ASSERT_TRUE(p.WaitReady(10s));
    TestBroker::Get().Ctl({"purge_queue", "it.publisher.stop"});
    for (int i = 0; i < kMessages; ++i) {
      p.Publish(OutgoingMessage{"", "it.publisher.stop", std::to_string(i)},
                [&](PublishOutcome o) { (o == PublishOutcome::kConfirmed ? confirmed : other) += 1; });
    }
    p.Stop();
    // Accepted no more after the stop.
    EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "it.publisher.stop", "late"}), PublishOutcome::kStopped);
  }
  EXPECT_EQ(confirmed.load(), kMessages);
  EXPECT_EQ(other.load(), 0);
  EXPECT_EQ(TestBroker::Get().QueueDepth("it.publisher.stop"), kMessages);
}

// A callback that publishes again (the worker's event batcher flushes its next batch from a confirm
// callback) while Stop() begins: the answer `stopped` must come outside the publisher's lock, or the
// nested publish takes that lock a second time and the publisher, its callers and Stop() hang.
TEST(Publisher, ACallbackThatPublishesAgainWhileStoppingIsAnswered) {
  const std::string queue = "it.publisher.reentrant";
  std::promise<PublishOutcome> first;
  std::promise<PublishOutcome> nested;
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{queue}}));
  ASSERT_TRUE(p.WaitReady(10s));
  // Held, the publisher's thread has not seen the stop: the publisher still reads as ready.
  HoldThePublishersThread(p, queue, 600ms);
  std::thread stopper([&] { p.Stop(); });
  std::this_thread::sleep_for(100ms);
  EXPECT_EQ(p.State(), PublisherState::kReady) << "the window this test needs";
  auto publishing = std::async(std::launch::async, [&] {
    p.Publish(OutgoingMessage{"", queue, "after the stop"}, [&](PublishOutcome o) {
      first.set_value(o);
      p.Publish(OutgoingMessage{"", queue, "from its callback"},
                [&](PublishOutcome o2) { nested.set_value(o2); });
    });
  });
  if (publishing.wait_for(5s) != std::future_status::ready) {
    // A thread that locked a mutex it holds cannot be unwound: report and leave.
    ADD_FAILURE() << "Publish from a callback deadlocked";
    std::fflush(stdout);
    std::_Exit(1);
  }
  stopper.join();
  EXPECT_EQ(first.get_future().get(), PublishOutcome::kStopped);
  EXPECT_EQ(nested.get_future().get(), PublishOutcome::kStopped);
  EXPECT_EQ(p.State(), PublisherState::kStopped);
  TestBroker::Get().Ctl({"delete_queue", queue});
}

// A job's messages reuse its id as message_id (a worker hands back two deliveries of one job as
// copies): a basic.return must mark the publish it returns, not another one in flight with that id.
TEST(Publisher, AReturnMarksItsOwnPublishAmongOthersWithTheSameMessageId) {
  const std::string queue = "it.publisher.same_id";
  std::promise<PublishOutcome> returned;
  std::promise<PublishOutcome> routed;
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{queue}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", queue});
  // Both next publishes go out in one turn: both are in flight when the return comes.
  HoldThePublishersThread(p, queue, 300ms);
  OutgoingMessage lost{"", "it.no.such.queue", "returned"};
  lost.message_id = "job-1";
  OutgoingMessage kept{"", queue, "routed"};
  kept.message_id = "job-1";
  p.Publish(lost, [&](PublishOutcome o) { returned.set_value(o); });
  p.Publish(kept, [&](PublishOutcome o) { routed.set_value(o); });
  auto returned_outcome = returned.get_future();
  auto routed_outcome = routed.get_future();
  ASSERT_EQ(returned_outcome.wait_for(10s), std::future_status::ready);
  ASSERT_EQ(routed_outcome.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(returned_outcome.get(), PublishOutcome::kUnroutable);
  EXPECT_EQ(routed_outcome.get(), PublishOutcome::kConfirmed);
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 2);
  TestBroker::Get().Ctl({"delete_queue", queue});
}

TEST(Publisher, FailsFastWhileTheBrokerIsUnreachable) {
  const auto port = testing::FreePort();
  Publisher p(Options("amqp://guest:guest@127.0.0.1:" + std::to_string(port) + "/"));
  EXPECT_FALSE(p.WaitReady(300ms));
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "task_queue", "x"}), PublishOutcome::kUnavailable);
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
}

// A connection lost while requests wait in the publisher's queue: every caller still hears back.
TEST(Publisher, EveryPublishIsAnsweredWhenTheConnectionDropsMidStream) {
  // Declared before the publisher, whose callbacks (FailAll on its way out) write them.
  std::atomic<bool> stop{false};
  std::atomic<int> submitted{0};
  std::atomic<int> answered{0};
  std::atomic<int> unavailable{0};
  testing::TcpProxy proxy("127.0.0.1", TestBroker::Get().AmqpPort());
  QueueSpec queue{"it.publisher.dropped"};
  queue.int_args["x-max-length"] = 10'000;  // the callers publish as fast as they can
  Publisher p(Options("amqp://guest:guest@127.0.0.1:" + std::to_string(proxy.Port()) + "/", {queue}));
  ASSERT_TRUE(p.WaitReady(10s));
  std::vector<std::jthread> callers;
  for (int t = 0; t < 4; ++t) {
    callers.emplace_back([&] {
      while (!stop) {
        // Enough waiting in the queue and in flight; and no spinning on fail-fast answers meanwhile.
        if (submitted.load() - answered.load() > 2000 || p.State() != PublisherState::kReady) {
          std::this_thread::sleep_for(1ms);
          continue;
        }
        ++submitted;
        p.Publish(OutgoingMessage{"", "it.publisher.dropped", std::string(2000, 'x')},
                  [&](PublishOutcome outcome) {
                    unavailable += outcome == PublishOutcome::kUnavailable ? 1 : 0;
                    ++answered;
                  });
      }
    });
  }
  for (int drop = 0; drop < 16; ++drop) {
    if (!p.WaitReady(10s)) {
      ADD_FAILURE() << "no reconnect within 10 s after drop " << drop;
      break;
    }
    std::this_thread::sleep_for(100ms);
    proxy.DropAll();
  }
  std::this_thread::sleep_for(200ms);
  stop = true;
  callers.clear();  // joins
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (answered.load() < submitted.load() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_EQ(answered.load(), submitted.load());
  EXPECT_GT(unavailable.load(), 0);  // the drops did fail publishes in flight
  p.Stop();
  TestBroker::Get().Ctl({"delete_queue", "it.publisher.dropped"});
}

// A memory alarm makes RabbitMQ stop reading a publishing connection's socket. rabbitmq-c 0.11 sends a
// publish with no deadline, so publishing more than the socket buffers hold held the publisher's thread
// in send() for good: no callback answered, connection.blocked was never read, Stop() never returned.
// Publishes `count` messages of `bytes` each into the alarm: every one is answered (not confirmed)
// within confirm_timeout and a little, and Stop() returns promptly.
void ExpectAnsweredAndStoppedUnderAMemoryAlarm(const std::string& queue, int count, size_t bytes) {
  std::mutex mu;
  std::map<PublishOutcome, int> outcomes;
  int answered = 0;
  std::promise<void> all_answered;
  auto options = Options(TestBroker::Get().AmqpUrl(), {QueueSpec{queue}});
  options.confirm_timeout = 3s;
  Publisher p(options);
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", queue});
  struct ResetWatermark {
    ~ResetWatermark() { TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"}); }
  } reset;
  ASSERT_EQ(TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.000001"}), 0);
  std::this_thread::sleep_for(1s);  // the alarm reaches the connection, which is told once it publishes

  for (int i = 0; i < count; ++i) {
    p.Publish(OutgoingMessage{"", queue, std::string(bytes, 'x')}, [&](PublishOutcome o) {
      std::lock_guard lock(mu);
      ++outcomes[o];
      if (++answered == count) {
        all_answered.set_value();
      }
    });
  }
  EXPECT_EQ(all_answered.get_future().wait_for(options.confirm_timeout + 3s), std::future_status::ready)
      << "a publish was left unanswered";
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(outcomes[PublishOutcome::kConfirmed], 0);
  }
  std::promise<void> stopped;
  std::thread stopper([&] {
    p.Stop();
    stopped.set_value();
  });
  EXPECT_EQ(stopped.get_future().wait_for(6s), std::future_status::ready) << "Stop() hangs";
  // Lets a publisher that hangs in send() go on, so the test ends either way.
  TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"});
  stopper.join();
  TestBroker::Get().Ctl({"delete_queue", queue});
}

// The socket fills between messages: the publisher stops sending, reads connection.blocked and answers.
TEST(Publisher, AMemoryAlarmDuringABurstLargerThanTheSocketBuffersAnswersEveryPublishAndStops) {
  ExpectAnsweredAndStoppedUnderAMemoryAlarm("it.publisher.alarm_burst", 64, 1 << 20);
}

// The socket fills in the middle of one message: the send itself stalls, and the watchdog ends it.
TEST(Publisher, AMemoryAlarmDuringOneMessageLargerThanTheSocketBuffersAnswersItAndStops) {
  ExpectAnsweredAndStoppedUnderAMemoryAlarm("it.publisher.alarm_large", 1, 32 << 20);
}

TEST(CheckDeclarations, AQueueWithOtherArgumentsIsAMismatchAnUnreachableBrokerIsNot) {
  ConnectionOptions options;
  options.url = TestBroker::Get().AmqpUrl();
  const std::string queue = "it.check.declarations";
  Topology classic;
  classic.queues = {JobQueueSpec(queue, QueueType::kClassic)};
  EXPECT_TRUE(CheckDeclarations(options, classic));
  EXPECT_TRUE(CheckDeclarations(options, classic)) << "declaring alike again is fine";

  Topology priority;
  priority.queues = {JobQueueSpec(queue, QueueType::kPriority)};
  try {
    CheckDeclarations(options, priority);
    ADD_FAILURE() << "a priority declaration of a classic queue was accepted";
  } catch (const QueueMismatchError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("queue " + queue + " exists with other arguments"), std::string::npos) << what;
    EXPECT_NE(what.find("x-max-priority"), std::string::npos) << "the broker's reason: " << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << "one line: " << what;
  }
  // An optional queue is skipped, as on a node that is down.
  priority.queues[0].optional = true;
  EXPECT_TRUE(CheckDeclarations(options, priority));

  options.url = "amqp://guest:guest@127.0.0.1:" + std::to_string(testing::FreePort()) + "/";
  EXPECT_FALSE(CheckDeclarations(options, priority));
}

TEST(Publisher, WrongCredentialsNeverConnect) {
  Publisher p(Options("amqp://guest:wrong@127.0.0.1:" + std::to_string(TestBroker::Get().AmqpPort()) + "/"));
  EXPECT_FALSE(p.WaitReady(1s));
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", "task_queue", "x"}), PublishOutcome::kUnavailable);
}

// The client ports of the broker's AMQP connections: a publisher that reconnects shows a new one.
std::set<std::string> ConnectionPorts() {
  std::string out;
  TestBroker::Get().Ctl({"list_connections", "-q", "--no-table-headers", "peer_port"}, &out);
  std::istringstream lines(out);
  std::set<std::string> ports;
  for (std::string port; lines >> port;) {
    ports.insert(port);
  }
  return ports;
}

// A full queue with reject-publish nacks every publish on every channel: the publisher recycles its
// connection after a second of nothing but nacks (the cure for a channel a quorum queue's failover
// left refusing, decision 67), reports each nack as kRejected, and confirms again once there is room.
TEST(Publisher, ANackOnlyChannelIsRecycledAndPublishingResumes) {
  const std::string queue = "it.publisher.full";
  Publisher p(Options(TestBroker::Get().AmqpUrl(),
                      {QueueSpec{queue, {{"x-overflow", "reject-publish"}}, {{"x-max-length", 1}}}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", queue});
  ASSERT_EQ(PublishAndWait(p, OutgoingMessage{"", queue, "fills it"}), PublishOutcome::kConfirmed);
  const auto before = ConnectionPorts();
  ASSERT_FALSE(before.empty());

  const auto until = std::chrono::steady_clock::now() + 10s;
  bool recycled = false;
  while (!recycled && std::chrono::steady_clock::now() < until) {
    const auto outcome = PublishAndWait(p, OutgoingMessage{"", queue, "no room"});
    EXPECT_TRUE(outcome == PublishOutcome::kRejected || outcome == PublishOutcome::kUnavailable)
        << ToString(outcome);
    std::this_thread::sleep_for(100ms);
    for (const auto& port : ConnectionPorts()) {
      recycled = recycled || !before.contains(port);
    }
  }
  EXPECT_TRUE(recycled) << "the publisher kept the channel that only got nacks";

  TestBroker::Get().Ctl({"purge_queue", queue});
  ASSERT_TRUE(p.WaitReady(10s));
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", queue, "room again"}), PublishOutcome::kConfirmed);
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 1);
}

// Decision 78: a job queue declared on the fly goes on a channel of its own, so a refusal (the queue
// exists as another type) fails that request alone and leaves the publishing channel, with what is in
// flight on it, and the connection as they were. Before, the refusal closed both.
TEST(Publisher, AJobQueueThatExistsWithOtherArgumentsFailsAloneAndKeepsTheConnection) {
  const std::string clash = "it.publisher.clash";
  const std::string beside = "it.publisher.beside-clash";
  {
    ConnectionOptions raw;
    raw.url = TestBroker::Get().AmqpUrl();
    Connection c(raw);
    c.DeclareQueue(JobQueueSpec(clash, QueueType::kPriority));
  }
  Publisher p(Options(TestBroker::Get().AmqpUrl(), {QueueSpec{beside}}));
  ASSERT_TRUE(p.WaitReady(10s));
  TestBroker::Get().Ctl({"purge_queue", beside});
  const auto before = ConnectionPorts();

  std::vector<std::promise<PublishOutcome>> outcomes(3);
  std::vector<std::future<PublishOutcome>> answers;
  for (auto& outcome : outcomes) {
    answers.push_back(outcome.get_future());
  }
  OutgoingMessage refused{"", clash, "clashes"};
  refused.declare_job_queue = clash;
  p.Publish(OutgoingMessage{"", beside, "before"}, [&](PublishOutcome o) { outcomes[0].set_value(o); });
  p.Publish(refused, [&](PublishOutcome o) { outcomes[1].set_value(o); });
  p.Publish(OutgoingMessage{"", beside, "after"}, [&](PublishOutcome o) { outcomes[2].set_value(o); });
  for (auto& answer : answers) {
    ASSERT_EQ(answer.wait_for(10s), std::future_status::ready);
  }
  EXPECT_EQ(answers[0].get(), PublishOutcome::kConfirmed);
  EXPECT_EQ(answers[1].get(), PublishOutcome::kQueueRefused);
  EXPECT_EQ(answers[2].get(), PublishOutcome::kConfirmed);
  // The side channel opens again for the next declaration, refused again.
  EXPECT_EQ(PublishAndWait(p, refused), PublishOutcome::kQueueRefused);
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", beside, "last"}), PublishOutcome::kConfirmed);
  EXPECT_EQ(ConnectionPorts(), before) << "the publisher kept its connection";
  EXPECT_EQ(TestBroker::Get().QueueDepth(beside), 3);
  EXPECT_EQ(TestBroker::Get().QueueDepth(clash), 0);
  TestBroker::Get().Ctl({"delete_queue", clash});
  TestBroker::Get().Ctl({"delete_queue", beside});
}

// Decision 76: RabbitMQ writes a new queue's record to disk lazily, so a queue created moments before the
// broker dies can vanish with the messages it confirmed. A process's start-up declarations return only
// once their queues have settled; a job queue a publisher declares on the fly holds its confirms as long.
TEST(CheckDeclarations, ReturnsOnlyOnceTheQueuesItDeclaredHaveSettled) {
  const std::string queue = "it.publisher.checked";
  auto options = Options(TestBroker::Get().AmqpUrl(), {QueueSpec{queue}});
  const auto start = std::chrono::steady_clock::now();
  ASSERT_TRUE(CheckDeclarations(options.connection, options.declare));
  EXPECT_GE(std::chrono::steady_clock::now() - start, kNewQueueSettle);
  // The publisher's own declarations of them hold nothing (a hold of 30 s would outlast PublishAndWait).
  options.new_queue_settle = 30s;
  Publisher p(options);
  ASSERT_TRUE(p.WaitReady(10s));
  OutgoingMessage m{"", queue, "at once"};
  m.declare_job_queue = queue;
  EXPECT_EQ(PublishAndWait(p, m), PublishOutcome::kConfirmed);
}

TEST(Publisher, AJobQueueDeclaredOnTheFlyHoldsItsConfirmsUntilItHasSettled) {
  auto options = Options(TestBroker::Get().AmqpUrl(), {QueueSpec{"it.publisher.known"}});
  options.new_queue_settle = 1500ms;
  Publisher p(options);
  ASSERT_TRUE(p.WaitReady(10s));
  OutgoingMessage m{"", "it.publisher.on_the_fly", "held"};
  m.declare_job_queue = m.routing_key;
  const auto start = std::chrono::steady_clock::now();
  EXPECT_EQ(PublishAndWait(p, m), PublishOutcome::kConfirmed);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  // Once settled, its confirms are passed on as they come.
  const auto later = std::chrono::steady_clock::now();
  EXPECT_EQ(PublishAndWait(p, m), PublishOutcome::kConfirmed);
  EXPECT_LT(std::chrono::steady_clock::now() - later, 1500ms);
  EXPECT_EQ(TestBroker::Get().QueueDepth(m.routing_key), 2);
}

TEST(Publisher, AJobQueueDeletedUnderItIsDeclaredAgainByTheNextPublishThatNamesIt) {
  auto options = Options(TestBroker::Get().AmqpUrl());
  options.new_queue_settle = 100ms;
  Publisher p(options);
  ASSERT_TRUE(p.WaitReady(10s));
  OutgoingMessage m{"", "it.publisher.deleted", "job"};
  m.declare_job_queue = m.routing_key;
  ASSERT_EQ(PublishAndWait(p, m), PublishOutcome::kConfirmed);
  ASSERT_EQ(TestBroker::Get().Ctl({"delete_queue", m.routing_key}), 0);
  // This publish finds the queue gone: returned, so its caller hears it was not taken...
  EXPECT_EQ(PublishAndWait(p, m), PublishOutcome::kUnroutable);
  // ...and the next one declares the queue again (and binds it to warren.due), rather than every later
  // publish being returned until the connection drops.
  EXPECT_EQ(PublishAndWait(p, m), PublishOutcome::kConfirmed);
  EXPECT_EQ(TestBroker::Get().QueueDepth(m.routing_key), 1);
  std::string bindings;
  ASSERT_EQ(TestBroker::Get().Ctl({"list_bindings", "-q", "source_name", "destination_name"}, &bindings), 0);
  EXPECT_NE(bindings.find(std::string(kDueExchange) + "\tit.publisher.deleted"), std::string::npos)
      << bindings;
  ASSERT_EQ(TestBroker::Get().Ctl({"delete_queue", m.routing_key}), 0);
}

TEST(Publisher, WithoutAStartUpCheckItsFirstConnectHoldsEveryConfirmUntilItsDeclarationsSettle) {
  // serve or a worker whose broker was down at start-up: its publisher's first declarations may be the
  // ones that create the queues.
  const std::string queue = "it.publisher.unchecked";
  auto options = Options(TestBroker::Get().AmqpUrl(), {QueueSpec{queue}});
  options.declarations_settled = false;
  options.new_queue_settle = 1500ms;
  const auto start = std::chrono::steady_clock::now();
  Publisher p(options);
  ASSERT_TRUE(p.WaitReady(10s));
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", queue, "held"}), PublishOutcome::kConfirmed);
  EXPECT_GE(std::chrono::steady_clock::now() - start, 1500ms);
  const auto later = std::chrono::steady_clock::now();
  EXPECT_EQ(PublishAndWait(p, OutgoingMessage{"", queue, "at once"}), PublishOutcome::kConfirmed);
  EXPECT_LT(std::chrono::steady_clock::now() - later, 1500ms);
  EXPECT_EQ(TestBroker::Get().QueueDepth(queue), 2);
}

// Last: it kills the broker (and starts it again).
TEST(Publisher, WhatANewQueueConfirmedSurvivesTheBrokerKilledRightAfter) {
  constexpr int kQueues = 20;  // without the hold, about 1 in 8 such queues vanish here (decision 76)
  Publisher p(Options(TestBroker::Get().AmqpUrl()));
  ASSERT_TRUE(p.WaitReady(10s));
  std::vector<std::future<PublishOutcome>> confirms;
  std::vector<std::shared_ptr<std::promise<PublishOutcome>>> promises;
  for (int i = 0; i < kQueues; ++i) {
    OutgoingMessage m{"", "it.publisher.fresh." + std::to_string(i), "job"};
    m.declare_job_queue = m.routing_key;
    auto promise = std::make_shared<std::promise<PublishOutcome>>();
    confirms.push_back(promise->get_future());
    p.Publish(std::move(m), [promise](PublishOutcome o) { promise->set_value(o); });
  }
  for (auto& confirm : confirms) {
    ASSERT_EQ(confirm.wait_for(20s), std::future_status::ready);
    ASSERT_EQ(confirm.get(), PublishOutcome::kConfirmed);
  }
  p.Stop();

  TestBroker::Get().Kill();
  TestBroker::Get().Start();
  for (int i = 0; i < kQueues; ++i) {
    EXPECT_EQ(TestBroker::Get().QueueDepth("it.publisher.fresh." + std::to_string(i)), 1) << "queue " << i;
  }
}

}  // namespace
}  // namespace warren::amqp
