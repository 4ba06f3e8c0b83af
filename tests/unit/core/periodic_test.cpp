#include "core/periodic.hpp"

#include <gtest/gtest.h>

#include "core/config.hpp"
#include "zones_for_test.hpp"

namespace warren {
namespace {

using std::chrono::minutes;
using std::chrono::seconds;

std::vector<PeriodicJob> Parse(std::string_view toml_text) {
  const toml::table table = toml::parse(toml_text);
  const auto* periodic = table["periodic"].as_array();
  if (periodic == nullptr) {
    throw std::invalid_argument("test TOML has no [[periodic]]");
  }
  return ParsePeriodicJobs(*periodic);
}

std::string ParseError(std::string_view toml_text) {
  try {
    Parse(toml_text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(parsed)";
}

PeriodicJob Job(std::string_view cron, MissedPolicy missed, const TimeZone& tz = TimeZone::Utc()) {
  PeriodicJob job;
  job.name = "cleanup";
  job.type = "cleanup";
  job.cron = std::get<CronSchedule>(CronSchedule::Parse(cron));
  job.tz = tz;
  job.missed = missed;
  return job;
}

std::string Fmt(const std::vector<TimePoint>& ticks) {
  std::string text;
  for (const TimePoint t : ticks) {
    text += (text.empty() ? "" : " ") + FormatTime(t).substr(0, 19);
  }
  return text;
}

// --- ParsePeriodicJobs ----------------------------------------------------------------------------

TEST(PeriodicParse, FullEntry) {
  const auto jobs = Parse(R"(
[[periodic]]
name = "cleanup-old"
type = "cleanup"
cron = "*/5 * * * *"
timezone = "Europe/Berlin"
queue = "maintenance"
args = { older_than = "7d", dry_run = false, limit = 500, ratio = 0.5, tags = ["a", "b"], nested = { x = 1 }, since = 2024-01-01T00:00:00Z }
missed = "all"
max_attempts = 5
priority = 3
timeout = "30s"
)");
  ASSERT_EQ(jobs.size(), 1u);
  const PeriodicJob& job = jobs[0];
  EXPECT_EQ(job.name, "cleanup-old");
  EXPECT_EQ(job.type, "cleanup");
  EXPECT_EQ(job.queue, "maintenance");
  EXPECT_EQ(job.cron.Expression(), "*/5 * * * *");
  EXPECT_EQ(job.tz.Name(), "Europe/Berlin");
  EXPECT_EQ(job.missed, MissedPolicy::kAll);
  EXPECT_EQ(job.max_attempts, 5);
  EXPECT_EQ(job.priority, 3);
  EXPECT_EQ(job.timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(job.args,
            nlohmann::json::parse(R"({"older_than": "7d", "dry_run": false, "limit": 500, "ratio": 0.5,
      "tags": ["a", "b"], "nested": {"x": 1}, "since": "2024-01-01T00:00:00Z"})"));
}

TEST(PeriodicParse, Defaults) {
  const auto jobs = Parse(R"(
[[periodic]]
type = "report"
cron = "@daily"

[[periodic]]
type = "report"
name = "report-hourly"
cron = "@hourly"
timeout = 90
args = [1, 2]
)");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_EQ(jobs[0].name, "report");
  EXPECT_EQ(jobs[0].queue, "default");
  EXPECT_TRUE(jobs[0].args.is_null());
  EXPECT_EQ(jobs[0].tz.Name(), "UTC");
  EXPECT_EQ(jobs[0].missed, MissedPolicy::kSkip);
  EXPECT_FALSE(jobs[0].max_attempts.has_value());
  EXPECT_EQ(jobs[0].priority, 0);
  EXPECT_FALSE(jobs[0].timeout.has_value());
  EXPECT_EQ(jobs[1].name, "report-hourly");
  EXPECT_EQ(jobs[1].timeout, std::chrono::milliseconds(90'000));
  EXPECT_EQ(jobs[1].args, nlohmann::json::parse("[1, 2]"));
  EXPECT_TRUE(Parse("periodic = []").empty());
}

TEST(PeriodicParse, ErrorsNameTheEntryAndKey) {
  const std::string ok = "[[periodic]]\ntype = \"a\"\ncron = \"@daily\"\n";
  const std::string b = "[[periodic]]\nname = \"b\"\ntype = \"a\"\ncron = \"@hourly\"\n";
  EXPECT_EQ(ParseError(ok + b + "[[periodic]]\nname = \"c\"\ntype = \"c\"\ncron = \"0 25 * * *\"\n"),
            "periodic[2].cron: field 'hour': 25 is out of range 0-23");
  EXPECT_EQ(ParseError(ok + b + ok),
            "periodic[2].name: 'a' is already used by periodic[0]; names must be unique");
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"cron = \"@daily\"", "periodic[0].type: missing"},
      {"type = 5\ncron = \"@daily\"", "periodic[0].type: expected a string"},
      {"type = \"bad type\"\ncron = \"@daily\"",
       "periodic[0].type: job type 'bad type' may hold only letters, digits and _ - . :"},
      {"type = \"a\"", "periodic[0].cron: missing"},
      {"type = \"a\"\ncron = \"* * *\"",
       "periodic[0].cron: expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as "
       "@daily, got 3"},
      {"type = \"a\"\ncron = \"*/0 * * * *\"", "periodic[0].cron: field 'minute': step 0 must be at least 1"},
      {"type = \"a\"\nname = \"a b\"\ncron = \"@daily\"",
       "periodic[0].name: 'a b' must be 1 to 128 letters, digits and _ - . :"},
      {"type = \"a\"\nname = \"\"\ncron = \"@daily\"",
       "periodic[0].name: '' must be 1 to 128 letters, digits and _ - . :"},
      {"type = \"a\"\ncron = \"@daily\"\ntimezone = \"Mars/Olympus\"",
       "periodic[0].timezone: unknown time zone 'Mars/Olympus' (not a TZif file under /usr/share/zoneinfo)"},
      {"type = \"a\"\ncron = \"@daily\"\ntimezone = \"../../etc/passwd\"",
       "periodic[0].timezone: '../../etc/passwd' is not an IANA time zone name like Europe/Berlin"},
      {"type = \"a\"\ncron = \"@daily\"\nqueue = \"amq.x\"",
       "periodic[0].queue: queue name 'amq.x' uses the prefix amq., which RabbitMQ reserves"},
      {"type = \"a\"\ncron = \"@daily\"\nqueue = \"warren.dead\"",
       "periodic[0].queue: queue name 'warren.dead' uses the prefix warren., which Warren's own queues use"},
      {"type = \"a\"\ncron = \"@daily\"\nmissed = \"some\"",
       "periodic[0].missed: 'some' is not one of skip, once, all"},
      {"type = \"a\"\ncron = \"@daily\"\npriority = 10",
       "periodic[0].priority: expected an integer from 0 to 9"},
      {"type = \"a\"\ncron = \"@daily\"\npriority = \"1\"",
       "periodic[0].priority: expected an integer from 0 to 9"},
      {"type = \"a\"\ncron = \"@daily\"\nmax_attempts = 0",
       "periodic[0].max_attempts: expected an integer from 1 to 100"},
      {"type = \"a\"\ncron = \"@daily\"\ntimeout = \"soon\"",
       "periodic[0].timeout: expected a positive duration: seconds, or a number with a unit (250ms, 30s, "
       "10m, 2h)"},
      {"type = \"a\"\ncron = \"@daily\"\ntimeout = 0",
       "periodic[0].timeout: expected a positive duration: seconds, or a number with a unit (250ms, 30s, "
       "10m, 2h)"},
      {"type = \"a\"\ncron = \"@daily\"\nargs = { x = nan }",
       "periodic[0].args: nan and inf have no JSON form"},
      {"type = \"a\"\ncron = \"@daily\"\nschedule = \"x\"",
       "periodic[0]: unknown key 'schedule' (known: name, type, cron, timezone, queue, args, missed, "
       "priority, "
       "max_attempts, timeout)"},
  };
  for (const auto& [entry, message] : cases) {
    EXPECT_EQ(ParseError("[[periodic]]\n" + entry + "\n"), message) << entry;
  }
  EXPECT_EQ(ParseError("periodic = [1]"), "periodic[0]: expected a table ([[periodic]])");
}

// --- DueTicks -------------------------------------------------------------------------------------

TEST(PeriodicDueTicks, FirstStartDoesNotCatchUp) {
  const PeriodicJob job = Job("*/5 * * * *", MissedPolicy::kAll);
  EXPECT_EQ(Fmt(DueTicks(job, std::nullopt, At("2024-01-01T12:02:00Z"))), "");
  // A tick due right now (within the tolerance) is the first one.
  EXPECT_EQ(Fmt(DueTicks(job, std::nullopt, At("2024-01-01T12:00:00Z"))), "2024-01-01T12:00:00");
  EXPECT_EQ(Fmt(DueTicks(job, std::nullopt, At("2024-01-01T12:00:30Z"))), "2024-01-01T12:00:00");
  EXPECT_EQ(Fmt(DueTicks(job, std::nullopt, At("2024-01-01T12:01:00Z"))), "2024-01-01T12:00:00");
  EXPECT_EQ(Fmt(DueTicks(job, std::nullopt, At("2024-01-01T12:01:00.001Z"))), "");
}

TEST(PeriodicDueTicks, SkipRunsOnlyATickDueNow) {
  const PeriodicJob job = Job("*/5 * * * *", MissedPolicy::kSkip);
  const TimePoint last = At("2024-01-01T12:00:00Z");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:04:59Z"))), "");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:05:00Z"))), "2024-01-01T12:05:00");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:05:59Z"))), "2024-01-01T12:05:00");
  // After downtime the missed ticks are dropped; only one that is due now runs.
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T13:07:00Z"))), "");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T13:05:20Z"))), "2024-01-01T13:05:00");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2025-06-01T00:00:10Z"))), "2025-06-01T00:00:00");
}

