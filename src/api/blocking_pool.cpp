#include "api/blocking_pool.hpp"

#include <exception>

#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"

namespace warren::api {

BlockingPool::BlockingPool(size_t threads, size_t max_pending) : max_pending_(max_pending) {
  threads_.reserve(threads);
  for (size_t i = 0; i < threads; ++i) {
    threads_.emplace_back([this] {
      NameThisThread("blocking-pool");
      Loop();
    });
  }
}

BlockingPool::~BlockingPool() { Stop(); }

bool BlockingPool::TryPost(Task task) {
  {
    std::lock_guard lock(mutex_);
    if (stopping_ || queue_.size() >= max_pending_) {
      return false;
    }
    queue_.push_back(std::move(task));
  }
  wake_.notify_one();
  return true;
}

void BlockingPool::Post(Task task) {
  {
    std::lock_guard lock(mutex_);
    // While stopping the threads still drain the queue; only once they are gone run it here.
    if (!stopping_ || !threads_.empty()) {
      queue_.push_back(std::move(task));
      task = nullptr;
    }
  }
  if (task) {
    Run(task);
    return;
  }
  wake_.notify_one();
}

void BlockingPool::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  // Threads exit only once the queue is empty (see Loop), so everything posted so far runs.
  for (auto& thread : threads_) {
    if (thread.joinable() && thread.get_id() != std::this_thread::get_id()) {
      thread.join();
    }
  }
  std::deque<Task> left;
  {
    std::lock_guard lock(mutex_);
    threads_.clear();
    left.swap(queue_);  // posted by the last tasks after their thread looked: run them here
  }
  for (const auto& task : left) {
    Run(task);
  }
}

size_t BlockingPool::Pending() const {
  std::lock_guard lock(mutex_);
  return queue_.size();
}

void BlockingPool::Loop() {
  for (;;) {
    Task task;
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) {
        return;  // stopping and drained
      }
      task = std::move(queue_.front());
      queue_.pop_front();
    }
    Run(task);
  }
}

void BlockingPool::Run(const Task& task) {
  try {
    task();
  } catch (const std::exception& e) {
    spdlog::error("api: background task failed: {}", e.what());
  } catch (...) {
    spdlog::error("api: background task failed with a non-standard exception");
  }
}

}  // namespace warren::api
