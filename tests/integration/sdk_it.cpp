// The C++ SDK against a real RabbitMQ: jobs enqueued with warren::Client run in warren::Worker handlers,
// and what the handlers do arrives as lifecycle events.
#include <algorithm>
#include <atomic>
#include <csignal>
#include <future>
#include <mutex>
#include <thread>

#include <gtest/gtest.h>

#include "amqp/topology.hpp"
#include "support/support.hpp"
#include "support/worker_support.hpp"
#include "warren/warren.hpp"

namespace warren {
namespace {

using namespace std::chrono_literals;
using testing::EventTap;
using testing::TestBroker;

WorkerOptions Options(const std::string& queue) {
  WorkerOptions o;
  o.amqp_url = TestBroker::Get().AmqpUrl();
  o.queues = {queue};
  o.heartbeat = 1s;
  o.retry_base = 200ms;
  o.retry_jitter = 0.0;
  o.kill_grace = 500ms;
  o.grace = 5s;
  o.worker_id = "it-sdk";
  return o;
}

ClientOptions ClientOpts() { return ClientOptions{TestBroker::Get().AmqpUrl()}; }

// A worker with default options declares `queue` (a classic queue) and stops.
bool DeclaredByAClassicWorker(const std::string& queue) {
  Worker classic(Options(queue));
  classic.start();
  const bool connected = classic.wait_connected(10s);
  classic.stop(1s);
  return connected;
}

TEST(SdkIt, AnEnqueuedJobRunsItsHandlerAndItsResultArrives) {
  const std::string queue = "it.sdk.basic";
  EventTap tap;
  std::mutex mu;
  nlohmann::json seen_args;
  int seen_attempt = 0;
  int seen_max = 0;
  std::string seen_id;
  Worker worker(Options(queue));
  worker.handle("add", [&](JobContext& job) -> nlohmann::json {
    std::lock_guard lock(mu);
    seen_args = job.args();
    seen_attempt = job.attempt();
    seen_max = job.max_attempts();
    seen_id = job.id();
    EXPECT_EQ(job.type(), "add");
    EXPECT_EQ(job.queue(), queue);
    return {{"sum", job.args().at("a").get<int>() + job.args().at("b").get<int>()}};
  });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));

  Client client(ClientOpts());
  const std::string id = client.enqueue("add", {{"a", 2}, {"b", 3}}, {.queue = queue, .max_attempts = 2});
  EXPECT_TRUE(IsJobId(id));

