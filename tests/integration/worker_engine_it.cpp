// The worker engine against a real RabbitMQ: retries with backoff through the delay tiers, dead
// letters with their history, delayed jobs, timeouts, cancellation, crashed workers, command jobs.
#include <algorithm>
#include <csignal>
#include <filesystem>
#include <fstream>

#include <gtest/gtest.h>

#include "amqp/topology.hpp"
#include "core/command_config.hpp"
#include "support/support.hpp"
#include "support/worker_support.hpp"
#include "worker/builtin_handlers.hpp"
#include "worker/command_handlers.hpp"
#include "worker/worker.hpp"

namespace warren::worker {
namespace {

using namespace std::chrono_literals;
using testing::EventTap;
using testing::PublishJob;
using testing::TestBroker;
using testing::TypedJob;
using testing::WaitForCounts;

using Clock = std::chrono::system_clock;

TimePoint Now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::now()); }

WorkerOptions Options(const std::string& queue, int concurrency = 1) {
  WorkerOptions o;
  o.connection.url = TestBroker::Get().AmqpUrl();
  o.connection.heartbeat = std::chrono::seconds(1);
  o.queues = {queue};
  o.concurrency = concurrency;
  o.worker_id = "it-worker";
  o.retry = RetryPolicy{300ms, 10s, 0.0};  // no jitter: the timing checks below are exact
  o.kill_grace = 300ms;
  o.queues_checked = true;  // as after Worker::CheckQueues: no first-connect hold
  return o;
}

// Jobs of the dead queue that belong to `job_id` (other tests' dead jobs are put back untouched... by
// being taken: every test uses its own job ids, so leftovers cannot confuse another test).
std::vector<amqp::Delivery> DeadFor(const std::string& job_id) {
  std::vector<amqp::Delivery> mine;
  for (auto& d : testing::TakeAll(std::string(amqp::kDeadQueue))) {
    if (d.message_id == job_id) {
      mine.push_back(std::move(d));
    }
  }
  return mine;
}

