// The periodic scheduler over a real SQLite store: two schedulers (two `serve` replicas) sharing one
// store enqueue every tick exactly once, and a restarted scheduler honours the missed-run policy.
#include "api/scheduler.hpp"

#include <filesystem>
#include <map>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "store/store.hpp"

namespace warren::api {
namespace {

using namespace std::chrono_literals;

// Enqueue as the jobs API does it, minus RabbitMQ: the store's idempotency keys decide new or known.
SubmitFn StoreSubmit(store::Store& store, std::mutex& mu, std::map<std::string, int>& inserted_keys) {
  return [&store, &mu, &inserted_keys](JobSpec spec, const Responder& respond) {
    const TimePoint now = SystemNow();
    const auto results = store.InsertJobs({NewJobRecord(NewJobId(now), std::move(spec), now)});
    if (results.at(0).inserted) {
      std::lock_guard lock(mu);
      ++inserted_keys[*results.at(0).record.spec.idempotency_key];
    }
    Response response;
    response.status = results.at(0).inserted ? 202 : 200;
    respond(std::move(response));
  };
}

PeriodicJob EveryMinute(MissedPolicy missed = MissedPolicy::kSkip) {
  PeriodicJob job;
  job.name = "cleanup";
  job.type = "cleanup";
  job.cron = std::get<CronSchedule>(CronSchedule::Parse("* * * * *"));
  job.missed = missed;
  return job;
}

class SchedulerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = std::filesystem::temp_directory_path() / ("warren-scheduler-" + std::to_string(getpid()));
    std::filesystem::create_directories(dir_);
    url_ = "sqlite:" + (dir_ / "warren.db").string();
    auto first = store::OpenStore(url_);
    first->Migrate();
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  std::filesystem::path dir_;
  std::string url_;
};

TEST_F(SchedulerTest, TwoReplicasEnqueueEachTickOnce) {
  auto store_a = store::OpenStore(url_);
  auto store_b = store::OpenStore(url_);
  std::mutex mu;
  std::map<std::string, int> inserted;
  // Both replicas' clocks walk through ten minutes in 7-second steps, slightly out of step.
  const TimePoint start = *ParseTime("2026-11-26T12:00:30.000Z");
  std::atomic<int64_t> step{0};
  PeriodicScheduler a({EveryMinute()}, *store_a, StoreSubmit(*store_a, mu, inserted),
                      [&] { return start + step.load() * 7s; });
  PeriodicScheduler b({EveryMinute()}, *store_b, StoreSubmit(*store_b, mu, inserted),
                      [&] { return start + step.load() * 7s + 1500ms; });
  for (; step < 90; ++step) {
    std::thread other([&] { b.RunOnce(); });
    a.RunOnce();
    other.join();
  }
  std::lock_guard lock(mu);
  // 12:00 is due at start-up (within the tolerance), then one per minute up to 12:10.
  EXPECT_EQ(inserted.size(), 11U);
  for (const auto& [key, count] : inserted) {
    EXPECT_EQ(count, 1) << key;
  }
  EXPECT_EQ(store_a->LastPeriodicTick("cleanup"), *ParseTime("2026-11-26T12:10:00.000Z"));
}

// Replica A inserts the tick's job and waits for RabbitMQ's confirm; meanwhile replica B finds the key
// (200). A's publish then fails and A undoes its row. Had B recorded the tick on its 200, no round would
// ever offer that tick again: B must wait until the job is surely published, and enqueue it itself.
TEST_F(SchedulerTest, ATickWhoseOtherEnqueuerUndoesItIsEnqueuedByTheNextRound) {
  auto store_a = store::OpenStore(url_);
  auto store_b = store::OpenStore(url_);
  TimePoint now = *ParseTime("2026-11-26T12:00:05.000Z");
  const ClockFn clock = [&] { return now; };
  // B enqueues as the jobs API does: 202 for a new job, 200 with the existing record for a known key.
  int b_inserted = 0;
  SubmitFn submit_b = [&](JobSpec spec, const Responder& respond) {
    const auto results = store_b->InsertJobs({NewJobRecord(NewJobId(now), std::move(spec), now)});
    b_inserted += results.at(0).inserted ? 1 : 0;
    Response response;
    response.status = results.at(0).inserted ? 202 : 200;
    response.body = DumpJson(ToJson(results.at(0).record));
    respond(std::move(response));
  };
  // A inserts and then, while its publish waits, B's round runs; then A's publish fails.
  std::optional<JobRecord> a_row;
  SubmitFn submit_a = [&](JobSpec spec, const Responder& respond) {
    const auto results = store_a->InsertJobs({NewJobRecord(NewJobId(now), std::move(spec), now)});
    ASSERT_TRUE(results.at(0).inserted);
    a_row = results.at(0).record;
    Response response;
    response.status = 503;
    respond(std::move(response));
  };
  PeriodicScheduler a({EveryMinute()}, *store_a, submit_a, clock, 15s);
  PeriodicScheduler b({EveryMinute()}, *store_b, submit_b, clock, 15s);
  EXPECT_EQ(a.RunOnce(), 0U);  // inserted, "publish failed" (its undo comes below)
  ASSERT_TRUE(a_row);
  EXPECT_EQ(b.RunOnce(), 0U) << "A's job is not surely published yet: not recorded";
  EXPECT_FALSE(store_b->LastPeriodicTick("cleanup"));
  ASSERT_TRUE(store_a->UndoInsert(a_row->id));  // A's publish failed
  now += 1s;
  EXPECT_EQ(b.RunOnce(), 1U);
  EXPECT_EQ(b_inserted, 1) << "B enqueued the tick itself";
  EXPECT_EQ(store_b->LastPeriodicTick("cleanup"), *ParseTime("2026-11-26T12:00:00.000Z"));

  // A replica that enqueued a tick and died before recording it: the others record it once it has
  // settled, and enqueue nothing twice.
  now = *ParseTime("2026-11-26T12:01:02.000Z");
  a_row.reset();
  SubmitFn submit_and_die = [&](JobSpec spec, const Responder& respond) {
    a_row = store_a->InsertJobs({NewJobRecord(NewJobId(now), std::move(spec), now)}).at(0).record;
    Response response;
    response.status = 202;
    respond(std::move(response));
    throw std::runtime_error("crashed before recording");
  };
  PeriodicScheduler dying({EveryMinute()}, *store_a, submit_and_die, clock, 15s);
  EXPECT_THROW(dying.RunOnce(), std::runtime_error);
  ASSERT_TRUE(a_row);
  EXPECT_EQ(b.RunOnce(), 0U);
  now += 16s;
  EXPECT_EQ(b.RunOnce(), 1U) << "settled: recorded, not enqueued again";
  EXPECT_EQ(b_inserted, 1);
  EXPECT_EQ(store_b->LastPeriodicTick("cleanup"), *ParseTime("2026-11-26T12:01:00.000Z"));
}

TEST_F(SchedulerTest, ARestartedSchedulerCatchesUpByItsMissedPolicy) {
  auto store = store::OpenStore(url_);
  std::mutex mu;
  std::map<std::string, int> inserted;
  TimePoint now = *ParseTime("2026-11-26T12:00:10.000Z");
  {
    PeriodicScheduler before({EveryMinute(MissedPolicy::kOnce)}, *store, StoreSubmit(*store, mu, inserted),
                             [&] { return now; });
    EXPECT_EQ(before.RunOnce(), 1U) << "the tick of 12:00 is due";
  }
  // Down from 12:00:10 to 12:30:20: thirty ticks missed; "once" runs one of them.
  now = *ParseTime("2026-11-26T12:30:20.000Z");
  PeriodicScheduler after({EveryMinute(MissedPolicy::kOnce)}, *store, StoreSubmit(*store, mu, inserted),
                          [&] { return now; });
  EXPECT_EQ(after.RunOnce(), 1U);
  EXPECT_EQ(after.RunOnce(), 0U) << "nothing twice";
  std::lock_guard lock(mu);
  EXPECT_EQ(inserted.size(), 2U);
  EXPECT_EQ(store->LastPeriodicTick("cleanup"), *ParseTime("2026-11-26T12:30:00.000Z"));
}

}  // namespace
}  // namespace warren::api
