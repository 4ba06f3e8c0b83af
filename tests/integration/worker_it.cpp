// The worker against a real RabbitMQ: demo jobs, graceful drain, heartbeats during long jobs.
#include <csignal>
#include <future>
#include <sstream>

#include <gtest/gtest.h>

#include "amqp/publisher.hpp"
#include "amqp/topology.hpp"
#include "core/job.hpp"
#include "support/support.hpp"
#include "support/worker_support.hpp"
#include "worker/demo_handlers.hpp"
#include "worker/worker.hpp"

namespace warren::worker {
namespace {

using testing::TestBroker;
using testing::EventTap;
using testing::PublishJob;
using testing::QueueCounts;
using testing::TypedJob;
using testing::WaitForCounts;
using namespace std::chrono_literals;

void Publish(const std::string& queue, const std::string& body) {
  amqp::PublisherOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.declare.queues = {amqp::JobQueueSpec(queue, QueueType::kClassic)};
  o.declarations_settled = true;  // no broker kill right after: no first-connect hold
  amqp::Publisher p(o);
  ASSERT_TRUE(p.WaitReady(10s));
  std::promise<amqp::PublishOutcome> done;
  p.Publish(amqp::OutgoingMessage{"", queue, body}, [&](amqp::PublishOutcome r) { done.set_value(r); });
  ASSERT_EQ(done.get_future().get(), amqp::PublishOutcome::kConfirmed);
}

WorkerOptions Options(const std::string& queue, int concurrency = 1) {
  WorkerOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.connection.heartbeat = std::chrono::seconds(1);  // short, so a missed heartbeat would show
  o.queues = {queue};
  o.concurrency = concurrency;
  o.queues_checked = true;  // as after Worker::CheckQueues: no first-connect hold
  return o;
}

// A handler that blocks until released, counting how often it ran.
struct Gate {
  std::atomic<int> started{0};
  std::promise<void> release;
  std::shared_future<void> released{release.get_future().share()};
};

TEST(WorkerProcess, RunsDemoJobsLikeTheClassicWorker) {
  TestBroker::Get().Ctl({"purge_queue", "task_queue"});
  testing::Process work({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl()});
  ASSERT_TRUE(work.WaitForOutput("consumer connected", 15s)) << work.Output();
  Publish("task_queue", "hey");
  Publish("task_queue", "hello");
  Publish("task_queue", "dance");
  ASSERT_TRUE(work.WaitForOutput("sorry i did not understand dance", 10s)) << work.Output();
  const std::string out = work.Output();
  EXPECT_NE(out.find(" [x] Received hey\nhey there\n [x] Done"), std::string::npos) << out;
  EXPECT_NE(out.find(" [x] Received hello\nwell hello there\n [x] Done"), std::string::npos) << out;
  EXPECT_TRUE(WaitForCounts("task_queue", {0, 0}, 5s));

  work.Signal(SIGTERM);
  EXPECT_EQ(work.Wait(10s), 0) << work.Output();
}

TEST(WorkerProcess, BadSettingsFailAtStartWithOneLine) {
  testing::Process work({testing::WarrenBinary(), "work", "--concurrency", "0"});
  EXPECT_EQ(work.Wait(10s), 2);
  EXPECT_NE(work.Output().find("work.concurrency (from --concurrency)"), std::string::npos) << work.Output();
}

TEST(Worker, DrainFinishesTheJobInHandAndAcksIt) {
  const std::string queue = "it.worker.drain";
  Publish(queue, "prime");  // declares the queue
  TestBroker::Get().Ctl({"purge_queue", queue});
  Gate gate;
  HandlerRegistry registry;
  registry.SetSeedFallback([&](JobContext&) {
    ++gate.started;
    gate.released.wait();
    return HandlerResult{};
  });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  Publish(queue, "slow");
  while (gate.started == 0) {
    std::this_thread::sleep_for(10ms);
  }
  auto drained = std::async(std::launch::async, [&] { return worker.Drain(20s); });
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(drained.wait_for(0ms), std::future_status::timeout) << "drain must wait for the running job";
  gate.release.set_value();
  EXPECT_TRUE(drained.get());
  EXPECT_EQ(gate.started.load(), 1);
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 15s)) << "the finished job is acked, not handed back";
}

TEST(Worker, DrainHandsBackJobsStillRunningAfterTheGrace) {
  const std::string queue = "it.worker.grace";
  Publish(queue, "prime");
  TestBroker::Get().Ctl({"purge_queue", queue});
  Gate gate;
  HandlerRegistry registry;
  registry.SetSeedFallback([&](JobContext&) {
    ++gate.started;
    gate.released.wait();
    return HandlerResult{};
  });
  {
    Worker worker(Options(queue), registry);
    ASSERT_TRUE(worker.WaitConnected(10s));
    Publish(queue, "stuck");
    while (gate.started == 0) {
      std::this_thread::sleep_for(10ms);
    }
    EXPECT_FALSE(worker.Drain(200ms));
    EXPECT_TRUE(WaitForCounts(queue, {1, 0}, 15s)) << "the unfinished job is back in the queue";
    gate.release.set_value();  // lets the executor thread finish so the worker can be destroyed
  }
}

