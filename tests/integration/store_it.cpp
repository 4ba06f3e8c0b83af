// The store's conformance suite: one set of tests, run against every backend — SQLite on a file,
// SQLite in memory, and a real PostgreSQL (tests/support/postgres.hpp). A backend is done when it
// passes all of them.
#include <algorithm>
#include <atomic>
#include <filesystem>
#include <latch>
#include <map>
#include <mutex>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>
#include <gtest/gtest.h>

#include "core/job.hpp"
#include "store/sqlite/database.hpp"
#include "store/store.hpp"
#include "support/postgres.hpp"
#include "support/support.hpp"

namespace warren::store {
namespace {

using namespace std::chrono_literals;
using warren::testing::MakeTempDir;
using warren::testing::TestPostgres;

enum class Backend { kSqliteFile, kSqliteMemory, kPostgres };

void PrintTo(Backend backend, std::ostream* os) {
  *os << (backend == Backend::kSqliteFile     ? "SqliteFile"
          : backend == Backend::kSqliteMemory ? "SqliteMemory"
                                              : "Postgres");
}

std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  switch (info.param) {
    case Backend::kSqliteFile:
      return "SqliteFile";
    case Backend::kSqliteMemory:
      return "SqliteMemory";
    case Backend::kPostgres:
      return "Postgres";
  }
  return "Unknown";
}

// A fixed, recent instant: tests never read the wall clock for the records they compare.
constexpr size_t kMaxPage = 1000;
constexpr TimePoint kT0{std::chrono::milliseconds(1'780'000'000'000)};

JobRecord NewJob(TimePoint now, const std::string& type = "email.send", const std::string& queue = "default",
                 std::optional<std::string> key = std::nullopt) {
  JobSpec spec;
  spec.type = type;
  spec.queue = queue;
  spec.args = nlohmann::json{{"to", "ada@example.com"}, {"n", 1}};
  spec.idempotency_key = std::move(key);
  return NewJobRecord(NewJobId(now), std::move(spec), now);
}

// A job already in a terminal (or any) state, as if its events had been applied.
JobRecord FinishedJob(JobState state, TimePoint finished_at) {
  JobRecord record = NewJob(finished_at - 1min);
  record.state = state;
  record.finished_at = finished_at;
  record.updated_at = finished_at;
  return record;
}

JobEvent Event(const std::string& job_id, EventKind kind, int attempt, TimePoint at) {
  JobEvent event;
  event.job_id = job_id;
  event.kind = kind;
  event.attempt = attempt;
  event.at = at;
  event.worker = "worker-1";
  if (kind == EventKind::kSucceeded) {
    event.result = nlohmann::json{{"sent", true}};
  }
  if (kind == EventKind::kFailed || kind == EventKind::kRetrying || kind == EventKind::kDead) {
    event.error = "smtp: connection refused";
  }
  if (kind == EventKind::kProgress) {
    event.percent = 50;
    event.note = "half way";
  }
  return event;
}

std::vector<std::string> Ids(const std::vector<JobRecord>& records) {
  std::vector<std::string> ids;
  ids.reserve(records.size());
  for (const auto& r : records) {
    ids.push_back(r.id);
  }
  return ids;
}

// Every job, page by page.
size_t CountJobs(Store& store) {
  size_t count = 0;
  ListQuery query;
  query.limit = kMaxPage;
  do {
    const ListPage page = store.ListJobs(query);
    count += page.jobs.size();
    query.cursor = page.next_cursor;
  } while (query.cursor);
  return count;
}

class StoreTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    url_ = NewStoreUrl();
    store_ = OpenStore(url_);
    store_->Migrate();
  }

  void TearDown() override {
    store_.reset();
    for (const auto& dir : temp_dirs_) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }

  // A new, empty store of this test's backend.
  std::string NewStoreUrl() {
    switch (GetParam()) {
      case Backend::kSqliteFile:
        temp_dirs_.push_back(MakeTempDir("warren-store-"));
        return "sqlite:" + temp_dirs_.back() + "/warren.db";
      case Backend::kSqliteMemory:
        return "sqlite::memory:";
      case Backend::kPostgres:
        return TestPostgres::Get().CreateDatabase();
    }
    return {};
  }

  // Whether a second OpenStore(url_) reaches the same data (an in-memory database is private).
  bool Shared() const { return GetParam() != Backend::kSqliteMemory; }

  // Runs SQL on the backend directly, behind the store's back.
  void ExecSql(const std::string& sql) {
    if (GetParam() == Backend::kPostgres) {
      const std::string database = url_.substr(url_.rfind('/') + 1);
      std::string output;
      ASSERT_EQ(TestPostgres::Get().Psql(database, sql, &output), 0) << output;
    } else {
      auto db = sqlite::Database::Open(url_.substr(std::string_view("sqlite:").size()),
                                       sqlite::Database::Mode::kReadWrite);
      db.Exec(sql);
    }
  }

  JobRecord Insert(const JobRecord& record) {
    auto results = store_->InsertJobs({record});
    EXPECT_EQ(results.size(), 1U);
    EXPECT_TRUE(results.at(0).inserted);
    return results.at(0).record;
  }

  std::string url_;
  std::vector<std::string> temp_dirs_;
  StorePtr store_;
};

INSTANTIATE_TEST_SUITE_P(Backends, StoreTest,
                         ::testing::Values(Backend::kSqliteFile, Backend::kSqliteMemory, Backend::kPostgres),
                         BackendName);

// --- migrations and health -------------------------------------------------------------------

TEST_P(StoreTest, MigrateTwiceIsANoOp) {
  const JobRecord job = Insert(NewJob(kT0));
  store_->Migrate();
  ASSERT_TRUE(store_->GetJob(job.id));
  if (Shared()) {
    auto again = OpenStore(url_);
    again->Migrate();
    EXPECT_TRUE(again->GetJob(job.id));
  }
}

