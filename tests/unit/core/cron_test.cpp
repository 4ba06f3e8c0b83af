#include "core/cron.hpp"

#include <gtest/gtest.h>

#include "zones_for_test.hpp"

namespace warren {
namespace {

CronSchedule Cron(std::string_view expression) {
  auto parsed = CronSchedule::Parse(expression);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    throw std::invalid_argument(fmt::format("'{}': {}", expression, *error));
  }
  return std::get<CronSchedule>(std::move(parsed));
}

std::string ParseError(std::string_view expression) {
  auto parsed = CronSchedule::Parse(expression);
  const auto* error = std::get_if<std::string>(&parsed);
  return error == nullptr ? "(parsed)" : *error;
}

// The next `n` ticks after `after`, as RFC 3339 UTC, space-separated; "none" when the schedule ends.
std::string Ticks(const CronSchedule& cron, std::string_view after, int n,
                  const TimeZone& tz = TimeZone::Utc()) {
  std::string text;
  TimePoint t = At(after);
  for (int i = 0; i < n; ++i) {
    const auto next = cron.Next(t, tz);
    if (!next) {
      return text + (text.empty() ? "" : " ") + "none";
    }
    EXPECT_GT(*next, t);
    text += (text.empty() ? "" : " ") + FormatTime(*next).substr(0, 16);  // to the minute
    t = *next;
  }
  return text;
}

std::string Ticks(std::string_view expression, std::string_view after, int n,
                  const TimeZone& tz = TimeZone::Utc()) {
  return Ticks(Cron(expression), after, n, tz);
}

// --- syntax ---------------------------------------------------------------------------------------

TEST(CronParse, EveryMinute) {
  EXPECT_EQ(Ticks("* * * * *", "2024-01-01T00:00:00Z", 3),
            "2024-01-01T00:01 2024-01-01T00:02 2024-01-01T00:03");
}

TEST(CronParse, NextIsStrictlyAfter) {
  EXPECT_EQ(Ticks("0 * * * *", "2024-01-01T05:00:00Z", 1), "2024-01-01T06:00");
  EXPECT_EQ(Ticks("0 * * * *", "2024-01-01T04:59:59.999Z", 1), "2024-01-01T05:00");
  EXPECT_EQ(Ticks("0 * * * *", "2024-01-01T05:00:00.001Z", 1), "2024-01-01T06:00");
}

TEST(CronParse, ListsRangesAndSteps) {
  EXPECT_EQ(Ticks("1,5 * * * *", "2024-01-01T00:00:00Z", 3),
            "2024-01-01T00:01 2024-01-01T00:05 2024-01-01T01:01");
  EXPECT_EQ(Ticks("58-59 * * * *", "2024-01-01T00:00:00Z", 3),
            "2024-01-01T00:58 2024-01-01T00:59 2024-01-01T01:58");
  EXPECT_EQ(Ticks("*/15 * * * *", "2024-01-01T00:00:00Z", 4),
            "2024-01-01T00:15 2024-01-01T00:30 2024-01-01T00:45 2024-01-01T01:00");
  EXPECT_EQ(Ticks("10-50/10 * * * *", "2024-01-01T00:00:00Z", 6),
            "2024-01-01T00:10 2024-01-01T00:20 2024-01-01T00:30 2024-01-01T00:40 2024-01-01T00:50 "
            "2024-01-01T01:10");
  EXPECT_EQ(Ticks("5/20 * * * *", "2024-01-01T00:00:00Z", 4),  // from 5 to the maximum
            "2024-01-01T00:05 2024-01-01T00:25 2024-01-01T00:45 2024-01-01T01:05");
  EXPECT_EQ(Ticks("0 1-3,22 * * *", "2024-01-01T00:00:00Z", 5),
            "2024-01-01T01:00 2024-01-01T02:00 2024-01-01T03:00 2024-01-01T22:00 2024-01-02T01:00");
  EXPECT_EQ(Ticks("0 0 */10 * *", "2024-01-01T00:00:00Z", 4),
            "2024-01-11T00:00 2024-01-21T00:00 2024-01-31T00:00 2024-02-01T00:00");
  EXPECT_EQ(Ticks("0 */7 * * *", "2024-01-01T00:00:00Z", 4),
            "2024-01-01T07:00 2024-01-01T14:00 2024-01-01T21:00 2024-01-02T00:00");
  EXPECT_EQ(Ticks("*/100 * * * *", "2024-01-01T00:00:00Z", 2), "2024-01-01T01:00 2024-01-01T02:00");
}

TEST(CronParse, MonthNames) {
  EXPECT_EQ(Ticks("0 0 1 JAN,jul *", "2024-01-01T00:00:00Z", 3),
            "2024-07-01T00:00 2025-01-01T00:00 2025-07-01T00:00");
  EXPECT_EQ(Ticks("0 0 1 nov-Dec *", "2024-01-01T00:00:00Z", 3),
            "2024-11-01T00:00 2024-12-01T00:00 2025-11-01T00:00");
  EXPECT_EQ(Ticks("0 0 1 2-12/5 *", "2024-01-01T00:00:00Z", 3),
            "2024-02-01T00:00 2024-07-01T00:00 2024-12-01T00:00");
}

TEST(CronParse, WeekdayNamesAndSunday) {
  // 2024-01-01 is a Monday.
  EXPECT_EQ(Ticks("0 9 * * MON-FRI", "2024-01-05T12:00:00Z", 2), "2024-01-08T09:00 2024-01-09T09:00");
  EXPECT_EQ(Ticks("0 9 * * sat,SUN", "2024-01-01T00:00:00Z", 3),
            "2024-01-06T09:00 2024-01-07T09:00 2024-01-13T09:00");
  EXPECT_EQ(Ticks("0 0 * * 0", "2024-01-01T00:00:00Z", 1), "2024-01-07T00:00");
  EXPECT_EQ(Ticks("0 0 * * 7", "2024-01-01T00:00:00Z", 1), "2024-01-07T00:00");
  EXPECT_EQ(Ticks("0 0 * * 5-7", "2024-01-01T00:00:00Z", 4),
            "2024-01-05T00:00 2024-01-06T00:00 2024-01-07T00:00 2024-01-12T00:00");
  EXPECT_EQ(Ticks("0 0 * * */2", "2024-01-01T00:00:00Z", 4),  // Sun, Tue, Thu, Sat
            "2024-01-02T00:00 2024-01-04T00:00 2024-01-06T00:00 2024-01-07T00:00");
  EXPECT_EQ(Ticks("0 0 * * 0-7", "2024-01-01T00:00:00Z", 2), "2024-01-02T00:00 2024-01-03T00:00");
}

TEST(CronParse, WhitespaceAndMatches) {
  const CronSchedule cron = Cron("  30\t2  * *   1-5 ");
  EXPECT_EQ(cron.Expression(), "  30\t2  * *   1-5 ");
  EXPECT_TRUE(cron.Matches(Local("2024-01-01T02:30:00")));   // Monday
  EXPECT_TRUE(cron.Matches(Local("2024-01-01T02:30:59")));   // seconds ignored
  EXPECT_FALSE(cron.Matches(Local("2024-01-06T02:30:00")));  // Saturday
  EXPECT_FALSE(cron.Matches(Local("2024-01-01T02:31:00")));
}

TEST(CronParse, DayOfMonthOrDayOfWeekWhenBothRestricted) {
  // Vixie cron: the 13th OR any Friday.
  EXPECT_EQ(Ticks("0 0 13 * FRI", "2024-01-01T00:00:00Z", 4),
            "2024-01-05T00:00 2024-01-12T00:00 2024-01-13T00:00 2024-01-19T00:00");
  EXPECT_EQ(Ticks("0 0 1,15 * 3", "2024-01-01T00:00:00Z", 4),
            "2024-01-03T00:00 2024-01-10T00:00 2024-01-15T00:00 2024-01-17T00:00");
  // One of them a star (even a stepped one, as Vixie decides by the first character): both must match.
  EXPECT_EQ(Ticks("0 0 * * FRI", "2024-01-01T00:00:00Z", 2), "2024-01-05T00:00 2024-01-12T00:00");
  EXPECT_EQ(Ticks("0 0 13 * *", "2024-01-01T00:00:00Z", 2), "2024-01-13T00:00 2024-02-13T00:00");
  EXPECT_EQ(Ticks("0 0 */2 * 1", "2023-12-31T00:00:00Z", 3),  // odd days that are Mondays
            "2024-01-01T00:00 2024-01-15T00:00 2024-01-29T00:00");
  EXPECT_EQ(Ticks("0 0 13 * */1", "2024-01-01T00:00:00Z", 2), "2024-01-13T00:00 2024-02-13T00:00");
}

TEST(CronParse, Macros) {
  EXPECT_EQ(Ticks("@hourly", "2024-01-01T00:30:00Z", 2), "2024-01-01T01:00 2024-01-01T02:00");
  EXPECT_EQ(Ticks("@daily", "2024-01-01T00:30:00Z", 2), "2024-01-02T00:00 2024-01-03T00:00");
  EXPECT_EQ(Ticks("@midnight", "2024-01-01T00:30:00Z", 1), "2024-01-02T00:00");
  EXPECT_EQ(Ticks("@weekly", "2024-01-01T00:30:00Z", 2), "2024-01-07T00:00 2024-01-14T00:00");
  EXPECT_EQ(Ticks("@monthly", "2024-01-01T00:30:00Z", 2), "2024-02-01T00:00 2024-03-01T00:00");
  EXPECT_EQ(Ticks("@yearly", "2024-01-01T00:30:00Z", 2), "2025-01-01T00:00 2026-01-01T00:00");
  EXPECT_EQ(Ticks("@annually", "2024-01-01T00:30:00Z", 1), "2025-01-01T00:00");
  EXPECT_EQ(Ticks(" @DAILY ", "2024-01-01T00:30:00Z", 1), "2024-01-02T00:00");
  EXPECT_EQ(Cron("@daily").Expression(), "@daily");
}

TEST(CronParse, ErrorsNameTheField) {
  EXPECT_EQ(ParseError("60 * * * *"), "field 'minute': 60 is out of range 0-59");
  EXPECT_EQ(ParseError("* 24 * * *"), "field 'hour': 24 is out of range 0-23");
  EXPECT_EQ(ParseError("* 25 * * *"), "field 'hour': 25 is out of range 0-23");
  EXPECT_EQ(ParseError("* * 0 * *"), "field 'day-of-month': 0 is out of range 1-31");
  EXPECT_EQ(ParseError("* * 32 * *"), "field 'day-of-month': 32 is out of range 1-31");
  EXPECT_EQ(ParseError("* * * 0 *"), "field 'month': 0 is out of range 1-12");
  EXPECT_EQ(ParseError("* * * 13 *"), "field 'month': 13 is out of range 1-12");
  EXPECT_EQ(ParseError("* * * * 8"), "field 'day-of-week': 8 is out of range 0-7");
  EXPECT_EQ(ParseError("*/0 * * * *"), "field 'minute': step 0 must be at least 1");
  EXPECT_EQ(ParseError("* 1-5/0 * * *"), "field 'hour': step 0 must be at least 1");
  EXPECT_EQ(ParseError("*/x * * * *"), "field 'minute': step 'x' is not a positive number");
  EXPECT_EQ(ParseError("*/ * * * *"), "field 'minute': step '' is not a positive number");
  EXPECT_EQ(ParseError("*/-1 * * * *"), "field 'minute': step '-1' is not a positive number");
  EXPECT_EQ(ParseError("a * * * *"), "field 'minute': 'a' is not a number");
  EXPECT_EQ(ParseError("* * * FOO *"), "field 'month': 'FOO' is not a number or a name (JAN-DEC)");
  EXPECT_EQ(ParseError("* * * * MONDAY"),
            "field 'day-of-week': 'MONDAY' is not a number or a name (SUN-SAT)");
  EXPECT_EQ(ParseError("* * * * JAN"), "field 'day-of-week': 'JAN' is not a number or a name (SUN-SAT)");
  EXPECT_EQ(ParseError("1,,2 * * * *"), "field 'minute': empty list element in '1,,2'");
  EXPECT_EQ(ParseError("1, * * * *"), "field 'minute': empty list element in '1,'");
  EXPECT_EQ(ParseError("30-10 * * * *"), "field 'minute': range 30-10 goes backwards");
  EXPECT_EQ(ParseError("* * * * FRI-SUN"), "field 'day-of-week': range FRI-SUN goes backwards");
  EXPECT_EQ(ParseError("1- * * * *"), "field 'minute': missing value");
  EXPECT_EQ(ParseError("-1 * * * *"), "field 'minute': missing value");
  EXPECT_EQ(ParseError("? * * * *"), "field 'minute': '?' is not a number");
  EXPECT_EQ(ParseError("99999999999999 * * * *"), "field 'minute': 99999999999999 is out of range 0-59");
  EXPECT_EQ(
      ParseError("* * * *"),
      "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 4");
  EXPECT_EQ(
      ParseError("0 * * * * *"),
      "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 6");
  EXPECT_EQ(
      ParseError(""),
      "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, got 0");
  EXPECT_EQ(ParseError("@reboot"),
            "unknown macro '@reboot' (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
  EXPECT_EQ(ParseError("@daily 5"),
            "unknown macro '@daily 5' (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)");
}

TEST(CronNext, ImpossibleSchedulesEndQuickly) {
  for (const char* never : {"0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 FEB *"}) {
    EXPECT_EQ(Ticks(never, "2024-01-01T00:00:00Z", 1), "none") << never;
    EXPECT_EQ(Ticks(never, "2024-01-01T00:00:00Z", 1, ZoneForTest("Europe/Berlin")), "none") << never;
  }
  EXPECT_FALSE(CronSchedule().Next(At("2024-01-01T00:00:00Z"), TimeZone::Utc()).has_value());
}

TEST(CronNext, RareDatesWithinTheHorizon) {
  EXPECT_EQ(Ticks("0 0 29 2 *", "2024-03-01T00:00:00Z", 2), "2028-02-29T00:00 2032-02-29T00:00");
  EXPECT_EQ(Ticks("0 0 31 * *", "2024-01-31T00:00:00Z", 3),
            "2024-03-31T00:00 2024-05-31T00:00 2024-07-31T00:00");
  // Friday the 13th needs both day fields restricted AND matched, which Vixie's rule cannot say:
  // `0 0 13 * FRI` is the 13th or any Friday (see DayOfMonthOrDayOfWeekWhenBothRestricted).
  EXPECT_EQ(Ticks("0 0 13 * *", "2024-09-14T00:00:00Z", 1), "2024-10-13T00:00");
}

// --- time zones and daylight saving time ----------------------------------------------------------

TEST(CronNext, EvaluatesInLocalTime) {
  EXPECT_EQ(Ticks("0 9 * * *", "2024-01-01T00:00:00Z", 1, ZoneForTest("Asia/Kolkata")), "2024-01-01T03:30");
  EXPECT_EQ(Ticks("0 9 * * *", "2024-01-01T00:00:00Z", 2, ZoneForTest("America/New_York")),
            "2024-01-01T14:00 2024-01-02T14:00");
  EXPECT_EQ(Ticks("0 9 * * *", "2024-07-01T00:00:00Z", 1, ZoneForTest("America/New_York")),
            "2024-07-01T13:00");
  // Local Monday 00:30 in Kolkata is Sunday 19:00 UTC.
  EXPECT_EQ(Ticks("30 0 * * MON", "2024-01-01T00:00:00Z", 1, ZoneForTest("Asia/Kolkata")),
            "2024-01-07T19:00");
  // Far future, from the TZif footer rule.
  EXPECT_EQ(Ticks("0 12 15 1,7 *", "2090-01-01T00:00:00Z", 2, ZoneForTest("Europe/Berlin")),
            "2090-01-15T11:00 2090-07-15T10:00");
}

TEST(CronNext, BerlinSpringGapRunsAtTheEndOfTheGap) {
  const TimeZone berlin = ZoneForTest("Europe/Berlin");
  // 31 March 2024: 02:30 local does not exist; the daily run happens at 03:00 CEST (01:00Z).
  EXPECT_EQ(Ticks("30 2 * * *", "2024-03-29T12:00:00Z", 4, berlin),
            "2024-03-30T01:30 2024-03-31T01:00 2024-04-01T00:30 2024-04-02T00:30");
  // Several gap times fire once, together with a real 03:00 tick.
  EXPECT_EQ(Ticks("0,15,45 2,3 * * *", "2024-03-31T00:00:00Z", 4, berlin),
            "2024-03-31T01:00 2024-03-31T01:15 2024-03-31T01:45 2024-04-01T00:00");
  // The same in a footer year (26 March 2090).
  EXPECT_EQ(Ticks("30 2 * * *", "2090-03-25T12:00:00Z", 2, berlin), "2090-03-26T01:00 2090-03-27T00:30");
}

TEST(CronNext, BerlinAutumnOverlapRunsOnce) {
  const TimeZone berlin = ZoneForTest("Europe/Berlin");
  // 27 October 2024: 02:30 happens at 00:30Z (CEST) and again at 01:30Z (CET); the first one fires.
  EXPECT_EQ(Ticks("30 2 * * *", "2024-10-26T12:00:00Z", 3, berlin),
            "2024-10-27T00:30 2024-10-28T01:30 2024-10-29T01:30");
  // Starting between the two occurrences does not fire the second one.
  EXPECT_EQ(Ticks("30 2 * * *", "2024-10-27T01:00:00Z", 1, berlin), "2024-10-28T01:30");
  EXPECT_EQ(Ticks("30 2 * * *", "2090-10-28T12:00:00Z", 2, berlin), "2090-10-29T00:30 2090-10-30T01:30");
}

TEST(CronNext, EveryHourSchedulesFollowTheWallClockThroughDst) {
  const TimeZone berlin = ZoneForTest("Europe/Berlin");
  // Spring: 02:00-02:59 does not exist, so nothing fires in it and nothing is moved.
  EXPECT_EQ(Ticks("*/30 * * * *", "2024-03-31T00:00:00Z", 3, berlin),
            "2024-03-31T00:30 2024-03-31T01:00 2024-03-31T01:30");
  EXPECT_EQ(Ticks("7 * * * *", "2024-03-30T23:30:00Z", 3, berlin),
            "2024-03-31T00:07 2024-03-31T01:07 2024-03-31T02:07");
  // Autumn: the repeated hour runs twice, so "every 30 minutes" keeps its rhythm.
  EXPECT_EQ(Ticks("*/30 * * * *", "2024-10-27T00:00:00Z", 5, berlin),
            "2024-10-27T00:30 2024-10-27T01:00 2024-10-27T01:30 2024-10-27T02:00 2024-10-27T02:30");
}

TEST(CronNext, NewYorkAndLordHoweGaps) {
  // 10 March 2024: New York skips 02:00-02:59 EST; 02:30 runs at 03:00 EDT (07:00Z).
  EXPECT_EQ(Ticks("30 2 * * *", "2024-03-09T12:00:00Z", 2, ZoneForTest("America/New_York")),
            "2024-03-10T07:00 2024-03-11T06:30");
  // 6 October 2024: Lord Howe skips 02:00-02:29 (a half-hour shift); 02:15 runs at 02:30 (15:30Z).
  EXPECT_EQ(Ticks("15 2 * * *", "2024-10-05T00:00:00Z", 2, ZoneForTest("Australia/Lord_Howe")),
            "2024-10-05T15:30 2024-10-06T15:15");
  EXPECT_EQ(Ticks("45 2 * * *", "2024-10-05T00:00:00Z", 1, ZoneForTest("Australia/Lord_Howe")),
            "2024-10-05T15:45");
}

}  // namespace
}  // namespace warren
