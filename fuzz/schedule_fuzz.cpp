// Fuzz target `schedule`: the small parsers behind timeouts, delays and periodic jobs. Input lines:
// a duration ("1.5s"), an RFC 3339 time, a 5-field cron expression, a POSIX TZ rule
// ("CET-1CEST,M3.5.0,M10.5.0/3"). For every input: no crash, no undefined behaviour; a duration and
// a time survive format-and-parse unchanged; a cron schedule's next tick in the rule's zone (UTC
// when the rule is refused) lies after the start.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "core/cron.hpp"
#include "core/duration.hpp"
#include "core/job.hpp"
#include "core/time_zone.hpp"
#include "fuzz_check.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string_view> lines;
  std::string_view input(reinterpret_cast<const char*>(data), size);
  while (lines.size() < 4) {
    const auto newline = input.find('\n');
    lines.push_back(input.substr(0, newline));
    input = newline == std::string_view::npos ? std::string_view() : input.substr(newline + 1);
  }

  if (const auto duration = warren::ParseDuration(lines[0])) {
    const std::string text = warren::FormatDuration(*duration);
    WARREN_FUZZ_CHECK(warren::ParseDuration(text) == duration, std::string(lines[0]) + " -> " + text);
  }
  std::optional<warren::TimePoint> start = warren::ParseTime(lines[1]);
  if (start) {
    const std::string text = warren::FormatTime(*start);
    WARREN_FUZZ_CHECK(warren::ParseTime(text) == start, std::string(lines[1]) + " -> " + text);
  } else {
    start = *warren::ParseTime("2026-11-26T12:00:00Z");
  }
  const auto zone = warren::TimeZone::FromPosixRule(lines[3]);
  const warren::TimeZone tz = zone ? *zone : warren::TimeZone::Utc();
  if (zone) {
    (void)tz.FromLocal(tz.ToLocal(*start));
    (void)tz.NextTransition(*start);
  }
  auto parsed = warren::CronSchedule::Parse(lines[2]);
  if (const auto* cron = std::get_if<warren::CronSchedule>(&parsed)) {
    if (const auto next = cron->Next(*start, tz)) {
      WARREN_FUZZ_CHECK(*next > *start, std::string(lines[2]));
    }
  }
  return 0;
}