TEST_P(StoreTest, ConcurrentMigrationsApplyEachVersionOnce) {
  if (!Shared()) {
    GTEST_SKIP() << "an in-memory database is private to its store";
  }
  const std::string url = NewStoreUrl();
  constexpr int kReplicas = 4;
  std::vector<StorePtr> replicas;
  for (int i = 0; i < kReplicas; ++i) {
    replicas.push_back(OpenStore(url));
  }
  std::latch start(kReplicas);
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (auto& replica : replicas) {
    threads.emplace_back([&, store = replica.get()] {
      start.arrive_and_wait();
      try {
        store->Migrate();
      } catch (const std::exception& e) {
        ADD_FAILURE() << e.what();
        ++failures;
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  EXPECT_EQ(failures, 0);
  const JobRecord job = NewJob(kT0);
  EXPECT_TRUE(replicas[0]->InsertJobs({job}).at(0).inserted);
  EXPECT_TRUE(replicas[kReplicas - 1]->GetJob(job.id));
}

TEST_P(StoreTest, RefusesASchemaNewerThanItKnows) {
  if (!Shared()) {
    GTEST_SKIP() << "needs a second connection to the same database";
  }
  ExecSql(
      GetParam() == Backend::kPostgres
          ? "INSERT INTO schema_migrations (version, name) VALUES (999, 'from the future')"
          : "INSERT INTO schema_migrations (version, name, applied_at) VALUES (999, 'from the future', 'x')");
  EXPECT_THROW(OpenStore(url_)->Migrate(), StoreError);
}

TEST_P(StoreTest, Ping) { EXPECT_TRUE(store_->Ping()); }

TEST_P(StoreTest, PeriodicTicksKeepTheNewestPerSchedule) {
  EXPECT_EQ(store_->LastPeriodicTick("cleanup"), std::nullopt);
  store_->RecordPeriodicTick("cleanup", kT0 + std::chrono::minutes(5));
  store_->RecordPeriodicTick("cleanup", kT0);  // a slower scheduler's older tick changes nothing
  store_->RecordPeriodicTick("report", kT0 + std::chrono::hours(1));
  EXPECT_EQ(store_->LastPeriodicTick("cleanup"), kT0 + std::chrono::minutes(5));
  EXPECT_EQ(store_->LastPeriodicTick("report"), kT0 + std::chrono::hours(1));
  if (Shared()) {
    EXPECT_EQ(OpenStore(url_)->LastPeriodicTick("cleanup"), kT0 + std::chrono::minutes(5));
  }
}

TEST_P(StoreTest, InsertedJobsStayInTheOutboxUntilMarkedPublished) {
  const JobRecord first = Insert(NewJob(kT0));
  const JobRecord second = Insert(NewJob(kT0 + std::chrono::seconds(1)));
  const JobRecord third = Insert(NewJob(kT0 + std::chrono::seconds(2)));
  auto ids = [](const std::vector<JobRecord>& records) {
    std::vector<std::string> out;
    for (const auto& r : records) {
      out.push_back(r.id);
    }
    return out;
  };
  EXPECT_EQ(ids(store_->UnpublishedBefore(kT0 + std::chrono::seconds(2), 10)),
            (std::vector<std::string>{first.id, second.id}))
      << "oldest first, only those marked before the time";
  EXPECT_EQ(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 1).size(), 1U) << "at most the limit";
  store_->MarkPublished({first.id});
  ASSERT_TRUE(store_->UndoInsert(second.id));
  EXPECT_EQ(ids(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10)), std::vector<std::string>{third.id});
  store_->MarkPublished({third.id, first.id});  // repeated and unknown marks are harmless
  EXPECT_TRUE(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10).empty());
  // An idempotent repeat inserts nothing, so it marks nothing.
  JobRecord keyed = NewJob(kT0);
  keyed.spec.idempotency_key = "outbox-key";
  ASSERT_TRUE(store_->InsertJobs({keyed}).at(0).inserted);
  store_->MarkPublished({keyed.id});
  JobRecord again = NewJob(kT0);
  again.spec.idempotency_key = "outbox-key";
  EXPECT_FALSE(store_->InsertJobs({again}).at(0).inserted);
  EXPECT_TRUE(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10).empty());
  // An API retry marks an existing job again, with the time of the retry.
  store_->MarkUnpublished(first.id, kT0 + std::chrono::hours(2));
  store_->MarkUnpublished(first.id, kT0 + std::chrono::hours(2));  // twice is once
  EXPECT_TRUE(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10).empty());
  ASSERT_EQ(store_->UnpublishedBefore(kT0 + std::chrono::hours(3), 10).size(), 1U);
  store_->MarkPublished({first.id});
  EXPECT_TRUE(store_->UnpublishedBefore(kT0 + std::chrono::hours(3), 10).empty());
}

TEST_P(StoreTest, EmptyBatchesDoNothing) {
  EXPECT_TRUE(store_->InsertJobs({}).empty());
  EXPECT_TRUE(store_->ApplyEvents({}).changed.empty());
  EXPECT_EQ(store_->Prune(RetentionPolicy{}, kT0), 0U);
}

TEST_P(StoreTest, RecoversWhenTheServerDropsItsConnections) {
  if (GetParam() != Backend::kPostgres) {
    GTEST_SKIP() << "PostgreSQL only: what a server restart or idle timeout does to pooled connections";
  }
  // Fill the pool with several idle connections, then have the server kill them all.
  std::vector<std::thread> readers;
  for (int i = 0; i < 4; ++i) {
    readers.emplace_back([&] { store_->ListJobs({}); });
  }
  for (auto& t : readers) {
    t.join();
  }
  const std::string database = url_.substr(url_.rfind('/') + 1);
  std::string output;
  ASSERT_EQ(
      TestPostgres::Get().Psql(
          "postgres",
          "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = '" + database + "'",
          &output),
      0)
      << output;
  // The next call finds its connection broken before anything was sent, reconnects and succeeds.
  const JobRecord job = NewJob(kT0);
  EXPECT_TRUE(store_->InsertJobs({job}).at(0).inserted);
  EXPECT_TRUE(store_->GetJob(job.id));
  EXPECT_TRUE(store_->Ping());
}

