// Test doubles for the API's unit tests (unit tests only: integration tests use the real store and
// broker): an in-memory Store, a publisher whose confirms the test gives by hand, and TaskRunners.
#pragma once

#include <algorithm>
#include <deque>
#include <functional>
#include <map>
#include <set>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "amqp/message.hpp"
#include "amqp/publisher.hpp"
#include "api/blocking_pool.hpp"
#include "api/http.hpp"
#include "core/job.hpp"
#include "store/store.hpp"

namespace warren::api::testing {

// The Store contract in memory, thread-safe, newest first by id. `fail_next` makes the next call throw
// a StoreError (an unreachable database).
class FakeStore final : public store::Store {
 public:
  void Migrate() override {}
  bool Ping() override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    return !down;
  }

  std::vector<store::InsertResult> InsertJobs(const std::vector<JobRecord>& records) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    ++insert_calls;
    std::vector<store::InsertResult> out;
    for (const auto& record : records) {
      if (record.spec.idempotency_key) {
        const auto it = std::find_if(jobs_.begin(), jobs_.end(), [&](const auto& entry) {
          return entry.second.spec.idempotency_key == record.spec.idempotency_key;
        });
        if (it != jobs_.end()) {
          out.push_back({it->second, false});
          continue;
        }
      }
      jobs_[record.id] = record;
      unpublished_.insert(record.id);
      out.push_back({record, true});
    }
    return out;
  }

  std::optional<JobRecord> GetJob(const std::string& id) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    const auto it = jobs_.find(id);
    return it == jobs_.end() ? std::nullopt : std::optional<JobRecord>(it->second);
  }

  store::ListPage ListJobs(const store::ListQuery& query) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    if (query.cursor && !IsJobId(*query.cursor)) {
      throw std::invalid_argument("invalid cursor: pass next_cursor from a previous page unchanged");
    }
    store::ListPage page;
    for (auto it = jobs_.rbegin(); it != jobs_.rend(); ++it) {
      const JobRecord& r = it->second;
      if ((query.cursor && r.id >= *query.cursor) || (query.state && r.state != *query.state) ||
          (query.type && r.spec.type != *query.type) || (query.queue && r.spec.queue != *query.queue)) {
        continue;
      }
      if (page.jobs.size() == query.limit) {
        page.next_cursor = page.jobs.back().id;
        break;
      }
      page.jobs.push_back(r);
    }
    return page;
  }

  std::optional<store::VersionedJob> GetJobVersioned(const std::string& id) override {
    if (before_get_versioned) {
      before_get_versioned(id);
    }
    std::lock_guard lock(mutex_);
    MaybeFail();
    const auto it = jobs_.find(id);
    if (it == jobs_.end()) {
      return std::nullopt;
    }
    return store::VersionedJob{it->second, revisions_[id]};
  }

  bool ReplaceJob(const JobRecord& record, int64_t expected_revision) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    const auto it = jobs_.find(record.id);
    if (it == jobs_.end() || revisions_[record.id] != expected_revision) {
      return false;
    }
    it->second = record;
    ++revisions_[record.id];
    return true;
  }

  bool DeleteJob(const std::string& id) override {
    if (before_delete) {
      before_delete();  // a change that lands between the caller's read and its delete
    }
    std::lock_guard lock(mutex_);
    MaybeFail();
    const auto it = jobs_.find(id);
    return it != jobs_.end() && IsTerminal(it->second.state) && EraseLocked(id);
  }

  bool UndoInsert(const std::string& id) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    return EraseLocked(id);
  }

  void MarkPublished(const std::vector<std::string>& ids) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    for (const auto& id : ids) {
      unpublished_.erase(id);
    }
  }

  void MarkUnpublished(const std::string& id, TimePoint since) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    unpublished_.insert(id);
    unpublished_since_[id] = since;
  }

  std::vector<JobRecord> UnpublishedBefore(TimePoint before, size_t limit) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    std::vector<JobRecord> out;
    for (const auto& id : unpublished_) {
      const auto it = jobs_.find(id);
      if (it == jobs_.end()) {
        continue;
      }
      const auto since = unpublished_since_.find(id);
      const TimePoint marked = since != unpublished_since_.end() ? since->second : it->second.created_at;
      if (marked < before && out.size() < limit) {
        out.push_back(it->second);
      }
    }
    return out;
  }

  bool Unpublished(const std::string& id) {
    std::lock_guard lock(mutex_);
    return unpublished_.contains(id);
  }

  std::vector<std::string> AppendLogs(const std::vector<JobEvent>& events, size_t keep_per_job) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    std::vector<std::string> missing;
    for (const auto& event : events) {
      if (event.kind != EventKind::kLog || keep_per_job == 0) {
        continue;
      }
      if (jobs_.count(event.job_id) == 0) {
        missing.push_back(event.job_id);
        continue;
      }
      auto& lines = logs_[event.job_id];
      for (const auto& line : event.lines) {
        lines[{event.attempt, line.seq}] = store::StoredLogLine{event.attempt, line.seq, line.at, line.text};
      }
      while (lines.size() > keep_per_job) {
        lines.erase(lines.begin());
      }
    }
    return missing;
  }

  store::LogPage ListLogs(const store::LogQuery& query) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    if (query.limit < 1 || query.limit > 1000) {
      throw std::invalid_argument("limit must be 1..1000");
    }
    store::LogPage page;
    for (const auto& [key, line] : logs_[query.job_id]) {
      if (key <= std::pair{query.after.attempt, query.after.seq} ||
          (query.attempt && line.attempt != *query.attempt)) {
        continue;
      }
      if (page.lines.size() == query.limit) {
        page.more = true;
        break;
      }
      page.lines.push_back(line);
    }
    return page;
  }

  store::AppliedEvents ApplyEvents(const std::vector<JobEvent>& events) override {
    std::lock_guard lock(mutex_);
    MaybeFail();
    store::AppliedEvents applied;
    for (const auto& event : events) {
      const auto it = jobs_.find(event.job_id);
      if (it == jobs_.end()) {
        applied.missing.push_back(event.job_id);
        continue;
      }
      const JobRecord before = it->second;
      ApplyEvent(it->second, event);
      if (!(it->second == before)) {
        ++revisions_[event.job_id];
        applied.changed.push_back(it->second);
      }
    }
    return applied;
  }

  size_t Prune(const store::RetentionPolicy& /*policy*/, TimePoint /*now*/) override { return 0; }
  std::optional<TimePoint> LastPeriodicTick(const std::string& name) override {
    std::lock_guard lock(mutex_);
    auto it = ticks_.find(name);
    return it == ticks_.end() ? std::nullopt : std::optional<TimePoint>(it->second);
  }
  void RecordPeriodicTick(const std::string& name, TimePoint tick) override {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = ticks_.emplace(name, tick);
    it->second = std::max(it->second, tick);
  }

  // Test helpers.
  void Put(const JobRecord& record) {
    std::lock_guard lock(mutex_);
    jobs_[record.id] = record;
  }
  size_t Size() {
    std::lock_guard lock(mutex_);
    return jobs_.size();
  }
  void FailNext(int calls = 1) {
    std::lock_guard lock(mutex_);
    fail_next_ = calls;
  }

  bool down = false;  // Ping answers false
  std::function<void()> before_delete;  // runs at the start of DeleteJob, outside the lock
  std::function<void(const std::string& id)> before_get_versioned;  // likewise; may throw
  int insert_calls = 0;
  int delete_calls = 0;

 private:
  bool EraseLocked(const std::string& id) {
    ++delete_calls;
    unpublished_.erase(id);
    logs_.erase(id);
    return jobs_.erase(id) == 1;
  }

  void MaybeFail() {
    if (fail_next_ > 0) {
      --fail_next_;
      throw store::StoreError("fake: database is locked");
    }
  }

  std::mutex mutex_;
  std::map<std::string, JobRecord> jobs_;
  std::map<std::string, int64_t> revisions_;  // as the real stores count them
  std::map<std::string, TimePoint> ticks_;  // guarded by mutex_; ids sort by creation time
  std::set<std::string> unpublished_;       // guarded by mutex_
  std::map<std::string, std::map<std::pair<int, int64_t>, store::StoredLogLine>> logs_;  // guarded by mutex_
  std::map<std::string, TimePoint> unpublished_since_;  // guarded by mutex_: marks made after the insert
  int fail_next_ = 0;                      // guarded by mutex_
};

