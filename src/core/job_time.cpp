// RFC 3339 timestamps by hand: g++ 12 has the <chrono> calendar types but not std::chrono::parse/format.
#include <cstdint>

#include <fmt/format.h>

#include "core/job.hpp"

namespace warren {
namespace {

using std::chrono::days;
using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using std::chrono::sys_days;

// The accepted range: 1970-01-01T00:00:00.000Z .. 9999-12-31T23:59:59.999Z (after applying the offset).
constexpr TimePoint kMinTime{};
const TimePoint kMaxTime =
    TimePoint{sys_days{std::chrono::year{9999} / 12 / 31}.time_since_epoch() + days{1} - milliseconds{1}};

// Exactly `n` ASCII digits at `pos`, or -1.
int Digits(std::string_view text, size_t pos, size_t n) {
  if (pos + n > text.size()) {
    return -1;
  }
  int value = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    const char c = text[i];
    if (c < '0' || c > '9') {
      return -1;
    }
    value = value * 10 + (c - '0');
  }
  return value;
}

bool At(std::string_view text, size_t pos, char c) { return pos < text.size() && text[pos] == c; }

}  // namespace

TimePoint SystemNow() {
  return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now());
}

std::string FormatTime(TimePoint t) {
  const auto day = std::chrono::floor<days>(t);
  const std::chrono::year_month_day ymd{day};
  const int64_t ms = (t - day).count();  // milliseconds into the day, 0..86'399'999
  return fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z", static_cast<int>(ymd.year()),
                     static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()), ms / 3'600'000,
                     ms / 60'000 % 60, ms / 1000 % 60, ms % 1000);
}

// full-date "T" full-time per RFC 3339 §5.6: YYYY-MM-DDTHH:MM:SS[.frac](Z|+HH:MM|-HH:MM), with `t`
// and `z` accepted. Fractions of any length are truncated to milliseconds. A leap second (:60) is
// read as the first second of the next minute, as POSIX time does.
std::optional<TimePoint> ParseTime(std::string_view text) {
  const int y = Digits(text, 0, 4);
  const int mo = Digits(text, 5, 2);
  const int d = Digits(text, 8, 2);
  const int h = Digits(text, 11, 2);
  const int mi = Digits(text, 14, 2);
  const int s = Digits(text, 17, 2);
  if (y < 0 || mo < 0 || d < 0 || h < 0 || mi < 0 || s < 0 || !At(text, 4, '-') || !At(text, 7, '-') ||
      !(At(text, 10, 'T') || At(text, 10, 't')) || !At(text, 13, ':') || !At(text, 16, ':')) {
    return std::nullopt;
  }
  if (h > 23 || mi > 59 || s > 60) {
    return std::nullopt;
  }
  const std::chrono::year_month_day ymd{std::chrono::year{y}, std::chrono::month{static_cast<unsigned>(mo)},
                                        std::chrono::day{static_cast<unsigned>(d)}};
  if (!ymd.ok()) {
    return std::nullopt;
  }
  size_t pos = 19;
  int64_t ms = 0;
  if (At(text, pos, '.')) {
    const size_t first = ++pos;
    while (pos < text.size() && text[pos] >= '0' && text[pos] <= '9') {
      if (pos - first < 3) {
        ms = ms * 10 + (text[pos] - '0');
      }
      ++pos;
    }
    if (pos == first) {
      return std::nullopt;
    }
    for (size_t n = pos - first; n < 3; ++n) {
      ms *= 10;
    }
  }
  int offset_minutes = 0;
  if (At(text, pos, 'Z') || At(text, pos, 'z')) {
    ++pos;
  } else if (At(text, pos, '+') || At(text, pos, '-')) {
    const int oh = Digits(text, pos + 1, 2);
    const int om = Digits(text, pos + 4, 2);
    if (oh < 0 || om < 0 || !At(text, pos + 3, ':') || oh > 23 || om > 59) {
      return std::nullopt;
    }
    offset_minutes = (text[pos] == '-' ? -1 : 1) * (oh * 60 + om);
    pos += 6;
  } else {
    return std::nullopt;
  }
  if (pos != text.size()) {
    return std::nullopt;
  }
  const TimePoint t = TimePoint{sys_days{ymd}.time_since_epoch()} + hours{h} + minutes{mi} + seconds{s} +
                      milliseconds{ms} - minutes{offset_minutes};
  if (t < kMinTime || t > kMaxTime) {
    return std::nullopt;
  }
  return t;
}

}  // namespace warren