TEST(WorkerEngine, AFailingJobIsRetriedWithBackoffUntilItSucceeds) {
  const std::string queue = "it.engine.retry";
  EventTap tap;
  std::mutex mu;
  std::vector<Clock::time_point> starts;
  HandlerRegistry registry;
  registry.Register("flaky", [&](JobContext& ctx) {
    {
      std::lock_guard lock(mu);
      starts.push_back(Clock::now());
    }
    return ctx.attempt() < 3 ? HandlerResult::Failure("not yet") : HandlerResult::Success("third time");
  });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("flaky", nullptr, queue);
  job.spec.max_attempts = 5;
  PublishJob(job);

  auto done = tap.WaitFor(job.id, EventKind::kSucceeded, 20s);
  ASSERT_TRUE(done);
  EXPECT_EQ(done->attempt, 3);
  EXPECT_EQ(done->result, "third time");
  ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kRetrying, 1s));
  std::lock_guard lock(mu);
  ASSERT_EQ(starts.size(), 3U);
  // Backoff 300 ms, then 600 ms: never early, and late by little (a delay-tier hop and a delivery).
  const auto first_wait = starts[1] - starts[0];
  const auto second_wait = starts[2] - starts[1];
  // (Times are kept in whole milliseconds, so "not early" allows for the truncation.)
  EXPECT_GE(first_wait, 300ms - 2ms);
  EXPECT_LT(first_wait, 300ms + 1s);
  EXPECT_GE(second_wait, 600ms - 2ms);
  EXPECT_LT(second_wait, 600ms + 1s);
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, AJobOutOfAttemptsGoesToTheDeadQueueWithItsHistory) {
  const std::string queue = "it.engine.dead";
  EventTap tap;
  std::atomic<int> runs{0};
  HandlerRegistry registry;
  registry.Register("doomed", [&](JobContext& ctx) {
    ++runs;
    return HandlerResult::Failure("boom on attempt " + std::to_string(ctx.attempt()));
  });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("doomed", {{"n", 1}}, queue);
  job.spec.max_attempts = 3;
  PublishJob(job);

  auto dead = tap.WaitFor(job.id, EventKind::kDead, 20s);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->attempt, 3);
  EXPECT_EQ(dead->error, "boom on attempt 3");
  EXPECT_EQ(runs.load(), 3);
  const auto letters = DeadFor(job.id);
  ASSERT_EQ(letters.size(), 1U);
  const auto& letter = letters.front();
  EXPECT_EQ(letter.type, "doomed");
  EXPECT_EQ(letter.body, R"({"n":1})");
  EXPECT_EQ(letter.headers.at(std::string(amqp::kErrorHeader)), "boom on attempt 3");
  EXPECT_EQ(letter.headers.at(std::string(amqp::kDeadReasonHeader)), "attempts_exhausted");
  EXPECT_EQ(letter.headers.at("x-warren-queue"), queue);
  const auto history = nlohmann::json::parse(letter.headers.at(std::string(amqp::kHistoryHeader)));
  ASSERT_EQ(history.size(), 3U);
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(history[i]["attempt"], i + 1);
    EXPECT_EQ(history[i]["error"], "boom on attempt " + std::to_string(i + 1));
  }
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, UnknownTypesAndFatalFailuresAreDeadAtOnce) {
  const std::string queue = "it.engine.fatal";
  EventTap tap;
  HandlerRegistry registry;
  registry.Register("picky", [](JobContext&) { return HandlerResult::Fatal("args.size must be positive"); });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  const auto unknown = TypedJob("nobody.handles.this", nullptr, queue);
  const auto picky = TypedJob("picky", nullptr, queue);
  PublishJob(unknown);
  PublishJob(picky);
  ASSERT_TRUE(tap.WaitFor(unknown.id, EventKind::kDead, 10s));
  auto dead = tap.WaitFor(picky.id, EventKind::kDead, 10s);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->attempt, 1) << "no retry for a fatal failure";
  const auto letters = DeadFor(unknown.id);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].headers.at(std::string(amqp::kDeadReasonHeader)), "unknown_type");
  EXPECT_TRUE(worker.Drain(5s));
}

// EventBatcher: a `started` event lingers for its job's outcome, so a short job costs the broker and
// the recorder one event message; a long job's `started` still goes out within a watchdog tick.
TEST(WorkerEngine, AShortJobsStartedEventRidesWithItsOutcomeALongJobsDoesNotWaitForIt) {
  const std::string queue = "it.engine.linger";
  EventTap tap;
  HandlerRegistry registry;
  RegisterBuiltinHandlers(registry);
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto quick = TypedJob("warren.noop", nullptr, queue);
  PublishJob(quick);
  ASSERT_TRUE(tap.WaitFor(quick.id, EventKind::kSucceeded, 10s));
  ASSERT_TRUE(tap.WaitFor(quick.id, EventKind::kStarted, 1s));
  EXPECT_EQ(tap.MessagesFor(quick.id), 1U) << "started and succeeded in one message";

  auto slow = TypedJob("warren.sleep", {{"seconds", 3}}, queue);
  PublishJob(slow);
  auto started = tap.WaitFor(slow.id, EventKind::kStarted, 2500ms);
  ASSERT_TRUE(started) << "a running job's started event does not wait for its outcome";
  EXPECT_EQ(tap.EventsFor(slow.id).size(), 1U) << "only started while it sleeps";
  ASSERT_TRUE(tap.WaitFor(slow.id, EventKind::kSucceeded, 10s));
  EXPECT_EQ(tap.MessagesFor(slow.id), 2U);
  EXPECT_TRUE(worker.Drain(5s));
}

