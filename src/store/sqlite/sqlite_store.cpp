// SQLite store.
//
// Threading: the API calls the store from several I/O threads, the recorder and the pruner from
// their own. One writer connection, guarded by writer_mutex_, runs every write (SQLite allows one
// writer at a time anyway, and waiting on our mutex is cheaper and fairer than busy-retrying on the
// file lock). Reads run on a pool of read-only connections, one per concurrent reader: in WAL mode
// readers never block the writer nor each other, and each sees the last committed transaction, so a
// record is readable as soon as InsertJobs returns. WAL checkpoints run on a thread of their own
// (checkpointer.hpp), so no commit pays for one. ":memory:" is one private database per connection,
// so there every call goes through the writer connection under the mutex.
#include "store/sqlite/sqlite_store.hpp"

#include <filesystem>
#include <mutex>
#include <system_error>
#include <type_traits>

#include <fmt/format.h>

#include "store/job_row.hpp"
#include "store/sqlite/checkpointer.hpp"
#include "store/sqlite/database.hpp"
#include "store/sqlite/migrations.hpp"

namespace warren::store::sqlite {
namespace {

constexpr std::string_view kMemoryPath = ":memory:";
// Longest wait for the file lock held by another process (a second `serve` on the same file, or the
// sqlite3 shell). Within this process writers queue on writer_mutex_ instead.
constexpr int kBusyTimeoutMs = 5000;
// Idle readers kept open: about the number of threads that read at once (HTTP I/O threads, SSE).
constexpr size_t kMaxIdleReaders = 8;
// The WAL is truncated back to this size after a checkpoint, so a burst does not leave a huge file.
constexpr int64_t kJournalSizeLimit = 64LL * 1024 * 1024;

// Columns ?1..?9 in JobRow order, shared by the INSERT and the compare-and-set UPDATE.
constexpr const char* kInsertSql =
    "INSERT INTO jobs (id, state, type, queue, idempotency_key, created_at, updated_at, finished_at, "
    "document) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9) ON CONFLICT (idempotency_key) DO NOTHING";
// Events change only these columns. Naming no others matters: SQLite rewrites the entries of every
// index whose columns appear in SET, changed or not, so the full UPDATE would touch all of them.
constexpr const char* kApplySql =
    "UPDATE jobs SET state = ?2, updated_at = ?3, finished_at = ?4, document = ?5, revision = revision + 1 "
    "WHERE id = ?1";
constexpr const char* kCompareAndSetSql =
    "UPDATE jobs SET state = ?2, type = ?3, queue = ?4, idempotency_key = ?5, created_at = ?6, "
    "updated_at = ?7, finished_at = ?8, document = ?9, revision = revision + 1 WHERE id = ?1 AND revision = ?10";
// Marks a job as stored but not yet confirmed by RabbitMQ (the publish outbox): by InsertJobs and
// by MarkUnpublished.
constexpr const char* kMarkUnpublishedSql = "INSERT OR REPLACE INTO unpublished (id, since) VALUES (?1, ?2)";
constexpr const char* kGetSql = "SELECT document FROM jobs WHERE id = ?1";
constexpr const char* kGetVersionedSql = "SELECT document, revision FROM jobs WHERE id = ?1";
constexpr const char* kGetByKeySql = "SELECT id, document FROM jobs WHERE idempotency_key = ?1";
constexpr const char* kDeleteSql = "DELETE FROM jobs WHERE id = ?1";

void BindRow(Statement& statement, const JobRow& row) {
  statement.Bind(1, row.id);
  statement.Bind(2, row.state);
  statement.Bind(3, row.type);
  statement.Bind(4, row.queue);
  statement.Bind(5, row.idempotency_key);
  statement.Bind(6, row.created_at);
  statement.Bind(7, row.updated_at);
  statement.Bind(8, row.finished_at);
  statement.Bind(9, row.document);
}

std::optional<JobRecord> FindById(Database& db, const std::string& id) {
  auto get = db.Prepare(kGetSql);
  get->Bind(1, id);
  if (!get->Step()) {
    return std::nullopt;
  }
  return RecordFromDocument(get->Text(0), id);
}

void Configure(Database& db) {
  db.Exec(fmt::format("PRAGMA busy_timeout = {}", kBusyTimeoutMs));
  // WAL + synchronous=NORMAL: COMMIT appends to the WAL without an fsync per transaction (the WAL is
  // synced at checkpoints). A crash of the process loses nothing that was committed: the data is in
  // the OS page cache. Only a power loss or kernel crash can undo the last few commits — and the
  // broker holds the durable copy of every job (publisher-confirmed, persistent), so the job still
  // runs; at worst its record misses its latest changes. FULL would fsync on every commit, which
  // caps the recorder at the disk's fsync rate.
  db.Exec("PRAGMA synchronous = NORMAL");
  db.Exec("PRAGMA foreign_keys = ON");
}

class SqliteStore final : public Store {
 public:
  explicit SqliteStore(std::string path)
      : path_(std::move(path)), in_memory_(path_ == kMemoryPath), writer_(OpenWriter()) {
    idle_readers_.reserve(kMaxIdleReaders);  // so ReleaseReader never allocates (it is noexcept)
    if (!in_memory_) {
      checkpointer_ = std::make_unique<Checkpointer>(path_, writer_);
    }
  }

