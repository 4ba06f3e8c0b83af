// IANA time zones read from the system's TZif files, because g++ 12's libstdc++ has no std::chrono::tzdb.
// Only what periodic schedules need: UTC offsets, and local civil time back to UTC instants.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/job.hpp"

namespace warren {

// A local civil time in seconds (the zone's wall clock, with no offset attached).
using LocalSeconds = std::chrono::local_seconds;

// Where Load looks for zones (the Debian package `tzdata`).
inline constexpr std::string_view kZoneInfoDir = "/usr/share/zoneinfo";

// Immutable after loading, so one instance may be shared by threads; copies share the data.
class TimeZone {
 public:
  static TimeZone Utc();
  // Reads `<dir>/<name>`. Nullopt when the name is unsafe (empty, `..`, a leading `/`, a character
  // outside [A-Za-z0-9/_+-]), the file is missing, or it is not a valid TZif file. "UTC" needs no file,
  // so the default zone works on a machine without tzdata.
  static std::optional<TimeZone> Load(std::string_view name, std::string_view dir = kZoneInfoDir);
  // Parses TZif bytes (RFC 8536, version 1 to 4). Files with leap-second records ("right/...") are
  // refused: their timestamps count leap seconds and system_clock does not.
  static std::optional<TimeZone> FromTzif(std::string name, std::string_view bytes);
  // A zone given only by a POSIX TZ string such as "CET-1CEST,M3.5.0,M10.5.0/3" (the TZif footer form,
  // with RFC 8536's extensions: hours up to 167 and negative rule times).
  static std::optional<TimeZone> FromPosixRule(std::string_view rule);
  // Whether `name` passes Load's character and path checks (says nothing about the file).
  static bool IsSafeName(std::string_view name);

  const std::string& Name() const;

  // Seconds east of UTC at `utc`.
  int Offset(TimePoint utc) const;
  LocalSeconds ToLocal(TimePoint utc) const;
  // The instants whose local time is `local`, ascending: one normally, none in a gap (clocks jumped
  // over it), two in an overlap (clocks went back over it).
  std::vector<TimePoint> FromLocal(LocalSeconds local) const;
  // For a local time in a gap, the first instant after the gap (the transition that skipped it);
  // nullopt when `local` exists.
  std::optional<TimePoint> GapEnd(LocalSeconds local) const;
  // The first instant strictly after `after` at which the offset may change. A transition that changes
  // only the abbreviation or the DST flag is reported too. Nullopt for a fixed-offset zone.
  std::optional<TimePoint> NextTransition(TimePoint after) const;

  // The smallest and largest offsets in effect at any instant from `from` on: bounds for searches
  // that map local times back to instants (historic offsets such as local mean time drop out).
  std::pair<int, int> OffsetBounds(TimePoint from) const;

  struct Data;  // defined in time_zone.cpp

 private:
  explicit TimeZone(std::shared_ptr<const Data> data);
  std::shared_ptr<const Data> data_;  // never null
};

}  // namespace warren
