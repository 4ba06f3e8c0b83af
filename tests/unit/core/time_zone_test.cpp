#include "core/time_zone.hpp"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "zones_for_test.hpp"

namespace warren {
namespace {

std::string Fmt(const std::vector<TimePoint>& instants) {
  std::string text;
  for (const TimePoint t : instants) {
    text += (text.empty() ? "" : " ") + FormatTime(t);
  }
  return text;
}

std::string ReadZoneFile(std::string_view name) {
  std::ifstream file(std::string(kZoneInfoDir) + "/" + std::string(name), std::ios::binary);
  std::ostringstream bytes;
  bytes << file.rdbuf();
  return bytes.str();
}

TEST(TimeZone, ZoneInfoIsInstalled) {
  ASSERT_TRUE(std::filesystem::is_directory(kZoneInfoDir))
      << kZoneInfoDir << " is missing: install the tzdata package (scripts/deps.sh)";
}

TEST(TimeZone, UtcNeedsNoFile) {
  const TimeZone utc = TimeZone::Utc();
  EXPECT_EQ(utc.Name(), "UTC");
  EXPECT_EQ(utc.Offset(At("2024-07-01T00:00:00Z")), 0);
  EXPECT_FALSE(utc.NextTransition(At("2024-07-01T00:00:00Z")).has_value());
  const auto loaded = TimeZone::Load("UTC", "/nonexistent");
  ASSERT_TRUE(loaded.has_value());
  EXPECT_EQ(loaded->Offset(At("2024-07-01T00:00:00Z")), 0);
  EXPECT_EQ(Fmt(utc.FromLocal(Local("2024-07-01T12:00:00"))), "2024-07-01T12:00:00.000Z");
}

TEST(TimeZone, EtcUtcFileHasAFixedOffset) {
  const TimeZone tz = ZoneForTest("Etc/UTC");
  EXPECT_EQ(tz.Offset(At("1900-01-01T00:00:00Z")), 0);
  EXPECT_EQ(tz.Offset(At("2200-01-01T00:00:00Z")), 0);
  EXPECT_EQ(ZoneForTest("Etc/GMT+5").Offset(At("2024-01-01T00:00:00Z")), -5 * 3600);
}

TEST(TimeZone, BerlinWinterSummerAndTransitions) {
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  EXPECT_EQ(tz.Name(), "Europe/Berlin");
  EXPECT_EQ(tz.Offset(At("2024-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(tz.Offset(At("2024-07-15T12:00:00Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2024-03-31T00:59:59.999Z")), 3600);
  EXPECT_EQ(tz.Offset(At("2024-03-31T01:00:00Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2024-10-27T00:59:59Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2024-10-27T01:00:00Z")), 3600);
  EXPECT_EQ(tz.NextTransition(At("2024-01-01T00:00:00Z")), At("2024-03-31T01:00:00Z"));
  EXPECT_EQ(tz.NextTransition(At("2024-03-31T01:00:00Z")), At("2024-10-27T01:00:00Z"));
  // Before 1893 Berlin kept local mean time, +0:53:28.
  EXPECT_EQ(tz.Offset(At("1880-01-01T00:00:00Z")), 53 * 60 + 28);
}

TEST(TimeZone, BerlinFarFutureUsesTheFooterRule) {
  // The file's transitions stop in 2037; later years come from "CET-1CEST,M3.5.0,M10.5.0/3".
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  EXPECT_EQ(tz.Offset(At("2090-01-15T12:00:00Z")), 3600);
  EXPECT_EQ(tz.Offset(At("2090-07-15T12:00:00Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2090-03-26T00:59:59Z")), 3600);
  EXPECT_EQ(tz.Offset(At("2090-03-26T01:00:00Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2090-10-29T00:59:59Z")), 7200);
  EXPECT_EQ(tz.Offset(At("2090-10-29T01:00:00Z")), 3600);
  EXPECT_EQ(tz.NextTransition(At("2090-01-01T00:00:00Z")), At("2090-03-26T01:00:00Z"));
  EXPECT_EQ(tz.NextTransition(At("2090-03-26T01:00:00Z")), At("2090-10-29T01:00:00Z"));
  EXPECT_EQ(tz.NextTransition(At("2090-10-29T01:00:00Z")), At("2091-03-25T01:00:00Z"));
}

TEST(TimeZone, OffsetBoundsDropHistoricOffsets) {
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  EXPECT_EQ(tz.OffsetBounds(At("2024-01-01T00:00:00Z")), std::make_pair(3600, 7200));
  EXPECT_EQ(tz.OffsetBounds(At("2090-01-01T00:00:00Z")), std::make_pair(3600, 7200));
  // Local mean time (+0:53:28) and 1945's midsummer time (+3:00) are in the past.
  EXPECT_EQ(tz.OffsetBounds(At("1880-01-01T00:00:00Z")), std::make_pair(53 * 60 + 28, 3 * 3600));
  EXPECT_EQ(TimeZone::Utc().OffsetBounds(At("2024-01-01T00:00:00Z")), std::make_pair(0, 0));
  EXPECT_EQ(ZoneForTest("Asia/Kolkata").OffsetBounds(At("2024-01-01T00:00:00Z")),
            std::make_pair(19800, 19800));
}

TEST(TimeZone, NewYork) {
  const TimeZone tz = ZoneForTest("America/New_York");
  EXPECT_EQ(tz.Offset(At("2024-01-15T12:00:00Z")), -5 * 3600);
  EXPECT_EQ(tz.Offset(At("2024-07-15T12:00:00Z")), -4 * 3600);
  EXPECT_EQ(tz.Offset(At("2024-03-10T06:59:59Z")), -5 * 3600);
  EXPECT_EQ(tz.Offset(At("2024-03-10T07:00:00Z")), -4 * 3600);
  EXPECT_EQ(tz.Offset(At("2024-11-03T06:00:00Z")), -5 * 3600);
  EXPECT_EQ(tz.Offset(At("2090-07-15T12:00:00Z")), -4 * 3600);
  EXPECT_EQ(tz.Offset(At("2090-12-15T12:00:00Z")), -5 * 3600);
}

TEST(TimeZone, KolkataIsFiveAndAHalfHoursAhead) {
  const TimeZone tz = ZoneForTest("Asia/Kolkata");
  EXPECT_EQ(tz.Offset(At("2024-01-15T12:00:00Z")), 5 * 3600 + 1800);
  EXPECT_EQ(tz.Offset(At("2090-07-15T12:00:00Z")), 5 * 3600 + 1800);
  EXPECT_EQ(tz.ToLocal(At("2024-01-15T12:00:00Z")), Local("2024-01-15T17:30:00"));
}

TEST(TimeZone, LordHoweHasHalfHourDst) {
  const TimeZone tz = ZoneForTest("Australia/Lord_Howe");
  EXPECT_EQ(tz.Offset(At("2024-07-01T00:00:00Z")), 10 * 3600 + 1800);
  EXPECT_EQ(tz.Offset(At("2024-01-01T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(tz.Offset(At("2024-10-05T15:29:59Z")), 10 * 3600 + 1800);
  EXPECT_EQ(tz.Offset(At("2024-10-05T15:30:00Z")), 11 * 3600);
  // Southern hemisphere, far future: DST spans the new year.
  EXPECT_EQ(tz.Offset(At("2090-01-01T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(tz.Offset(At("2090-07-01T00:00:00Z")), 10 * 3600 + 1800);
  EXPECT_EQ(tz.NextTransition(At("2090-01-01T00:00:00Z")), At("2090-04-01T15:00:00Z"));
  EXPECT_EQ(tz.NextTransition(At("2090-04-01T15:00:00Z")), At("2090-09-30T15:30:00Z"));
  // 02:00-02:29 local does not exist on 6 October 2024.
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-10-06T02:15:00"))), "");
  EXPECT_EQ(tz.GapEnd(Local("2024-10-06T02:15:00")), At("2024-10-05T15:30:00Z"));
}

TEST(TimeZone, BerlinGapHasNoInstant) {
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  // 31 March 2024: 02:00 CET jumps to 03:00 CEST.
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-03-31T01:59:59"))), "2024-03-31T00:59:59.000Z");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-03-31T02:00:00"))), "");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-03-31T02:30:00"))), "");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-03-31T03:00:00"))), "2024-03-31T01:00:00.000Z");
  EXPECT_EQ(tz.GapEnd(Local("2024-03-31T02:30:00")), At("2024-03-31T01:00:00Z"));
  EXPECT_FALSE(tz.GapEnd(Local("2024-03-31T03:00:00")).has_value());
  EXPECT_FALSE(tz.GapEnd(Local("2024-10-27T02:30:00")).has_value());
  // The same in a footer year.
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2090-03-26T02:30:00"))), "");
  EXPECT_EQ(tz.GapEnd(Local("2090-03-26T02:30:00")), At("2090-03-26T01:00:00Z"));
}

TEST(TimeZone, BerlinOverlapHasTwoInstants) {
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  // 27 October 2024: 03:00 CEST goes back to 02:00 CET, so 02:00-02:59 happen twice.
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-10-27T01:59:00"))), "2024-10-26T23:59:00.000Z");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-10-27T02:00:00"))),
            "2024-10-27T00:00:00.000Z 2024-10-27T01:00:00.000Z");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-10-27T02:30:00"))),
            "2024-10-27T00:30:00.000Z 2024-10-27T01:30:00.000Z");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2024-10-27T03:00:00"))), "2024-10-27T02:00:00.000Z");
  EXPECT_EQ(Fmt(tz.FromLocal(Local("2090-10-29T02:30:00"))),
            "2090-10-29T00:30:00.000Z 2090-10-29T01:30:00.000Z");
}