  ~SqliteStore() override = default;

  SqliteStore(const SqliteStore&) = delete;
  SqliteStore& operator=(const SqliteStore&) = delete;
  SqliteStore(SqliteStore&&) = delete;
  SqliteStore& operator=(SqliteStore&&) = delete;

  void Migrate() override {
    const auto& migrations = Migrations();
    CheckMigrationList(migrations);
    std::lock_guard lock(writer_mutex_);
    writer_.Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER NOT NULL PRIMARY KEY, "
        "name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT");
    {
      auto newest = writer_.Prepare("SELECT coalesce(max(version), 0) FROM schema_migrations");
      newest->Step();
      if (newest->Int64(0) > static_cast<int64_t>(migrations.size())) {
        throw StoreError(
            fmt::format("sqlite: {}: schema version {} is newer than this binary knows ({}); "
                        "run a newer Warren",
                        path_, newest->Int64(0), migrations.size()));
      }
    }
    for (const auto& migration : migrations) {
      // IMMEDIATE: the check and the change happen under the file's write lock, so two processes
      // migrating one file at once apply each version exactly once.
      Transaction transaction(writer_, Transaction::Kind::kImmediate);
      auto applied = writer_.Prepare("SELECT 1 FROM schema_migrations WHERE version = ?1");
      applied->Bind(1, int64_t{migration.version});
      if (applied->Step()) {
        continue;
      }
      writer_.Exec(std::string(migration.sql));
      auto record = writer_.Prepare(
          "INSERT INTO schema_migrations (version, name, applied_at) "
          "VALUES (?1, ?2, strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))");
      record->Bind(1, int64_t{migration.version});
      record->Bind(2, migration.name);
      record->Run();
      transaction.Commit();
    }
  }

  bool Ping() override {
    try {
      return WithReader([](Database& db) {
        // Reads the schema page, so it proves the file is there and readable, not just the library.
        auto ping = db.Prepare("SELECT count(*) FROM sqlite_schema");
        return ping->Step();
      });
    } catch (const std::exception&) {
      return false;
    }
  }

  std::vector<InsertResult> InsertJobs(const std::vector<JobRecord>& records) override {
    if (records.empty()) {
      return {};
    }
    // Serialize outside the lock: JSON encoding is the expensive part and needs no database.
    std::vector<JobRow> rows;
    rows.reserve(records.size());
    for (const auto& record : records) {
      rows.push_back(ToRow(record));
    }
    std::vector<InsertResult> results;
    results.reserve(records.size());
    std::lock_guard lock(writer_mutex_);
    Transaction transaction(writer_, Transaction::Kind::kImmediate);
    for (size_t i = 0; i < rows.size(); ++i) {
      {
        auto insert = writer_.Prepare(kInsertSql);
        BindRow(*insert, rows[i]);
        insert->Run();
      }
      if (writer_.Changes() == 1) {
        auto mark = writer_.Prepare(kMarkUnpublishedSql);
        mark->Bind(1, rows[i].id);
        mark->Bind(2, rows[i].created_at);
        mark->Run();
        results.push_back({records[i], true});
        continue;
      }
      // DO NOTHING fired: the key is taken (perhaps by an earlier record of this very batch).
      auto existing = writer_.Prepare(kGetByKeySql);
      existing->Bind(1, rows[i].idempotency_key);
      if (!existing->Step()) {
        throw StoreError(fmt::format("sqlite: job {}: insert did nothing, yet no job has its idempotency key",
                                     rows[i].id));
      }
      results.push_back({RecordFromDocument(existing->Text(1), existing->Text(0)), false});
    }
    transaction.Commit();
    return results;
  }

