#include <gtest/gtest.h>

#include "core/job.hpp"

namespace warren {
namespace {

using std::chrono::milliseconds;

TimePoint Ms(int64_t ms) { return TimePoint{milliseconds{ms}}; }

TEST(JobTime, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatTime(Ms(0)), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(Ms(1'795'694'400'000)), "2026-11-26T12:00:00.000Z");
  EXPECT_EQ(FormatTime(Ms(1'795'694'400'007)), "2026-11-26T12:00:00.007Z");
  EXPECT_EQ(FormatTime(Ms(951'782'400'000)), "2000-02-29T00:00:00.000Z");
}

TEST(JobTime, ParsesRfc3339) {
  EXPECT_EQ(ParseTime("2026-11-26T12:00:00Z"), Ms(1'795'694'400'000));
  EXPECT_EQ(ParseTime("2026-11-26t12:00:00z"), Ms(1'795'694'400'000));
  EXPECT_EQ(ParseTime("2026-11-26T14:00:00+02:00"), Ms(1'795'694'400'000));
  EXPECT_EQ(ParseTime("2026-11-26T06:30:00-05:30"), Ms(1'795'694'400'000));
  EXPECT_EQ(ParseTime("2026-11-26T12:00:00.5Z"), Ms(1'795'694'400'500));
  EXPECT_EQ(ParseTime("2026-11-26T12:00:00.25Z"), Ms(1'795'694'400'250));
  EXPECT_EQ(ParseTime("2026-11-26T12:00:00.123Z"), Ms(1'795'694'400'123));
  EXPECT_EQ(ParseTime("2026-11-26T12:00:00.123999999Z"), Ms(1'795'694'400'123));  // truncated
  EXPECT_EQ(ParseTime("1970-01-01T00:00:00Z"), Ms(0));
  EXPECT_EQ(ParseTime("2000-02-29T00:00:00Z"), Ms(951'782'400'000));
  EXPECT_EQ(ParseTime("9999-12-31T23:59:59.999Z"), Ms(253'402'300'799'999));
  EXPECT_EQ(ParseTime("2026-12-31T23:59:60Z"), ParseTime("2027-01-01T00:00:00Z"));  // leap second
}

TEST(JobTime, RejectsInvalidText) {
  for (const char* bad : {"",
                          "2026-11-26",
                          "2026-11-26T12:00:00",
                          "2026-11-26 12:00:00Z",
                          "2026-11-26T12:00Z",
                          "2026-02-30T00:00:00Z",
                          "2025-02-29T00:00:00Z",
                          "2026-13-01T00:00:00Z",
                          "2026-00-10T00:00:00Z",
                          "2026-11-00T00:00:00Z",
                          "2026-11-26T24:00:00Z",
                          "2026-11-26T12:60:00Z",
                          "2026-11-26T12:00:61Z",
                          "2026-11-26T12:00:00.Z",
                          "2026-11-26T12:00:00+2:00",
                          "2026-11-26T12:00:00+02",
                          "2026-11-26T12:00:00+24:00",
                          "2026-11-26T12:00:00+02:60",
                          "2026-11-26T12:00:00Zjunk",
                          "+2026-11-26T12:00:00Z",
                          "2026-1-26T12:00:00Z",
                          "２026-11-26T12:00:00Z",
                          "2026-11-26T12:00:00 Z",
                          "1969-12-31T23:59:59Z",
                          "1970-01-01T00:30:00+01:00",
                          "10000-01-01T00:00:00Z",
                          "0000-01-01T00:00:00Z"}) {
    EXPECT_FALSE(ParseTime(bad).has_value()) << bad;
  }
}

TEST(JobTime, RoundTripsEveryMillisecondValue) {
  for (const int64_t ms : {int64_t{0}, int64_t{1}, int64_t{999}, int64_t{86'399'999},
                           int64_t{1'795'694'400'123}, int64_t{253'402'300'799'999}}) {
    EXPECT_EQ(ParseTime(FormatTime(Ms(ms))), Ms(ms)) << ms;
  }
}

}  // namespace
}  // namespace warren
