#include "api/recorder.hpp"

#include <algorithm>
#include <iterator>
#include <set>
#include <string>

#include <spdlog/spdlog.h>

#include "amqp/topology.hpp"
#include "core/thread_name.hpp"

namespace warren::api {

Recorder::Recorder(RecorderOptions options, store::Store& store) : options_(std::move(options)), store_(store) {
  amqp::ConsumerOptions consumer_options;
  consumer_options.connection = options_.connection;
  consumer_options.connection.name += " recorder";
  consumer_options.declare = amqp::RecorderTopology(options_.queue_type);
  consumer_options.channel_prefetch = options_.queue_type != QueueType::kQuorum;  // quorum refuses it
  consumer_options.consume = {std::string(amqp::kRecorderQueue)};
  consumer_options.prefetch = options_.prefetch;
  consumer_options.reconnect_max = options_.reconnect_max;
  consumer_options.thread_name = "recorder-amqp";
  consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer_options),
                                               [this](amqp::Delivery d) { OnDelivery(std::move(d)); });
  // Started last: Loop settles through consumer_, which must be set before the thread can read it
  // (deliveries that come first only wait in pending_).
  thread_ = std::thread([this] {
    NameThisThread("recorder");
    Loop();
  });
}

Recorder::~Recorder() { Stop(); }

void Recorder::Stop() {
  if (consumer_ != nullptr) {
    consumer_->StopConsuming();
  }
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_all();
  thread_.join();       // applies what already arrived, then settles it
  consumer_->Stop();    // flushes those acks; unapplied deliveries return to the queue
}

bool Recorder::WaitConnected(std::chrono::milliseconds timeout) const { return consumer_->WaitConnected(timeout); }

void Recorder::OnDelivery(amqp::Delivery delivery) {
  {
    std::lock_guard lock(mu_);
    pending_.push_back(std::move(delivery));
  }
  cv_.notify_one();
}

void Recorder::Loop() {
  std::chrono::milliseconds backoff{100};
  for (;;) {
    std::vector<Deferred> batch;
    {
      std::unique_lock lock(mu_);
      auto ready = [this] { return stopping_ || !pending_.empty(); };
      if (deferred_.empty()) {
        cv_.wait(lock, ready);
      } else {
        const auto next =
            std::min_element(deferred_.begin(), deferred_.end(), [](const auto& a, const auto& b) {
              return a.retry_at < b.retry_at;
            })->retry_at;
        cv_.wait_until(lock, next, ready);
      }
      if (stopping_ && pending_.empty()) {
        return;  // deferred messages stay unacked: the broker hands them to a recorder again
      }
      // Group commit: whatever arrived while the last transaction ran goes into the next one.
      while (!pending_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(Deferred{.delivery = std::move(pending_.front())});
        pending_.pop_front();
      }
    }
    // Held across a lost connection: the broker has requeued the message and delivers it again.
    std::erase_if(deferred_, [this](const Deferred& d) { return !consumer_->IsLive(d.delivery); });
    const auto now = Clock::now();
    auto due = std::partition(deferred_.begin(), deferred_.end(),
                              [now](const Deferred& d) { return d.retry_at > now; });
    std::move(due, deferred_.end(), std::back_inserter(batch));
    deferred_.erase(due, deferred_.end());
    if (batch.empty()) {
      continue;
    }
    if (Apply(std::move(batch))) {
      backoff = std::chrono::milliseconds(100);
      continue;
    }
    std::unique_lock lock(mu_);
    cv_.wait_for(lock, backoff, [this] { return stopping_; });
    backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
  }
}