  std::optional<JobRecord> GetJob(const std::string& id) override {
    if (!IsJobId(id)) {
      return std::nullopt;  // no such job can exist
    }
    return WithReader([&](Database& db) { return FindById(db, id); });
  }

  std::optional<VersionedJob> GetJobVersioned(const std::string& id) override {
    if (!IsJobId(id)) {
      return std::nullopt;
    }
    return WithReader([&](Database& db) -> std::optional<VersionedJob> {
      auto get = db.Prepare(kGetVersionedSql);
      get->Bind(1, id);
      if (!get->Step()) {
        return std::nullopt;
      }
      return VersionedJob{RecordFromDocument(get->Text(0), id), get->Int64(1)};
    });
  }

  ListPage ListJobs(const ListQuery& query) override {
    const auto below = CheckListQuery(query);
    const ListSql list = BuildListSql(query, below, '?');
    auto records = WithReader([&](Database& db) {
      auto select = db.Prepare(list.sql);  // at most 16 shapes: cached per connection like the others
      for (size_t i = 0; i < list.params.size(); ++i) {
        select->Bind(static_cast<int>(i) + 1, list.params[i]);
      }
      select->Bind(list.limit_index, list.limit);
      std::vector<JobRecord> out;
      while (select->Step()) {
        out.push_back(RecordFromDocument(select->Text(1), select->Text(0)));
      }
      return out;
    });
    return MakePage(std::move(records), query.limit);
  }

  bool ReplaceJob(const JobRecord& record, int64_t expected_revision) override {
    const JobRow row = ToRow(record);
    std::lock_guard lock(writer_mutex_);
    auto update = writer_.Prepare(kCompareAndSetSql);
    BindRow(*update, row);
    update->Bind(10, expected_revision);
    update->Run();
    return writer_.Changes() == 1;
  }

  std::optional<TimePoint> LastPeriodicTick(const std::string& name) override {
    return WithReader([&](Database& db) -> std::optional<TimePoint> {
      auto select = db.Prepare("SELECT last_tick FROM periodic_ticks WHERE name = ?1");
      select->Bind(1, name);
      if (!select->Step()) {
        return std::nullopt;
      }
      return TimePoint(std::chrono::milliseconds(select->Int64(0)));
    });
  }

  void RecordPeriodicTick(const std::string& name, TimePoint tick) override {
    std::lock_guard lock(writer_mutex_);
    auto upsert = writer_.Prepare(
        "INSERT INTO periodic_ticks (name, last_tick) VALUES (?1, ?2) "
        "ON CONFLICT (name) DO UPDATE SET last_tick = max(last_tick, excluded.last_tick)");
    upsert->Bind(1, name);
    upsert->Bind(2, static_cast<int64_t>(tick.time_since_epoch().count()));
    upsert->Run();
  }

  bool DeleteJob(const std::string& id) override { return Delete(id, delete_terminal_sql_); }
  bool UndoInsert(const std::string& id) override { return Delete(id, kDeleteSql); }

  void MarkPublished(const std::vector<std::string>& ids) override {
    if (ids.empty()) {
      return;
    }
    std::lock_guard lock(writer_mutex_);
    Transaction transaction(writer_, Transaction::Kind::kImmediate);
    for (const auto& id : ids) {
      auto unmark = writer_.Prepare("DELETE FROM unpublished WHERE id = ?1");
      unmark->Bind(1, id);
      unmark->Run();
    }
    transaction.Commit();
  }

  void MarkUnpublished(const std::string& id, TimePoint since) override {
    std::lock_guard lock(writer_mutex_);
    auto mark = writer_.Prepare(kMarkUnpublishedSql);
    mark->Bind(1, id);
    mark->Bind(2, ToMillis(since));
    mark->Run();
  }

  std::vector<JobRecord> UnpublishedBefore(TimePoint before, size_t limit) override {
    return WithReader([&](Database& db) {
      auto select = db.Prepare(
          "SELECT j.id, j.document FROM unpublished u JOIN jobs j ON j.id = u.id WHERE u.since < ?1 "
          "ORDER BY u.since LIMIT ?2");
      select->Bind(1, ToMillis(before));
      select->Bind(2, static_cast<int64_t>(limit));
      std::vector<JobRecord> out;
      while (select->Step()) {
        out.push_back(RecordFromDocument(select->Text(1), select->Text(0)));
      }
      return out;
    });
  }

