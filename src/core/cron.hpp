// Standard 5-field cron expressions (minute hour day-of-month month day-of-week), evaluated in a time
// zone. Pure: Next() takes the instant to search from, never reads the clock.
#pragma once

#include <bitset>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "core/job.hpp"
#include "core/time_zone.hpp"

namespace warren {

// How far Next() looks before it gives up on a schedule that never fires (`0 0 30 2 *`).
inline constexpr int kCronHorizonYears = 5;

// Syntax, as Vixie cron: `*`, numbers, ranges `1-5`, lists `1,5,10-12`, steps `*/15`, `10-50/10` and
// `5/15` (= 5-max/15); month names JAN-DEC and weekday names SUN-SAT in any case (also in ranges);
// 0 and 7 are both Sunday; macros @yearly @annually @monthly @weekly @daily @midnight @hourly.
// Day matching follows Vixie: when both day fields are restricted (neither starts with `*`) a day
// matches if EITHER matches; otherwise both must.
//
// Daylight saving time, as Vixie cron does it, so neither a daily job nor an every-N-minutes job is
// surprised:
// - Schedules that run in every hour (the hour field covers 0-23) follow the wall clock as it happens:
//   local times in a gap do not exist and are skipped; in an overlap they fire on both occurrences.
// - Schedules for specific hours (`30 2 * * *`) fire once a day as usual: a local time in a gap fires
//   at the first instant after the gap (03:00 in Europe/Berlin in spring; several such times fire once
//   there), and a local time in an overlap fires once, at its first occurrence.
class CronSchedule {
 public:
  // Never fires (Next returns nullopt); exists so structs holding a schedule can be default-built.
  CronSchedule() = default;

  // The schedule, or a one-line reason naming the field: "field 'hour': 25 is out of range 0-23".
  static std::variant<CronSchedule, std::string> Parse(std::string_view expression);

  // The first tick strictly after `after`, or nullopt when there is none within kCronHorizonYears.
  std::optional<TimePoint> Next(TimePoint after, const TimeZone& tz) const;

  // Whether a local civil minute matches the fields (no DST handling; seconds are ignored).
  bool Matches(LocalSeconds local) const;

  const std::string& Expression() const { return expression_; }

 private:
  bool DayMatches(std::chrono::local_days day) const;
  // The first matching local minute at or after `from`, up to `limit`.
  std::optional<LocalSeconds> NextLocal(LocalSeconds from, LocalSeconds limit) const;

  std::string expression_;
  std::bitset<60> minutes_;
  std::bitset<24> hours_;
  std::bitset<32> days_;     // 1..31
  std::bitset<13> months_;   // 1..12
  std::bitset<7> weekdays_;  // 0 = Sunday
  bool day_of_month_star_ = false;
  bool day_of_week_star_ = false;
};

}  // namespace warren