// Records publishes; the test resolves them, as the real publisher does later from its own thread.
class FakePublisher {
 public:
  struct Pending {
    std::vector<amqp::OutgoingMessage> messages;
    amqp::PublishCallback done;
  };

  void Publish(amqp::OutgoingMessage message, amqp::PublishCallback done) {
    std::lock_guard lock(mutex_);
    pending_.push_back({{std::move(message)}, std::move(done)});
    ++publishes;
  }
  void PublishBatch(std::vector<amqp::OutgoingMessage> messages, amqp::PublishCallback done) {
    std::lock_guard lock(mutex_);
    pending_.push_back({std::move(messages), std::move(done)});
    ++batches;
  }

  // Resolves the oldest pending publish; false when none is pending.
  bool Resolve(amqp::PublishOutcome outcome) {
    Pending next;
    {
      std::lock_guard lock(mutex_);
      if (pending_.empty()) {
        return false;
      }
      next = std::move(pending_.front());
      pending_.pop_front();
      resolved_.push_back(next.messages);
    }
    next.done(outcome);
    return true;
  }
  size_t PendingCount() {
    std::lock_guard lock(mutex_);
    return pending_.size();
  }
  // Every message published so far, resolved or not, oldest first.
  std::vector<amqp::OutgoingMessage> Messages() {
    std::lock_guard lock(mutex_);
    std::vector<amqp::OutgoingMessage> out;
    for (const auto& batch : resolved_) {
      out.insert(out.end(), batch.begin(), batch.end());
    }
    for (const auto& p : pending_) {
      out.insert(out.end(), p.messages.begin(), p.messages.end());
    }
    return out;
  }

  int publishes = 0;
  int batches = 0;

 private:
  std::mutex mutex_;
  std::deque<Pending> pending_;                               // guarded by mutex_
  std::vector<std::vector<amqp::OutgoingMessage>> resolved_;  // guarded by mutex_
};

// Runs tasks when the test says so (RunAll), so a test controls every interleaving. `capacity` bounds
// TryPost like the real pool's max_pending.
class ManualRunner final : public TaskRunner {
 public:
  explicit ManualRunner(size_t capacity = 1000) : capacity_(capacity) {}
  bool TryPost(Task task) override {
    if (tasks_.size() >= capacity_) {
      return false;
    }
    tasks_.push_back(std::move(task));
    return true;
  }
  void Post(Task task) override { tasks_.push_back(std::move(task)); }
  // Runs queued tasks, and those they queue, until none is left; returns how many ran.
  size_t RunAll() {
    size_t ran = 0;
    while (!tasks_.empty()) {
      Task task = std::move(tasks_.front());
      tasks_.pop_front();
      task();
      ++ran;
    }
    return ran;
  }
  size_t Queued() const { return tasks_.size(); }

 private:
  size_t capacity_;
  std::deque<Task> tasks_;
};

}  // namespace warren::api::testing