  AppliedEvents ApplyEvents(const std::vector<JobEvent>& events) override {
    const EventsByJob by_job = GroupEventsByJob(events);
    AppliedEvents applied;
    if (by_job.empty()) {
      return applied;
    }
    std::lock_guard lock(writer_mutex_);
    // One transaction for the batch: one WAL append for many events, and the recorder acks the
    // batch only after this commit, so a crash in between redelivers it and nothing changes twice.
    Transaction transaction(writer_, Transaction::Kind::kImmediate);
    for (const auto& [id, job_events] : by_job) {
      auto record = FindById(writer_, id);
      if (!record) {
        applied.missing.push_back(id);
        continue;
      }
      if (!ApplyAll(*record, job_events)) {
        continue;
      }
      const JobRow row = ToRow(*record);
      auto update = writer_.Prepare(kApplySql);
      update->Bind(1, row.id);
      update->Bind(2, row.state);
      update->Bind(3, row.updated_at);
      update->Bind(4, row.finished_at);
      update->Bind(5, row.document);
      update->Run();
      applied.changed.push_back(std::move(*record));
    }
    transaction.Commit();
    return applied;
  }

  std::vector<std::string> AppendLogs(const std::vector<JobEvent>& events, size_t keep_per_job) override {
    const EventsByJob by_job = GroupLogEventsByJob(events);
    std::vector<std::string> missing;
    if (by_job.empty() || keep_per_job == 0) {
      return missing;
    }
    const std::string exists_sql = JobExistsSql('?');
    const std::string insert_sql = InsertLogLineSql('?');
    const std::string cap_sql = CapLogSql('?');
    std::lock_guard lock(writer_mutex_);
    Transaction transaction(writer_, Transaction::Kind::kImmediate);
    for (const auto& [id, job_events] : by_job) {
      auto exists = writer_.Prepare(exists_sql);
      exists->Bind(1, id);
      if (!exists->Step()) {
        missing.push_back(id);
        continue;
      }
      for (const JobEvent* event : job_events) {
        for (const LogLine& line : event->lines) {
          auto insert = writer_.Prepare(insert_sql);
          insert->Bind(1, id);
          insert->Bind(2, int64_t{event->attempt});
          insert->Bind(3, line.seq);
          insert->Bind(4, ToMillis(line.at));
          insert->Bind(5, line.text);
          insert->Run();
        }
      }
      auto cap = writer_.Prepare(cap_sql);
      cap->Bind(1, id);
      cap->Bind(2, static_cast<int64_t>(keep_per_job - 1));
      cap->Run();
    }
    transaction.Commit();
    return missing;
  }

  LogPage ListLogs(const LogQuery& query) override {
    CheckLogQuery(query);
    auto lines = WithReader([&](Database& db) {
      auto select = db.Prepare(ListLogsSql('?'));
      select->Bind(1, query.job_id);
      select->Bind(2, int64_t{query.attempt.value_or(0)});
      select->Bind(3, int64_t{query.after.attempt});
      select->Bind(4, query.after.seq);
      select->Bind(5, static_cast<int64_t>(query.limit + 1));
      std::vector<StoredLogLine> out;
      while (select->Step()) {
        out.push_back(StoredLogLine{static_cast<int>(select->Int64(0)), select->Int64(1),
                                    TimePoint(std::chrono::milliseconds(select->Int64(2))),
                                    std::string(select->Text(3))});
      }
      return out;
    });
    return MakeLogPage(std::move(lines), query.limit);
  }

  size_t Prune(const RetentionPolicy& policy, TimePoint now) override {
    size_t total = 0;
    for (const auto& rule : PruneRules(policy, now)) {
      std::string sql =
          "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE finished_at < ?1 AND state IN (";
      for (size_t i = 0; i < rule.states.size(); ++i) {
        sql += fmt::format("{}?{}", i == 0 ? "" : ", ", i + 3);
      }
      sql += ") LIMIT ?2)";
      while (true) {
        int64_t deleted = 0;
        {
          // One small transaction per batch, the lock released in between: the recorder and the API
          // wait for at most one batch, never for the whole prune.
          std::lock_guard lock(writer_mutex_);
          Transaction transaction(writer_, Transaction::Kind::kImmediate);
          {
            auto remove = writer_.Prepare(sql);
            remove->Bind(1, rule.cutoff);
            remove->Bind(2, static_cast<int64_t>(policy.batch));
            for (size_t i = 0; i < rule.states.size(); ++i) {
              remove->Bind(static_cast<int>(i) + 3, rule.states[i]);
            }
            remove->Run();
          }
          deleted = writer_.Changes();
          transaction.Commit();
        }
        total += static_cast<size_t>(deleted);
        if (deleted < static_cast<int64_t>(policy.batch)) {
          break;
        }
      }
    }
    return total;
  }