  const auto done = tap.WaitFor(id, EventKind::kSucceeded, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->attempt, 1);
  EXPECT_EQ(done->worker, "it-sdk");
  EXPECT_EQ(done->result, nlohmann::json({{"sum", 5}}));
  EXPECT_TRUE(tap.WaitFor(id, EventKind::kStarted, 1s));
  {
    std::lock_guard lock(mu);
    EXPECT_EQ(seen_args, nlohmann::json({{"a", 2}, {"b", 3}}));
    EXPECT_EQ(seen_attempt, 1);
    EXPECT_EQ(seen_max, 2);
    EXPECT_EQ(seen_id, id);
  }
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, AThrowingHandlerIsRetriedUntilItSucceeds) {
  const std::string queue = "it.sdk.retry";
  EventTap tap;
  std::atomic<int> runs{0};
  Worker worker(Options(queue));
  worker.handle("flaky", [&](JobContext& job) {
    ++runs;
    if (job.attempt() < 3) {
      throw std::runtime_error("boom " + std::to_string(job.attempt()));
    }
    return std::string("third time");
  });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));
  Client client(ClientOpts());
  const std::string id = client.enqueue("flaky", nullptr, {.queue = queue, .max_attempts = 5});

  const auto done = tap.WaitFor(id, EventKind::kSucceeded, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->attempt, 3);
  EXPECT_EQ(done->result, "third time");
  EXPECT_EQ(runs.load(), 3);
  std::vector<std::string> errors;
  for (const auto& e : tap.EventsFor(id)) {
    if (e.kind == EventKind::kRetrying) {
      errors.push_back(e.error);
    }
  }
  std::sort(errors.begin(), errors.end());
  EXPECT_EQ(errors, (std::vector<std::string>{"boom 1", "boom 2"}));
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, AFatalErrorSendsTheJobToTheDeadQueueAtOnce) {
  const std::string queue = "it.sdk.fatal";
  EventTap tap;
  std::atomic<int> runs{0};
  Worker worker(Options(queue));
  worker.handle("strict", [&](JobContext&) -> nlohmann::json {
    ++runs;
    throw FatalError("args.src: missing");
  });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));
  Client client(ClientOpts());
  const std::string id = client.enqueue("strict", {{"x", 1}}, {.queue = queue, .max_attempts = 5});

  const auto dead = tap.WaitFor(id, EventKind::kDead, 20s);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->attempt, 1);
  EXPECT_EQ(dead->error, "args.src: missing");
  EXPECT_EQ(runs.load(), 1);
  EXPECT_FALSE(tap.WaitFor(id, EventKind::kRetrying, 300ms));
  bool found = false;
  for (const auto& letter : testing::TakeAll(std::string(amqp::kDeadQueue))) {
    if (letter.message_id == id) {
      found = true;
      EXPECT_EQ(letter.headers.at(std::string(amqp::kDeadReasonHeader)), "failed");
    }
  }
  EXPECT_TRUE(found);
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, ProgressArrivesAsAnEventAndAVoidHandlerSucceedsWithNull) {
  const std::string queue = "it.sdk.progress";
  EventTap tap;
  Worker worker(Options(queue));
  worker.handle("report", [](JobContext& job) {
    job.progress(40, "reading");
    job.log("read the input");
  });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));
  Client client(ClientOpts());
  const std::string id = client.enqueue("report", nullptr, {.queue = queue});

  const auto progress = tap.WaitFor(id, EventKind::kProgress, 20s);
  ASSERT_TRUE(progress);
  EXPECT_EQ(progress->percent, 40);
  EXPECT_EQ(progress->note, "reading");
  const auto done = tap.WaitFor(id, EventKind::kSucceeded, 10s);
  ASSERT_TRUE(done);
  EXPECT_TRUE(done->result.is_null());
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, ACancelFiresTheStopTokenOfTheRunningHandler) {
  const std::string queue = "it.sdk.cancel";
  EventTap tap;
  std::promise<void> running;
  std::atomic<bool> callback_fired{false};
  std::atomic<bool> woke_early{false};
  Worker worker(Options(queue));
  worker.handle("long", [&](JobContext& job) -> nlohmann::json {
    std::stop_callback on_stop(job.stop_token(), [&] { callback_fired = true; });
    running.set_value();
    if (!job.sleep_for(30s)) {
      woke_early = true;
      // request_stop() sets the flag and then runs the callbacks, newest first: sleep_for's own can
      // wake this thread before on_stop's has run, and leaving this scope would deregister it unrun.
      for (int i = 0; i < 1000 && !callback_fired; ++i) {
        std::this_thread::sleep_for(1ms);
      }
      throw RetryableError("stopped");
    }
    return "slept";
  });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));
  Client client(ClientOpts());
  const std::string id = client.enqueue("long", nullptr, {.queue = queue, .max_attempts = 3});
  ASSERT_EQ(running.get_future().wait_for(20s), std::future_status::ready);

  testing::PublishMessage(amqp::EncodeCancelMessage({id, SystemNow()}));
  const auto cancelled = tap.WaitFor(id, EventKind::kCancelled, 10s);
  ASSERT_TRUE(cancelled);
  EXPECT_EQ(cancelled->error, "cancelled while running");
  EXPECT_TRUE(callback_fired.load());
  EXPECT_TRUE(woke_early.load());
  EXPECT_FALSE(tap.WaitFor(id, EventKind::kRetrying, 300ms));
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, InvalidInputThrowsAndPublishesNothing) {
  const std::string queue = "it.sdk.invalid";
  Client client(ClientOpts());
  ASSERT_TRUE(client.wait_connected(10s));
  EXPECT_THROW(client.enqueue("resize", nullptr, {.queue = queue, .priority = 42}), std::invalid_argument);
  EXPECT_THROW(client.enqueue("bad type!", nullptr, {.queue = queue}), std::invalid_argument);
  EXPECT_THROW(client.enqueue("resize", nullptr, {.queue = queue, .max_attempts = 0}), std::invalid_argument);
  try {
    client.enqueue("resize", nullptr, {.queue = queue, .timeout = -5ms});
    ADD_FAILURE() << "a negative timeout was accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("field 'timeout'"), std::string::npos) << e.what();
  }
  // Every job names its queue, which its first publish declares: no queue, nothing published.
  EXPECT_EQ(testing::QueueCounts(queue), std::make_pair(-1, -1));
}