TEST(Worker, HeartbeatsFlowWhileAJobRunsLongerThanTheirTimeout) {
  const std::string queue = "it.worker.heartbeat";
  Publish(queue, "prime");
  TestBroker::Get().Ctl({"purge_queue", queue});
  std::atomic<int> runs{0};
  std::atomic<bool> finished{false};
  HandlerRegistry registry;
  registry.SetSeedFallback([&](JobContext&) {
    ++runs;
    std::this_thread::sleep_for(4s);  // four heartbeat intervals: the broker would drop a silent connection
    finished = true;
    return HandlerResult{};
  });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  Publish(queue, "long");
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  while (!finished && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(finished);
  std::this_thread::sleep_for(500ms);  // time for a redelivery to show, had the connection dropped
  EXPECT_TRUE(worker.Drain(5s));
  EXPECT_EQ(runs.load(), 1) << "a dropped connection would have redelivered the job";
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 15s)) << "acked on the connection that received it";
}

TEST(Worker, PrefetchEqualsConcurrency) {
  const std::string queue = "it.worker.prefetch";
  Publish(queue, "prime");
  TestBroker::Get().Ctl({"purge_queue", queue});
  Gate gate;
  HandlerRegistry registry;
  registry.SetSeedFallback([&](JobContext&) {
    ++gate.started;
    gate.released.wait();
    return HandlerResult{};
  });
  Worker worker(Options(queue, 2), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  for (int i = 0; i < 5; ++i) {
    Publish(queue, "job");
  }
  EXPECT_TRUE(WaitForCounts(queue, {3, 2}, 15s)) << "two running, three left for other workers";
  EXPECT_EQ(gate.started.load(), 2);
  gate.release.set_value();
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 15s));
  EXPECT_EQ(gate.started.load(), 5);
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerProcess, TypedJobsReportStartedAndTheirOutcome) {
  const std::string queue = "it.worker.typed";
  EventTap tap;
  testing::Process work({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(), "--queue", queue});
  ASSERT_TRUE(work.WaitForOutput("consumer connected", 15s)) << work.Output();

  const auto echo = TypedJob("warren.echo", {{"answer", 42}}, queue);
  const auto failing = TypedJob("warren.fail", {{"error", "disk full"}}, queue);
  const auto unknown = TypedJob("no.such.type", nullptr, queue);
  PublishJob(echo);
  PublishJob(failing);
  PublishJob(unknown);

  ASSERT_TRUE(tap.WaitFor(echo.id, EventKind::kStarted, 10s));
  auto succeeded = tap.WaitFor(echo.id, EventKind::kSucceeded, 10s);
  ASSERT_TRUE(succeeded);
  EXPECT_EQ(succeeded->result, (nlohmann::json{{"answer", 42}}));
  EXPECT_EQ(succeeded->attempt, 1);
  EXPECT_FALSE(succeeded->worker.empty());

  auto failed = tap.WaitFor(failing.id, EventKind::kDead, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->error, "disk full");

  auto dead = tap.WaitFor(unknown.id, EventKind::kDead, 10s);
  ASSERT_TRUE(dead);
  EXPECT_NE(dead->error.find("unknown_type"), std::string::npos) << dead->error;
  EXPECT_FALSE(tap.WaitFor(unknown.id, EventKind::kStarted, 200ms)) << "an unknown type never starts";
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 15s)) << "every job acked after its outcome was confirmed";
}

TEST(WorkerProcess, JobsPastTheirDeadlineExpireWithoutRunning) {
  const std::string queue = "it.worker.deadline";
  EventTap tap;
  auto job = TypedJob("warren.echo", nullptr, queue);
  job.spec.deadline = job.created_at - std::chrono::seconds(1);
  PublishJob(job);
  testing::Process work({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(), "--queue", queue});
  ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kExpired, 15s)) << work.Output();
  EXPECT_FALSE(tap.WaitFor(job.id, EventKind::kStarted, 200ms));
}

// Last: it restarts the broker.
TEST(WorkerProcess, StartsBeforeTheBrokerAndSurvivesItsRestart) {
  TestBroker::Get().Ctl({"purge_queue", "task_queue"});
  testing::Process early({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(),
                          "--reconnect-max", "500ms"});
  ASSERT_TRUE(early.WaitForOutput("consumer connected", 15s)) << early.Output();
  TestBroker::Get().Kill();
  ASSERT_TRUE(early.WaitForOutput("consumer lost the broker", 10s)) << early.Output();
  testing::Process late({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(),
                         "--reconnect-max", "500ms"});
  ASSERT_TRUE(late.WaitForOutput("consumer cannot reach the broker", 10s)) << late.Output();
  TestBroker::Get().Start();
  for (auto* p : {&early, &late}) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    bool reconnected = false;
    while (!reconnected && std::chrono::steady_clock::now() < deadline) {
      const auto out = p->Output();
      const auto lost = std::max(out.rfind("consumer lost"), out.rfind("cannot reach"));
      reconnected = out.find("consumer connected", lost == std::string::npos ? 0 : lost) != std::string::npos;
      std::this_thread::sleep_for(100ms);
    }
    ASSERT_TRUE(reconnected) << p->Output();
  }
  for (int i = 0; i < 6; ++i) {
    Publish("task_queue", "hey");
  }
  EXPECT_TRUE(WaitForCounts("task_queue", {0, 0}, 10s));
  auto count = [](const std::string& s) {
    size_t n = 0;
    for (size_t pos = s.find("hey there"); pos != std::string::npos; pos = s.find("hey there", pos + 1)) {
      ++n;
    }
    return n;
  };
  EXPECT_EQ(count(early.Output()) + count(late.Output()), 6u) << early.Output() << late.Output();
  for (auto* p : {&early, &late}) {
    p->Signal(SIGTERM);
    EXPECT_EQ(p->Wait(10s), 0);
  }
}

}  // namespace
}  // namespace warren::worker