TEST(PeriodicDueTicks, OnceRunsTheLatestMissedTick) {
  const PeriodicJob job = Job("*/5 * * * *", MissedPolicy::kOnce);
  const TimePoint last = At("2024-01-01T12:00:00Z");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:04:59Z"))), "");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:05:00Z"))), "2024-01-01T12:05:00");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T15:02:00Z"))), "2024-01-01T15:00:00");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2025-06-01T00:03:00Z"))), "2025-06-01T00:00:00");
  const PeriodicJob yearly = Job("@yearly", MissedPolicy::kOnce);
  EXPECT_EQ(Fmt(DueTicks(yearly, At("2020-01-01T00:00:00Z"), At("2024-03-01T00:00:00Z"))),
            "2024-01-01T00:00:00");
}

TEST(PeriodicDueTicks, AllRunsEachMissedTickUpToTheCap) {
  const PeriodicJob job = Job("*/5 * * * *", MissedPolicy::kAll);
  const TimePoint last = At("2024-01-01T12:00:00Z");
  EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:22:00Z"))),
            "2024-01-01T12:05:00 2024-01-01T12:10:00 2024-01-01T12:15:00 2024-01-01T12:20:00");
  // Long downtime: the latest 100, oldest first.
  const auto ticks = DueTicks(job, last, At("2024-01-10T00:02:00Z"));
  ASSERT_EQ(ticks.size(), kMaxMissedTicks);
  EXPECT_EQ(ticks.front(), At("2024-01-10T00:00:00Z") - minutes(5 * 99));
  EXPECT_EQ(ticks.back(), At("2024-01-10T00:00:00Z"));
  EXPECT_TRUE(std::is_sorted(ticks.begin(), ticks.end()));
  // Sparse schedules find their few missed ticks across years.
  const PeriodicJob monthly = Job("@monthly", MissedPolicy::kAll);
  EXPECT_EQ(Fmt(DueTicks(monthly, At("2023-10-01T00:00:00Z"), At("2024-01-15T00:00:00Z"))),
            "2023-11-01T00:00:00 2023-12-01T00:00:00 2024-01-01T00:00:00");
}

