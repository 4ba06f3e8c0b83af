#include "core/cron.hpp"

#include <algorithm>
#include <array>
#include <cctype>
#include <vector>

#include <fmt/format.h>

namespace warren {
namespace {

using std::chrono::days;
using std::chrono::minutes;
using std::chrono::seconds;

constexpr std::array<std::string_view, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<std::string_view, 7> kWeekdayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

struct Field {
  std::string_view name;
  int min;
  int max;
  const std::string_view* names = nullptr;  // names[i] stands for first_name_value + i
  size_t name_count = 0;
  int first_name_value = 0;
};

constexpr Field kMinute{"minute", 0, 59};
constexpr Field kHour{"hour", 0, 23};
constexpr Field kDayOfMonth{"day-of-month", 1, 31};
constexpr Field kMonth{"month", 1, 12, kMonthNames.data(), kMonthNames.size(), 1};
constexpr Field kDayOfWeek{"day-of-week", 0, 7, kWeekdayNames.data(), kWeekdayNames.size(), 0};

struct Macro {
  std::string_view name;
  std::string_view expansion;
};
constexpr std::array<Macro, 7> kMacros = {{{"@yearly", "0 0 1 1 *"},
                                           {"@annually", "0 0 1 1 *"},
                                           {"@monthly", "0 0 1 * *"},
                                           {"@weekly", "0 0 * * 0"},
                                           {"@daily", "0 0 * * *"},
                                           {"@midnight", "0 0 * * *"},
                                           {"@hourly", "0 * * * *"}}};

bool IsSpace(char c) { return c == ' ' || c == '\t'; }

std::vector<std::string_view> Split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  while (true) {
    const size_t end = text.find(separator, start);
    parts.push_back(text.substr(start, end == std::string_view::npos ? std::string_view::npos : end - start));
    if (end == std::string_view::npos) {
      return parts;
    }
    start = end + 1;
  }
}

std::string Upper(std::string_view text) {
  std::string upper(text);
  for (char& c : upper) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return upper;
}

// A number or a name, range-checked. Returns the value or sets `error`.
std::optional<int> Value(std::string_view token, const Field& field, std::string& error) {
  if (token.empty()) {
    error = "missing value";
    return std::nullopt;
  }
  const bool digits = std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (digits) {
    // Long digit strings are out of range anyway; stop before int overflow.
    int value = 0;
    for (const char c : token) {
      value = std::min(value * 10 + (c - '0'), 1'000'000);
    }
    if (value < field.min || value > field.max) {
      error = fmt::format("{} is out of range {}-{}", token, field.min, field.max);
      return std::nullopt;
    }
    return value;
  }
  const std::string upper = Upper(token);
  for (size_t i = 0; i < field.name_count; ++i) {
    if (field.names[i] == upper) {
      return field.first_name_value + static_cast<int>(i);
    }
  }
  if (field.name_count == 0) {
    error = fmt::format("'{}' is not a number", token);
  } else {
    error = fmt::format("'{}' is not a number or a name ({}-{})", token, field.names[0],
                        field.names[field.name_count - 1]);
  }
  return std::nullopt;
}

std::optional<int> Step(std::string_view token, std::string& error) {
  const bool digits =
      !token.empty() && std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
  if (!digits || token.size() > 6) {
    error = fmt::format("step '{}' is not a positive number", token);
    return std::nullopt;
  }
  const int step = std::stoi(std::string(token));
  if (step == 0) {
    error = "step 0 must be at least 1";
    return std::nullopt;
  }
  return step;
}

// Parses one field into `bits` (bit i = value i). Returns an error without the field's name.
std::optional<std::string> ParseField(std::string_view text, const Field& field, std::bitset<64>& bits) {
  std::string error;
  for (const std::string_view element : Split(text, ',')) {
    if (element.empty()) {
      return fmt::format("empty list element in '{}'", text);
    }
    const auto slash = element.find('/');
    const std::string_view base = element.substr(0, slash);
    int step = 1;
    if (slash != std::string_view::npos) {
      const auto parsed = Step(element.substr(slash + 1), error);
      if (!parsed) {
        return error;
      }
      step = *parsed;
    }
    int low = field.min;
    int high = field.max;
    if (base == "*") {
      if (&field == &kDayOfWeek) {
        high = 6;  // 7 is Sunday again: `*/2` means Sun, Tue, Thu, Sat
      }
    } else {
      const auto dash = base.find('-');
      const auto first = Value(base.substr(0, dash), field, error);
      if (!first) {
        return error;
      }
      low = *first;
      if (dash != std::string_view::npos) {
        const auto last = Value(base.substr(dash + 1), field, error);
        if (!last) {
          return error;
        }
        high = *last;
        if (high < low) {
          return fmt::format("range {} goes backwards", base);
        }
      } else if (slash == std::string_view::npos) {
        high = low;
      }
      // `5/15` (a single value with a step) runs from the value to the field's maximum.
    }
    for (int v = low; v <= high; v += step) {
      bits.set(static_cast<size_t>(&field == &kDayOfWeek && v == 7 ? 0 : v));
    }
  }
  return std::nullopt;
}

template <size_t N>
std::bitset<N> Narrow(const std::bitset<64>& bits) {
  std::bitset<N> narrow;
  for (size_t i = 0; i < N; ++i) {
    narrow[i] = bits[i];
  }
  return narrow;
}

}  // namespace

