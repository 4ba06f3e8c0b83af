#include "api/worker_registry.hpp"

#include <algorithm>
#include <limits>
#include <vector>

namespace warren::api {
namespace {

constexpr int kMissedHeartbeats = 3;
constexpr std::chrono::hours kForgetAfter{1};
constexpr int64_t kDefaultIntervalMs = 5000;

// The fields GET /v1/workers and /metrics read, with the type they read them as. A heartbeat comes
// over RabbitMQ from any process that can publish there: a field of another type would make those
// reads throw (a 500), so such a heartbeat is dropped whole.
bool WellTyped(const nlohmann::json& heartbeat) {
  if (!heartbeat.is_object() || !heartbeat.contains("id") || !heartbeat["id"].is_string()) {
    return false;
  }
  for (const char* text : {"state", "started_at", "at", "host"}) {
    if (heartbeat.contains(text) && !heartbeat[text].is_string()) {
      return false;
    }
  }
  // In range, too: the interval is multiplied and busy slots are summed over workers, and a value
  // near the integer's limit would overflow (undefined behaviour) there.
  struct Range {
    const char* name;
    int64_t min;
    int64_t max;
  };
  for (const auto& [name, min, max] :
       {Range{"busy", 0, 1'000'000}, Range{"concurrency", 0, 1'000'000},
        Range{"jobs_done", 0, std::numeric_limits<int64_t>::max()}, Range{"interval_ms", 1, 3'600'000}}) {
    if (!heartbeat.contains(name)) {
      continue;
    }
    const auto& value = heartbeat[name];
    if (!value.is_number_integer() ||
        (value.is_number_unsigned() && value.get<uint64_t>() > static_cast<uint64_t>(max)) ||
        (!value.is_number_unsigned() && (value.get<int64_t>() < min || value.get<int64_t>() > max))) {
      return false;
    }
    if (value.is_number_unsigned() && value.get<uint64_t>() < static_cast<uint64_t>(min)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool WorkerRegistry::Observe(const nlohmann::json& heartbeat) {
  if (!WellTyped(heartbeat)) {
    return false;
  }
  std::lock_guard lock(mu_);
  const auto [it, inserted] = workers_.insert_or_assign(heartbeat["id"].get<std::string>(), Entry{heartbeat, clock_()});
  return inserted;
}

bool WorkerRegistry::Live(const Entry& entry, TimePoint now) const {
  const auto& interval = entry.heartbeat.contains("interval_ms") && entry.heartbeat["interval_ms"].is_number_integer()
                             ? entry.heartbeat["interval_ms"].get<int64_t>()
                             : kDefaultIntervalMs;
  const bool stopped = entry.heartbeat.value("state", "") == "stopped";
  return !stopped && now - entry.last_seen <= std::chrono::milliseconds(interval * kMissedHeartbeats);
}

nlohmann::json WorkerRegistry::List() const {
  const TimePoint now = clock_();
  std::lock_guard lock(mu_);
  std::erase_if(workers_, [&](const auto& item) { return now - item.second.last_seen > kForgetAfter; });
  std::vector<nlohmann::json> out;
  for (const auto& [id, entry] : workers_) {
    nlohmann::json worker = entry.heartbeat;
    worker["last_seen"] = FormatTime(entry.last_seen);
    if (!Live(entry, now) && worker.value("state", "") != "stopped") {
      worker["state"] = "gone";
    }
    out.push_back(std::move(worker));
  }
  std::sort(out.begin(), out.end(), [](const nlohmann::json& a, const nlohmann::json& b) {
    return a.value("started_at", "") > b.value("started_at", "");
  });
  return out;
}

std::map<std::string, int> WorkerRegistry::HandledTypes() const {
  const TimePoint now = clock_();
  std::map<std::string, int> types;
  std::lock_guard lock(mu_);
  for (const auto& [id, entry] : workers_) {
    if (!Live(entry, now) || !entry.heartbeat.contains("types") || !entry.heartbeat["types"].is_array()) {
      continue;
    }
    for (const auto& type : entry.heartbeat["types"]) {
      if (type.is_string()) {
        ++types[type.get<std::string>()];
      }
    }
  }
  return types;
}

}  // namespace warren::api
