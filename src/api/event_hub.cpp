#include "api/event_hub.hpp"

#include <charconv>

#include <fmt/format.h>

#include "core/job.hpp"

namespace warren::api {
namespace {

const std::string& Field(const nlohmann::json& data, const char* name) {
  static const std::string kEmpty;
  const auto it = data.find(name);
  return it != data.end() && it->is_string() ? it->get_ref<const std::string&>() : kEmpty;
}

}  // namespace

const std::string& JobChange::JobId() const { return Field(data, "job_id"); }
const std::string& JobChange::Queue() const { return Field(data, "queue"); }
const std::string& JobChange::Type() const { return Field(data, "type"); }

bool EventFilter::Matches(const JobChange& change) const {
  return (queue.empty() || change.Queue() == queue) && (type.empty() || change.Type() == type) &&
         (job_id.empty() || change.JobId() == job_id);
}

std::string FormatSseEvent(std::string_view id, std::string_view event, std::string_view data) {
  // `data` is one line of JSON (dump() escapes newlines), so one data field carries it.
  return fmt::format("id: {}\nevent: {}\ndata: {}\n\n", id, event, data);
}

EventHub::EventHub(size_t capacity, int64_t epoch_ms, size_t replay_budget)
    : capacity_(std::max<size_t>(capacity, 1)), epoch_(epoch_ms), replay_budget_(replay_budget) {}

int64_t EventHub::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

std::string EventHub::IdOf(uint64_t sequence) const { return fmt::format("{}-{}", epoch_, sequence); }

std::optional<uint64_t> EventHub::ResumePoint(const std::string& last_event_id) const {
  const auto dash = last_event_id.find('-');
  if (dash == std::string::npos) {
    return std::nullopt;
  }
  int64_t epoch = 0;
  uint64_t sequence = 0;
  const char* begin = last_event_id.data();
  const char* end = begin + last_event_id.size();
  if (std::from_chars(begin, begin + dash, epoch).ec != std::errc() || epoch != epoch_) {
    return std::nullopt;
  }
  const auto [ptr, ec] = std::from_chars(begin + dash + 1, end, sequence);
  if (ec != std::errc() || ptr != end || sequence >= next_sequence_) {
    return std::nullopt;  // not a number, or one this hub never gave out
  }
  // Resumable when nothing after it has left the buffer.
  const uint64_t oldest = buffer_.empty() ? next_sequence_ : buffer_.front().sequence;
  if (sequence + 1 < oldest) {
    return std::nullopt;
  }
  return sequence;
}

void EventHub::Publish(const std::vector<JobChange>& changes) {
  std::lock_guard lock(mu_);
  for (const auto& change : changes) {
    const uint64_t sequence = next_sequence_++;
    Buffered buffered{sequence, change, FormatSseEvent(IdOf(sequence), change.kind, DumpJson(change.data))};
    for (auto it = streams_.begin(); it != streams_.end();) {
      if (it->second.filter.Matches(change) && !it->second.sink(buffered.frame)) {
        it = streams_.erase(it);
      } else {
        ++it;
      }
    }
    buffer_.push_back(std::move(buffered));
    if (buffer_.size() > capacity_) {
      buffer_.pop_front();
    }
  }
}

void EventHub::Subscribe(const EventFilter& filter, const std::optional<std::string>& last_event_id,
                         Sink sink) {
  std::lock_guard lock(mu_);
  // A fresh stream opens with a comment, so the client sees the stream at once, and asks clients to
  // reconnect after 2 s when it drops.
  if (!sink(": connected\nretry: 2000\n\n")) {
    return;
  }
  if (last_event_id) {
    auto resume = ResumePoint(*last_event_id);
    std::string reason = "the events after this id are no longer buffered here";
    if (resume) {
      size_t bytes = 0;
      for (const auto& buffered : buffer_) {
        if (buffered.sequence > *resume && filter.Matches(buffered.change)) {
          bytes += buffered.frame.size();
        }
      }
      if (bytes > replay_budget_) {
        resume.reset();
        reason = fmt::format("{} bytes of events after this id are more than a stream replays ({})", bytes,
                             replay_budget_);
      }
    }
    if (!resume) {
      const nlohmann::json data{{"reason", reason}, {"last_event_id", *last_event_id}};
      const uint64_t newest = next_sequence_ - 1;
      if (!sink(FormatSseEvent(IdOf(newest), "reset", DumpJson(data)))) {
        return;
      }
    } else {
      for (const auto& buffered : buffer_) {
        if (buffered.sequence > *resume && filter.Matches(buffered.change) && !sink(buffered.frame)) {
          return;
        }
      }
    }
  }
  streams_.emplace(next_stream_++, Stream{filter, std::move(sink)});
}

void EventHub::KeepAlive() {
  std::lock_guard lock(mu_);
  for (auto it = streams_.begin(); it != streams_.end();) {
    it = it->second.sink(": keep-alive\n\n") ? std::next(it) : streams_.erase(it);
  }
}

size_t EventHub::Subscribers() const {
  std::lock_guard lock(mu_);
  return streams_.size();
}

}  // namespace warren::api
