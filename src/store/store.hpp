// The job store: one interface, two backends (sqlite/, postgres/) that pass one conformance suite.
// Only `serve` opens it (its API and its event recorder); workers never do.
// Every method may be called from several threads at once; calls block (the API should not run them
// on a thread that must stay responsive for long). Retention in the background: store/pruner.hpp.
#pragma once

#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/job.hpp"

namespace warren::store {

// Infrastructure failures (I/O, lost connection, corrupt file). Expected outcomes are return values.
class StoreError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A record with its revision (Store::GetJobVersioned).
struct VersionedJob {
  JobRecord record;
  int64_t revision = 0;
};

struct ListQuery {
  std::optional<JobState> state;
  std::optional<std::string> type;
  std::optional<std::string> queue;
  size_t limit = 50;                  // 1..1000
  std::optional<std::string> cursor;  // opaque, from ListPage::next_cursor
};

struct ListPage {
  std::vector<JobRecord> jobs;  // newest first (id descending: UUIDv7 sorts by creation time)
  std::optional<std::string> next_cursor;
};

struct InsertResult {
  JobRecord record;  // the inserted record, or the existing one for a known idempotency key
  bool inserted = false;
};

struct AppliedEvents {
  std::vector<JobRecord> changed;    // the records the events changed
  std::vector<std::string> missing;  // jobs named by events that the store does not hold
};

struct RetentionPolicy {
  Duration succeeded{std::chrono::hours(24)};
  Duration failed{std::chrono::hours(24 * 7)};  // dead, cancelled, expired
  size_t batch = 1000;                          // rows per delete transaction, so writers never stall long
};

// One stored line of a job's log (a kLog event's line, with the attempt that wrote it).
struct StoredLogLine {
  int attempt = 0;
  int64_t seq = 0;  // 1, 2, ... per attempt
  TimePoint at{};
  std::string line;

  friend bool operator==(const StoredLogLine&, const StoredLogLine&) = default;
};

// Where a page of log lines starts: after this (attempt, seq); {0, 0} is the beginning.
struct LogPosition {
  int attempt = 0;
  int64_t seq = 0;
};

struct LogQuery {
  std::string job_id;
  std::optional<int> attempt;  // only this attempt's lines
  LogPosition after;
  size_t limit = 500;  // 1..1000
};

struct LogPage {
  std::vector<StoredLogLine> lines;  // by attempt, then seq
  bool more = false;                 // lines after the last one exist
};

class Store {
 public:
  virtual ~Store() = default;

  // Applies the versioned migrations not yet applied. Safe to run from several processes at once.
  virtual void Migrate() = 0;
  virtual bool Ping() = 0;

  // Inserts in one transaction. A job whose idempotency key is already stored is not inserted: its
  // result holds the existing record. Concurrent inserts with one key insert exactly one job.
  virtual std::vector<InsertResult> InsertJobs(const std::vector<JobRecord>& records) = 0;
  virtual std::optional<JobRecord> GetJob(const std::string& id) = 0;
  // The record with its revision, which every change to the stored record increments (events and
  // replacements alike): the token of ReplaceJob's compare-and-set.
  virtual std::optional<VersionedJob> GetJobVersioned(const std::string& id) = 0;
  virtual ListPage ListJobs(const ListQuery& query) = 0;
  // Replaces a record if its revision still equals `expected_revision` (compare-and-set for admin
  // actions), which increments it. Returns false when it changed meanwhile or does not exist. Not
  // updated_at: a late event can change a record and leave its updated_at as it was.
  virtual bool ReplaceJob(const JobRecord& record, int64_t expected_revision) = 0;
  // Deletes a terminal job (succeeded, dead, cancelled, expired), its state checked by the delete
  // itself: DELETE /v1/jobs/{id} reads the job first, and a retry in between queues it again. Returns
  // false when absent or not terminal (then nothing changes).
  virtual bool DeleteJob(const std::string& id) = 0;
  // Deletes a job whatever its state: the API's undo of its own insert when RabbitMQ did not take the
  // job. Returns false when absent.
  virtual bool UndoInsert(const std::string& id) = 0;

  // The publish outbox. InsertJobs marks every job it inserts unpublished, in its transaction; the API
  // marks a job published once RabbitMQ confirmed its message. A job still unpublished long after its
  // insert lost its publish with the process that inserted it (killed between the two), and serve's
  // sweeper publishes it again. DeleteJob and UndoInsert drop the mark with the job.
  virtual void MarkPublished(const std::vector<std::string>& ids) = 0;
  // Marks an existing job unpublished (an API retry, before it reserves the attempt and publishes it).
  virtual void MarkUnpublished(const std::string& id, TimePoint since) = 0;
  // Unpublished jobs marked before `before`, oldest first, at most `limit`.
  virtual std::vector<JobRecord> UnpublishedBefore(TimePoint before, size_t limit) = 0;

  // Applies lifecycle events in one transaction with core's ApplyEvent, so a redelivered batch changes
  // nothing. Events for unknown jobs change nothing; their ids come back in `missing` (the recorder
  // waits for a young job's insert: decision 77).
  virtual AppliedEvents ApplyEvents(const std::vector<JobEvent>& events) = 0;

  // Stores the lines of the kLog events among `events` (others are ignored) in one transaction,
  // idempotently per (job, attempt, seq); lines of unknown jobs are dropped, and those jobs' ids
  // returned. Then keeps only the newest `keep_per_job` lines of each job it wrote to (0 stores
  // nothing, and checks nothing), so a chatty job cannot fill the store. Lines go with their job:
  // DeleteJob, UndoInsert and Prune remove them.
  virtual std::vector<std::string> AppendLogs(const std::vector<JobEvent>& events, size_t keep_per_job) = 0;
  // A job's log lines after `query.after`, oldest first; empty for an unknown job.
  // Throws std::invalid_argument for a limit outside 1..1000.
  virtual LogPage ListLogs(const LogQuery& query) = 0;

  // Deletes terminal jobs older than the policy, in small transactions. Returns how many.
  virtual size_t Prune(const RetentionPolicy& policy, TimePoint now) = 0;

  // Periodic schedules: the newest tick enqueued per schedule name, so a restarted scheduler (or
  // another replica's) knows which ticks ran. Recording keeps the maximum: a slower scheduler never
  // moves it back.
  virtual std::optional<TimePoint> LastPeriodicTick(const std::string& name) = 0;
  virtual void RecordPeriodicTick(const std::string& name, TimePoint tick) = 0;
};
using StorePtr = std::unique_ptr<Store>;

// "sqlite:PATH" (the file is created), "sqlite::memory:" (tests), or "postgresql://..." / "postgres://...".
// Throws std::invalid_argument for an unknown scheme, StoreError when it cannot open.
StorePtr OpenStore(const std::string& url);

}  // namespace warren::store