std::variant<CronSchedule, std::string> CronSchedule::Parse(std::string_view expression) {
  std::string_view text = expression;
  while (!text.empty() && IsSpace(text.front())) {
    text.remove_prefix(1);
  }
  while (!text.empty() && IsSpace(text.back())) {
    text.remove_suffix(1);
  }
  if (!text.empty() && text.front() == '@') {
    std::string lower(text);
    for (char& c : lower) {
      c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    const auto macro =
        std::find_if(kMacros.begin(), kMacros.end(), [&](const Macro& m) { return m.name == lower; });
    if (macro == kMacros.end()) {
      return fmt::format(
          "unknown macro '{}' (known: @yearly @annually @monthly @weekly @daily @midnight @hourly)", text);
    }
    text = macro->expansion;
  }

  std::vector<std::string_view> fields;
  size_t pos = 0;
  while (pos < text.size()) {
    if (IsSpace(text[pos])) {
      ++pos;
      continue;
    }
    const size_t start = pos;
    while (pos < text.size() && !IsSpace(text[pos])) {
      ++pos;
    }
    fields.push_back(text.substr(start, pos - start));
  }
  if (fields.size() != 5) {
    return fmt::format(
        "expected 5 fields (minute hour day-of-month month day-of-week) or a macro such as @daily, "
        "got {}",
        fields.size());
  }

  CronSchedule schedule;
  schedule.expression_ = std::string(expression);
  const std::array<const Field*, 5> specs = {&kMinute, &kHour, &kDayOfMonth, &kMonth, &kDayOfWeek};
  std::array<std::bitset<64>, 5> bits;
  for (size_t i = 0; i < fields.size(); ++i) {
    if (auto error = ParseField(fields[i], *specs[i], bits[i])) {
      return fmt::format("field '{}': {}", specs[i]->name, *error);
    }
  }
  schedule.minutes_ = Narrow<60>(bits[0]);
  schedule.hours_ = Narrow<24>(bits[1]);
  schedule.days_ = Narrow<32>(bits[2]);
  schedule.months_ = Narrow<13>(bits[3]);
  schedule.weekdays_ = Narrow<7>(bits[4]);
  // Vixie cron decides "restricted" by the first character, so `*/2` counts as unrestricted.
  schedule.day_of_month_star_ = fields[2].front() == '*';
  schedule.day_of_week_star_ = fields[4].front() == '*';
  return schedule;
}

bool CronSchedule::DayMatches(std::chrono::local_days day) const {
  const std::chrono::year_month_day ymd{day};
  if (!months_[static_cast<unsigned>(ymd.month())]) {
    return false;
  }
  const bool dom = days_[static_cast<unsigned>(ymd.day())];
  const bool dow = weekdays_[std::chrono::weekday{day}.c_encoding()];
  return day_of_month_star_ || day_of_week_star_ ? dom && dow : dom || dow;
}

bool CronSchedule::Matches(LocalSeconds local) const {
  const auto day = std::chrono::floor<days>(local);
  const auto minute = std::chrono::duration_cast<minutes>(local - day).count();
  return DayMatches(day) && hours_[static_cast<size_t>(minute / 60)] &&
         minutes_[static_cast<size_t>(minute % 60)];
}

std::optional<LocalSeconds> CronSchedule::NextLocal(LocalSeconds from, LocalSeconds limit) const {
  const auto start = std::chrono::ceil<minutes>(from);
  auto day = std::chrono::floor<days>(start);
  int first_minute = static_cast<int>((start - day).count());  // into the first day
  for (; day <= limit; day += days{1}, first_minute = 0) {
    if (!DayMatches(day)) {
      continue;
    }
    for (int h = first_minute / 60; h < 24; ++h) {
      if (!hours_[static_cast<size_t>(h)]) {
        continue;
      }
      for (int m = h == first_minute / 60 ? first_minute % 60 : 0; m < 60; ++m) {
        if (minutes_[static_cast<size_t>(m)]) {
          const LocalSeconds found = day + minutes{h * 60 + m};
          if (found > limit) {
            return std::nullopt;
          }
          return found;
        }
      }
    }
  }
  return std::nullopt;
}

std::optional<TimePoint> CronSchedule::Next(TimePoint after, const TimeZone& tz) const {
  if (minutes_.none() || hours_.none() || days_.none() || months_.none() || weekdays_.none()) {
    return std::nullopt;
  }
  const bool every_hour = hours_.all();
  // Any instant u after `after` shows local time u + offset(u) >= after + min_offset: start there.
  const auto [min_offset, max_offset] = tz.OffsetBounds(after);
  const LocalSeconds lower{std::chrono::floor<seconds>(after.time_since_epoch()) + seconds{min_offset}};
  const LocalSeconds limit = lower + days{366 * kCronHorizonYears + 2};

  std::optional<TimePoint> best;
  auto consider = [&](TimePoint t) {
    if (t > after && (!best || t < *best)) {
      best = t;
    }
  };
  for (auto local = NextLocal(lower, limit); local; local = NextLocal(*local + minutes{1}, limit)) {
    // Local order is not UTC order around an overlap; once even the earliest instant a local time can
    // map to (local - max_offset) is past the best found, no later local time can beat it.
    if (best && TimePoint{local->time_since_epoch() - seconds{max_offset}} > *best) {
      break;
    }
    const std::vector<TimePoint> instants = tz.FromLocal(*local);
    if (instants.empty()) {
      if (!every_hour) {
        if (const auto gap_end = tz.GapEnd(*local)) {
          consider(*gap_end);
        }
      }
    } else if (every_hour) {
      for (const TimePoint t : instants) {
        consider(t);
      }
    } else {
      consider(instants.front());
    }
  }
  return best;
}

}  // namespace warren
