// PostgreSQL store.
//
// Threading: a pqxx::connection serves one thread at a time, so calls borrow one from a small pool
// (ConnectionPool) for the duration of the call. Several `serve` replicas share one database: every
// rule that keeps them from stepping on each other lives in SQL — an advisory lock around migrations,
// ON CONFLICT on the idempotency key, SELECT ... FOR UPDATE (in id order) around ApplyEvents,
// FOR UPDATE SKIP LOCKED in Prune — at READ COMMITTED, PostgreSQL's default.
#include "store/postgres/postgres_store.hpp"

#include <algorithm>
#include <numeric>
#include <set>
#include <thread>
#include <type_traits>

#include <pqxx/except>
#include <pqxx/nontransaction>
#include <pqxx/prepared_statement>
#include <pqxx/result>
#include <pqxx/transaction>

#include <fmt/format.h>

#include "store/job_row.hpp"
#include "store/postgres/connection_pool.hpp"
#include "store/postgres/migrations.hpp"

namespace warren::store::postgres {
namespace {

// Connections per process: the HTTP I/O threads, the recorder and the pruner rarely need more than
// one each at the same moment, and every replica multiplies this against max_connections.
constexpr size_t kPoolSize = 8;
constexpr Duration kAcquireTimeout{std::chrono::seconds(10)};
// Deadlocks and serialization failures roll the transaction back completely: retrying is safe.
constexpr int kMaxRollbackAttempts = 5;
constexpr Duration kRollbackBackoff{5};
// Arbitrary but fixed key of the advisory lock that serializes migrations across replicas.
constexpr int64_t kMigrationLockKey = 0x5761727265'6E4D67;  // "WarrenMg"

// Prepared statement names. Columns $1..$9 in JobRow order, shared by the INSERT and the compare-and-set.
constexpr const char* kInsertJob = "warren_insert_job";
constexpr const char* kApplyJob = "warren_apply_job";
constexpr const char* kReplaceJob = "warren_replace_job";
constexpr const char* kGetJob = "warren_get_job";
constexpr const char* kGetJobVersioned = "warren_get_job_versioned";
constexpr const char* kGetJobByKey = "warren_get_job_by_key";
constexpr const char* kDeleteJob = "warren_delete_job";
constexpr const char* kDeleteTerminalJob = "warren_delete_terminal_job";
constexpr const char* kLockJobs = "warren_lock_jobs";
constexpr const char* kPruneJobs = "warren_prune_jobs";
// Inserts of one idempotent job retried while its key is taken and freed again (InsertJobs).
constexpr int kKeyRaceRounds = 8;
constexpr const char* kMarkUnpublished = "warren_mark_unpublished";
constexpr const char* kMarkPublished = "warren_mark_published";
constexpr const char* kMarkUnpublishedAgain = "warren_mark_unpublished_again";
constexpr const char* kUnpublishedBefore = "warren_unpublished_before";
constexpr const char* kInsertLogLine = "warren_insert_log_line";
constexpr const char* kJobExists = "warren_job_exists";
constexpr const char* kCapLog = "warren_cap_log";
constexpr const char* kListLogs = "warren_list_logs";

void PrepareStatements(pqxx::connection& connection) {
  // libpqxx 6 prepares lazily, on first use: fine on a database that has not been migrated yet.
  connection.prepare(
      kInsertJob,
      "INSERT INTO jobs (id, state, type, queue, idempotency_key, created_at, updated_at, finished_at, "
      "document) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (idempotency_key) DO NOTHING");
  // Events change only these columns: type, queue, idempotency key and creation time are fixed at insert.
  connection.prepare(
      kApplyJob,
      "UPDATE jobs SET state = $2, updated_at = $3, finished_at = $4, document = $5, revision = revision + 1 "
      "WHERE id = $1");
  connection.prepare(
      kReplaceJob,
      "UPDATE jobs SET state = $2, type = $3, queue = $4, idempotency_key = $5, created_at = $6, "
      "updated_at = $7, finished_at = $8, document = $9, revision = revision + 1 WHERE id = $1 AND revision = $10");
  connection.prepare(kGetJob, "SELECT document FROM jobs WHERE id = $1");
  connection.prepare(kGetJobVersioned, "SELECT document, revision FROM jobs WHERE id = $1");
  connection.prepare(kGetJobByKey, "SELECT id, document FROM jobs WHERE idempotency_key = $1");
  connection.prepare(kDeleteJob, "DELETE FROM jobs WHERE id = $1");
  connection.prepare(kDeleteTerminalJob, DeleteTerminalJobSql('$'));
  connection.prepare(kMarkUnpublished,
                     "INSERT INTO unpublished (id, since) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING");
  connection.prepare(kMarkPublished, "DELETE FROM unpublished WHERE id = ANY($1::text[])");
  connection.prepare(kMarkUnpublishedAgain,
                     "INSERT INTO unpublished (id, since) VALUES ($1, $2) ON CONFLICT (id) DO UPDATE SET since = $2");
  connection.prepare(kUnpublishedBefore,
                     "SELECT j.id, j.document FROM unpublished u JOIN jobs j ON j.id = u.id WHERE u.since < $1 "
                     "ORDER BY u.since LIMIT $2");
  connection.prepare(kLockJobs,
                     "SELECT id, document FROM jobs WHERE id = ANY($1::text[]) ORDER BY id FOR UPDATE");
  connection.prepare(kInsertLogLine, InsertLogLineSql('$'));
  connection.prepare(kJobExists, JobExistsSql('$'));
  connection.prepare(kCapLog, CapLogSql('$'));
  connection.prepare(kListLogs, ListLogsSql('$'));
  connection.prepare(kPruneJobs,
                     "DELETE FROM jobs WHERE id IN (SELECT id FROM jobs WHERE state = ANY($1::text[]) "
                     "AND finished_at < $2 LIMIT $3 FOR UPDATE SKIP LOCKED)");
}

// libpq waits forever for a connection by default: a dead host would hang start-up and Ping.
// application_name shows Warren's sessions in pg_stat_activity. Both only when the URL sets neither.
std::string WithDefaults(std::string url) {
  auto add = [&url](std::string_view key, std::string_view value) {
    if (url.find(fmt::format("{}=", key)) != std::string::npos) {
      return;
    }
    url += url.find('?') == std::string::npos ? '?' : '&';
    url += fmt::format("{}={}", key, value);
  };
  add("connect_timeout", "5");
  add("application_name", "warren");
  return url;
}

// A PostgreSQL array literal ({"a","b"}) for one text[] parameter: libpqxx 6 cannot bind containers.
template <typename Range, typename Project>
std::string ArrayLiteral(const Range& range, Project project) {
  std::string out = "{";
  for (const auto& item : range) {
    if (out.size() > 1) {
      out += ',';
    }
    out += '"';
    for (const char c : std::string_view(project(item))) {
      if (c == '"' || c == '\\') {
        out += '\\';
      }
      out += c;
    }
    out += '"';
  }
  out += '}';
  return out;
}

std::string_view View(const pqxx::field& field) { return {field.c_str(), field.size()}; }

// libpq messages end in a newline; log lines should not.
std::string Message(const std::exception& e) {
  std::string text = e.what();
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.pop_back();
  }
  return text;
}

class PostgresStore final : public Store {
 public:
  explicit PostgresStore(const std::string& url)
      : pool_(WithDefaults(url), kPoolSize, kAcquireTimeout, PrepareStatements) {
    pool_.Acquire();  // connect once now: a wrong URL or a down server fails at start-up
  }

