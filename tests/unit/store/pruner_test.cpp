#include "store/pruner.hpp"

#include <condition_variable>
#include <mutex>

#include <gtest/gtest.h>

namespace warren::store {
namespace {

constexpr TimePoint kT0{std::chrono::milliseconds(1'780'000'000'000)};

// A store that only counts Prune calls; the first one fails, to show the loop survives it.
class CountingStore final : public Store {
 public:
  void Migrate() override {}
  bool Ping() override { return true; }
  std::vector<InsertResult> InsertJobs(const std::vector<JobRecord>& /*records*/) override { return {}; }
  std::optional<JobRecord> GetJob(const std::string& /*id*/) override { return std::nullopt; }
  ListPage ListJobs(const ListQuery& /*query*/) override { return {}; }
  std::optional<VersionedJob> GetJobVersioned(const std::string& /*id*/) override { return std::nullopt; }
  bool ReplaceJob(const JobRecord& /*record*/, int64_t /*expected*/) override { return false; }
  bool DeleteJob(const std::string& /*id*/) override { return false; }
  bool UndoInsert(const std::string& /*id*/) override { return false; }
  void MarkPublished(const std::vector<std::string>& /*ids*/) override {}
  void MarkUnpublished(const std::string& /*id*/, TimePoint /*since*/) override {}
  std::vector<JobRecord> UnpublishedBefore(TimePoint /*before*/, size_t /*limit*/) override { return {}; }
  store::AppliedEvents ApplyEvents(const std::vector<JobEvent>& /*events*/) override { return {}; }
  std::vector<std::string> AppendLogs(const std::vector<JobEvent>& /*events*/,
                                      size_t /*keep_per_job*/) override {
    return {};
  }
  LogPage ListLogs(const LogQuery& /*query*/) override { return {}; }

  std::optional<TimePoint> LastPeriodicTick(const std::string& /*name*/) override { return std::nullopt; }
  void RecordPeriodicTick(const std::string& /*name*/, TimePoint /*tick*/) override {}
  size_t Prune(const RetentionPolicy& policy, TimePoint now) override {
    std::lock_guard lock(mutex);
    ++calls;
    last_now = now;
    last_batch = policy.batch;
    changed.notify_all();
    if (calls == 1) {
      throw StoreError("disk I/O error");
    }
    return 3;
  }

  bool WaitForCalls(int n) {
    std::unique_lock lock(mutex);
    return changed.wait_for(lock, std::chrono::seconds(10), [&] { return calls >= n; });
  }

  std::mutex mutex;
  std::condition_variable changed;
  int calls = 0;          // guarded by mutex
  TimePoint last_now{};   // guarded by mutex
  size_t last_batch = 0;  // guarded by mutex
};

TEST(Pruner, PrunesAtOnceThenEveryIntervalAndSurvivesErrors) {
  CountingStore store;
  RetentionPolicy policy;
  policy.batch = 17;
  {
    Pruner pruner(store, policy, std::chrono::milliseconds(1), [] { return kT0; });
    ASSERT_TRUE(store.WaitForCalls(3));
  }
  std::lock_guard lock(store.mutex);
  EXPECT_EQ(store.last_now, kT0);
  EXPECT_EQ(store.last_batch, 17U);
}

TEST(Pruner, StopsPromptlyDuringALongInterval) {
  CountingStore store;
  const auto started = std::chrono::steady_clock::now();
  {
    Pruner pruner(store, RetentionPolicy{}, std::chrono::hours(1), [] { return kT0; });
    ASSERT_TRUE(store.WaitForCalls(1));
  }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace warren::store
