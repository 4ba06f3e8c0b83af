#include "worker/event_batcher.hpp"

#include <memory>
#include <vector>

#include <fmt/format.h>

#include "amqp/topology.hpp"

namespace warren::worker {

void EventBatcher::Send(const JobEvent& event, const std::string& queue, const std::string& type,
                        amqp::PublishCallback done) {
  const bool settles = static_cast<bool>(done);
  std::string progress_of;
  if (event.kind == EventKind::kProgress && !settles) {
    progress_of = fmt::format("{}/{}", event.job_id, event.attempt);
  }
  auto message = amqp::EncodeEventMessage(event, queue, type);
  std::unique_lock lock(mu_);
  if (!progress_of.empty()) {
    if (auto it = waiting_progress_.find(progress_of); it != waiting_progress_.end()) {
      it->second->message = std::move(message);
      return;
    }
  }
  pending_.push_back(Pending{std::move(message), std::move(done), progress_of});
  if (!progress_of.empty()) {
    waiting_progress_.emplace(std::move(progress_of), &pending_.back());
  }
  if (!in_flight_ && (settles || pending_.size() >= kMaxEvents)) {
    FlushLocked(lock);
  }
}

void EventBatcher::Flush() {
  std::unique_lock lock(mu_);
  if (!in_flight_) {
    FlushLocked(lock);
  }
}

void EventBatcher::FlushLocked(std::unique_lock<std::mutex>& lock) {
  if (pending_.empty()) {
    in_flight_ = false;
    return;
  }
  auto batch = std::make_shared<std::vector<Pending>>();
  size_t bytes = 0;
  while (!pending_.empty() && batch->size() < kMaxEvents &&
         (batch->empty() || bytes + pending_.front().message.body.size() <= kMaxBytes)) {
    bytes += pending_.front().message.body.size();
    if (!pending_.front().progress_of.empty()) {
      waiting_progress_.erase(pending_.front().progress_of);
    }
    batch->push_back(std::move(pending_.front()));
    pending_.pop_front();
  }
  in_flight_ = true;
  amqp::OutgoingMessage message;
  if (batch->size() == 1) {
    message = batch->front().message;
  } else {
    message = amqp::EncodeEventBatchMessage([&] {
      std::vector<std::string> bodies;
      bodies.reserve(batch->size());
      for (const auto& p : *batch) {
        bodies.push_back(p.message.body);
      }
      return bodies;
    }());
  }
  lock.unlock();
  publisher_.Publish(std::move(message), [this, batch](amqp::PublishOutcome outcome) {
    for (auto& p : *batch) {
      if (p.done) {
        p.done(outcome);
      }
    }
    std::unique_lock relock(mu_);
    FlushLocked(relock);
  });
  lock.lock();
}

}  // namespace warren::worker