TEST(TimeZone, ToLocalAndFromLocalRoundTrip) {
  const TimeZone tz = ZoneForTest("Europe/Berlin");
  for (TimePoint t = At("2024-03-30T00:00:00Z"); t < At("2024-04-01T00:00:00Z");
       t += std::chrono::minutes(7)) {
    const auto back = tz.FromLocal(tz.ToLocal(t));
    ASSERT_EQ(back.size(), 1u) << FormatTime(t);
    EXPECT_EQ(back[0], t);
  }
}

TEST(TimeZone, PosixRules) {
  const auto ny = TimeZone::FromPosixRule("EST5EDT,M3.2.0,M11.1.0");
  ASSERT_TRUE(ny.has_value());
  EXPECT_EQ(ny->Offset(At("2024-03-10T06:59:59Z")), -5 * 3600);
  EXPECT_EQ(ny->Offset(At("2024-03-10T07:00:00Z")), -4 * 3600);
  EXPECT_EQ(ny->Offset(At("2024-11-03T05:59:59Z")), -4 * 3600);
  EXPECT_EQ(ny->Offset(At("2024-11-03T06:00:00Z")), -5 * 3600);

  const auto fixed = TimeZone::FromPosixRule("<+0530>-5:30");
  ASSERT_TRUE(fixed.has_value());
  EXPECT_EQ(fixed->Offset(At("2024-01-01T00:00:00Z")), 19800);
  EXPECT_FALSE(fixed->NextTransition(At("2024-01-01T00:00:00Z")).has_value());

  // Julian days: J60 is 1 March in every year (Feb 29 never counts); 59 (zero-based) is 29 February in
  // a leap year. Rule times may be negative or past 24h.
  const auto julian = TimeZone::FromPosixRule("AAA-1BBB,J60/0,59/-1");
  ASSERT_TRUE(julian.has_value());
  EXPECT_EQ(julian->NextTransition(At("2024-01-01T00:00:00Z")),
            At("2024-02-28T21:00:00Z"));  // end: Feb 29 -1h in DST
  EXPECT_EQ(julian->NextTransition(At("2024-02-28T21:00:00Z")),
            At("2024-02-29T23:00:00Z"));  // start: Mar 1 00:00
  const auto late = TimeZone::FromPosixRule("XXX3YYY,M3.5.0/-2,M10.5.0/26");
  ASSERT_TRUE(late.has_value());
  EXPECT_EQ(late->Offset(At("2024-07-01T00:00:00Z")), -2 * 3600);

  // DST name without rules: the US default.
  const auto us = TimeZone::FromPosixRule("EST5EDT");
  ASSERT_TRUE(us.has_value());
  EXPECT_EQ(us->Offset(At("2024-07-01T00:00:00Z")), -4 * 3600);

  for (const char* bad : {"", "C", "CET", "CET-", "CET-1CEST,M3.5.0", "CET-1CEST,M13.5.0,M10.5.0",
                          "CET-1CEST,M3.6.0,M10.5.0", "CET-1CEST,M3.5.7,M10.5.0", "CET-1CEST,J0,J100",
                          "CET-1CEST,M3.5.0,M10.5.0/168", "CET-25", "<+05-5", "CET-1CEST,M3.5.0,M10.5.0x"}) {
    EXPECT_FALSE(TimeZone::FromPosixRule(bad).has_value()) << bad;
  }
}