  void Migrate() override {
    const auto& migrations = Migrations();
    CheckMigrationList(migrations);
    Run("migrate", [&](pqxx::connection& connection) {
      // Every step holds the transaction-scoped advisory lock: replicas starting together take turns,
      // and the lock cannot outlive its transaction even if this process dies mid-way.
      {
        pqxx::work transaction(connection);
        transaction.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
        transaction.exec(
            "CREATE TABLE IF NOT EXISTS schema_migrations (version integer PRIMARY KEY, name text NOT NULL, "
            "applied_at timestamptz NOT NULL DEFAULT now())");
        const auto newest =
            transaction.exec1("SELECT coalesce(max(version), 0) FROM schema_migrations")[0].as<int64_t>();
        if (newest > static_cast<int64_t>(migrations.size())) {
          throw StoreError(fmt::format(
              "postgresql: schema version {} is newer than this binary knows ({}); run a newer Warren",
              newest, migrations.size()));
        }
        transaction.commit();
      }
      for (const auto& migration : migrations) {
        pqxx::work transaction(connection);
        transaction.exec_params("SELECT pg_advisory_xact_lock($1)", kMigrationLockKey);
        if (!transaction.exec_params("SELECT 1 FROM schema_migrations WHERE version = $1", migration.version)
                 .empty()) {
          continue;
        }
        transaction.exec(std::string(migration.sql));
        transaction.exec_params("INSERT INTO schema_migrations (version, name) VALUES ($1, $2)",
                                migration.version, std::string(migration.name));
        transaction.commit();
      }
    });
  }