TEST(PeriodicDueTicks, NeverRepeatsOrRunsEarly) {
  for (const MissedPolicy policy : {MissedPolicy::kSkip, MissedPolicy::kOnce, MissedPolicy::kAll}) {
    const PeriodicJob job = Job("*/5 * * * *", policy);
    const TimePoint last = At("2024-01-01T12:05:00Z");
    EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:05:10Z"))), "") << ToString(policy);
    EXPECT_EQ(Fmt(DueTicks(job, last, At("2024-01-01T12:00:00Z"))), "")
        << ToString(policy);  // clock went back
    EXPECT_EQ(Fmt(DueTicks(Job("0 0 30 2 *", policy), last, At("2030-01-01T00:00:00Z"))), "")
        << ToString(policy);
  }
}

TEST(PeriodicDueTicks, PollingEverySecondRunsEachTickOnce) {
  // A scheduler polling with jitter, recording the last tick it enqueued, as the real loop will.
  for (const MissedPolicy policy : {MissedPolicy::kSkip, MissedPolicy::kOnce, MissedPolicy::kAll}) {
    const PeriodicJob job = Job("*/5 * * * *", policy, ZoneForTest("Europe/Berlin"));
    std::optional<TimePoint> last;
    std::vector<TimePoint> enqueued;
    TimePoint now = At("2024-03-31T00:54:00Z");
    for (int i = 0; i < 2 * 3600; ++i) {
      now += std::chrono::milliseconds(1000 + (i % 7) * 37 - 100);
      for (const TimePoint tick : DueTicks(job, last, now)) {
        enqueued.push_back(tick);
        last = tick;
      }
    }
    ASSERT_FALSE(enqueued.empty());
    EXPECT_EQ(enqueued.front(), At("2024-03-31T00:55:00Z"));
    for (size_t i = 1; i < enqueued.size(); ++i) {
      EXPECT_EQ(enqueued[i] - enqueued[i - 1], minutes(5))
          << ToString(policy) << " " << FormatTime(enqueued[i]);
    }
  }
}