// Destroying a worker without Drain (an early return, an exception) while a handler runs: the handler's
// return must find the connections stopped, not destroyed.
TEST(WorkerEngine, AWorkerDestroyedWithoutADrainWhileAHandlerRunsEndsCleanly) {
  const std::string queue = "it.engine.no-drain";
  EventTap tap;
  HandlerRegistry registry;
  registry.Register("stubborn", [](JobContext&) {
    std::this_thread::sleep_for(500ms);  // ignores its stop token, and returns all the same
    return HandlerResult::Success(nullptr);
  });
  const auto job = TypedJob("stubborn", nullptr, queue);
  {
    Worker worker(Options(queue), registry);
    ASSERT_TRUE(worker.WaitConnected(10s));
    PublishJob(job);
    ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kStarted, 10s));
  }  // destroyed with the handler running
  TestBroker::Get().Ctl({"delete_queue", queue});
}

// A handler (or a command printing `::progress` lines) may report progress as fast as it likes: the
// reports that pile up while an event batch waits for its confirm replace one another, so the worker's
// memory and the broker see a few, and the last one still arrives.
TEST(WorkerEngine, AFloodOfProgressReportsSendsFewEventsAndTheLastOne) {
  const std::string queue = "it.engine.progress-flood";
  constexpr int kReports = 20'000;
  EventTap tap;
  HandlerRegistry registry;
  registry.Register("chatty", [](JobContext& ctx) {
    for (int i = 0; i < kReports; ++i) {
      ctx.Progress(i % 100, std::string(2000, 'n'));  // a long note, cut to 1 KiB
    }
    ctx.Progress(100, "done");
    return HandlerResult::Success(nullptr);
  });
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  const auto job = TypedJob("chatty", nullptr, queue);
  PublishJob(job);
  ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kSucceeded, 30s));
  std::vector<JobEvent> progress;
  for (const auto& e : tap.EventsFor(job.id)) {
    if (e.kind == EventKind::kProgress) {
      progress.push_back(e);
    }
  }
  ASSERT_FALSE(progress.empty());
  // One waiting report per event batch (a confirm round trip, about a millisecond), not one per call.
  EXPECT_LT(progress.size(), static_cast<size_t>(kReports / 4));
  const auto newest =
      std::max_element(progress.begin(), progress.end(), [](const JobEvent& a, const JobEvent& b) {
        return std::tie(a.at, a.percent) < std::tie(b.at, b.percent);  // as the record picks it
      });
  EXPECT_EQ(newest->percent, 100);
  EXPECT_EQ(newest->note, "done");
  for (const auto& e : progress) {
    EXPECT_LE(e.note.size(), 1024U);
  }
  EXPECT_TRUE(worker.Drain(5s));
}