  std::optional<TimePoint> LastPeriodicTick(const std::string& name) override {
    return Run("read periodic tick", [&](pqxx::connection& connection) -> std::optional<TimePoint> {
      pqxx::nontransaction transaction(connection);
      const auto rows = transaction.exec_params("SELECT last_tick FROM periodic_ticks WHERE name = $1", name);
      if (rows.empty()) {
        return std::nullopt;
      }
      return TimePoint(std::chrono::milliseconds(rows[0][0].as<int64_t>()));
    });
  }

  void RecordPeriodicTick(const std::string& name, TimePoint tick) override {
    Run("record periodic tick", [&](pqxx::connection& connection) {
      pqxx::work transaction(connection);
      transaction.exec_params(
          "INSERT INTO periodic_ticks (name, last_tick) VALUES ($1, $2) ON CONFLICT (name) DO UPDATE "
          "SET last_tick = GREATEST(periodic_ticks.last_tick, excluded.last_tick)",
          name, static_cast<int64_t>(tick.time_since_epoch().count()));
      transaction.commit();
      return 0;
    });
  }

  bool Ping() override {
    try {
      return Run("ping", [](pqxx::connection& connection) {
        pqxx::nontransaction transaction(connection);
        return transaction.exec1("SELECT 1")[0].as<int>() == 1;
      });
    } catch (const std::exception&) {
      return false;
    }
  }

