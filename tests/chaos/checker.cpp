#include "chaos/checker.hpp"

#include <algorithm>
#include <cstdlib>
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

  std::map<std::string, size_t> effects;
  {
    std::ifstream in(effects_file_);
    std::string id;
    std::string attempt;
    while (in >> id >> attempt) {
      ++effects[id];
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
    const size_t runs = effects[job.id];
    report.duplicated_effects += runs > 1 ? 1 : 0;
    if (runs > record["attempts"].size()) {
      ++report.unexplained_effects;
      problem(fmt::format("{} ran its effect {} times in {} recorded attempts", job.id, runs,
                          record["attempts"].size()));
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