// amqp.queue_type = "priority": the queue is declared with x-max-priority, and a job's `priority`
// rides as the message priority, through retries and delay tiers to warren.dead.
TEST(WorkerEngine, OnAPriorityQueueHigherPriorityJobsRunFirstAndKeepTheirPriority) {
  const std::string queue = "it.engine.job-priority";
  EventTap tap;
  std::vector<std::string> expected_high;
  std::vector<std::string> expected_mid;
  std::vector<std::string> expected_low;
  for (int priority : {0, 0, 0, 9, 5, 0, 9, 5, 0, 9}) {
    auto job = TypedJob("warren.noop", nullptr, queue);
    job.spec.priority = priority;
    PublishJob(job, QueueType::kPriority);
    (priority == 9 ? expected_high : priority == 5 ? expected_mid : expected_low).push_back(job.id);
  }
  auto doomed = TypedJob("warren.fail", nullptr, queue);
  doomed.spec.priority = 9;
  doomed.spec.max_attempts = 2;
  HandlerRegistry registry;
  RegisterBuiltinHandlers(registry);
  auto options = Options(queue);
  options.queue_type = QueueType::kPriority;
  Worker worker(options, registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  for (const auto& id : expected_low) {
    ASSERT_TRUE(tap.WaitFor(id, EventKind::kSucceeded, 10s));
  }
  auto order = tap.JobsInOrder(EventKind::kStarted);
  ASSERT_EQ(order.size(), 10U);
  auto sorted = [](std::vector<std::string> ids) {
    std::sort(ids.begin(), ids.end());
    return ids;
  };
  EXPECT_EQ(sorted({order.begin(), order.begin() + 3}), sorted(expected_high)) << "priority 9 first";
  EXPECT_EQ(sorted({order.begin() + 3, order.begin() + 5}), sorted(expected_mid)) << "then 5";
  EXPECT_EQ(sorted({order.begin() + 5, order.end()}), sorted(expected_low)) << "then 0";

  PublishJob(doomed, QueueType::kPriority);
  ASSERT_TRUE(tap.WaitFor(doomed.id, EventKind::kDead, 10s));
  const auto letters = DeadFor(doomed.id);
  ASSERT_EQ(letters.size(), 1U);
  EXPECT_EQ(letters[0].priority, 9) << "through a retry, its delay tier and the dead queue";
  EXPECT_EQ(letters[0].headers.at(std::string(amqp::kAttemptHeader)), "2");
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, ADelayedJobStartsAtItsTimeNotBefore) {
  const std::string queue = "it.engine.delay";
  EventTap tap;
  HandlerRegistry registry;
  RegisterBuiltinHandlers(registry);
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("warren.noop", nullptr, queue);
  job.spec.run_at = Now() + 2500ms;  // three tiers: 1.6 s, 0.8 s, 0.1 s
  // Returns once confirmed, which on a loaded machine can take a while.
  PublishJob(job);
  const auto until_due =
      std::chrono::duration_cast<std::chrono::milliseconds>(*job.spec.run_at - Now() - 300ms);
  EXPECT_FALSE(tap.WaitFor(job.id, EventKind::kStarted, std::max(until_due, std::chrono::milliseconds(0))));
  auto started = tap.WaitFor(job.id, EventKind::kStarted, 5s);
  ASSERT_TRUE(started);
  EXPECT_GE(started->at, *job.spec.run_at);
  EXPECT_LT(started->at, *job.spec.run_at + 1s);
  EXPECT_TRUE(tap.WaitFor(job.id, EventKind::kSucceeded, 5s));
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, ATimeoutStopsTheHandlerAndCountsAsAFailedAttempt) {
  const std::string queue = "it.engine.timeout";
  EventTap tap;
  HandlerRegistry registry;
  RegisterBuiltinHandlers(registry);
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("warren.sleep", {{"seconds", 30}}, queue);
  job.spec.timeout = 300ms;
  job.spec.max_attempts = 2;
  const auto begin = Clock::now();
  PublishJob(job);
  auto dead = tap.WaitFor(job.id, EventKind::kDead, 15s);
  ASSERT_TRUE(dead);
  EXPECT_EQ(dead->attempt, 2);
  EXPECT_NE(dead->error.find("timed out after 300ms"), std::string::npos) << dead->error;
  EXPECT_LT(Clock::now() - begin, 10s) << "the 30 s sleeps were cut short";
  EXPECT_FALSE(worker.NeedsRecycle());
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, AHandlerThatIgnoresItsTimeoutIsReportedAndTheWorkerRecycles) {
  const std::string queue = "it.engine.runaway";
  EventTap tap;
  std::atomic<bool> recycle{false};
  std::atomic<bool> release{false};
  HandlerRegistry registry;
  registry.Register("stubborn", [&](JobContext&) {
    while (!release) {
      std::this_thread::sleep_for(10ms);
    }
    return HandlerResult::Success();
  });
  auto options = Options(queue);
  options.on_recycle = [&] { recycle = true; };
  Worker worker(options, registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("stubborn", nullptr, queue);
  job.spec.timeout = 200ms;
  job.spec.max_attempts = 1;
  PublishJob(job);
  auto dead = tap.WaitFor(job.id, EventKind::kDead, 15s);
  ASSERT_TRUE(dead);
  EXPECT_NE(dead->error.find("did not stop"), std::string::npos) << dead->error;
  EXPECT_TRUE(recycle.load());
  EXPECT_TRUE(worker.NeedsRecycle());
  release = true;  // let the thread end so the test can join it
  EXPECT_FALSE(tap.WaitFor(job.id, EventKind::kSucceeded, 300ms)) << "its late return changes nothing";
  worker.Drain(5s);
}

TEST(WorkerEngine, CancellingARunningJobStopsItAndAQueuedOneNeverStarts) {
  const std::string queue = "it.engine.cancel";
  EventTap tap;
  HandlerRegistry registry;
  RegisterBuiltinHandlers(registry);
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  const auto running = TypedJob("warren.sleep", {{"seconds", 30}}, queue);
  const auto queued = TypedJob("warren.noop", nullptr, queue);
  PublishJob(running);
  ASSERT_TRUE(tap.WaitFor(running.id, EventKind::kStarted, 10s));
  // concurrency 1: `queued` waits behind the sleeper; cancel it first, then the sleeper.
  PublishJob(queued);
  testing::PublishMessage(amqp::EncodeCancelMessage({queued.id, SystemNow()}),
                          amqp::JobTopologyWithDelays({}, QueueType::kClassic));
  const auto cancel_sent = Clock::now();
  testing::PublishMessage(amqp::EncodeCancelMessage({running.id, SystemNow()}),
                          amqp::JobTopologyWithDelays({}, QueueType::kClassic));
  auto stopped = tap.WaitFor(running.id, EventKind::kCancelled, 10s);
  ASSERT_TRUE(stopped);
  EXPECT_LT(Clock::now() - cancel_sent, 5s);
  auto skipped = tap.WaitFor(queued.id, EventKind::kCancelled, 10s);
  ASSERT_TRUE(skipped);
  EXPECT_FALSE(tap.WaitFor(queued.id, EventKind::kStarted, 200ms)) << "a cancelled job never starts";
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 10s));
  EXPECT_TRUE(worker.Drain(5s));
}

