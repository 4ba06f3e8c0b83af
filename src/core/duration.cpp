#include "core/duration.hpp"

#include <charconv>
#include <cmath>

#include <fmt/format.h>

namespace warren {
namespace {
constexpr double kMaxSeconds = std::chrono::duration<double>(kMaxDuration).count();
}  // namespace

std::optional<Duration> DurationFromSeconds(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0 || seconds > kMaxSeconds) {
    return std::nullopt;
  }
  return Duration{static_cast<Duration::rep>(std::llround(seconds * 1000.0))};
}

std::optional<Duration> ParseDuration(std::string_view text) {
  if (text.empty() || text.front() == '+' || text.front() == '-') {
    return std::nullopt;
  }
  double value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value, std::chars_format::fixed);
  if (ec != std::errc{} || ptr == text.data()) {
    return std::nullopt;
  }
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  double factor = 0;
  if (unit.empty() || unit == "s") {
    factor = 1;
  } else if (unit == "ms") {
    factor = 0.001;
  } else if (unit == "m") {
    factor = 60;
  } else if (unit == "h") {
    factor = 3600;
  } else if (unit == "d") {
    factor = 86400;
  } else {
    return std::nullopt;
  }
  return DurationFromSeconds(value * factor);
}

std::string FormatDuration(Duration d) {
  const auto ms = d.count();
  if (ms % 3'600'000 == 0 && ms != 0) {
    return fmt::format("{}h", ms / 3'600'000);
  }
  if (ms % 60'000 == 0 && ms != 0) {
    return fmt::format("{}m", ms / 60'000);
  }
  if (ms % 1000 == 0) {
    return fmt::format("{}s", ms / 1000);
  }
  return fmt::format("{}ms", ms);
}

}  // namespace warren
