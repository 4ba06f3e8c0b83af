// One registry of job handlers per worker: built-in examples, and (later) C++ SDK functions and
// registered commands all go through Register().
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include "worker/job.hpp"

namespace warren::worker {

// What the worker does with what a handler reports. Every hook may be empty.
struct JobHooks {
  std::function<void(std::string_view)> print;                  // a line of the job's own output
  std::function<void(int percent, const std::string& note)> progress;
  std::function<void(std::string_view)> log;                    // a line of the job's log
};

// What a handler sees of its job and of the worker.
class JobContext {
 public:
  using Printer = std::function<void(std::string_view)>;
  JobContext(const Job& job, std::stop_token stop, JobHooks hooks)
      : job_(job), stop_(std::move(stop)), hooks_(std::move(hooks)) {}
  JobContext(const Job& job, Printer print) : job_(job) { hooks_.print = std::move(print); }

  const Job& job() const { return job_; }
  const nlohmann::json& args() const { return job_.args; }
  int attempt() const { return job_.attempt; }
  std::optional<TimePoint> deadline() const { return job_.deadline; }

  // Fires when the job is cancelled or runs past its timeout: return soon after. A handler that
  // ignores it past the worker's kill grace makes the worker report the attempt failed and restart.
  std::stop_token stop_token() const { return stop_; }
  bool stop_requested() const { return stop_.stop_requested(); }
  // Sleeps up to `d`, waking early when stop is requested. Returns false when woken early.
  bool SleepFor(Duration d) const;

  // Reports progress (clamped to 0..100); recorded on the job as `progress`.
  void Progress(int percent, const std::string& note = {}) const;
  // A line of the job's log (stderr for commands).
  void Log(std::string_view line) const;
  // A line of the job's output (the demo handlers print theirs).
  void Print(std::string_view line) const;

 private:
  const Job& job_;
  std::stop_token stop_;
  JobHooks hooks_;
};

enum class Outcome { kSucceeded, kFailed };

struct HandlerResult {
  Outcome outcome = Outcome::kSucceeded;
  std::string error;      // why it failed
  nlohmann::json result;  // what it returned (typed jobs; recorded in the store)
  bool retryable = true;  // a failure runs again while attempts remain; false: dead at once

  static HandlerResult Success(nlohmann::json result = nullptr) {
    return {Outcome::kSucceeded, {}, std::move(result), true};
  }
  // A failed attempt: retried with backoff while the job has attempts left.
  static HandlerResult Failure(std::string error) { return {Outcome::kFailed, std::move(error), nullptr, true}; }
  // A failure no retry can fix (bad arguments): the job goes dead now.
  static HandlerResult Fatal(std::string error) { return {Outcome::kFailed, std::move(error), nullptr, false}; }
};

using Handler = std::function<HandlerResult(JobContext&)>;

class HandlerRegistry {
 public:
  void Register(std::string type, Handler handler);
  // Runs seed-style jobs whose text names no registered type (the demo's "sorry i did not understand").
  void SetSeedFallback(Handler handler);

  // The handler for `job`, or nullptr when none applies.
  const Handler* Find(const Job& job) const;
  std::vector<std::string> Types() const;

 private:
  std::map<std::string, Handler, std::less<>> handlers_;
  std::optional<Handler> seed_fallback_;
};

}  // namespace warren::worker
