#include "api/outbox.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "amqp/topology.hpp"
#include "core/thread_name.hpp"

namespace warren::api {

Outbox::Outbox(store::Store& store, PublishFn publish, ClockFn clock, OutboxOptions options)
    : store_(store), publish_(std::move(publish)), clock_(std::move(clock)), options_(options) {
  thread_ = std::thread([this] {
    NameThisThread("outbox");
    Loop();
  });
}

Outbox::~Outbox() { Stop(); }

void Outbox::Published(const std::vector<std::string>& ids) {
  std::lock_guard lock(mu_);
  marks_.insert(marks_.end(), ids.begin(), ids.end());
}

void Outbox::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();
  Flush();
}

void Outbox::Flush() {
  std::vector<std::string> marks;
  {
    std::lock_guard lock(mu_);
    marks.swap(marks_);
  }
  if (marks.empty()) {
    return;
  }
  try {
    store_.MarkPublished(marks);
  } catch (const std::exception& e) {
    // Unmarked jobs are swept and published again later: a duplicate, never a loss.
    spdlog::warn("outbox: marking {} jobs published failed ({}); they will be published again", marks.size(),
                 e.what());
  }
}

size_t Outbox::Sweep() {
  const TimePoint now = clock_();
  std::vector<JobRecord> stale;
  try {
    stale = store_.UnpublishedBefore(now - options_.stale_after, options_.sweep_batch);
  } catch (const std::exception& e) {
    spdlog::warn("outbox: cannot read unpublished jobs: {}", e.what());
    return 0;
  }
  size_t republished = 0;
  std::vector<std::string> settled;
  for (const auto& record : stale) {
    // Only a job waiting for an attempt that no worker reported yet needs its message: its first
    // (attempt 0 in the record) or the one an API retry reserved. One that ran, moved on or was
    // cancelled had its message, or needs none.
    const bool waiting = record.state == JobState::kQueued || record.state == JobState::kScheduled;
    const bool reported = std::any_of(record.attempts.begin(), record.attempts.end(), [&](const Attempt& a) {
      return a.number >= std::max(record.attempt, 1);
    });
    if (!waiting || reported) {
      settled.push_back(record.id);
      continue;
    }
    ++republished;
    spdlog::warn(
        "outbox: job {} ({} on {}) was stored {} ago but its publish was never confirmed; publishing it",
        record.id, record.spec.type, record.spec.queue,
        FormatDuration(std::chrono::duration_cast<Duration>(now - record.created_at)));
    // attempt > 0: an attempt the API's retry reserved
    auto message =
        record.attempt == 0 ? amqp::EncodeFirstMessage(record, now) : amqp::EncodeRetryMessage(record);
    publish_(std::move(message), [this, id = record.id](amqp::PublishOutcome outcome) {
      if (outcome == amqp::PublishOutcome::kConfirmed) {
        Published({id});
      }
    });
  }
  if (!settled.empty()) {
    Published(settled);
  }
  return republished;
}

void Outbox::Loop() {
  auto next_sweep = std::chrono::steady_clock::now() + options_.sweep_interval;
  for (;;) {
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, options_.mark_interval, [this] { return stopping_; });
      if (stopping_) {
        return;
      }
    }
    Flush();
    if (std::chrono::steady_clock::now() >= next_sweep) {
      Sweep();
      next_sweep = std::chrono::steady_clock::now() + options_.sweep_interval;
    }
  }
}

}  // namespace warren::api