bool Recorder::Apply(std::vector<Deferred> batch) {
  // A new message's events are decoded here; a deferred one brings those still waiting for a record.
  for (auto& item : batch) {
    const amqp::Delivery& d = item.delivery;
    if (item.wait.count() != 0 || d.type == amqp::kWorkerHeartbeatType) {
      continue;  // worker heartbeats share the exchange; the worker registry reads its own copy
    }
    try {
      item.events = amqp::DecodeEvents(d.body);
    } catch (const std::exception& e) {
      // Acked with the batch: requeueing a message no recorder can read would loop forever.
      spdlog::error("recorder: dropping an event that is not a Warren event ({}): {:.200}", e.what(), d.body);
    }
  }
  std::vector<JobEvent> events;
  std::vector<JobEvent> logs;  // a job's own log lines: stored beside the records, not applied to them
  // Where each message's events went (moved, not copied), to find those that must wait.
  std::vector<std::vector<std::pair<std::vector<JobEvent>*, size_t>>> placed(batch.size());
  for (size_t i = 0; i < batch.size(); ++i) {
    for (auto& event : batch[i].events) {
      auto& into = event.kind == EventKind::kLog ? logs : events;
      placed[i].emplace_back(&into, into.size());
      into.push_back(std::move(event));
    }
  }
  std::set<std::string> missing;
  try {
    // Both writes are idempotent, so a batch handed back after either failed is simply applied again.
    auto logs_missing = store_.AppendLogs(logs, options_.log_lines_per_job);
    auto applied = store_.ApplyEvents(events);
    if (options_.metrics != nullptr) {
      options_.metrics->CountEvents(events, applied.changed);
    }
    if (options_.on_applied && !applied.changed.empty()) {
      options_.on_applied(events, applied.changed);
    }
    applied_ += events.size();
    missing.insert(logs_missing.begin(), logs_missing.end());
    missing.insert(applied.missing.begin(), applied.missing.end());
  } catch (const std::exception& e) {
    // The store is unavailable: hand the batch back and try again later; nothing is lost.
    spdlog::error("recorder: store write failed ({}); retrying", e.what());
    for (const auto& item : batch) {
      consumer_->Settle(item.delivery, amqp::Settlement::kRequeue);
    }
    return false;
  }
  const TimePoint now = SystemNow();
  const auto clock_now = Clock::now();
  size_t dropped_events = 0;
  std::set<std::string> dropped_jobs;
  for (size_t i = 0; i < batch.size(); ++i) {
    auto& item = batch[i];
    // Only events a `serve` said it stores are worth waiting for: a job enqueued over AMQP (the SDK
    // client, another producer) never gets a record. And only while the job is young.
    std::vector<JobEvent> waiting;
    for (const auto& [into, index] : placed[i]) {
      JobEvent& event = (*into)[index];
      if (!event.stored || !missing.contains(event.job_id)) {
        continue;
      }
      if (item.last_chance) {
        ++dropped_events;
        dropped_jobs.insert(event.job_id);
      } else if (const auto created = JobIdTime(event.job_id);
                 created && now - *created < options_.missing_job_wait) {
        waiting.push_back(std::move(event));
      } else if (item.wait.count() != 0) {
        spdlog::warn(
            "recorder: dropping a {} event of job {}: no record of it came within {} s of its id's time",
            ToString(event.kind), event.job_id,
            std::chrono::duration_cast<std::chrono::seconds>(options_.missing_job_wait).count());
      }
    }
    if (waiting.empty()) {
      consumer_->Settle(item.delivery, amqp::Settlement::kAck);
      continue;
    }
    // Its job's insert has not committed yet: those events go again later, the message unacked.
    const auto wait = item.wait.count() == 0 ? options_.missing_job_retry
                                             : std::min(item.wait * 2, std::chrono::milliseconds(1000));
    const auto since = item.wait.count() == 0 ? clock_now : item.since;
    deferred_.push_back(Deferred{.delivery = std::move(item.delivery),
                                 .events = std::move(waiting),
                                 .retry_at = clock_now + wait,
                                 .wait = wait,
                                 .since = since});
  }
  if (dropped_events > 0) {
    spdlog::warn(
        "recorder: dropping {} events of {} jobs that have no record yet: more messages wait for "
        "their job's record than half the prefetch ({})",
        dropped_events, dropped_jobs.size(), options_.prefetch);
  }
  LimitHeld(clock_now);
  return true;
}

void Recorder::LimitHeld(Clock::time_point now) {
  // After a store outage many jobs can have been published without a record (decision 77). Held past
  // half the prefetch, their reports would leave the broker little to deliver and slow every other
  // job's recording until their minute passed. The longest held, once past the ordinary wait for a
  // committing insert, get one more look at the store and are then acked.
  const size_t cap = std::max<size_t>(options_.prefetch / 2, 1);
  if (deferred_.size() <= cap) {
    return;  // the usual case, checked before anything is built: this runs after every batch
  }
  std::vector<Deferred*> held;
  for (auto& d : deferred_) {
    if (!d.last_chance) {
      held.push_back(&d);
    }
  }
  if (held.size() <= cap) {
    return;
  }
  std::sort(held.begin(), held.end(),
            [](const Deferred* a, const Deferred* b) { return a->since < b->since; });
  for (size_t i = 0; i < held.size() - cap && now - held[i]->since >= kMinHeldBeforeCap; ++i) {
    held[i]->last_chance = true;
    held[i]->retry_at = now;
  }
}

}  // namespace warren::api