// --- insert and get ---------------------------------------------------------------------------

TEST_P(StoreTest, InsertThenGetRoundTripsEveryField) {
  JobSpec spec;
  spec.type = "report.render";
  spec.queue = "reports";
  spec.args = nlohmann::json{
      {"ids", {1, 2, 3}}, {"opts", {{"deep", {{"x", nullptr}}}}}, {"ü", "ünïcödé ✓"}, {"f", 0.5}};
  spec.priority = 7;
  spec.max_attempts = 5;
  spec.timeout = 90s;
  spec.deadline = kT0 + 1h;
  spec.run_at = kT0 + 10min;
  spec.idempotency_key = "order-42";
  spec.tags = {"billing", "eu"};
  JobRecord record = NewJobRecord(NewJobId(kT0), spec, kT0);
  ApplyEvent(record, Event(record.id, EventKind::kStarted, 1, kT0 + 11min));
  ApplyEvent(record, Event(record.id, EventKind::kRetrying, 1, kT0 + 12min));
  ApplyEvent(record, Event(record.id, EventKind::kStarted, 2, kT0 + 13min));
  ApplyEvent(record, Event(record.id, EventKind::kProgress, 2, kT0 + 14min));

  const auto results = store_->InsertJobs({record});
  ASSERT_EQ(results.size(), 1U);
  EXPECT_TRUE(results[0].inserted);
  EXPECT_EQ(ToJson(results[0].record), ToJson(record));

  const auto got = store_->GetJob(record.id);
  ASSERT_TRUE(got);
  EXPECT_EQ(ToJson(*got), ToJson(record));
}

TEST_P(StoreTest, GetUnknownOrMalformedIdIsEmpty) {
  EXPECT_FALSE(store_->GetJob(NewJobId(kT0)));
  EXPECT_FALSE(store_->GetJob("not-a-job-id"));
  EXPECT_FALSE(store_->GetJob(""));
  EXPECT_FALSE(store_->GetJob("' OR 1=1 --"));
}

TEST_P(StoreTest, InsertRejectsAnIdThatIsNotAJobId) {
  JobRecord record = NewJob(kT0);
  record.id = "job-1";
  EXPECT_THROW(store_->InsertJobs({record}), std::invalid_argument);
}

TEST_P(StoreTest, IdempotencyKeyReturnsTheExistingJob) {
  const JobRecord first = Insert(NewJob(kT0, "email.send", "default", "signup-7"));
  const JobRecord second = NewJob(kT0 + 1s, "email.send", "default", "signup-7");
  const auto results = store_->InsertJobs({second});
  ASSERT_EQ(results.size(), 1U);
  EXPECT_FALSE(results[0].inserted);
  EXPECT_EQ(ToJson(results[0].record), ToJson(first));
  EXPECT_FALSE(store_->GetJob(second.id));
  EXPECT_EQ(store_->ListJobs({}).jobs.size(), 1U);
}

TEST_P(StoreTest, IdempotencyKeyTwiceInOneBatch) {
  const JobRecord a = NewJob(kT0, "t", "default", "k");
  const JobRecord b = NewJob(kT0, "t", "default", "k");
  const JobRecord c = NewJob(kT0);  // no key
  const JobRecord d = NewJob(kT0);  // no key: never clashes with c
  const auto results = store_->InsertJobs({a, b, c, d});
  ASSERT_EQ(results.size(), 4U);
  EXPECT_TRUE(results[0].inserted);
  EXPECT_FALSE(results[1].inserted);
  EXPECT_EQ(results[1].record.id, a.id);
  EXPECT_TRUE(results[2].inserted);
  EXPECT_TRUE(results[3].inserted);
  EXPECT_EQ(store_->ListJobs({}).jobs.size(), 3U);
}