TEST(WorkerEngine, APerTypeLimitCapsThatTypeWithoutStarvingOthers) {
  const std::string queue = "it.engine.typelimit";
  EventTap tap;
  std::mutex mu;
  int slow_now = 0;
  int slow_max = 0;
  std::atomic<int> fast_done{0};
  std::atomic<int> slow_done{0};
  int fast_done_before_last_slow = -1;
  HandlerRegistry registry;
  registry.Register("slow", [&](JobContext& ctx) {
    {
      std::lock_guard lock(mu);
      slow_max = std::max(slow_max, ++slow_now);
    }
    ctx.SleepFor(300ms);
    std::lock_guard lock(mu);
    --slow_now;
    if (++slow_done == 4) {
      fast_done_before_last_slow = fast_done.load();
    }
    return HandlerResult::Success();
  });
  registry.Register("fast", [&](JobContext&) {
    ++fast_done;
    return HandlerResult::Success();
  });
  auto options = Options(queue, 3);
  options.type_limits = {{"slow", 1}};
  Worker worker(options, registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  std::vector<JobRecord> jobs;
  for (int i = 0; i < 4; ++i) {
    jobs.push_back(TypedJob("slow", nullptr, queue));
  }
  for (int i = 0; i < 4; ++i) {
    jobs.push_back(TypedJob("fast", nullptr, queue));  // queued behind every slow one
  }
  for (const auto& job : jobs) {
    PublishJob(job);
  }
  for (const auto& job : jobs) {
    ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kSucceeded, 20s)) << job.spec.type;
  }
  std::lock_guard lock(mu);
  EXPECT_EQ(slow_max, 1) << "never two slow jobs at once";
  EXPECT_EQ(fast_done_before_last_slow, 4) << "the fast jobs behind them did not wait for all slow ones";
  EXPECT_TRUE(worker.Drain(5s));
}

