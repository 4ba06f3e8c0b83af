// The SDK's handler adapter and JobContext facade, without a broker.
#include <gtest/gtest.h>

#include "sdk/access.hpp"
#include "warren/worker.hpp"

namespace warren::sdk {
namespace {

worker::Job TestJob() {
  worker::Job job;
  job.id = "0190a3c2-0000-7000-8000-000000000001";
  job.type = "resize";
  job.queue = "images";
  job.args = {{"src", "a.png"}};
  job.attempt = 2;
  job.max_attempts = 4;
  job.deadline = TimePoint(std::chrono::milliseconds(1'800'000'000'123));
  return job;
}

worker::HandlerResult RunAdapted(const Handler& fn, const worker::Job& job, worker::JobHooks hooks = {},
                                 std::stop_token stop = {}) {
  worker::JobContext ctx(job, std::move(stop), std::move(hooks));
  return Adapt(fn)(ctx);
}

TEST(SdkHandler, SeesTheJobAndSucceedsWithWhatItReturns) {
  const auto job = TestJob();
  const auto result = RunAdapted(
      [](JobContext& ctx) -> nlohmann::json {
        EXPECT_EQ(ctx.id(), "0190a3c2-0000-7000-8000-000000000001");
        EXPECT_EQ(ctx.type(), "resize");
        EXPECT_EQ(ctx.queue(), "images");
        EXPECT_EQ(ctx.args().at("src"), "a.png");
        EXPECT_EQ(ctx.attempt(), 2);
        EXPECT_EQ(ctx.max_attempts(), 4);
        EXPECT_EQ(ctx.deadline(),
                  JobContext::Clock::time_point(std::chrono::milliseconds(1'800'000'000'123)));
        EXPECT_FALSE(ctx.cancelled());
        return {{"ok", true}};
      },
      job);
  EXPECT_EQ(result.outcome, worker::Outcome::kSucceeded);
  EXPECT_EQ(result.result, nlohmann::json({{"ok", true}}));
}

TEST(SdkHandler, ADeadlineBeyondTheClocksRangeIsTheLatestTimeNotAWrappedOne) {
  auto job = TestJob();
  job.deadline = ParseTime("9999-12-31T00:00:00Z");  // "never", as some clients write it
  ASSERT_TRUE(job.deadline);
  RunAdapted(
      [](JobContext& ctx) -> nlohmann::json {
        EXPECT_EQ(ctx.deadline(), JobContext::Clock::time_point::max());
        EXPECT_GT(ctx.deadline(), JobContext::Clock::now());
        return nullptr;
      },
      job);
}

TEST(SdkHandler, ExceptionsFailTheAttemptAndFatalErrorsKillTheJob) {
  const auto job = TestJob();
  auto retryable = RunAdapted([](JobContext&) -> nlohmann::json { throw RetryableError("try later"); }, job);
  EXPECT_EQ(retryable.outcome, worker::Outcome::kFailed);
  EXPECT_EQ(retryable.error, "try later");
  EXPECT_TRUE(retryable.retryable);

  auto plain = RunAdapted([](JobContext&) -> nlohmann::json { throw std::out_of_range("no such key"); }, job);
  EXPECT_EQ(plain.outcome, worker::Outcome::kFailed);
  EXPECT_EQ(plain.error, "no such key");
  EXPECT_TRUE(plain.retryable);

  auto fatal = RunAdapted([](JobContext&) -> nlohmann::json { throw FatalError("bad args"); }, job);
  EXPECT_EQ(fatal.outcome, worker::Outcome::kFailed);
  EXPECT_EQ(fatal.error, "bad args");
  EXPECT_FALSE(fatal.retryable);

  auto odd = RunAdapted([](JobContext&) -> nlohmann::json { throw 42; }, job);
  EXPECT_EQ(odd.outcome, worker::Outcome::kFailed);
  EXPECT_TRUE(odd.retryable);
}

TEST(SdkHandler, ProgressAndLogGoToTheHooks) {
  const auto job = TestJob();
  std::vector<std::pair<int, std::string>> progress;
  std::vector<std::string> lines;
  worker::JobHooks hooks;
  hooks.progress = [&](int percent, const std::string& note) { progress.emplace_back(percent, note); };
  hooks.log = [&](std::string_view line) { lines.emplace_back(line); };
  RunAdapted(
      [](JobContext& ctx) -> nlohmann::json {
        ctx.progress(50, "half");
        ctx.progress(250);
        ctx.log("a line");
        return nullptr;
      },
      job, hooks);
  ASSERT_EQ(progress.size(), 2U);
  EXPECT_EQ(progress[0], std::make_pair(50, std::string("half")));
  EXPECT_EQ(progress[1], std::make_pair(100, std::string()));
  EXPECT_EQ(lines, std::vector<std::string>{"a line"});
}

TEST(SdkHandler, SleepForWakesEarlyWhenStopped) {
  const auto job = TestJob();
  std::stop_source stop;
  stop.request_stop();
  const auto result = RunAdapted(
      [](JobContext& ctx) -> nlohmann::json {
        EXPECT_TRUE(ctx.cancelled());
        EXPECT_TRUE(ctx.stop_token().stop_requested());
        return ctx.sleep_for(std::chrono::hours(1));  // returns at once
      },
      job, {}, stop.get_token());
  EXPECT_EQ(result.result, false);
}

TEST(SdkWorker, HandleAcceptsVoidAndConvertibleResultsAndChecksTheType) {
  Worker worker;
  worker.handle("a", [](JobContext&) {});
  worker.handle("b", [](JobContext&) { return 7; });
  worker.handle("c", [](JobContext&) -> nlohmann::json { return {{"x", 1}}; });
  EXPECT_EQ(worker.types(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_THROW(worker.handle("bad type", [](JobContext&) {}), std::invalid_argument);
  EXPECT_FALSE(worker.wait_connected(std::chrono::milliseconds(0)));  // not started
}

TEST(SdkWorker, StartRejectsBadOptions) {
  Worker no_queues({.queues = {}});
  EXPECT_THROW(no_queues.start(), std::invalid_argument);
  Worker no_threads({.concurrency = 0});
  EXPECT_THROW(no_threads.start(), std::invalid_argument);
  Worker bad_url({.amqp_url = "http://example.com/"});
  EXPECT_THROW(bad_url.start(), std::invalid_argument);
}

}  // namespace
}  // namespace warren::sdk

namespace warren::sdk {
namespace {

TEST(SdkOptions, QueueTypeFollowsTheFlagsAndRefusesQuorumWithPriorities) {
  EXPECT_EQ(QueueTypeOf(false, false, "WorkerOptions"), QueueType::kClassic);
  EXPECT_EQ(QueueTypeOf(true, false, "WorkerOptions"), QueueType::kQuorum);
  EXPECT_EQ(QueueTypeOf(false, true, "ClientOptions"), QueueType::kPriority);
  try {
    QueueTypeOf(true, true, "ClientOptions");
    FAIL() << "both flags were accepted";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("ClientOptions: quorum_queues and priority_queues"), std::string::npos)
        << e.what();
  }
}

}  // namespace
}  // namespace warren::sdk
