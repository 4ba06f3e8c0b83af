#include "store/pruner.hpp"

#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"

namespace warren::store {

Pruner::Pruner(Store& store, RetentionPolicy policy, Duration interval, Clock clock)
    : store_(store), policy_(policy), interval_(interval), clock_(std::move(clock)), thread_([this] {
        NameThisThread("pruner");
        Loop();
      }) {}

Pruner::~Pruner() {
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void Pruner::Loop() {
  while (true) {
    try {
      const size_t deleted = store_.Prune(policy_, clock_());
      if (deleted > 0) {
        spdlog::info("retention: pruned {} finished jobs", deleted);
      }
    } catch (const std::exception& e) {
      spdlog::warn("retention: prune failed, retrying in {} ms: {}", interval_.count(), e.what());
    }
    std::unique_lock lock(mutex_);
    if (wake_.wait_for(lock, interval_, [this] { return stopping_; })) {
      return;
    }
  }
}

}  // namespace warren::store
