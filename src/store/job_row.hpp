// What both backends share: a JobRecord's projection onto the indexed columns (the rest lives in a JSON
// document written by core's codec), list-query rules, the cursor format, retention rules and the
// grouping of events by job. Private to src/store; backends include it, nobody else does.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/job.hpp"
#include "store/store.hpp"

namespace warren::store {

inline constexpr size_t kMaxListLimit = 1000;

// One row of the `jobs` table. Times are milliseconds since the Unix epoch (UTC): integers compare
// exactly, which ReplaceJob's compare-and-set on updated_at needs, and sort cheaply in both databases.
struct JobRow {
  std::string id;
  std::string state;
  std::string type;
  std::string queue;
  std::optional<std::string> idempotency_key;
  int64_t created_at = 0;
  int64_t updated_at = 0;
  std::optional<int64_t> finished_at;  // retention's clock: finished_at, or run_at when that is later
  std::string document;  // ToJson(record), compact
};

int64_t ToMillis(TimePoint t);

// Projects a record onto its row. Throws std::invalid_argument when the id is not a job id: keyset
// pagination relies on ids sorting by creation time, which only UUIDv7 ids do.
JobRow ToRow(const JobRecord& record);
// Serializes a record the way the store keeps it.
std::string ToDocument(const JobRecord& record);
// Parses a stored document. A document the codec rejects means a corrupt row or a codec that can no
// longer read what an older version wrote: an infrastructure failure, so StoreError naming the id.
JobRecord RecordFromDocument(std::string_view document, std::string_view id_for_errors = {});

// Throws std::invalid_argument (the API answers 400) for a limit outside 1..kMaxListLimit or a cursor
// that ListJobs did not hand out. Returns the id the next page starts below, if any.
std::optional<std::string> CheckListQuery(const ListQuery& query);

// The SELECT of one page: `SELECT id, document FROM jobs WHERE <set filters> ORDER BY id DESC LIMIT n`.
// Placeholders are `<prefix>N` (`?N` for SQLite, `$N` for PostgreSQL); `params` bind 1..size(), the
// limit binds last (limit + 1 rows: the extra row tells whether a next page exists).
struct ListSql {
  std::string sql;
  std::vector<std::string> params;
  int limit_index = 0;
  int64_t limit = 0;
};
ListSql BuildListSql(const ListQuery& query, const std::optional<std::string>& below_id, char prefix);
// Turns the rows fetched with ListSql (up to limit + 1) into a page with its next cursor.
ListPage MakePage(std::vector<JobRecord> records, size_t limit);

// Cursors are opaque to clients: the base64url of the last id on the page, so nobody builds on their
// shape and a later version can change the key without breaking anyone's parser.
std::string EncodeCursor(std::string_view last_id);
// Throws std::invalid_argument for anything EncodeCursor could not have produced.
std::string DecodeCursor(std::string_view cursor);

// One DELETE rule of a retention policy: terminal jobs in `states` that finished before `cutoff`.
struct PruneRule {
  std::vector<std::string> states;
  int64_t cutoff = 0;  // milliseconds since the epoch
};
// Succeeded jobs by policy.succeeded; the other terminal states (dead, cancelled, expired) by
// policy.failed. Non-terminal jobs (failed-and-retrying included) are never pruned.
// Throws std::invalid_argument when policy.batch is 0.
std::vector<PruneRule> PruneRules(const RetentionPolicy& policy, TimePoint now);

// Store::DeleteJob's statement: deletes job (1) only while its state is terminal, checked by the
// statement itself, so a job queued again since the caller read it (an API retry) stays.
std::string DeleteTerminalJobSql(char prefix);

// Events by job id, ids in ascending order: backends lock rows in this order so that two replicas
// applying overlapping batches cannot deadlock. Events whose job id is not a job id are dropped here:
// no such job can exist, and a malformed id must not turn a batch into a poison message.
using EventsByJob = std::map<std::string, std::vector<const JobEvent*>>;
EventsByJob GroupEventsByJob(const std::vector<JobEvent>& events);

// Applies the events with core's convergent ApplyEvent. Returns true when the record changed, judged
// by its fields and then by its JSON form: a redelivered batch then writes nothing.
bool ApplyAll(JobRecord& record, const std::vector<const JobEvent*>& events);

// --- job logs: SQL shared by both backends, placeholders `<prefix>N` as in BuildListSql ------------
// CASTs give PostgreSQL the parameter types an INSERT ... SELECT cannot infer; SQLite accepts them.
// Inserts one line (job_id, attempt, seq, at, line) if its job exists and the line is new.
std::string InsertLogLineSql(char prefix);
// One row if the job (1) exists: lines of a job the store does not hold are not written.
std::string JobExistsSql(char prefix);
// Deletes a job's lines (1) but the newest N (2 = N - 1, an OFFSET).
std::string CapLogSql(char prefix);
// A page: job (1), attempt or 0 for all (2), after (attempt 3, seq 4), limit (5).
std::string ListLogsSql(char prefix);
// The kLog events with a job id and an attempt, by job id (ascending, as GroupEventsByJob).
EventsByJob GroupLogEventsByJob(const std::vector<JobEvent>& events);
// Throws std::invalid_argument for a limit outside 1..1000.
void CheckLogQuery(const LogQuery& query);
// Turns up to limit + 1 fetched lines into a page.
LogPage MakeLogPage(std::vector<StoredLogLine> lines, size_t limit);

}  // namespace warren::store