// A drain hands back the jobs it never started as fresh copies. Requeued, they would come back marked
// redelivered, and the next worker would count an attempt that never ran: with max_attempts 1 they
// went to warren.dead as crashed.
TEST(WorkerEngine, ADrainHandsBackUnstartedJobsWithoutCostingThemAnAttempt) {
  const std::string queue = "it.engine.handback";
  EventTap tap;
  std::atomic<int> runs{0};
  HandlerRegistry registry;
  registry.Register("slow", [&](JobContext& ctx) {
    ++runs;
    ctx.SleepFor(500ms);
    return HandlerResult::Success();
  });
  auto options = Options(queue, 2);
  options.type_limits = {{"slow", 1}};  // the others wait in the worker, unstarted
  std::vector<JobRecord> jobs;
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(TypedJob("slow", nullptr, queue));
    jobs.back().spec.max_attempts = 1;
  }
  {
    Worker first(options, registry);
    ASSERT_TRUE(first.WaitConnected(10s));
    for (const auto& job : jobs) {
      PublishJob(job);
    }
    ASSERT_TRUE(tap.WaitFor(jobs[0].id, EventKind::kStarted, 10s));
    std::this_thread::sleep_for(200ms);  // the other two are delivered and held for the type's limit
    EXPECT_TRUE(first.Drain(5s));
  }
  EXPECT_EQ(runs.load(), 1);
  Worker second(options, registry);
  for (const auto& job : jobs) {
    const auto done = tap.WaitFor(job.id, EventKind::kSucceeded, 20s);
    ASSERT_TRUE(done) << job.id;
    EXPECT_EQ(done->attempt, 1);
  }
  EXPECT_EQ(runs.load(), 3);
  EXPECT_FALSE(tap.WaitFor(jobs[1].id, EventKind::kDead, 100ms));
  EXPECT_FALSE(tap.WaitFor(jobs[2].id, EventKind::kRetrying, 100ms));
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 10s));
  EXPECT_TRUE(second.Drain(5s));
}

// Queue priorities: with `hi` above `lo`, a worker takes `lo` jobs only while `hi` has none ready.
TEST(WorkerEngine, AHigherPriorityQueueIsServedFirstAndLowerOnesOnlyWhenItIsEmpty) {
  const std::string hi = "it.engine.prio.hi";
  const std::string lo = "it.engine.prio.lo";
  EventTap tap;
  std::mutex mu;
  std::vector<std::string> order;  // the queue of each job, as it started
  HandlerRegistry registry;
  registry.Register("step", [&](JobContext& ctx) {
    {
      std::lock_guard lock(mu);
      order.push_back(ctx.job().queue);
    }
    ctx.SleepFor(100ms);
    return HandlerResult::Success();
  });
  const auto started = [&] {
    std::lock_guard lock(mu);
    return order;
  };
  // Phase 1: a backlog on both before the worker starts. It starts on `hi` alone.
  std::vector<JobRecord> jobs;
  for (int i = 0; i < 6; ++i) {
    jobs.push_back(TypedJob("step", nullptr, lo));
  }
  for (int i = 0; i < 4; ++i) {
    jobs.push_back(TypedJob("step", nullptr, hi));
  }
  for (const auto& job : jobs) {
    PublishJob(job);
  }
  auto options = Options(hi);
  options.queues = {lo, hi};  // listed order is not priority order
  options.queue_priorities = {{hi, 1}};
  Worker worker(options, registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  for (const auto& job : jobs) {
    ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kSucceeded, 20s)) << job.spec.queue;
  }
  auto first = started();
  ASSERT_EQ(first.size(), 10U);
  EXPECT_EQ(std::vector<std::string>(first.begin(), first.begin() + 4), std::vector<std::string>(4, hi))
      << "every hi job before any lo job";

  // Phase 2: hi jobs arriving behind a lo backlog overtake it.
  jobs.clear();
  for (int i = 0; i < 20; ++i) {
    jobs.push_back(TypedJob("step", nullptr, lo));
    PublishJob(jobs.back());
  }
  while (started().size() < first.size() + 2) {
    std::this_thread::sleep_for(10ms);
  }
  for (int i = 0; i < 3; ++i) {
    jobs.push_back(TypedJob("step", nullptr, hi));
    PublishJob(jobs.back());
  }
  for (const auto& job : jobs) {
    ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kSucceeded, 30s)) << job.spec.queue;
  }
  const auto all = started();
  ASSERT_EQ(all.size(), first.size() + 23);
  size_t last_hi = 0;
  for (size_t i = first.size(); i < all.size(); ++i) {
    last_hi = all[i] == hi ? i - first.size() : last_hi;
  }
  EXPECT_LT(last_hi, 15U) << "the hi jobs started while most of the 20 lo jobs still waited";
  EXPECT_TRUE(worker.Drain(5s));
}

