// Durations as users write them: a number of seconds (`30`, `1.5`) or a number with a unit
// (`250ms`, `1.5s`, `10m`, `2h`, `1d`). One parser for the API, the config and the CLI.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

namespace warren {

using Duration = std::chrono::milliseconds;

// Returns nullopt for anything that is not a non-negative finite duration.
std::optional<Duration> ParseDuration(std::string_view text);
// Numbers of seconds (JSON/TOML numbers) go through here so both paths share the checks.
std::optional<Duration> DurationFromSeconds(double seconds);
std::string FormatDuration(Duration d);

}  // namespace warren
