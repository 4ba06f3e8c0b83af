#include "api/insert_queue.hpp"

#include <exception>
#include <optional>
#include <utility>

#include <spdlog/spdlog.h>

namespace warren::api {

std::shared_ptr<InsertQueue> InsertQueue::Create(store::Store& store, TaskRunner& tasks, size_t max_batch) {
  return std::shared_ptr<InsertQueue>(new InsertQueue(store, tasks, max_batch == 0 ? 1 : max_batch));
}

void InsertQueue::Add(JobRecord record, Inserted inserted, Failed failed) {
  std::unique_lock lock(mutex_);
  pending_.push_back({std::move(record), std::move(inserted), std::move(failed)});
  ScheduleLocked(lock);
}

size_t InsertQueue::Waiting() {
  std::lock_guard lock(mutex_);
  return pending_.size();
}

void InsertQueue::ScheduleLocked(std::unique_lock<std::mutex>& lock) {
  if (flushing_ || pending_.empty()) {
    return;
  }
  flushing_ = true;
  lock.unlock();
  // An inline runner (unit tests) runs the flush right here: the lock must not be held.
  if (tasks_.TryPost([self = shared_from_this()] { self->Flush(); })) {
    return;
  }
  lock.lock();
  std::vector<Pending> refused;
  refused.swap(pending_);
  flushing_ = false;
  lock.unlock();
  for (auto& p : refused) {
    p.failed(InsertFailure::kBusy);
  }
}

void InsertQueue::Flush() {
  std::vector<Pending> batch;
  {
    std::lock_guard lock(mutex_);
    if (pending_.size() <= max_batch_) {
      batch.swap(pending_);
    } else {
      batch.assign(std::make_move_iterator(pending_.begin()),
                   std::make_move_iterator(pending_.begin() + static_cast<std::ptrdiff_t>(max_batch_)));
      pending_.erase(pending_.begin(), pending_.begin() + static_cast<std::ptrdiff_t>(max_batch_));
    }
  }
  std::vector<JobRecord> records;
  records.reserve(batch.size());
  for (auto& p : batch) {
    records.push_back(std::move(p.record));  // the answers use the store's results, not these
  }
  std::vector<store::InsertResult> results;
  std::optional<InsertFailure> failure;
  try {
    results = store_.InsertJobs(records);
    if (results.size() != records.size()) {
      spdlog::error("api: InsertJobs returned {} results for {} jobs", results.size(), records.size());
      failure = InsertFailure::kInternal;
    }
  } catch (const store::StoreError& e) {
    spdlog::error("api: store: {}", e.what());
    failure = InsertFailure::kStore;
  } catch (const std::exception& e) {
    spdlog::error("api: storing {} jobs failed: {}", records.size(), e.what());
    failure = InsertFailure::kInternal;
  }
  // The next flush may start while this one answers: the answers publish, which takes a while.
  {
    std::unique_lock lock(mutex_);
    flushing_ = false;
    ScheduleLocked(lock);
  }
  for (size_t i = 0; i < batch.size(); ++i) {
    if (failure) {
      batch[i].failed(*failure);
      continue;
    }
    try {
      batch[i].inserted(results[i]);
    } catch (const std::exception& e) {
      spdlog::error("api: enqueueing job {} failed after it was stored: {}", results[i].record.id, e.what());
      batch[i].failed(InsertFailure::kInternal);
    }
  }
}

}  // namespace warren::api