TEST(PeriodicDueTicks, DstGapTickIsDueOnce) {
  const PeriodicJob job = Job("30 2 * * *", MissedPolicy::kSkip, ZoneForTest("Europe/Berlin"));
  EXPECT_EQ(Fmt(DueTicks(job, At("2024-03-30T01:30:00Z"), At("2024-03-31T01:00:05Z"))),
            "2024-03-31T01:00:00");
  EXPECT_EQ(Fmt(DueTicks(job, At("2024-03-31T01:00:00Z"), At("2024-03-31T02:00:00Z"))), "");
}

// --- keys and specs -------------------------------------------------------------------------------

TEST(PeriodicTickKey, IsStableAndDistinct) {
  const PeriodicJob job = Job("*/5 * * * *", MissedPolicy::kSkip);
  const TimePoint tick = At("2024-03-31T01:00:00Z");
  EXPECT_EQ(TickKey(job, tick), "periodic:cleanup:2024-03-31T01:00:00.000Z");
  // The same tick is the same key whichever zone computed it (keys are UTC).
  EXPECT_EQ(TickKey(Job("*/5 * * * *", MissedPolicy::kAll, ZoneForTest("Europe/Berlin")), tick),
            TickKey(job, tick));
  EXPECT_NE(TickKey(job, tick + minutes(5)), TickKey(job, tick));
  PeriodicJob other = job;
  other.name = "cleanup2";
  EXPECT_NE(TickKey(other, tick), TickKey(job, tick));
}

TEST(PeriodicTickKey, JobSpecCarriesTheKey) {
  PeriodicJob job = Parse(R"(
[[periodic]]
type = "cleanup"
cron = "@hourly"
queue = "maintenance"
args = { older_than = "7d" }
priority = 2
timeout = "30s"
)")[0];
  const TimePoint tick = At("2024-01-01T05:00:00Z");
  const JobSpec spec = TickJobSpec(job, tick);
  EXPECT_EQ(spec.type, "cleanup");
  EXPECT_EQ(spec.queue, "maintenance");
  EXPECT_EQ(spec.args, nlohmann::json::parse(R"({"older_than": "7d"})"));
  EXPECT_EQ(spec.priority, 2);
  EXPECT_EQ(spec.max_attempts, JobLimits{}.default_max_attempts);
  EXPECT_EQ(spec.timeout, std::chrono::milliseconds(30'000));
  EXPECT_EQ(spec.idempotency_key, "periodic:cleanup:2024-01-01T05:00:00.000Z");
  EXPECT_FALSE(spec.run_at.has_value());
  job.max_attempts = 7;
  EXPECT_EQ(TickJobSpec(job, tick).max_attempts, 7);
}

TEST(PeriodicMissedPolicy, RoundTrips) {
  for (const MissedPolicy policy : {MissedPolicy::kSkip, MissedPolicy::kOnce, MissedPolicy::kAll}) {
    EXPECT_EQ(ParseMissedPolicy(ToString(policy)), policy);
  }
  EXPECT_FALSE(ParseMissedPolicy("SKIP").has_value());
  EXPECT_FALSE(ParseMissedPolicy("").has_value());
}

}  // namespace
}  // namespace warren