TEST(SdkIt, StartThrowsWhenAQueueExistsAsAnotherType) {
  const std::string queue = "it.sdk.other-type";
  ASSERT_TRUE(DeclaredByAClassicWorker(queue));
  auto options = Options(queue);
  options.priority_queues = true;
  Worker priority(options);
  try {
    priority.start();
    ADD_FAILURE() << "started on a classic queue with priority_queues";
  } catch (const std::runtime_error& e) {
    EXPECT_NE(std::string(e.what()).find("queue " + queue + " exists with other arguments"), std::string::npos)
        << e.what();
  }
}

TEST(SdkIt, ADelayedJobRunsNoEarlierThanItsDelay) {
  const std::string queue = "it.sdk.delay";
  EventTap tap;
  std::promise<std::chrono::steady_clock::time_point> ran;
  Worker worker(Options(queue));
  worker.handle("later", [&](JobContext&) { ran.set_value(std::chrono::steady_clock::now()); });
  worker.start();
  ASSERT_TRUE(worker.wait_connected(10s));
  Client client(ClientOpts());
  const auto enqueued = std::chrono::steady_clock::now();
  const std::string id = client.enqueue("later", nullptr, {.queue = queue, .delay = 1500ms});
  auto when = ran.get_future();
  ASSERT_EQ(when.wait_for(20s), std::future_status::ready);
  const auto waited = when.get() - enqueued;
  EXPECT_GE(waited, 1500ms - 2ms);  // whole milliseconds on the wire
  EXPECT_LT(waited, 1500ms + 2s);
  EXPECT_TRUE(tap.WaitFor(id, EventKind::kSucceeded, 10s));
  EXPECT_TRUE(worker.stop(5s));
}

TEST(SdkIt, RunBlocksUntilStopIsCalledFromAnotherThread) {
  const std::string queue = "it.sdk.run";
  EventTap tap;
  Worker worker(Options(queue));
  worker.handle("ping", [](JobContext&) { return "pong"; });
  auto code = std::async(std::launch::async, [&] { return worker.run(); });
  struct StopAtEnd {  // a failed assertion must not leave run() blocking the future's destructor
    Worker& worker;
    ~StopAtEnd() { worker.stop(1s); }
  } stop_at_end{worker};
  Client client(ClientOpts());
  const std::string id = client.enqueue("ping", nullptr, {.queue = queue});
  const auto done = tap.WaitFor(id, EventKind::kSucceeded, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->result, "pong");
  EXPECT_EQ(code.wait_for(0ms), std::future_status::timeout);  // still running
  EXPECT_TRUE(worker.stop(5s));
  ASSERT_EQ(code.wait_for(10s), std::future_status::ready);
  EXPECT_EQ(code.get(), 0);
}

// stop() signals run()'s thread. One that landed while run() was not waiting for it (its start() still
// connecting, then throwing; or its teardown after the drain) stayed pending and, once run() restored
// the caller's signal mask, was delivered: the default action killed the process. A handler stands in
// for that death here, and must never run.
std::atomic<int> stray_sigterms{0};

TEST(SdkIt, AStopWhileRunsStartFailsSendsTheProcessNoSignal) {
  const std::string queue = "it.sdk.stop-during-start";
  ASSERT_TRUE(DeclaredByAClassicWorker(queue));
  struct sigaction counting {};
  counting.sa_handler = [](int) { ++stray_sigterms; };
  sigemptyset(&counting.sa_mask);
  struct sigaction previous {};
  ASSERT_EQ(sigaction(SIGTERM, &counting, &previous), 0);
  // As in a program's main thread (the test broker's support code blocks it in this one).
  sigset_t term;
  sigemptyset(&term);
  sigaddset(&term, SIGTERM);
  sigset_t previous_mask;
  ASSERT_EQ(pthread_sigmask(SIG_UNBLOCK, &term, &previous_mask), 0);
  auto options = Options(queue);
  options.priority_queues = true;  // start() finds the classic queue and throws, after a round trip
  Worker worker(options);
  std::atomic<bool> returned{false};
  std::thread stopper([&] {
    std::this_thread::sleep_for(2ms);  // run() is inside start() by now (it connects first)
    while (!returned) {
      worker.stop(100ms);
      std::this_thread::yield();
    }
  });
  EXPECT_ANY_THROW(worker.run());
  returned = true;
  stopper.join();
  std::this_thread::sleep_for(50ms);
  EXPECT_EQ(stray_sigterms.load(), 0);
  pthread_sigmask(SIG_SETMASK, &previous_mask, nullptr);
  sigaction(SIGTERM, &previous, nullptr);
}

}  // namespace
}  // namespace warren