TEST_P(StoreTest, ConcurrentIdenticalIdempotentInsertsMakeOneJob) {
  constexpr int kThreads = 8;
  constexpr int kKeys = 20;
  // Two "replicas" where the backend allows: the race then also crosses connections and processes' pools.
  StorePtr other = Shared() ? OpenStore(url_) : nullptr;
  std::latch start(kThreads);
  std::mutex mutex;
  std::map<std::string, std::vector<InsertResult>> by_key;  // guarded by mutex
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = (other && t % 2 == 1) ? *other : *store_;
      start.arrive_and_wait();
      for (int k = 0; k < kKeys; ++k) {
        const std::string key = "key-" + std::to_string(k);
        auto results = store.InsertJobs({NewJob(kT0, "t", "default", key)});
        std::lock_guard lock(mutex);
        by_key[key].push_back(std::move(results.at(0)));
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  ASSERT_EQ(by_key.size(), static_cast<size_t>(kKeys));
  for (const auto& [key, results] : by_key) {
    ASSERT_EQ(results.size(), static_cast<size_t>(kThreads));
    const auto inserted =
        std::count_if(results.begin(), results.end(), [](const auto& r) { return r.inserted; });
    EXPECT_EQ(inserted, 1) << key;
    for (const auto& r : results) {
      EXPECT_EQ(r.record.id, results[0].record.id) << key;
    }
  }
  EXPECT_EQ(CountJobs(*store_), static_cast<size_t>(kKeys));
}

// An enqueue's undo (a publish that failed) deletes the row that holds a key while another request
// inserts the same key: that insert finds the key taken, then no row with it. It must insert again,
// not fail (PostgreSQL answered a store error, so the client a 503).
TEST_P(StoreTest, AnIdempotentInsertRacingTheUndoOfItsKeysJobNeverFails) {
  constexpr int kRounds = 4000;
  // Two replicas on PostgreSQL. (Two processes on one SQLite file would only measure its busy wait:
  // a tight loop in one can starve the other past busy_timeout.)
  StorePtr other = GetParam() == Backend::kPostgres ? OpenStore(url_) : nullptr;
  Store& undoer = other ? *other : *store_;
  std::atomic<bool> done{false};
  std::atomic<int> errors{0};
  std::thread churn([&] {
    while (!done) {
      try {
        const auto result = undoer.InsertJobs({NewJob(kT0, "t", "default", "contested")}).at(0);
        undoer.UndoInsert(result.record.id);
      } catch (const StoreError&) {
        ++errors;
      }
    }
  });
  for (int i = 0; i < kRounds; ++i) {
    try {
      const auto result = store_->InsertJobs({NewJob(kT0, "t", "default", "contested")}).at(0);
      EXPECT_EQ(result.record.spec.idempotency_key, "contested");
    } catch (const StoreError& e) {
      ++errors;
      ADD_FAILURE() << e.what();
      break;
    }
  }
  done = true;
  churn.join();
  EXPECT_EQ(errors.load(), 0);
}

// --- list -------------------------------------------------------------------------------------

TEST_P(StoreTest, ListFiltersNewestFirst) {
  const JobRecord a = Insert(NewJob(kT0, "email.send", "default"));
  const JobRecord b = Insert(NewJob(kT0 + 1s, "report.render", "reports"));
  const JobRecord c = Insert(NewJob(kT0 + 2s, "email.send", "reports"));
  const JobRecord d = Insert(NewJob(kT0 + 3s, "email.send", "default"));
  store_->ApplyEvents({Event(d.id, EventKind::kStarted, 1, kT0 + 4s)});  // d: running

  auto list = [&](std::optional<JobState> state, std::optional<std::string> type,
                  std::optional<std::string> queue) {
    ListQuery query;
    query.state = state;
    query.type = std::move(type);
    query.queue = std::move(queue);
    const ListPage page = store_->ListJobs(query);
    EXPECT_FALSE(page.next_cursor);
    return Ids(page.jobs);
  };
  using V = std::vector<std::string>;
  EXPECT_EQ(list({}, {}, {}), (V{d.id, c.id, b.id, a.id}));
  EXPECT_EQ(list(JobState::kQueued, {}, {}), (V{c.id, b.id, a.id}));
  EXPECT_EQ(list(JobState::kRunning, {}, {}), (V{d.id}));
  EXPECT_EQ(list({}, "email.send", {}), (V{d.id, c.id, a.id}));
  EXPECT_EQ(list({}, {}, "reports"), (V{c.id, b.id}));
  EXPECT_EQ(list({}, "email.send", "reports"), (V{c.id}));
  EXPECT_EQ(list(JobState::kQueued, "email.send", "default"), (V{a.id}));
  EXPECT_EQ(list(JobState::kSucceeded, {}, {}), V{});
  EXPECT_EQ(list({}, "no.such.type", {}), V{});

  // Listed records are whole records.
  ListQuery one;
  one.state = JobState::kRunning;
  const auto running = store_->ListJobs(one).jobs.at(0);
  EXPECT_EQ(ToJson(running), ToJson(*store_->GetJob(d.id)));
}

TEST_P(StoreTest, PagesHaveNoDuplicatesOrGapsWhileJobsArrive) {
  constexpr int kJobs = 30;
  std::vector<std::string> original;
  for (int i = 0; i < kJobs; ++i) {
    original.push_back(Insert(NewJob(kT0 + std::chrono::seconds(i), i % 2 == 0 ? "even" : "odd")).id);
  }
  std::reverse(original.begin(), original.end());  // newest first

  // Writers keep inserting while the reader pages: new jobs sort before the cursor, so they can
  // neither shift a page nor appear twice.
  std::atomic<bool> stop{false};
  std::atomic<int> inserted_meanwhile{0};
  std::thread writer([&] {
    int i = 0;
    while (!stop) {
      store_->InsertJobs({NewJob(kT0 + 1h + std::chrono::milliseconds(i++))});
      ++inserted_meanwhile;
    }
  });
  std::vector<std::string> seen;
  std::optional<std::string> cursor;
  int pages = 0;
  do {
    ListQuery query;
    query.limit = 7;
    query.cursor = cursor;
    const ListPage page = store_->ListJobs(query);
    EXPECT_LE(page.jobs.size(), 7U);
    for (const auto& job : page.jobs) {
      seen.push_back(job.id);
    }
    cursor = page.next_cursor;
    // Let the writer get some inserts in between pages (bounded: no sleeping on a clock).
    const int target = inserted_meanwhile + 3;
    while (inserted_meanwhile < target) {
      std::this_thread::yield();
    }
    ++pages;
  } while (cursor && pages < 100);
  stop = true;
  writer.join();

  EXPECT_TRUE(std::is_sorted(seen.begin(), seen.end(), std::greater<>())) << "newest first";
  EXPECT_EQ(std::set<std::string>(seen.begin(), seen.end()).size(), seen.size()) << "no duplicates";
  // Jobs inserted before the first page may appear on it; every original job appears, in order.
  std::vector<std::string> originals_seen;
  const std::set<std::string> original_set(original.begin(), original.end());
  std::copy_if(seen.begin(), seen.end(), std::back_inserter(originals_seen),
               [&](const std::string& id) { return original_set.contains(id); });
  EXPECT_EQ(originals_seen, original);
}

TEST_P(StoreTest, PaginationWithAFilterAndAnExactLastPage) {
  std::vector<std::string> odd;
  for (int i = 0; i < 12; ++i) {
    const auto job = Insert(NewJob(kT0 + std::chrono::seconds(i), i % 2 == 0 ? "even" : "odd"));
    if (i % 2 == 1) {
      odd.insert(odd.begin(), job.id);
    }
  }
  ListQuery query;
  query.type = "odd";
  query.limit = 3;
  const ListPage first = store_->ListJobs(query);
  ASSERT_TRUE(first.next_cursor);
  query.cursor = first.next_cursor;
  const ListPage second = store_->ListJobs(query);
  // 6 odd jobs in pages of 3: the second page is the last, and says so (no empty third page).
  EXPECT_FALSE(second.next_cursor);
  auto ids = Ids(first.jobs);
  auto more = Ids(second.jobs);
  ids.insert(ids.end(), more.begin(), more.end());
  EXPECT_EQ(ids, odd);
}

TEST_P(StoreTest, InvalidCursorOrLimitIsInvalidArgument) {
  Insert(NewJob(kT0));
  const std::vector<std::string> cursors = {"", "garbage!", "bm90LWFuLWlk", "AAAA", std::string(60, 'A')};
  for (const auto& cursor : cursors) {
    ListQuery query;
    query.cursor = cursor;
    EXPECT_THROW(store_->ListJobs(query), std::invalid_argument) << "cursor '" << cursor << "'";
  }
  ListQuery zero;
  zero.limit = 0;
  EXPECT_THROW(store_->ListJobs(zero), std::invalid_argument);
  ListQuery huge;
  huge.limit = 1001;
  EXPECT_THROW(store_->ListJobs(huge), std::invalid_argument);
  ListQuery max;
  max.limit = 1000;
  EXPECT_EQ(store_->ListJobs(max).jobs.size(), 1U);
}

// --- events -----------------------------------------------------------------------------------

TEST_P(StoreTest, ApplyEventsIsIdempotent) {
  const JobRecord job = Insert(NewJob(kT0));
  const JobRecord other = Insert(NewJob(kT0));
  const std::vector<JobEvent> batch = {
      Event(job.id, EventKind::kStarted, 1, kT0 + 1s),    Event(job.id, EventKind::kProgress, 1, kT0 + 2s),
      Event(job.id, EventKind::kSucceeded, 1, kT0 + 3s),  Event(NewJobId(kT0), EventKind::kStarted, 1, kT0),
      Event("not-a-job-id", EventKind::kStarted, 1, kT0),
  };
  const auto [changed, missing] = store_->ApplyEvents(batch);
  // A job the store does not hold (yet: decision 77) is named; text that is no job id is not.
  EXPECT_EQ(missing, std::vector<std::string>{batch[3].job_id});
  ASSERT_EQ(changed.size(), 1U);
  EXPECT_EQ(changed[0].id, job.id);
  EXPECT_EQ(changed[0].state, JobState::kSucceeded);
  ASSERT_TRUE(changed[0].finished_at);
  EXPECT_EQ(*changed[0].finished_at, kT0 + 3s);

  JobRecord expected = job;
  for (const auto& e : batch) {
    ApplyEvent(expected, e);
  }
  EXPECT_EQ(ToJson(*store_->GetJob(job.id)), ToJson(expected));

  // Redelivered: nothing changes, nothing is reported as changed.
  EXPECT_TRUE(store_->ApplyEvents(batch).changed.empty());
  EXPECT_EQ(ToJson(*store_->GetJob(job.id)), ToJson(expected));
  EXPECT_EQ(ToJson(*store_->GetJob(other.id)), ToJson(other));

  // The indexed columns follow the record.
  ListQuery succeeded;
  succeeded.state = JobState::kSucceeded;
  EXPECT_EQ(Ids(store_->ListJobs(succeeded).jobs), std::vector<std::string>{job.id});
  EXPECT_TRUE(store_->ApplyEvents({}).changed.empty());
}

TEST_P(StoreTest, ReplicasApplyingOverlappingBatchesLoseNoUpdate) {
  constexpr int kJobs = 20;
  std::vector<JobRecord> jobs;
  std::vector<JobEvent> events;
  for (int i = 0; i < kJobs; ++i) {
    jobs.push_back(Insert(NewJob(kT0)));
    const auto& id = jobs.back().id;
    events.push_back(Event(id, EventKind::kStarted, 1, kT0 + 1s));
    events.push_back(Event(id, EventKind::kProgress, 1, kT0 + 2s));
    events.push_back(Event(id, EventKind::kRetrying, 1, kT0 + 3s));
    events.push_back(Event(id, EventKind::kStarted, 2, kT0 + 4s));
    events.push_back(Event(id, EventKind::kProgress, 2, kT0 + 5s));
    events.push_back(Event(id, EventKind::kSucceeded, 2, kT0 + 6s));
  }
  std::mt19937 rng(42);
  std::shuffle(events.begin(), events.end(), rng);
  // Batches of 7, a third of them delivered twice (at-least-once), spread over 4 threads and, where
  // the backend allows, two store instances standing in for two `serve` replicas.
  std::vector<std::vector<JobEvent>> batches;
  for (size_t i = 0; i < events.size(); i += 7) {
    batches.emplace_back(events.begin() + static_cast<long>(i),
                         events.begin() + static_cast<long>(std::min(i + 7, events.size())));
    if (batches.size() % 3 == 0) {
      batches.push_back(batches.back());
    }
  }
  std::shuffle(batches.begin(), batches.end(), rng);
  StorePtr replica = Shared() ? OpenStore(url_) : nullptr;
  constexpr int kThreads = 4;
  std::atomic<size_t> next{0};
  std::latch start(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Store& store = (replica && t % 2 == 1) ? *replica : *store_;
      start.arrive_and_wait();
      for (size_t b = next++; b < batches.size(); b = next++) {
        store.ApplyEvents(batches[b]);
      }
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (const auto& job : jobs) {
    JobRecord expected = job;
    for (const auto& e : events) {
      ApplyEvent(expected, e);
    }
    const auto got = store_->GetJob(job.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(ToJson(*got), ToJson(expected)) << job.id;
    EXPECT_EQ(got->state, JobState::kSucceeded);
  }
}

// --- admin writes -----------------------------------------------------------------------------

TEST_P(StoreTest, ReplaceJobIsCompareAndSet) {
  const JobRecord job = Insert(NewJob(kT0));
  const auto read = store_->GetJobVersioned(job.id);
  ASSERT_TRUE(read);
  EXPECT_EQ(ToJson(read->record), ToJson(job));
  JobRecord cancelled = job;
  cancelled.state = JobState::kCancelled;
  cancelled.finished_at = kT0 + 5s;
  cancelled.updated_at = kT0 + 5s;
  EXPECT_TRUE(store_->ReplaceJob(cancelled, read->revision));
  EXPECT_EQ(ToJson(*store_->GetJob(job.id)), ToJson(cancelled));
  EXPECT_EQ(store_->GetJobVersioned(job.id)->revision, read->revision + 1);

  // A second writer that read the old record loses.
  JobRecord stale = job;
  stale.spec.priority = 9;
  stale.updated_at = kT0 + 6s;
  EXPECT_FALSE(store_->ReplaceJob(stale, read->revision));
  EXPECT_EQ(ToJson(*store_->GetJob(job.id)), ToJson(cancelled));

  // An event that changes the record without moving its updated_at (a late `started` after the
  // outcome) still makes a writer that read before it lose: the revision moved.
  const JobRecord done = Insert(NewJob(kT0));
  store_->ApplyEvents({Event(done.id, EventKind::kSucceeded, 1, kT0 + 10s)});
  const auto before = store_->GetJobVersioned(done.id);
  ASSERT_TRUE(before);
  ASSERT_FALSE(before->record.started_at);
  ASSERT_EQ(store_->ApplyEvents({Event(done.id, EventKind::kStarted, 1, kT0 + 5s)}).changed.size(), 1U);
  const auto after = store_->GetJobVersioned(done.id);
  EXPECT_EQ(after->record.updated_at, before->record.updated_at);
  EXPECT_TRUE(after->record.started_at);
  EXPECT_GT(after->revision, before->revision);
  JobRecord retried = before->record;
  retried.state = JobState::kQueued;
  EXPECT_FALSE(store_->ReplaceJob(retried, before->revision));
  EXPECT_TRUE(store_->GetJob(done.id)->started_at) << "the late event's change survives";

  const JobRecord absent = NewJob(kT0);
  EXPECT_FALSE(store_->ReplaceJob(absent, 0));
  EXPECT_FALSE(store_->GetJob(absent.id));
  EXPECT_FALSE(store_->GetJobVersioned(absent.id));

  ListQuery query;
  query.state = JobState::kCancelled;
  EXPECT_EQ(Ids(store_->ListJobs(query).jobs), std::vector<std::string>{job.id});
}

TEST_P(StoreTest, DeleteJob) {
  JobRecord done = FinishedJob(JobState::kSucceeded, kT0);
  done.spec.idempotency_key = "delete-me";
  const JobRecord job = Insert(done);
  EXPECT_TRUE(store_->DeleteJob(job.id));
  EXPECT_FALSE(store_->GetJob(job.id));
  EXPECT_FALSE(store_->DeleteJob(job.id));
  EXPECT_FALSE(store_->DeleteJob("not-a-job-id"));
  // Its idempotency key is free again.
  EXPECT_TRUE(store_->InsertJobs({NewJob(kT0, "t", "default", "delete-me")}).at(0).inserted);
}

// DELETE /v1/jobs/{id} reads the job, checks it is terminal, then deletes: a retry in between (the job
// queued again) used to lose a live job, so the store's delete checks the state itself.
TEST_P(StoreTest, DeleteJobLeavesAJobThatIsNotTerminal) {
  std::vector<std::string> left;
  for (const JobState state :
       {JobState::kScheduled, JobState::kQueued, JobState::kRunning, JobState::kFailed}) {
    JobRecord record = NewJob(kT0);
    record.state = state;
    const JobRecord job = Insert(record);
    EXPECT_FALSE(store_->DeleteJob(job.id)) << ToString(state);
    EXPECT_TRUE(store_->GetJob(job.id)) << ToString(state);
    left.push_back(job.id);
  }
  // What it left keeps its outbox mark (InsertJobs set it), so the sweeper still publishes it.
  EXPECT_EQ(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10).size(), left.size());
  for (const JobState state :
       {JobState::kSucceeded, JobState::kDead, JobState::kCancelled, JobState::kExpired}) {
    const JobRecord job = Insert(FinishedJob(state, kT0));
    EXPECT_TRUE(store_->DeleteJob(job.id)) << ToString(state);
    EXPECT_FALSE(store_->GetJob(job.id)) << ToString(state);
  }
  // The race itself: read dead, retried meanwhile (compare-and-set to queued), then the delete.
  const JobRecord dead = Insert(FinishedJob(JobState::kDead, kT0));
  const auto read = store_->GetJobVersioned(dead.id);
  ASSERT_TRUE(read);
  JobRecord retried = read->record;
  retried.state = JobState::kQueued;
  retried.finished_at.reset();
  ASSERT_TRUE(store_->ReplaceJob(retried, read->revision));
  EXPECT_FALSE(store_->DeleteJob(dead.id));
  const auto kept = store_->GetJob(dead.id);
  ASSERT_TRUE(kept);
  EXPECT_EQ(kept->state, JobState::kQueued);
}

TEST_P(StoreTest, UndoInsertDeletesAJobWhateverItsState) {
  const JobRecord queued = Insert(NewJob(kT0));
  EXPECT_TRUE(store_->UndoInsert(queued.id));
  EXPECT_FALSE(store_->GetJob(queued.id));
  EXPECT_FALSE(store_->UndoInsert(queued.id));
  EXPECT_TRUE(store_->UnpublishedBefore(kT0 + std::chrono::hours(1), 10).empty()) << "its mark went with it";
}

// --- retention --------------------------------------------------------------------------------

TEST_P(StoreTest, PruneByAgeAndState) {
  const TimePoint now = kT0 + std::chrono::hours(24 * 30);
  RetentionPolicy policy;
  policy.succeeded = 24h;
  policy.failed = std::chrono::hours(24 * 7);
  policy.batch = 2;  // several batches per rule

  std::vector<JobRecord> pruned = {
      FinishedJob(JobState::kSucceeded, now - 48h),
      FinishedJob(JobState::kSucceeded, now - 72h),
      FinishedJob(JobState::kSucceeded, now - 72h),
      FinishedJob(JobState::kSucceeded, now - 25h),
      FinishedJob(JobState::kDead, now - std::chrono::hours(24 * 8)),
      FinishedJob(JobState::kCancelled, now - std::chrono::hours(24 * 8)),
      FinishedJob(JobState::kExpired, now - std::chrono::hours(24 * 9)),
  };
  JobRecord retrying = NewJob(now - std::chrono::hours(24 * 60));
  retrying.state = JobState::kFailed;  // failed = will be retried: not terminal, never pruned
  // Cancelled before its run_at: its message still waits in the delay tiers, and a worker that starts
  // later learns of the cancel only from the store (the replay). Kept until run_at, then as usual.
  JobRecord cancelled_ahead = FinishedJob(JobState::kCancelled, now - std::chrono::hours(24 * 8));
  cancelled_ahead.spec.run_at = now + 24h;
  JobRecord cancelled_passed = FinishedJob(JobState::kCancelled, now - std::chrono::hours(24 * 9));
  cancelled_passed.spec.run_at = now - std::chrono::hours(24 * 8);
  pruned.push_back(cancelled_passed);
  std::vector<JobRecord> kept = {
      FinishedJob(JobState::kSucceeded, now - 1h),
      FinishedJob(JobState::kDead, now - 48h),
      FinishedJob(JobState::kCancelled, now - std::chrono::hours(24 * 6)),
      NewJob(now - std::chrono::hours(24 * 60)),  // queued for two months: still in flight
      retrying,
      cancelled_ahead,
  };
  std::vector<JobRecord> all = pruned;
  all.insert(all.end(), kept.begin(), kept.end());
  for (const auto& r : store_->InsertJobs(all)) {
    ASSERT_TRUE(r.inserted);
  }

  EXPECT_EQ(store_->Prune(policy, now), pruned.size());
  for (const auto& job : pruned) {
    EXPECT_FALSE(store_->GetJob(job.id)) << ToString(job.state);
  }
  for (const auto& job : kept) {
    EXPECT_TRUE(store_->GetJob(job.id)) << ToString(job.state);
  }
  EXPECT_EQ(store_->Prune(policy, now), 0U);

  RetentionPolicy zero_batch;
  zero_batch.batch = 0;
  EXPECT_THROW(store_->Prune(zero_batch, now), std::invalid_argument);
}

TEST_P(StoreTest, PruneRunsAlongsideWriters) {
  const TimePoint now = kT0 + std::chrono::hours(24 * 30);
  std::vector<JobRecord> old;
  for (int i = 0; i < 500; ++i) {
    old.push_back(FinishedJob(JobState::kSucceeded, now - 48h));
  }
  store_->InsertJobs(old);
  RetentionPolicy policy;
  policy.batch = 50;
  std::atomic<bool> done{false};
  std::atomic<int> writes{0};
  std::thread writer([&] {
    while (!done) {
      store_->InsertJobs({NewJob(now)});
      ++writes;
    }
  });
  EXPECT_EQ(store_->Prune(policy, now), old.size());
  done = true;
  writer.join();
  EXPECT_EQ(CountJobs(*store_), static_cast<size_t>(writes.load()));
}

// --- job logs ---------------------------------------------------------------------------------

JobEvent LogEvent(const std::string& job_id, int attempt, std::vector<int64_t> seqs) {
  JobEvent event;
  event.job_id = job_id;
  event.kind = EventKind::kLog;
  event.attempt = attempt;
  event.at = kT0;
  for (const int64_t seq : seqs) {
    event.lines.push_back(LogLine{seq, kT0 + std::chrono::milliseconds(seq), fmt::format("a{} line {}", attempt, seq)});
  }
  return event;
}

std::vector<std::string> LineTexts(const LogPage& page) {
  std::vector<std::string> out;
  for (const auto& line : page.lines) {
    out.push_back(line.line);
  }
  return out;
}

TEST_P(StoreTest, LogsReadBackInOrderOncePerLineAndByAttempt) {
  const JobRecord job = Insert(NewJob(kT0));
  // Out of order, a duplicate line and a redelivered event, lifecycle events mixed in (ignored here).
  const std::vector<JobEvent> events = {LogEvent(job.id, 2, {1}), LogEvent(job.id, 1, {2, 3}),
                                        LogEvent(job.id, 1, {1, 2}), Event(job.id, EventKind::kStarted, 1, kT0)};
  EXPECT_TRUE(store_->AppendLogs(events, 100).empty());
  EXPECT_TRUE(store_->AppendLogs(events, 100).empty());
  LogQuery query;
  query.job_id = job.id;
  const LogPage all = store_->ListLogs(query);
  EXPECT_EQ(LineTexts(all), (std::vector<std::string>{"a1 line 1", "a1 line 2", "a1 line 3", "a2 line 1"}));
  EXPECT_FALSE(all.more);
  EXPECT_EQ(all.lines.at(1), (StoredLogLine{1, 2, kT0 + 2ms, "a1 line 2"}));
  // The record itself is untouched by log events.
  EXPECT_EQ(store_->GetJob(job.id)->attempts.size(), 0U);

  query.limit = 2;
  const LogPage first = store_->ListLogs(query);
  EXPECT_EQ(LineTexts(first), (std::vector<std::string>{"a1 line 1", "a1 line 2"}));
  EXPECT_TRUE(first.more);
  query.after = {first.lines.back().attempt, first.lines.back().seq};
  const LogPage second = store_->ListLogs(query);
  EXPECT_EQ(LineTexts(second), (std::vector<std::string>{"a1 line 3", "a2 line 1"}));
  EXPECT_FALSE(second.more);

  LogQuery second_attempt;
  second_attempt.job_id = job.id;
  second_attempt.attempt = 2;
  EXPECT_EQ(LineTexts(store_->ListLogs(second_attempt)), (std::vector<std::string>{"a2 line 1"}));

  LogQuery bad;
  bad.job_id = job.id;
  bad.limit = 0;
  EXPECT_THROW(store_->ListLogs(bad), std::invalid_argument);
}

TEST_P(StoreTest, LogsKeepTheNewestLinesPerJob) {
  const JobRecord chatty = Insert(NewJob(kT0));
  const JobRecord quiet = Insert(NewJob(kT0));
  store_->AppendLogs({LogEvent(chatty.id, 1, {1, 2, 3, 4}), LogEvent(quiet.id, 1, {1})}, 3);
  store_->AppendLogs({LogEvent(chatty.id, 2, {1, 2})}, 3);
  LogQuery query;
  query.job_id = chatty.id;
  EXPECT_EQ(LineTexts(store_->ListLogs(query)), (std::vector<std::string>{"a1 line 4", "a2 line 1", "a2 line 2"}));
  query.job_id = quiet.id;
  EXPECT_EQ(LineTexts(store_->ListLogs(query)), (std::vector<std::string>{"a1 line 1"}));
  // 0 keeps nothing new.
  const JobRecord muted = Insert(NewJob(kT0));
  store_->AppendLogs({LogEvent(muted.id, 1, {1})}, 0);
  query.job_id = muted.id;
  EXPECT_TRUE(store_->ListLogs(query).lines.empty());
}

TEST_P(StoreTest, LogsOfUnknownJobsAreDroppedAndLogsGoWithTheirJob) {
  const TimePoint now = kT0 + std::chrono::hours(24 * 30);
  const JobRecord deleted = Insert(FinishedJob(JobState::kSucceeded, now - 1h));
  const JobRecord pruned = Insert(FinishedJob(JobState::kSucceeded, now - 48h));
  const JobRecord kept = Insert(FinishedJob(JobState::kSucceeded, now - 1h));
  const std::string unknown = NewJobId(kT0);
  const auto missing = store_->AppendLogs(
      {LogEvent(deleted.id, 1, {1}), LogEvent(pruned.id, 1, {1}), LogEvent(kept.id, 1, {1}),
       LogEvent(unknown, 1, {1}), LogEvent("not-a-job-id", 1, {1})},
      10);
  EXPECT_EQ(missing, std::vector<std::string>{unknown});
  LogQuery query;
  query.job_id = unknown;
  EXPECT_TRUE(store_->ListLogs(query).lines.empty());

  EXPECT_TRUE(store_->DeleteJob(deleted.id));
  RetentionPolicy policy;
  EXPECT_EQ(store_->Prune(policy, now), 1U);
  query.job_id = deleted.id;
  EXPECT_TRUE(store_->ListLogs(query).lines.empty());
  query.job_id = pruned.id;
  EXPECT_TRUE(store_->ListLogs(query).lines.empty());
  query.job_id = kept.id;
  EXPECT_EQ(store_->ListLogs(query).lines.size(), 1U);
}

// --- SQLite specifics -------------------------------------------------------------------------

TEST(SqliteStoreFile, DataSurvivesClosingAndReopening) {
  const std::string dir = MakeTempDir("warren-store-");
  const std::string url = "sqlite:" + dir + "/nested/dirs/warren.db";  // parent directories are created
  JobRecord job = NewJob(kT0, "t", "default", "survivor");
  {
    auto store = OpenStore(url);
    store->Migrate();
    ASSERT_TRUE(store->InsertJobs({job}).at(0).inserted);
    store->ApplyEvents({Event(job.id, EventKind::kStarted, 1, kT0 + 1s)});
    ApplyEvent(job, Event(job.id, EventKind::kStarted, 1, kT0 + 1s));
  }
  {
    auto store = OpenStore(url);
    store->Migrate();
    const auto got = store->GetJob(job.id);
    ASSERT_TRUE(got);
    EXPECT_EQ(ToJson(*got), ToJson(job));
    EXPECT_FALSE(store->InsertJobs({NewJob(kT0, "t", "default", "survivor")}).at(0).inserted);
  }
  // The file is in WAL mode (a property of the file, so it persists).
  auto db = sqlite::Database::Open(dir + "/nested/dirs/warren.db", sqlite::Database::Mode::kReadOnly);
  EXPECT_EQ(db.QueryText("PRAGMA journal_mode"), "wal");
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
}

TEST(SqliteStoreFile, UnwritableLocationIsAStoreError) {
  EXPECT_THROW(OpenStore("sqlite:/proc/warren/warren.db"), StoreError);
}

TEST(PostgresStore, UnreachableServerIsAStoreError) {
  const auto port = warren::testing::FreePort();  // nothing listens there
  EXPECT_THROW(OpenStore("postgresql://postgres@127.0.0.1:" + std::to_string(port) + "/warren"), StoreError);
}

}  // namespace
}  // namespace warren::store
