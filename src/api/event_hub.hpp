// Live job changes for `GET /v1/events` (Server-Sent Events): a ring buffer of recent changes and the
// open streams that want them. Every `serve` replica feeds its hub from the `warren.changes` fanout, to
// which each replica publishes what its recorder and its API changed, so every stream sees every job.
//
// Event ids are "<epoch>-<sequence>": the epoch is this hub's start (ms since 1970), the sequence
// counts up. A client that resumes with `Last-Event-ID` from this hub gets the changes it missed that
// are still buffered; one whose id is from another hub (another replica, or before a restart) or too
// old gets a `reset` event first, so it knows to reload instead of trusting a gapless stream.
#pragma once

#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace warren::api {

// One change to one job: `kind` is the SSE event name (enqueued, started, progress, succeeded,
// failed, retrying, dead, cancelled, expired, retried, deleted); `data` is the JSON the stream shows,
// with at least job_id, queue, type and state.
struct JobChange {
  std::string kind;
  nlohmann::json data;

  [[nodiscard]] const std::string& JobId() const;
  [[nodiscard]] const std::string& Queue() const;
  [[nodiscard]] const std::string& Type() const;
};

// Which changes a stream wants; empty fields match everything.
struct EventFilter {
  std::string queue;
  std::string type;
  std::string job_id;

  [[nodiscard]] bool Matches(const JobChange& change) const;
};

// One SSE frame: "id: …\nevent: …\ndata: …\n\n".
std::string FormatSseEvent(std::string_view id, std::string_view event, std::string_view data);

class EventHub {
 public:
  // Returns false once the stream is gone; the hub then forgets it. Called with the hub's lock held:
  // must not block (it queues bytes on a connection) and must not call back into the hub.
  using Sink = std::function<bool(const std::string& frame)>;

  // `replay_budget`: the most bytes a resume replays. A stream's connection holds a bounded backlog
  // (HttpServerOptions::stream_backlog) and is cut when a send would pass it; a replay bigger than
  // that would cut every reconnect before it sent a byte, and the client would retry with the same
  // id for ever. Past the budget the stream gets a `reset` instead.
  explicit EventHub(size_t capacity = 10'000, int64_t epoch_ms = NowMs(),
                    size_t replay_budget = size_t{512} << 10);

  // Buffers the changes and sends each to every stream whose filter matches. Thread-safe.
  void Publish(const std::vector<JobChange>& changes);

  // Registers a stream: first the buffered changes after `last_event_id` (or a reset event when that
  // id cannot be resumed from here), then every new match. Thread-safe.
  void Subscribe(const EventFilter& filter, const std::optional<std::string>& last_event_id, Sink sink);

  // A comment frame to every stream, so idle connections show life and dead ones are found.
  void KeepAlive();

  [[nodiscard]] size_t Subscribers() const;
  [[nodiscard]] int64_t Epoch() const { return epoch_; }

  static int64_t NowMs();

 private:
  struct Buffered {
    uint64_t sequence;
    JobChange change;
    std::string frame;  // formatted once, sent to many
  };
  struct Stream {
    EventFilter filter;
    Sink sink;
  };

  std::string IdOf(uint64_t sequence) const;
  // The sequence to resume after, or nullopt when `last_event_id` cannot be resumed from this buffer.
  std::optional<uint64_t> ResumePoint(const std::string& last_event_id) const;  // with mu_ held

  const size_t capacity_;
  const int64_t epoch_;
  const size_t replay_budget_;
  mutable std::mutex mu_;
  uint64_t next_sequence_ = 1;          // guarded by mu_
  std::deque<Buffered> buffer_;         // guarded by mu_
  std::map<uint64_t, Stream> streams_;  // guarded by mu_
  uint64_t next_stream_ = 1;            // guarded by mu_
};

}  // namespace warren::api