TEST(TimeZone, LoadRejectsUnsafeNames) {
  for (const char* bad : {"", "../etc/passwd", "Europe/../../etc/passwd", "/etc/localtime", "Europe/Berlin\n",
                          "Europe Berlin", "Europe\\Berlin", "Europe/Berlin;rm", "Ẑ"}) {
    EXPECT_FALSE(TimeZone::IsSafeName(bad)) << bad;
    EXPECT_FALSE(TimeZone::Load(bad).has_value()) << bad;
  }
  for (const char* good : {"Europe/Berlin", "Etc/GMT+5", "Etc/GMT-14", "America/Port-au-Prince", "UTC"}) {
    EXPECT_TRUE(TimeZone::IsSafeName(good)) << good;
  }
}

TEST(TimeZone, LoadRejectsMissingAndInvalidFiles) {
  EXPECT_FALSE(TimeZone::Load("Nowhere/Nothing").has_value());
  EXPECT_FALSE(TimeZone::Load("Europe").has_value());        // a directory
  EXPECT_FALSE(TimeZone::Load("zone1970.tab").has_value());  // text, not TZif
  EXPECT_FALSE(TimeZone::Load("right/UTC").has_value());     // counts leap seconds
  EXPECT_FALSE(TimeZone::Load("Europe/Berlin", "/nonexistent").has_value());
}

TEST(TimeZone, FromTzifRejectsTruncatedFiles) {
  const std::string berlin = ReadZoneFile("Europe/Berlin");
  ASSERT_FALSE(berlin.empty()) << "install the tzdata package (scripts/deps.sh)";
  ASSERT_TRUE(TimeZone::FromTzif("Europe/Berlin", berlin).has_value());
  for (const size_t size : {size_t{0}, size_t{4}, size_t{44}, berlin.size() / 2, berlin.size() - 3}) {
    EXPECT_FALSE(TimeZone::FromTzif("x", std::string_view(berlin).substr(0, size)).has_value()) << size;
  }
  std::string bad_magic = berlin;
  bad_magic[0] = 'X';
  EXPECT_FALSE(TimeZone::FromTzif("x", bad_magic).has_value());
}

TEST(TimeZone, CopiesShareTheData) {
  const TimeZone a = ZoneForTest("Europe/Berlin");
  const TimeZone b = a;  // NOLINT(performance-unnecessary-copy-initialization): the copy is the point
  EXPECT_EQ(&a.Name(), &b.Name());
  EXPECT_EQ(b.Offset(At("2024-07-15T12:00:00Z")), 7200);
}

}  // namespace
}  // namespace warren
