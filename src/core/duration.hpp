// Durations as users write them: a number of seconds (`30`, `1.5`) or a number with a unit
// (`250ms`, `1.5s`, `10m`, `2h`, `1d`). One parser for the API, the config and the CLI.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace warren {

using Duration = std::chrono::milliseconds;

// The longest duration Warren accepts (100 years): anything longer is a mistake, and it keeps
// milliseconds, and a steady clock's nanoseconds after now, far from overflow.
inline constexpr Duration kMaxDuration = std::chrono::hours(24 * 365 * 100);

// Returns nullopt for anything that is not a non-negative finite duration.
std::optional<Duration> ParseDuration(std::string_view text);
// Numbers of seconds (JSON/TOML numbers) go through here so both paths share the checks.
std::optional<Duration> DurationFromSeconds(double seconds);
std::string FormatDuration(Duration d);

}  // namespace warren
