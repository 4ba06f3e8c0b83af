// Group commit for enqueues. POST /v1/jobs stores one job per request; one store transaction per
// request made SQLite write (and zero-fill) the same WAL pages again for every job and held a store
// thread per request. Requests now leave their record here; one flush at a time takes everything that
// waits and inserts it in one transaction, so the jobs of concurrent requests share the commit while
// the previous one runs — no timer, no added wait when the server is idle.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <mutex>
#include <vector>

#include "api/blocking_pool.hpp"
#include "core/job.hpp"
#include "store/store.hpp"

namespace warren::api {

enum class InsertFailure {
  kBusy,      // the task runner refused the flush (saturated or stopping)
  kStore,     // the store failed (StoreError)
  kInternal,  // anything else: our bug
};

class InsertQueue : public std::enable_shared_from_this<InsertQueue> {
 public:
  using Inserted = std::function<void(const store::InsertResult&)>;
  using Failed = std::function<void(InsertFailure)>;

  // At most `max_batch` records go into one transaction.
  static std::shared_ptr<InsertQueue> Create(store::Store& store, TaskRunner& tasks, size_t max_batch);

  // Exactly one of the callbacks runs, on the task runner's thread (or the caller's, when refused).
  void Add(JobRecord record, Inserted inserted, Failed failed);
  // Records added and not yet taken by a flush.
  size_t Waiting();

 private:
  struct Pending {
    JobRecord record;
    Inserted inserted;
    Failed failed;
  };
  InsertQueue(store::Store& store, TaskRunner& tasks, size_t max_batch)
      : store_(store), tasks_(tasks), max_batch_(max_batch) {}
  // Schedules a flush unless one is scheduled or running. Called with mutex_ held.
  void ScheduleLocked(std::unique_lock<std::mutex>& lock);
  void Flush();

  store::Store& store_;
  TaskRunner& tasks_;
  const size_t max_batch_;
  std::mutex mutex_;
  std::vector<Pending> pending_;
  bool flushing_ = false;
};

}  // namespace warren::api