// kill -9 of a worker mid-job: the job comes back, the lost attempt counts, and the job ends in one
// terminal state on another worker.
TEST(WorkerEngine, AKilledWorkersJobRunsAgainElsewhereAndCountsTheLostAttempt) {
  const std::string queue = "it.engine.kill9";
  EventTap tap;
  auto job = TypedJob("warren.sleep", {{"seconds", 1}}, queue);
  job.spec.max_attempts = 3;
  {
    testing::Process doomed({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(),
                             "--queue", queue, "--retry-base", "100ms"});
    ASSERT_TRUE(doomed.WaitForOutput("consumer connected", 15s)) << doomed.Output();
    PublishJob(job);
    ASSERT_TRUE(tap.WaitFor(job.id, EventKind::kStarted, 10s)) << doomed.Output();
    doomed.Signal(SIGKILL);
    doomed.Wait(5s);
  }
  testing::Process survivor({testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(),
                             "--queue", queue, "--retry-base", "100ms"});
  auto done = tap.WaitFor(job.id, EventKind::kSucceeded, 20s);
  ASSERT_TRUE(done) << survivor.Output();
  EXPECT_EQ(done->attempt, 2) << "attempt 1 was lost with its worker";
  auto lost = tap.WaitFor(job.id, EventKind::kRetrying, 1s);
  ASSERT_TRUE(lost);
  EXPECT_NE(lost->error.find("interrupted"), std::string::npos) << lost->error;
  EXPECT_FALSE(tap.WaitFor(job.id, EventKind::kDead, 300ms));
  EXPECT_TRUE(WaitForCounts(queue, {0, 0}, 10s));
  survivor.Signal(SIGTERM);
  EXPECT_EQ(survivor.Wait(10s), 0) << survivor.Output();
}

// ---- command jobs ------------------------------------------------------------------------------------

CommandJob Command(std::vector<std::string> argv) {
  CommandJob job;
  job.command = std::move(argv);
  return job;
}

