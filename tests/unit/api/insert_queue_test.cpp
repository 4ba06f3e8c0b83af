#include "api/insert_queue.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "fakes.hpp"

namespace warren::api {
namespace {

using testing::FakeStore;
using testing::ManualRunner;

JobRecord Record(const std::string& type, std::optional<std::string> key = std::nullopt) {
  const TimePoint now =
      std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
  JobSpec spec;
  spec.type = type;
  spec.idempotency_key = std::move(key);
  return NewJobRecord(NewJobId(now), std::move(spec), now);
}

struct Outcomes {
  std::vector<store::InsertResult> inserted;
  std::vector<InsertFailure> failed;
  void Add(InsertQueue& queue, JobRecord record) {
    queue.Add(
        std::move(record), [this](const store::InsertResult& r) { inserted.push_back(r); },
        [this](InsertFailure f) { failed.push_back(f); });
  }
};

TEST(InsertQueue, RecordsThatWaitTogetherShareOneTransaction) {
  FakeStore store;
  ManualRunner runner;
  auto queue = InsertQueue::Create(store, runner, 256);
  Outcomes out;
  for (int i = 0; i < 5; ++i) {
    out.Add(*queue, Record("a"));
  }
  EXPECT_EQ(runner.Queued(), 1u) << "one flush is scheduled however many records wait";
  runner.RunAll();
  EXPECT_EQ(store.insert_calls, 1);
  EXPECT_EQ(out.inserted.size(), 5u);
  EXPECT_TRUE(out.failed.empty());
  EXPECT_EQ(store.Size(), 5u);
}

TEST(InsertQueue, ABatchNeverExceedsItsLimitAndTheRestFollows) {
  FakeStore store;
  ManualRunner runner;
  auto queue = InsertQueue::Create(store, runner, 2);
  Outcomes out;
  for (int i = 0; i < 5; ++i) {
    out.Add(*queue, Record("a"));
  }
  runner.RunAll();
  EXPECT_EQ(store.insert_calls, 3);  // 2 + 2 + 1
  EXPECT_EQ(out.inserted.size(), 5u);
}

TEST(InsertQueue, AKnownIdempotencyKeyAnswersWithTheStoredJob) {
  FakeStore store;
  ManualRunner runner;
  auto queue = InsertQueue::Create(store, runner, 256);
  Outcomes out;
  out.Add(*queue, Record("a", "k1"));
  out.Add(*queue, Record("a", "k1"));
  runner.RunAll();
  ASSERT_EQ(out.inserted.size(), 2u);
  EXPECT_TRUE(out.inserted[0].inserted);
  EXPECT_FALSE(out.inserted[1].inserted);
  EXPECT_EQ(out.inserted[1].record.id, out.inserted[0].record.id);
  EXPECT_EQ(store.Size(), 1u);
}

TEST(InsertQueue, AStoreFailureFailsTheWholeBatchAndTheNextBatchStillRuns) {
  FakeStore store;
  ManualRunner runner;
  auto queue = InsertQueue::Create(store, runner, 256);
  Outcomes out;
  store.FailNext();
  out.Add(*queue, Record("a"));
  out.Add(*queue, Record("a"));
  runner.RunAll();
  EXPECT_EQ(out.failed, (std::vector<InsertFailure>{InsertFailure::kStore, InsertFailure::kStore}));
  EXPECT_EQ(store.Size(), 0u);
  out.Add(*queue, Record("a"));
  runner.RunAll();
  EXPECT_EQ(out.inserted.size(), 1u);
}

TEST(InsertQueue, ASaturatedRunnerRefusesAtOnceAndLeavesNothingBehind) {
  FakeStore store;
  ManualRunner runner(/*capacity=*/0);
  auto queue = InsertQueue::Create(store, runner, 256);
  Outcomes out;
  out.Add(*queue, Record("a"));
  EXPECT_EQ(out.failed, (std::vector<InsertFailure>{InsertFailure::kBusy}));
  EXPECT_EQ(store.Size(), 0u);
  EXPECT_EQ(runner.Queued(), 0u);
}

TEST(InsertQueue, AnAnswerThatThrowsIsReportedAsFailedAndOthersAreStillAnswered) {
  FakeStore store;
  ManualRunner runner;
  auto queue = InsertQueue::Create(store, runner, 256);
  std::vector<InsertFailure> failed;
  int answered = 0;
  queue->Add(
      Record("a"), [](const store::InsertResult&) { throw std::runtime_error("boom"); },
      [&](InsertFailure f) { failed.push_back(f); });
  queue->Add(
      Record("a"), [&](const store::InsertResult&) { ++answered; },
      [&](InsertFailure f) { failed.push_back(f); });
  runner.RunAll();
  EXPECT_EQ(failed, (std::vector<InsertFailure>{InsertFailure::kInternal}));
  EXPECT_EQ(answered, 1);
}

}  // namespace
}  // namespace warren::api
