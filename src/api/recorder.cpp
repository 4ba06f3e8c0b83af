#include "api/recorder.hpp"

#include <spdlog/spdlog.h>

#include "amqp/topology.hpp"

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
  consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer_options),
                                               [this](amqp::Delivery d) { OnDelivery(std::move(d)); });
  // Started last: Loop settles through consumer_, which must be set before the thread can read it
  // (deliveries that come first only wait in pending_).
  thread_ = std::thread([this] { Loop(); });
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
    std::vector<amqp::Delivery> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return stopping_ || !pending_.empty(); });
      if (pending_.empty()) {
        return;
      }
      // Group commit: whatever arrived while the last transaction ran goes into the next one.
      while (!pending_.empty() && batch.size() < options_.max_batch) {
        batch.push_back(std::move(pending_.front()));
        pending_.pop_front();
      }
    }
    std::vector<JobEvent> events;
    std::vector<JobEvent> logs;  // a job's own log lines: stored beside the records, not applied to them
    events.reserve(batch.size());
    for (const auto& d : batch) {
      if (d.type == amqp::kWorkerHeartbeatType) {
        continue;  // worker heartbeats share the exchange; the worker registry reads its own copy
      }
      try {
        for (auto& event : amqp::DecodeEvents(d.body)) {
          (event.kind == EventKind::kLog ? logs : events).push_back(std::move(event));
        }
      } catch (const std::exception& e) {
        // Acked with the batch: requeueing a message no recorder can read would loop forever.
        spdlog::error("recorder: dropping an event that is not a Warren event ({}): {:.200}", e.what(), d.body);
      }
    }
    try {
      // Both writes are idempotent, so a batch handed back after either failed is simply applied again.
      store_.AppendLogs(logs, options_.log_lines_per_job);
      const auto changed = store_.ApplyEvents(events);
      if (options_.metrics != nullptr) {
        options_.metrics->CountEvents(events, changed);
      }
      if (options_.on_applied && !changed.empty()) {
        options_.on_applied(events, changed);
      }
      applied_ += events.size();
      backoff = std::chrono::milliseconds(100);
      for (const auto& d : batch) {
        consumer_->Settle(d, amqp::Settlement::kAck);
      }
    } catch (const std::exception& e) {
      // The store is unavailable: hand the batch back and try again later; nothing is lost.
      spdlog::error("recorder: store write failed ({}); retrying in {} ms", e.what(), backoff.count());
      for (const auto& d : batch) {
        consumer_->Settle(d, amqp::Settlement::kRequeue);
      }
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, backoff, [this] { return stopping_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    }
  }
}

}  // namespace warren::api