  std::vector<InsertResult> InsertJobs(const std::vector<JobRecord>& records) override {
    if (records.empty()) {
      return {};
    }
    std::vector<JobRow> rows;
    rows.reserve(records.size());
    for (const auto& record : records) {
      rows.push_back(ToRow(record));
    }
    // Keys in ascending order: two batches that share keys then wait for each other in the same
    // order instead of deadlocking.
    std::vector<size_t> order(rows.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::stable_sort(order.begin(), order.end(),
                     [&](size_t a, size_t b) { return rows[a].idempotency_key < rows[b].idempotency_key; });
    return Run("insert jobs", [&](pqxx::connection& connection) {
      pqxx::work transaction(connection);
      std::vector<InsertResult> results(rows.size());
      for (const size_t i : order) {
        const JobRow& row = rows[i];
        // A concurrent insert of the same key makes this wait for that transaction: if it commits,
        // DO NOTHING fires and the SELECT below (a new snapshot at READ COMMITTED) sees its row. That
        // row can be deleted before the SELECT (another replica's undo of a failed publish, a DELETE):
        // the key is free again, so the insert is tried again.
        for (int round = 0;; ++round) {
          const auto inserted = transaction.exec_prepared(kInsertJob, row.id, row.state, row.type, row.queue,
                                                          row.idempotency_key, row.created_at, row.updated_at,
                                                          row.finished_at, row.document);
          if (inserted.affected_rows() == 1) {
            transaction.exec_prepared(kMarkUnpublished, row.id, row.created_at);
            results[i] = {records[i], true};
            break;
          }
          const auto existing = transaction.exec_prepared(kGetJobByKey, row.idempotency_key);
          if (!existing.empty()) {
            results[i] = {RecordFromDocument(View(existing[0][1]), View(existing[0][0])), false};
            break;
          }
          if (round == kKeyRaceRounds) {
            throw StoreError(
                fmt::format("postgresql: job {}: its idempotency key was taken and freed {} times in a row",
                            row.id, kKeyRaceRounds + 1));
          }
        }
      }
      transaction.commit();
      return results;
    });
  }

  std::optional<JobRecord> GetJob(const std::string& id) override {
    if (!IsJobId(id)) {
      return std::nullopt;  // no such job can exist
    }
    return Run("get job", [&](pqxx::connection& connection) -> std::optional<JobRecord> {
      pqxx::nontransaction transaction(connection);
      const auto result = transaction.exec_prepared(kGetJob, id);
      if (result.empty()) {
        return std::nullopt;
      }
      return RecordFromDocument(View(result[0][0]), id);
    });
  }

  std::optional<VersionedJob> GetJobVersioned(const std::string& id) override {
    if (!IsJobId(id)) {
      return std::nullopt;
    }
    return Run("get job", [&](pqxx::connection& connection) -> std::optional<VersionedJob> {
      pqxx::nontransaction transaction(connection);
      const auto result = transaction.exec_prepared(kGetJobVersioned, id);
      if (result.empty()) {
        return std::nullopt;
      }
      return VersionedJob{RecordFromDocument(View(result[0][0]), id), result[0][1].as<int64_t>()};
    });
  }

  ListPage ListJobs(const ListQuery& query) override {
    const auto below = CheckListQuery(query);
    const ListSql list = BuildListSql(query, below, '$');
    std::vector<std::string> params = list.params;
    params.push_back(std::to_string(list.limit));
    auto records = Run("list jobs", [&](pqxx::connection& connection) {
      // Not prepared: the query's shape depends on the filters, and a one-shot plan fits the values.
      pqxx::nontransaction transaction(connection);
      const auto result = transaction.exec_params(list.sql, pqxx::prepare::make_dynamic_params(params));
      std::vector<JobRecord> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        out.push_back(RecordFromDocument(View(row[1]), View(row[0])));
      }
      return out;
    });
    return MakePage(std::move(records), query.limit);
  }

  bool ReplaceJob(const JobRecord& record, int64_t expected_revision) override {
    const JobRow row = ToRow(record);
    return Run("replace job", [&](pqxx::connection& connection) {
      pqxx::nontransaction transaction(connection);  // one statement: atomic on its own
      const auto result = transaction.exec_prepared(
          kReplaceJob, row.id, row.state, row.type, row.queue, row.idempotency_key, row.created_at,
          row.updated_at, row.finished_at, row.document, expected_revision);
      return result.affected_rows() == 1;
    });
  }

  bool DeleteJob(const std::string& id) override { return Delete(id, kDeleteTerminalJob); }
  bool UndoInsert(const std::string& id) override { return Delete(id, kDeleteJob); }

  void MarkPublished(const std::vector<std::string>& ids) override {
    if (ids.empty()) {
      return;
    }
    const std::string array = ArrayLiteral(ids, [](const std::string& id) -> const std::string& { return id; });
    Run("mark published", [&](pqxx::connection& connection) {
      pqxx::nontransaction transaction(connection);
      transaction.exec_prepared(kMarkPublished, array);
      return true;
    });
  }

