// Time zones and instants for the cron, time-zone and periodic tests.
#pragma once

#include <stdexcept>
#include <string>
#include <string_view>

#include <fmt/format.h>

#include "core/job.hpp"
#include "core/time_zone.hpp"

namespace warren {

// The system's zone; a missing tzdata fails the test with the fix rather than a wrong offset.
inline TimeZone ZoneForTest(std::string_view name) {
  auto tz = TimeZone::Load(name);
  if (!tz) {
    throw std::runtime_error(
        fmt::format("time zone '{}' not found under {}: install the tzdata package "
                    "(scripts/deps.sh)",
                    name, kZoneInfoDir));
  }
  return *tz;
}

// An RFC 3339 instant; throws on a typo so a test cannot silently compare against the epoch. ParseTime
// stops at 1970; earlier years are read 400 years later (one Gregorian cycle, 146097 days) and moved back.
inline TimePoint At(std::string_view rfc3339) {
  auto t = ParseTime(rfc3339);
  if (!t && rfc3339.size() > 4 && rfc3339.substr(0, 4) < "1970") {
    const std::string later = std::to_string(std::stoi(std::string(rfc3339.substr(0, 4))) + 400);
    t = ParseTime(later + std::string(rfc3339.substr(4)));
    if (t) {
      *t -= std::chrono::days{146097};
    }
  }
  if (!t) {
    throw std::invalid_argument(fmt::format("bad time in test: {}", rfc3339));
  }
  return *t;
}

// A local civil time from "YYYY-MM-DDTHH:MM:SS" (read as if UTC, then relabelled local).
inline LocalSeconds Local(std::string_view civil) {
  const TimePoint t = At(std::string(civil) + "Z");
  return LocalSeconds{std::chrono::floor<std::chrono::seconds>(t.time_since_epoch())};
}

}  // namespace warren
