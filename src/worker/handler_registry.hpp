// One registry of job handlers per worker: built-in examples, and (later) C++ SDK functions and
// registered commands all go through Register().
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "worker/job.hpp"

namespace warren::worker {

// What a handler sees of its job and of the worker.
class JobContext {
 public:
  using Printer = std::function<void(std::string_view)>;
  JobContext(const Job& job, Printer print) : job_(job), print_(std::move(print)) {}

  const Job& job() const { return job_; }
  // A line of the job's output (the demo handlers print theirs).
  void Print(std::string_view line) const { print_(line); }

 private:
  const Job& job_;
  Printer print_;
};

enum class Outcome { kSucceeded, kFailed };

struct HandlerResult {
  Outcome outcome = Outcome::kSucceeded;
  std::string error;      // why it failed
  nlohmann::json result;  // what it returned (typed jobs; recorded in the store)

  static HandlerResult Success(nlohmann::json result = nullptr) { return {Outcome::kSucceeded, {}, std::move(result)}; }
  static HandlerResult Failure(std::string error) { return {Outcome::kFailed, std::move(error), nullptr}; }
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
