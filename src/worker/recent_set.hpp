// The newest `capacity` keys, for "have I seen this?" questions that must not grow without bound (the
// cancelled job ids a worker heard of, the attempts it settled), each with a value (RecentMap) or
// without (RecentSet). Not thread-safe: the owner locks.
#pragma once

#include <algorithm>
#include <deque>
#include <string>
#include <unordered_map>

namespace warren::worker {

template <class Value>
class RecentMap {
 public:
  explicit RecentMap(size_t capacity) : capacity_(capacity) {}

  // Adds the key, or gives a known one its new value (its age stays that of its first insert).
  void Insert(std::string key, Value value = {}) {
    if (auto it = values_.find(key); it != values_.end()) {
      it->second = std::move(value);
      return;
    }
    values_.emplace(key, std::move(value));
    order_.push_back(std::move(key));
    if (order_.size() > capacity_) {
      values_.erase(order_.front());
      order_.pop_front();
    }
  }
  [[nodiscard]] bool Contains(const std::string& key) const { return values_.contains(key); }
  // nullptr when the key is not (or no longer) there.
  [[nodiscard]] const Value* Find(const std::string& key) const {
    const auto it = values_.find(key);
    return it == values_.end() ? nullptr : &it->second;
  }
  // Takes the key out; true when it was there.
  bool Erase(const std::string& key) {
    if (values_.erase(key) == 0) {
      return false;
    }
    order_.erase(std::find(order_.begin(), order_.end(), key));
    return true;
  }

 private:
  size_t capacity_;
  std::unordered_map<std::string, Value> values_;
  std::deque<std::string> order_;  // oldest first
};

struct Nothing {};
using RecentSet = RecentMap<Nothing>;

}  // namespace warren::worker
