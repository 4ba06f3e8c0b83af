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

struct RetentionPolicy {
  Duration succeeded{std::chrono::hours(24)};
  Duration failed{std::chrono::hours(24 * 7)};  // dead, cancelled, expired
  size_t batch = 1000;                          // rows per delete transaction, so writers never stall long
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
  virtual ListPage ListJobs(const ListQuery& query) = 0;
  // Replaces a record if its updated_at still equals `expected_updated_at` (compare-and-set for admin
  // actions: cancel, retry). Returns false when it changed meanwhile or does not exist.
  virtual bool ReplaceJob(const JobRecord& record, TimePoint expected_updated_at) = 0;
  // Deletes a job (the API allows it for terminal jobs only). Returns false when absent.
  virtual bool DeleteJob(const std::string& id) = 0;

  // The publish outbox. InsertJobs marks every job it inserts unpublished, in its transaction; the API
  // marks a job published once RabbitMQ confirmed its message. A job still unpublished long after its
  // insert lost its publish with the process that inserted it (killed between the two), and serve's
  // sweeper publishes it again. DeleteJob drops the mark with the job.
  virtual void MarkPublished(const std::vector<std::string>& ids) = 0;
  // Marks an existing job unpublished (an API retry, before it reserves the attempt and publishes it).
  virtual void MarkUnpublished(const std::string& id, TimePoint since) = 0;
  // Unpublished jobs marked before `before`, oldest first, at most `limit`.
  virtual std::vector<JobRecord> UnpublishedBefore(TimePoint before, size_t limit) = 0;

  // Applies lifecycle events in one transaction with core's ApplyEvent, so a redelivered batch changes
  // nothing. Events for unknown jobs are ignored. Returns the records that changed.
  virtual std::vector<JobRecord> ApplyEvents(const std::vector<JobEvent>& events) = 0;

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
