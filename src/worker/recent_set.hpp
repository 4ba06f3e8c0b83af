// The newest `capacity` keys, for "have I seen this?" questions that must not grow without bound (the
// cancelled job ids a worker heard of, the attempts it settled). Not thread-safe: the owner locks.
#pragma once

#include <deque>
#include <string>
#include <unordered_set>

namespace warren::worker {

class RecentSet {
 public:
  explicit RecentSet(size_t capacity) : capacity_(capacity) {}

  void Insert(std::string key) {
    if (!keys_.insert(key).second) {
      return;
    }
    order_.push_back(std::move(key));
    if (order_.size() > capacity_) {
      keys_.erase(order_.front());
      order_.pop_front();
    }
  }
  [[nodiscard]] bool Contains(const std::string& key) const { return keys_.contains(key); }

 private:
  size_t capacity_;
  std::unordered_set<std::string> keys_;
  std::deque<std::string> order_;  // oldest first
};

}  // namespace warren::worker
