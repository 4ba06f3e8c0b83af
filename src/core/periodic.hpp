// Periodic jobs declared in the config file ([[periodic]] tables) and the pure planner that decides
// which of their ticks to enqueue. The scheduler loop, the clock and the store live elsewhere.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <toml++/toml.h>
#include <nlohmann/json.hpp>

#include "core/cron.hpp"
#include "core/duration.hpp"
#include "core/job.hpp"
#include "core/time_zone.hpp"

namespace warren {

// What to do with ticks that fell due while no scheduler ran.
enum class MissedPolicy {
  kSkip,  // none: only a tick that is due right now (within kTickTolerance)
  kOnce,  // one run for all of them: the latest
  kAll,   // each of them, oldest first, at most kMaxMissedTicks (the latest ones)
};
std::string_view ToString(MissedPolicy policy);
std::optional<MissedPolicy> ParseMissedPolicy(std::string_view text);

// How late a tick may be found and still count as "due now". A scheduler polling every few seconds
// never drops a tick to jitter or a slow poll; a tick missed by more than this is a missed tick.
inline constexpr Duration kTickTolerance{60'000};
inline constexpr size_t kMaxMissedTicks = 100;

struct PeriodicJob {
  std::string name;  // unique among periodic jobs; safe name characters; defaults to the type
  std::string type;
  std::string queue = "default";
  nlohmann::json args;  // null when absent
  CronSchedule cron;
  TimeZone tz = TimeZone::Utc();
  MissedPolicy missed = MissedPolicy::kSkip;
  std::optional<int> max_attempts;  // nullopt: the server's default
  int priority = 0;
  std::optional<Duration> timeout;
};

// Reads the `periodic` array of the config file. Throws ConfigError with one line naming the entry and
// key: "periodic[2].cron: field 'hour': 25 is out of range 0-23". Time zones are read from kZoneInfoDir.
std::vector<PeriodicJob> ParsePeriodicJobs(const toml::array& periodic);

// The ticks to enqueue at `now`, ascending, given the last tick already enqueued (by any scheduler).
// Ticks at or before `last_tick` and after `now` are never returned; the caller enqueues each with
// TickKey as its idempotency key and then records the last one as `last_tick`.
// `last_tick` nullopt (never enqueued): no catch-up whatever the policy, only a tick due right now
// (within kTickTolerance), so a fresh schedule starts with its first tick after start-up.
std::vector<TimePoint> DueTicks(const PeriodicJob& job, std::optional<TimePoint> last_tick, TimePoint now);

// "periodic:<name>:<tick as RFC 3339 UTC>": the same for every scheduler, so the store's idempotency
// keys make a tick run once however many schedulers see it.
std::string TickKey(const PeriodicJob& job, TimePoint tick);

// The job to enqueue for a tick: the job's fields, TickKey as the idempotency key, run now.
JobSpec TickJobSpec(const PeriodicJob& job, TimePoint tick, const JobLimits& limits = {});

}  // namespace warren