  void MarkUnpublished(const std::string& id, TimePoint since) override {
    Run("mark unpublished", [&](pqxx::connection& connection) {
      pqxx::nontransaction transaction(connection);
      transaction.exec_prepared(kMarkUnpublishedAgain, id, ToMillis(since));
      return true;
    });
  }

  std::vector<JobRecord> UnpublishedBefore(TimePoint before, size_t limit) override {
    return Run("unpublished jobs", [&](pqxx::connection& connection) {
      pqxx::nontransaction transaction(connection);
      const auto result = transaction.exec_prepared(kUnpublishedBefore, ToMillis(before), static_cast<int64_t>(limit));
      std::vector<JobRecord> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        out.push_back(RecordFromDocument(View(row[1]), View(row[0])));
      }
      return out;
    });
  }

  AppliedEvents ApplyEvents(const std::vector<JobEvent>& events) override {
    const EventsByJob by_job = GroupEventsByJob(events);
    if (by_job.empty()) {
      return {};
    }
    const std::string ids =
        ArrayLiteral(by_job, [](const auto& entry) -> const std::string& { return entry.first; });
    return Run("apply events", [&](pqxx::connection& connection) {
      pqxx::work transaction(connection);
      // FOR UPDATE: a replica applying events to the same jobs waits here, then reads the records as
      // the other committed them, so no update is lost. Locks are taken in id order (ORDER BY runs
      // below the row locking), so two replicas with overlapping batches cannot deadlock.
      const auto locked = transaction.exec_prepared(kLockJobs, ids);
      AppliedEvents applied;
      std::set<std::string> found;
      for (const auto& row : locked) {
        const std::string id(View(row[0]));
        found.insert(id);
        JobRecord record = RecordFromDocument(View(row[1]), id);
        if (!ApplyAll(record, by_job.at(id))) {
          continue;
        }
        const JobRow updated = ToRow(record);
        transaction.exec_prepared(kApplyJob, updated.id, updated.state, updated.updated_at,
                                  updated.finished_at, updated.document);
        applied.changed.push_back(std::move(record));
      }
      transaction.commit();
      for (const auto& [id, job_events] : by_job) {
        if (!found.contains(id)) {
          applied.missing.push_back(id);
        }
      }
      return applied;
    });
  }

  std::vector<std::string> AppendLogs(const std::vector<JobEvent>& events, size_t keep_per_job) override {
    const EventsByJob by_job = GroupLogEventsByJob(events);
    if (by_job.empty() || keep_per_job == 0) {
      return {};
    }
    return Run("append logs", [&](pqxx::connection& connection) {
      pqxx::work transaction(connection);
      std::vector<std::string> missing;
      for (const auto& [id, job_events] : by_job) {
        if (transaction.exec_prepared(kJobExists, id).empty()) {
          missing.push_back(id);
          continue;
        }
        for (const JobEvent* event : job_events) {
          for (const LogLine& line : event->lines) {
            transaction.exec_prepared(kInsertLogLine, id, event->attempt, line.seq, ToMillis(line.at), line.text);
          }
        }
        transaction.exec_prepared(kCapLog, id, static_cast<int64_t>(keep_per_job - 1));
      }
      transaction.commit();
      return missing;
    });
  }

  LogPage ListLogs(const LogQuery& query) override {
    CheckLogQuery(query);
    auto lines = Run("list logs", [&](pqxx::connection& connection) {
      pqxx::nontransaction transaction(connection);
      const auto result =
          transaction.exec_prepared(kListLogs, query.job_id, query.attempt.value_or(0), query.after.attempt,
                                    query.after.seq, static_cast<int64_t>(query.limit + 1));
      std::vector<StoredLogLine> out;
      out.reserve(result.size());
      for (const auto& row : result) {
        out.push_back(StoredLogLine{row[0].as<int>(), row[1].as<int64_t>(),
                                    TimePoint(std::chrono::milliseconds(row[2].as<int64_t>())),
                                    std::string(View(row[3]))});
      }
      return out;
    });
    return MakeLogPage(std::move(lines), query.limit);
  }

