// Where the API runs blocking work (store calls: SQLite, PostgreSQL) so that no io thread ever waits on
// a disk or a database. Handlers post a task and answer through their Responder when it is done.
#pragma once

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace warren::api {

using Task = std::function<void()>;

// The seam the routes see: BlockingPool in production, an inline or manual runner in unit tests.
class TaskRunner {
 public:
  virtual ~TaskRunner() = default;
  // For new requests: false when the runner is saturated or stopping (the caller answers 503), so a
  // slow database makes clients back off instead of growing a queue without bound.
  virtual bool TryPost(Task task) = 0;
  // For work that must happen once started (undoing a half-done request): always accepted.
  virtual void Post(Task task) = 0;
};

// A fixed set of threads over one FIFO queue. An exception escaping a task is logged, never fatal.
class BlockingPool final : public TaskRunner {
 public:
  BlockingPool(size_t threads, size_t max_pending);
  ~BlockingPool() override;  // Stop()
  BlockingPool(const BlockingPool&) = delete;
  BlockingPool& operator=(const BlockingPool&) = delete;

  bool TryPost(Task task) override;
  // After Stop the task runs on the caller's thread.
  void Post(Task task) override;
  // Refuses new TryPost work, runs everything queued (including what those tasks Post), joins.
  // Idempotent.
  void Stop();
  [[nodiscard]] size_t Pending() const;

 private:
  void Loop();
  static void Run(const Task& task);

  const size_t max_pending_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;  // with mutex_
  std::deque<Task> queue_;        // guarded by mutex_
  bool stopping_ = false;         // guarded by mutex_
  std::vector<std::thread> threads_;
};

}  // namespace warren::api
