// Warren C++ SDK: what a handler sees of its job, and how it reports failure.
// Public header: includes only the standard library and nlohmann/json.
#pragma once

#include <chrono>
#include <functional>
#include <optional>
#include <stdexcept>
#include <stop_token>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace warren {

namespace worker {
class JobContext;  // the engine's view of a running job (internal)
}  // namespace worker
namespace sdk {
struct Access;  // builds JobContexts for the engine (internal)
}  // namespace sdk

// Thrown by a handler: this attempt failed, and the job runs again after a backoff while it has
// attempts left (then it goes to warren.dead). Any other std::exception means the same.
class RetryableError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Thrown by a handler: no retry can fix this (bad arguments, a missing input); the job goes to
// warren.dead at once, whatever attempts it has left.
class FatalError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// One attempt of one job, as its handler sees it. Valid only during the handler call; handlers run on
// the worker's executor threads, `concurrency` at a time, so one handler may run on several threads.
class JobContext {
 public:
  using Clock = std::chrono::system_clock;

  JobContext(const JobContext&) = delete;
  JobContext& operator=(const JobContext&) = delete;

  [[nodiscard]] const std::string& id() const;    // the job id (UUIDv7)
  [[nodiscard]] const std::string& type() const;  // the job type the handler was registered for
  [[nodiscard]] const std::string& queue() const;
  [[nodiscard]] const nlohmann::json& args() const;  // null when the job has no args
  [[nodiscard]] int attempt() const;                 // 1 on the first run
  [[nodiscard]] int max_attempts() const;
  // The job must not start after this; a running attempt is not stopped by it.
  [[nodiscard]] std::optional<Clock::time_point> deadline() const;

  // Fires when the job is cancelled, runs past its timeout or the worker stops past its grace: return
  // soon after. A handler that ignores it past the worker's kill grace is reported failed and the
  // worker process recycles.
  [[nodiscard]] std::stop_token stop_token() const;
  [[nodiscard]] bool cancelled() const;  // stop_token().stop_requested()

  // Sleeps up to `d`, waking early when stop is requested. Returns false when woken early.
  template <class Rep, class Period>
  [[nodiscard]] bool sleep_for(std::chrono::duration<Rep, Period> d) const {
    return sleep_for_ms(std::chrono::ceil<std::chrono::milliseconds>(d));
  }

  // Reports progress (clamped to 0..100) as a `progress` event; the store keeps the latest.
  void progress(int percent, const std::string& note = {}) const;
  // A line of the job's log: in the worker's log (tagged with the job id and attempt) and, kept per
  // attempt, at GET /v1/jobs/{id}/logs and `warren logs ID`.
  void log(std::string_view line) const;

 private:
  friend struct sdk::Access;
  explicit JobContext(const worker::JobContext& impl) : impl_(impl) {}
  [[nodiscard]] bool sleep_for_ms(std::chrono::milliseconds d) const;

  const worker::JobContext& impl_;
};

// A handler returns the job's result (recorded in the store; null for none) or throws. See
// Worker::handle, which also takes handlers returning void or anything convertible to json.
using Handler = std::function<nlohmann::json(JobContext&)>;

}  // namespace warren