  size_t Prune(const RetentionPolicy& policy, TimePoint now) override {
    size_t total = 0;
    for (const auto& rule : PruneRules(policy, now)) {
      const std::string states =
          ArrayLiteral(rule.states, [](const std::string& s) -> const std::string& { return s; });
      while (true) {
        // One statement per batch, committed on its own. SKIP LOCKED: rows the recorder holds are left
        // for the next round instead of waited for, and replicas pruning together do not collide.
        const size_t deleted = Run("prune", [&](pqxx::connection& connection) {
          pqxx::nontransaction transaction(connection);
          return transaction
              .exec_prepared(kPruneJobs, states, rule.cutoff, static_cast<int64_t>(policy.batch))
              .affected_rows();
        });
        total += deleted;
        if (deleted < policy.batch) {
          break;
        }
      }
    }
    return total;
  }

 private:
  // A job (with the prepared `statement`) and, when it went, its outbox mark: one a delete left (not
  // terminal) keeps its mark.
  bool Delete(const std::string& id, const char* statement) {
    return Run("delete job", [&](pqxx::connection& connection) {
      pqxx::work transaction(connection);
      const bool deleted = transaction.exec_prepared(statement, id).affected_rows() == 1;
      if (deleted) {
        transaction.exec_prepared(
            kMarkPublished, ArrayLiteral(std::vector<std::string>{id},
                                         [](const std::string& one) -> const std::string& { return one; }));
      }
      transaction.commit();
      return deleted;
    });
  }

  // Runs fn(connection) on a pooled connection and turns libpqxx's exceptions into StoreError.
  // Retries what PostgreSQL rolled back completely: deadlocks and serialization failures, and a
  // connection found broken before COMMIT (typically an idle one after a server restart).
  template <typename Fn>
  std::invoke_result_t<Fn&, pqxx::connection&> Run(std::string_view what, Fn&& fn) {
    int broken = 0;
    Duration backoff{0};
    for (int attempt = 1;; ++attempt) {
      if (backoff.count() > 0) {
        std::this_thread::sleep_for(backoff);  // the connection went back to the pool meanwhile
      }
      auto lease = pool_.Acquire();
      try {
        return fn(**lease);
      } catch (const pqxx::in_doubt_error& e) {
        lease->Discard();
        throw StoreError(fmt::format("postgresql: {}: connection lost during COMMIT, outcome unknown: {}",
                                     what, Message(e)));
      } catch (const pqxx::broken_connection& e) {
        lease->Discard();
        pool_.DiscardIdle();
        if (++broken > 1) {
          throw StoreError(fmt::format("postgresql: {}: connection lost: {}", what, Message(e)));
        }
      } catch (const pqxx::deadlock_detected& e) {
        if (attempt >= kMaxRollbackAttempts) {
          throw StoreError(fmt::format("postgresql: {}: {} ({} attempts)", what, Message(e), attempt));
        }
        backoff = kRollbackBackoff * attempt;
      } catch (const pqxx::serialization_failure& e) {
        if (attempt >= kMaxRollbackAttempts) {
          throw StoreError(fmt::format("postgresql: {}: {} ({} attempts)", what, Message(e), attempt));
        }
        backoff = kRollbackBackoff * attempt;
      } catch (const pqxx::sql_error& e) {
        throw StoreError(fmt::format("postgresql: {}: {} (SQLSTATE {})", what, Message(e), e.sqlstate()));
      } catch (const pqxx::failure& e) {
        lease->Discard();  // some other libpq failure: the connection's state is unknown
        throw StoreError(fmt::format("postgresql: {}: {}", what, Message(e)));
      }
    }
  }

  ConnectionPool pool_;
};

}  // namespace

StorePtr OpenPostgresStore(const std::string& url) { return std::make_unique<PostgresStore>(url); }

}  // namespace warren::store::postgres
