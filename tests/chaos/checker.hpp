// The chaos checker: records every job that got a 2xx, then checks the promise. Each accepted job must
// reach exactly one terminal state in the store (succeeded, dead, cancelled, expired), never succeed
// twice, and run its side effect (one appended line per run, chaos_effect.cpp) no more often than it
// has recorded attempts. Prints accepted, completed, lost, duplicated side effects and the longest
// recovery after a fault (from the fault to the next job that finished).
#pragma once

#include <chrono>
#include <mutex>
#include <string>
#include <vector>

namespace warren::chaos {

struct Report {
  size_t accepted = 0;
  size_t completed = 0;  // in a terminal state
  size_t lost = 0;       // accepted but not terminal (or unknown to the store) at the end
  size_t succeeded = 0;
  size_t dead = 0;
  size_t duplicated_effects = 0;      // jobs whose effect ran more than once (retries included)
  size_t unexplained_effects = 0;     // ... more often than the job has attempts: a run nobody recorded
  size_t missing_effects = 0;         // succeeded effect jobs with no effect at all
  size_t repeated_successes = 0;      // jobs with two successful attempts (a run repeated after a lost ack)
  double max_recovery_seconds = 0;    // over the faults
  std::vector<std::string> problems;  // the first few, for the failure message

  [[nodiscard]] std::string Text() const;
};

class Checker {
 public:
  Checker(unsigned short api_port, std::string effects_file);

  void Accepted(const std::string& id, bool has_effect);  // thread-safe
  void Fault(const std::string& what);                    // thread-safe: now
  // Waits up to `timeout` for every accepted job to be terminal and for the side effects to stop
  // (Settle), then checks and reports.
  Report Finish(std::chrono::milliseconds timeout);

 private:
  // Returns once the effects file has not grown for `quiet` (or after `timeout`).
  void Settle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const;

  struct Job {
    std::string id;
    bool has_effect;
  };
  const unsigned short port_;
  const std::string effects_file_;
  std::mutex mu_;
  std::vector<Job> accepted_;
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> faults_;
};

// How many times longer the scenarios run: WARREN_CHAOS_SCALE (1 in `make test`, more in `make test-chaos`).
int Scale();

}  // namespace warren::chaos
