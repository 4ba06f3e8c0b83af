#include "chaos/checker.hpp"

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/job.hpp"
#include "support/support.hpp"

namespace warren::chaos {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

bool IsTerminal(const json& job) {
  const auto state = ParseJobState(job.value("state", std::string()));
  return state && warren::IsTerminal(*state);
}

}  // namespace

int Scale() {
  const char* text = std::getenv("WARREN_CHAOS_SCALE");
  const int scale = text != nullptr ? std::atoi(text) : 1;
  return std::clamp(scale, 1, 1000);
}

std::string Report::Text() const {
  std::string out = fmt::format(
      "accepted {}, completed {} (succeeded {}, dead {}), lost {}, duplicated side effects {} "
      "(unexplained by a recorded attempt: {}; jobs with two successful attempts: {}), missing side effects "
      "{}, max recovery {:.1f} s",
      accepted, completed, succeeded, dead, lost, duplicated_effects, unexplained_effects, repeated_successes,
      missing_effects, max_recovery_seconds);
  for (const auto& p : problems) {
    out += "\n  " + p;
  }
  return out;
}

Checker::Checker(unsigned short api_port, std::string effects_file)
    : port_(api_port), effects_file_(std::move(effects_file)) {}

void Checker::Accepted(const std::string& id, bool has_effect) {
  std::lock_guard lock(mu_);
  accepted_.push_back({id, has_effect});
}

void Checker::Fault(const std::string& what) {
  std::lock_guard lock(mu_);
  faults_.emplace_back(what, std::chrono::system_clock::now());
}

void Checker::Settle(std::chrono::milliseconds quiet, std::chrono::milliseconds timeout) const {
  const auto size = [this] {
    std::error_code error;
    const auto bytes = std::filesystem::file_size(effects_file_, error);
    return error ? 0 : bytes;
  };
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto last = size();
  auto quiet_since = std::chrono::steady_clock::now();
  while (std::chrono::steady_clock::now() - quiet_since < quiet && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(250ms);
    if (const auto now = size(); now != last) {
      last = now;
      quiet_since = std::chrono::steady_clock::now();
    }
  }
}

Report Checker::Finish(std::chrono::milliseconds timeout) {
  std::vector<Job> jobs;
  {
    std::lock_guard lock(mu_);
    jobs = accepted_;
  }
  Report report;
  report.accepted = jobs.size();
  std::map<std::string, json> records;
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  for (;;) {
    size_t open = 0;
    for (const auto& job : jobs) {
      auto& record = records[job.id];
      if (record.is_object() && IsTerminal(record)) {
        continue;
      }
      const auto answer = testing::HttpGet(port_, "/v1/jobs/" + job.id, 5s);
      record = answer.status == 200 ? json::parse(answer.body, nullptr, false) : json();
      open += record.is_object() && IsTerminal(record) ? 0 : 1;
    }
    if (open == 0 || std::chrono::steady_clock::now() >= deadline) {
      break;
    }
    std::this_thread::sleep_for(500ms);
  }

  // A terminal record is not the end of a job's runs: a run repeated after a lost ack (the outcome was
  // confirmed, the worker died before its ack) comes later and is recorded as further attempts. So
  // wait until the side effects stop for a while (longer than the retry cap and a job), then read
  // every record again, and only then compare runs with recorded attempts.
  Settle(std::chrono::seconds(3), std::chrono::seconds(60));
  for (const auto& job : jobs) {
    const auto answer = testing::HttpGet(port_, "/v1/jobs/" + job.id, 5s);
    if (answer.status == 200) {
      records[job.id] = json::parse(answer.body, nullptr, false);
    }
  }

  std::map<std::string, std::vector<std::string>> effects;  // job id -> the attempt number of each run
  {
    std::ifstream in(effects_file_);
    std::string id;
    std::string attempt;
    while (in >> id >> attempt) {
      effects[id].push_back(attempt);
    }
  }
  auto problem = [&report](std::string text) {
    if (report.problems.size() < 10) {
      report.problems.push_back(std::move(text));
    }
  };
  std::vector<TimePoint> finished;
  for (const auto& job : jobs) {
    const json& record = records[job.id];
    if (!record.is_object() || !IsTerminal(record)) {
      ++report.lost;
      problem(
          fmt::format("lost: {} is {}", job.id, record.is_object() ? record.value("state", "?") : "unknown"));
      continue;
    }
    ++report.completed;
    const std::string state = record["state"];
    report.succeeded += state == "succeeded" ? 1 : 0;
    report.dead += state == "dead" ? 1 : 0;
    size_t successes = 0;
    for (const auto& attempt : record["attempts"]) {
      successes += attempt.value("outcome", "") == "succeeded" ? 1 : 0;
    }
    // Two attempts that both succeeded: a run repeated after a lost ack (at-least-once). The record
    // still ends in one state; the duplicate shows in the side effects.
    report.repeated_successes += successes > 1 ? 1 : 0;
    if (const auto at = record.value("finished_at", json()); at.is_string()) {
      if (const auto t = ParseTime(at.get<std::string>())) {
        finished.push_back(*t);
      }
    }
    if (!job.has_effect) {
      continue;
    }
    const auto& runs_of = effects[job.id];
    const size_t runs = runs_of.size();
    report.duplicated_effects += runs > 1 ? 1 : 0;
    if (runs > record["attempts"].size()) {
      ++report.unexplained_effects;
      std::vector<std::string> recorded;
      for (const auto& attempt : record["attempts"]) {
        const auto text = [&attempt](const char* key) {
          return attempt.contains(key) && attempt[key].is_string() ? attempt[key].get<std::string>() : "?";
        };
        recorded.push_back(fmt::format("{} {} on {}", attempt.value("number", 0), text("outcome"), text("worker")));
      }
      problem(fmt::format("{} ran its effect {} times in {} recorded attempts (runs of attempts {}; recorded: {})",
                          job.id, runs, record["attempts"].size(), fmt::join(runs_of, ","),
                          fmt::join(recorded, "; ")));
    }
    if (state == "succeeded" && runs == 0) {
      ++report.missing_effects;
      problem(fmt::format("{} succeeded without its side effect", job.id));
    }
  }
  std::sort(finished.begin(), finished.end());
  std::vector<std::pair<std::string, std::chrono::system_clock::time_point>> faults;
  {
    std::lock_guard lock(mu_);
    faults = faults_;
  }
  for (const auto& [what, at] : faults) {
    const auto next = std::lower_bound(finished.begin(), finished.end(), at);
    if (next != finished.end()) {
      report.max_recovery_seconds =
          std::max(report.max_recovery_seconds, std::chrono::duration<double>(*next - at).count());
    }
  }
  return report;
}

}  // namespace warren::chaos
