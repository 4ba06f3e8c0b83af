#include "core/periodic.hpp"

#include <array>
#include <cmath>
#include <deque>
#include <filesystem>
#include <map>
#include <sstream>

#include <fmt/format.h>

#include "core/config.hpp"
#include "core/names.hpp"

namespace warren {
namespace {

constexpr std::array<std::string_view, 10> kKeys = {"name", "type",   "cron",     "timezone",     "queue",
                                                    "args", "missed", "priority", "max_attempts", "timeout"};

[[noreturn]] void Fail(size_t index, std::string_view key, std::string_view why) {
  if (key.empty()) {
    throw ConfigError(fmt::format("periodic[{}]: {}", index, why));
  }
  throw ConfigError(fmt::format("periodic[{}].{}: {}", index, key, why));
}

// TOML values become the JSON a job's args hold; dates and times become their TOML text.
nlohmann::json TomlToJson(const toml::node& node) {
  if (const auto* table = node.as_table()) {
    nlohmann::json object = nlohmann::json::object();
    for (const auto& [key, value] : *table) {
      object[std::string(key.str())] = TomlToJson(value);
    }
    return object;
  }
  if (const auto* array = node.as_array()) {
    nlohmann::json list = nlohmann::json::array();
    for (const auto& value : *array) {
      list.push_back(TomlToJson(value));
    }
    return list;
  }
  if (const auto* s = node.as_string()) {
    return s->get();
  }
  if (const auto* i = node.as_integer()) {
    return i->get();
  }
  if (const auto* f = node.as_floating_point()) {
    if (!std::isfinite(f->get())) {
      throw std::invalid_argument("nan and inf have no JSON form");
    }
    return f->get();
  }
  if (const auto* b = node.as_boolean()) {
    return b->get();
  }
  std::ostringstream text;
  if (const auto* d = node.as_date()) {
    text << *d;
  } else if (const auto* t = node.as_time()) {
    text << *t;
  } else if (const auto* dt = node.as_date_time()) {
    text << *dt;
  }
  return text.str();
}

const std::string& RequireString(const toml::table& entry, size_t index, std::string_view key) {
  const auto* value = entry.get(key);
  if (value == nullptr) {
    Fail(index, key, "missing");
  }
  const auto* s = value->as_string();
  if (s == nullptr) {
    Fail(index, key, "expected a string");
  }
  return s->get();
}

int IntegerIn(const toml::node& node, size_t index, std::string_view key, int low, int high) {
  const auto* i = node.as_integer();
  if (i == nullptr || i->get() < low || i->get() > high) {
    Fail(index, key, fmt::format("expected an integer from {} to {}", low, high));
  }
  return static_cast<int>(i->get());
}

PeriodicJob ParseEntry(const toml::table& entry, size_t index) {
  for (const auto& [key, value] : entry) {
    if (std::find(kKeys.begin(), kKeys.end(), key.str()) == kKeys.end()) {
      Fail(index, "",
           fmt::format("unknown key '{}' (known: name, type, cron, timezone, queue, args, missed, priority, "
                       "max_attempts, timeout)",
                       key.str()));
    }
  }
  PeriodicJob job;
  job.type = RequireString(entry, index, "type");
  if (auto why = InvalidTypeName(job.type)) {
    Fail(index, "type", *why);
  }

  job.name = job.type;
  if (entry.contains("name")) {
    job.name = RequireString(entry, index, "name");
    if (job.name.empty() || job.name.size() > kMaxNameLength ||
        !std::all_of(job.name.begin(), job.name.end(), IsSafeNameChar)) {
      Fail(index, "name",
           fmt::format("'{}' must be 1 to {} letters, digits and _ - . :", job.name, kMaxNameLength));
    }
  }

  auto cron = CronSchedule::Parse(RequireString(entry, index, "cron"));
  if (const auto* why = std::get_if<std::string>(&cron)) {
    Fail(index, "cron", *why);
  }
  job.cron = std::get<CronSchedule>(std::move(cron));

  if (entry.contains("timezone")) {
    const std::string& name = RequireString(entry, index, "timezone");
    if (!TimeZone::IsSafeName(name)) {
      Fail(index, "timezone", fmt::format("'{}' is not an IANA time zone name like Europe/Berlin", name));
    }
    auto tz = TimeZone::Load(name);
    if (!tz) {
      if (!std::filesystem::is_directory(kZoneInfoDir)) {
        Fail(index, "timezone",
             fmt::format("cannot load '{}': {} is missing (install the tzdata package)", name, kZoneInfoDir));
      }
      Fail(index, "timezone",
           fmt::format("unknown time zone '{}' (not a TZif file under {})", name, kZoneInfoDir));
    }
    job.tz = *std::move(tz);
  }

  if (entry.contains("queue")) {
    job.queue = RequireString(entry, index, "queue");
    if (auto why = InvalidJobQueueName(job.queue)) {
      Fail(index, "queue", *why);
    }
  }

  if (const auto* args = entry.get("args")) {
    try {
      job.args = TomlToJson(*args);
    } catch (const std::invalid_argument& e) {
      Fail(index, "args", e.what());
    }
  }

  if (entry.contains("missed")) {
    const std::string& missed = RequireString(entry, index, "missed");
    const auto policy = ParseMissedPolicy(missed);
    if (!policy) {
      Fail(index, "missed", fmt::format("'{}' is not one of skip, once, all", missed));
    }
    job.missed = *policy;
  }

  const JobLimits limits;
  if (const auto* priority = entry.get("priority")) {
    job.priority = IntegerIn(*priority, index, "priority", 0, limits.max_priority);
  }
  if (const auto* max_attempts = entry.get("max_attempts")) {
    job.max_attempts = IntegerIn(*max_attempts, index, "max_attempts", 1, limits.max_attempts_limit);
  }
  if (const auto* timeout = entry.get("timeout")) {
    std::optional<Duration> d;
    if (const auto* s = timeout->as_string()) {
      d = ParseDuration(s->get());
    } else if (const auto* i = timeout->as_integer()) {
      d = DurationFromSeconds(static_cast<double>(i->get()));
    } else if (const auto* f = timeout->as_floating_point()) {
      d = DurationFromSeconds(f->get());
    }
    if (!d || d->count() <= 0) {
      Fail(index, "timeout",
           "expected a positive duration: seconds, or a number with a unit (250ms, 30s, 10m, 2h)");
    }
    job.timeout = d;
  }
  return job;
}

// Up to `n` of the latest ticks in (after, now], ascending. Searches back from `now` in widening
// windows, so a long downtime costs a few searches rather than one step per missed tick.
std::vector<TimePoint> LatestTicks(const PeriodicJob& job, TimePoint after, TimePoint now, size_t n) {
  constexpr Duration kMaxWindow = std::chrono::hours(24 * 366 * 2 * kCronHorizonYears);
  Duration window = std::chrono::hours(1);
  while (true) {
    const bool whole = now - after <= window || window >= kMaxWindow;
    const TimePoint start = whole ? after : now - window;
    std::deque<TimePoint> ticks;
    for (auto tick = job.cron.Next(start, job.tz); tick && *tick <= now;
         tick = job.cron.Next(*tick, job.tz)) {
      ticks.push_back(*tick);
      if (ticks.size() > n) {
        ticks.pop_front();
      }
    }
    if (ticks.size() >= n || whole) {
      return {ticks.begin(), ticks.end()};
    }
    window *= 8;
  }
}

}  // namespace

std::string_view ToString(MissedPolicy policy) {
  switch (policy) {
    case MissedPolicy::kSkip:
      return "skip";
    case MissedPolicy::kOnce:
      return "once";
    case MissedPolicy::kAll:
      return "all";
  }
  return "skip";
}

std::optional<MissedPolicy> ParseMissedPolicy(std::string_view text) {
  for (const MissedPolicy policy : {MissedPolicy::kSkip, MissedPolicy::kOnce, MissedPolicy::kAll}) {
    if (ToString(policy) == text) {
      return policy;
    }
  }
  return std::nullopt;
}

std::vector<PeriodicJob> ParsePeriodicJobs(const toml::array& periodic) {
  std::vector<PeriodicJob> jobs;
  std::map<std::string, size_t, std::less<>> names;  // name -> index of the entry that took it
  for (size_t i = 0; i < periodic.size(); ++i) {
    const auto* entry = periodic[i].as_table();
    if (entry == nullptr) {
      Fail(i, "", "expected a table ([[periodic]])");
    }
    PeriodicJob job = ParseEntry(*entry, i);
    if (const auto [it, fresh] = names.emplace(job.name, i); !fresh) {
      Fail(i, "name",
           fmt::format("'{}' is already used by periodic[{}]; names must be unique", job.name, it->second));
    }
    jobs.push_back(std::move(job));
  }
  return jobs;
}

std::vector<TimePoint> DueTicks(const PeriodicJob& job, std::optional<TimePoint> last_tick, TimePoint now) {
  // One millisecond less, so a tick exactly kTickTolerance old still counts (the bound is exclusive).
  const TimePoint recent = now - kTickTolerance - Duration{1};
  if (!last_tick || job.missed == MissedPolicy::kSkip) {
    return LatestTicks(job, last_tick ? std::max(*last_tick, recent) : recent, now, 1);
  }
  if (*last_tick >= now) {
    return {};
  }
  return LatestTicks(job, *last_tick, now, job.missed == MissedPolicy::kOnce ? 1 : kMaxMissedTicks);
}

std::string TickKey(const PeriodicJob& job, TimePoint tick) {
  return fmt::format("periodic:{}:{}", job.name, FormatTime(tick));
}

JobSpec TickJobSpec(const PeriodicJob& job, TimePoint tick, const JobLimits& limits) {
  JobSpec spec;
  spec.type = job.type;
  spec.queue = job.queue;
  spec.args = job.args;
  spec.priority = job.priority;
  spec.max_attempts = job.max_attempts.value_or(limits.default_max_attempts);
  spec.timeout = job.timeout;
  spec.idempotency_key = TickKey(job, tick);
  return spec;
}

}  // namespace warren