TEST(WorkerEngine, CommandJobsRunTheirProgramWithTheJobOnStdinAndNothingElse) {
  const std::string queue = "it.engine.command";
  const auto dir = std::filesystem::temp_directory_path() / ("warren-it-cmd-" + std::to_string(getpid()));
  std::filesystem::create_directories(dir);
  EventTap tap;
  HandlerRegistry registry;
  RegisterCommandHandlers(registry,
                          {{"say", Command({"/bin/echo", "{args.text}"})},
                           {"stdin", Command({"/bin/cat"})},
                           {"tempfail", Command({"/bin/sh", "-c", "exit 75"})},
                           {"broken", Command({"/bin/sh", "-c", "echo nope >&2; exit 3"})}},
                          300ms);
  Worker worker(Options(queue, 2), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));

  // Injection attempts stay one literal argument of /bin/echo: nothing else runs.
  const std::string marker = (dir / "pwned").string();
  const std::vector<std::string> attacks = {"; touch " + marker, "$(touch " + marker + ")",
                                            "`touch " + marker + "`", "a\ntouch " + marker, "| touch " + marker};
  std::vector<JobRecord> jobs;
  for (const auto& attack : attacks) {
    jobs.push_back(TypedJob("say", {{"text", attack}}, queue));
    PublishJob(jobs.back());
  }
  for (size_t i = 0; i < jobs.size(); ++i) {
    auto done = tap.WaitFor(jobs[i].id, EventKind::kSucceeded, 10s);
    ASSERT_TRUE(done) << attacks[i];
    EXPECT_EQ(done->result, attacks[i]) << "echo printed its one argument verbatim";
  }
  EXPECT_FALSE(std::filesystem::exists(marker));

  // A leading '-' could turn a value into an option: refused before spawning, and fatal.
  const auto option = TypedJob("say", {{"text", "-n"}}, queue);
  PublishJob(option);
  auto refused = tap.WaitFor(option.id, EventKind::kDead, 10s);
  ASSERT_TRUE(refused);
  EXPECT_NE(refused->error.find("command template"), std::string::npos) << refused->error;

  const auto input = TypedJob("stdin", {{"k", "v"}}, queue);
  PublishJob(input);
  auto echoed = tap.WaitFor(input.id, EventKind::kSucceeded, 10s);
  ASSERT_TRUE(echoed);
  EXPECT_EQ(echoed->result["id"], input.id);
  EXPECT_EQ(echoed->result["args"], (nlohmann::json{{"k", "v"}}));

  auto tempfail = TypedJob("tempfail", nullptr, queue);
  tempfail.spec.max_attempts = 2;
  PublishJob(tempfail);
  auto retried_dead = tap.WaitFor(tempfail.id, EventKind::kDead, 10s);
  ASSERT_TRUE(retried_dead);
  EXPECT_EQ(retried_dead->attempt, 2) << "exit 75 asks for another attempt";

  const auto broken = TypedJob("broken", nullptr, queue);
  PublishJob(broken);
  auto failed = tap.WaitFor(broken.id, EventKind::kDead, 10s);
  ASSERT_TRUE(failed);
  EXPECT_EQ(failed->attempt, 1) << "any other exit status is final";
  EXPECT_NE(failed->error.find("nope"), std::string::npos) << failed->error;
  EXPECT_TRUE(worker.Drain(5s));
  std::filesystem::remove_all(dir);
}

TEST(WorkerEngine, ACommandPastItsTimeoutIsKilledWithItsProcessGroup) {
  const std::string queue = "it.engine.command.timeout";
  const auto pidfile = std::filesystem::temp_directory_path() / ("warren-it-pid-" + std::to_string(getpid()));
  EventTap tap;
  HandlerRegistry registry;
  // The shell records the pid of a grandchild that would outlive a kill of the shell alone.
  RegisterCommandHandlers(
      registry, {{"hang", Command({"/bin/sh", "-c", "sleep 60 & echo $! > " + pidfile.string() + "; wait"})}},
      300ms);
  Worker worker(Options(queue), registry);
  ASSERT_TRUE(worker.WaitConnected(10s));
  auto job = TypedJob("hang", nullptr, queue);
  job.spec.timeout = 500ms;
  job.spec.max_attempts = 1;
  PublishJob(job);
  auto dead = tap.WaitFor(job.id, EventKind::kDead, 15s);
  ASSERT_TRUE(dead);
  // The command runner ("killed after timeout 500ms") or, when the machine is slow (ASan), the worker's
  // own watchdog ("timed out after 500ms") ends it first: both are this timeout.
  EXPECT_TRUE(dead->error.find("timeout") != std::string::npos ||
              dead->error.find("timed out") != std::string::npos)
      << dead->error;
  std::ifstream in(pidfile);
  pid_t grandchild = 0;
  ASSERT_TRUE(in >> grandchild);
  // Gone, or a zombie waiting for init to reap it: either way it runs no more.
  auto running = [grandchild] {
    std::ifstream stat("/proc/" + std::to_string(grandchild) + "/stat");
    std::string pid;
    std::string comm;
    char state = 0;
    return static_cast<bool>(stat >> pid >> comm >> state) && state != 'Z' && state != 'X';
  };
  const auto deadline = std::chrono::steady_clock::now() + 2s;
  while (running() && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  EXPECT_FALSE(running()) << "the grandchild sleep " << grandchild << " outlived its job";
  std::filesystem::remove(pidfile);
  EXPECT_TRUE(worker.Drain(5s));
}

}  // namespace
}  // namespace warren::worker
