// Retention in the background: Store::Prune once at start, then every `interval`, on a thread of its
// own. Prune deletes in small transactions, so the API and the recorder keep writing meanwhile.
#pragma once

#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>

#include "store/store.hpp"

namespace warren::store {

class Pruner {
 public:
  using Clock = std::function<TimePoint()>;

  // `store` must outlive the Pruner. A failed round is logged and retried at the next interval.
  Pruner(Store& store, RetentionPolicy policy, Duration interval, Clock clock = SystemNow);
  ~Pruner();  // wakes the thread and joins it; a round in progress finishes its current batch loop
  Pruner(const Pruner&) = delete;
  Pruner& operator=(const Pruner&) = delete;
  Pruner(Pruner&&) = delete;
  Pruner& operator=(Pruner&&) = delete;

 private:
  void Loop();

  Store& store_;
  const RetentionPolicy policy_;
  const Duration interval_;
  const Clock clock_;
  std::mutex mutex_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mutex_
  std::thread thread_;     // last: starts once everything it uses is initialized
};

}  // namespace warren::store