 private:
  // A job and, when it went, its outbox mark: one a delete left (not terminal) keeps its mark.
  bool Delete(const std::string& id, const std::string& sql) {
    std::lock_guard lock(writer_mutex_);
    Transaction transaction(writer_, Transaction::Kind::kImmediate);
    auto remove = writer_.Prepare(sql);
    remove->Bind(1, id);
    remove->Run();
    const bool deleted = writer_.Changes() == 1;
    if (deleted) {
      auto unmark = writer_.Prepare("DELETE FROM unpublished WHERE id = ?1");
      unmark->Bind(1, id);
      unmark->Run();
    }
    transaction.Commit();
    return deleted;
  }

  Database OpenWriter() {
    if (!in_memory_) {
      const auto parent = std::filesystem::path(path_).parent_path();
      std::error_code ec;
      if (!parent.empty() && !std::filesystem::create_directories(parent, ec) && ec) {
        throw StoreError(
            fmt::format("sqlite: cannot create directory '{}': {}", parent.string(), ec.message()));
      }
    }
    Database db = Database::Open(path_, Database::Mode::kReadWrite);
    Configure(db);
    if (!in_memory_) {
      // WAL is a property of the file (persistent), so the readers opened later inherit it.
      const std::string mode = db.QueryText("PRAGMA journal_mode = WAL");
      if (mode != "wal") {
        throw StoreError(
            fmt::format("sqlite: {}: cannot switch to WAL (journal_mode is '{}'); "
                        "is it on a network file system?",
                        path_, mode));
      }
      db.Exec(fmt::format("PRAGMA journal_size_limit = {}", kJournalSizeLimit));
    }
    return db;
  }

  // Runs fn(Database&) on an idle reader (opened when none is idle), then returns the reader.
  template <typename Fn>
  std::invoke_result_t<Fn&, Database&> WithReader(Fn&& fn) {
    if (in_memory_) {
      std::lock_guard lock(writer_mutex_);
      return fn(writer_);
    }
    ReaderLease lease(*this);
    return fn(lease.Get());
  }

  class ReaderLease {
   public:
    explicit ReaderLease(SqliteStore& store) : store_(store), db_(store.AcquireReader()) {}
    ~ReaderLease() { store_.ReleaseReader(std::move(db_)); }
    ReaderLease(const ReaderLease&) = delete;
    ReaderLease& operator=(const ReaderLease&) = delete;
    ReaderLease(ReaderLease&&) = delete;
    ReaderLease& operator=(ReaderLease&&) = delete;
    Database& Get() { return db_; }

   private:
    SqliteStore& store_;
    Database db_;
  };

  Database AcquireReader() {
    {
      std::lock_guard lock(readers_mutex_);
      if (!idle_readers_.empty()) {
        Database db = std::move(idle_readers_.back());
        idle_readers_.pop_back();
        return db;
      }
    }
    // Opened outside the lock: opening touches the file system.
    Database db = Database::Open(path_, Database::Mode::kReadOnly);
    Configure(db);
    return db;
  }

  void ReleaseReader(Database db) noexcept {
    std::lock_guard lock(readers_mutex_);
    if (idle_readers_.size() < kMaxIdleReaders) {
      idle_readers_.push_back(std::move(db));
    }
    // Otherwise `db` closes here: a burst of readers does not keep its connections forever.
  }

  const std::string path_;
  const bool in_memory_;
  const std::string delete_terminal_sql_ = DeleteTerminalJobSql('?');
  std::mutex writer_mutex_;
  Database writer_;  // guarded by writer_mutex_
  // After writer_: destroyed first, handing the writer's WAL hook back before the writer closes.
  std::unique_ptr<Checkpointer> checkpointer_;
  std::mutex readers_mutex_;
  std::vector<Database> idle_readers_;  // guarded by readers_mutex_
};

}  // namespace

StorePtr OpenSqliteStore(const std::string& path) { return std::make_unique<SqliteStore>(path); }

}  // namespace warren::store::sqlite
