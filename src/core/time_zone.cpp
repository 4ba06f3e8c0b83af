// TZif per RFC 8536 and POSIX TZ strings per POSIX.1-2017 §8.3. Everything inside works in whole seconds
// since the epoch (UTC) or in local seconds; TimePoint milliseconds are floored at the public surface.
#include "core/time_zone.hpp"

#include <algorithm>
#include <fstream>
#include <iterator>
#include <limits>

namespace warren {
namespace {

using std::chrono::days;
using std::chrono::seconds;
using std::chrono::sys_days;

// RFC 8536 §3.2 bounds UT offsets to -24:59:59 .. +25:59:59.
constexpr int kMaxUtOffset = 26 * 3600;
// A TZif file is a few kilobytes; anything much bigger is not one.
constexpr std::streamsize kMaxTzifBytes = 1 << 20;

// One end of a DST period in a POSIX TZ string.
struct RuleDate {
  enum class Kind { kJulian1, kJulian0, kMonthWeekDay };
  Kind kind = Kind::kMonthWeekDay;
  int day = 0;          // kJulian1: 1..365 (Feb 29 never counted); kJulian0: 0..365
  int month = 0;        // kMonthWeekDay: 1..12
  int week = 0;         // 1..5, 5 = the last such weekday of the month
  int weekday = 0;      // 0 = Sunday
  int64_t time = 7200;  // local seconds after midnight, -167h..167h (RFC 8536 §3.3.1); default 02:00
};

struct PosixRule {
  int std_offset = 0;  // seconds east of UTC
  bool has_dst = false;
  int dst_offset = 0;
  RuleDate start;  // in local standard time
  RuleDate end;    // in local daylight time
};

int64_t ToSeconds(TimePoint t) { return std::chrono::floor<seconds>(t.time_since_epoch()).count(); }
TimePoint FromSeconds(int64_t s) { return TimePoint{seconds{s}}; }

int CivilYear(int64_t s) {
  const auto day = std::chrono::floor<days>(std::chrono::sys_seconds{seconds{s}});
  return static_cast<int>(std::chrono::year_month_day{day}.year());
}

// Local seconds since the epoch at which `date` (plus its time) falls in `year`.
int64_t RuleLocalSeconds(const RuleDate& date, int year) {
  const std::chrono::year y{year};
  sys_days day;
  switch (date.kind) {
    case RuleDate::Kind::kJulian1:
      day = sys_days{y / std::chrono::January / 1} +
            days{date.day - 1 + (y.is_leap() && date.day >= 60 ? 1 : 0)};
      break;
    case RuleDate::Kind::kJulian0:
      day = sys_days{y / std::chrono::January / 1} + days{date.day};
      break;
    case RuleDate::Kind::kMonthWeekDay: {
      const std::chrono::month m{static_cast<unsigned>(date.month)};
      const std::chrono::weekday wd{static_cast<unsigned>(date.weekday)};
      if (date.week == 5) {
        day = sys_days{std::chrono::year_month_weekday_last{y, m, std::chrono::weekday_last{wd}}};
      } else {
        day = sys_days{std::chrono::year_month_weekday{y, m, wd[static_cast<unsigned>(date.week)]}};
      }
      break;
    }
  }
  return std::chrono::duration_cast<seconds>(day.time_since_epoch()).count() + date.time;
}

// The UTC instants at which DST starts and ends in `year`.
std::pair<int64_t, int64_t> RuleTransitions(const PosixRule& rule, int year) {
  return {RuleLocalSeconds(rule.start, year) - rule.std_offset,
          RuleLocalSeconds(rule.end, year) - rule.dst_offset};
}

int RuleOffset(const PosixRule& rule, int64_t t) {
  if (!rule.has_dst) {
    return rule.std_offset;
  }
  const auto [start, end] = RuleTransitions(rule, CivilYear(t + rule.std_offset));
  // Southern-hemisphere rules start DST late in the year and end it early in the next.
  const bool dst = start < end ? (start <= t && t < end) : !(end <= t && t < start);
  return dst ? rule.dst_offset : rule.std_offset;
}

std::optional<int64_t> RuleNextTransition(const PosixRule& rule, int64_t after) {
  if (!rule.has_dst) {
    return std::nullopt;
  }
  std::optional<int64_t> best;
  const int year = CivilYear(after + rule.std_offset);
  for (int y = year - 1; y <= year + 1; ++y) {
    const auto [start, end] = RuleTransitions(rule, y);
    for (const int64_t t : {start, end}) {
      if (t > after && (!best || t < *best)) {
        best = t;
      }
    }
  }
  return best;
}

// --- POSIX TZ string parsing ----------------------------------------------------------------------

class PosixParser {
 public:
  explicit PosixParser(std::string_view text) : text_(text) {}

  std::optional<PosixRule> Parse() {
    PosixRule rule;
    if (!Name()) {
      return std::nullopt;
    }
    const auto std_offset = Time(24);
    if (!std_offset) {
      return std::nullopt;
    }
    rule.std_offset = static_cast<int>(-*std_offset);  // POSIX offsets count hours west
    if (AtEnd()) {
      return rule;
    }
    if (!Name()) {
      return std::nullopt;
    }
    rule.has_dst = true;
    rule.dst_offset = rule.std_offset + 3600;
    if (!AtEnd() && Peek() != ',') {
      const auto dst_offset = Time(24);
      if (!dst_offset) {
        return std::nullopt;
      }
      rule.dst_offset = static_cast<int>(-*dst_offset);
    }
    if (AtEnd()) {
      // POSIX leaves the default rule to the implementation; tzcode uses the US rule.
      rule.start = RuleDate{RuleDate::Kind::kMonthWeekDay, 0, 3, 2, 0};
      rule.end = RuleDate{RuleDate::Kind::kMonthWeekDay, 0, 11, 1, 0};
      return rule;
    }
    if (!Eat(',') || !Date(rule.start) || !Eat(',') || !Date(rule.end) || !AtEnd()) {
      return std::nullopt;
    }
    return rule;
  }

 private:
  bool AtEnd() const { return pos_ >= text_.size(); }
  char Peek() const { return AtEnd() ? '\0' : text_[pos_]; }
  bool Eat(char c) {
    if (Peek() != c) {
      return false;
    }
    ++pos_;
    return true;
  }
  static bool IsAlpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
  static bool IsDigit(char c) { return c >= '0' && c <= '9'; }

  // An abbreviation: three or more letters, or <...> holding letters, digits, + and -.
  bool Name() {
    const size_t start = pos_;
    if (Eat('<')) {
      while (!AtEnd() && Peek() != '>') {
        const char c = Peek();
        if (!IsAlpha(c) && !IsDigit(c) && c != '+' && c != '-') {
          return false;
        }
        ++pos_;
      }
      return pos_ - start >= 4 && Eat('>');
    }
    while (IsAlpha(Peek())) {
      ++pos_;
    }
    return pos_ - start >= 3;
  }

  std::optional<int64_t> Number(int max) {
    if (!IsDigit(Peek())) {
      return std::nullopt;
    }
    int64_t value = 0;
    while (IsDigit(Peek())) {
      value = value * 10 + (text_[pos_++] - '0');
      if (value > max) {
        return std::nullopt;
      }
    }
    return value;
  }

  // [+|-]hh[:mm[:ss]] in seconds.
  std::optional<int64_t> Time(int max_hours) {
    int64_t sign = 1;
    if (Eat('-')) {
      sign = -1;
    } else {
      Eat('+');
    }
    const auto h = Number(max_hours);
    if (!h) {
      return std::nullopt;
    }
    int64_t total = *h * 3600;
    if (Eat(':')) {
      const auto m = Number(59);
      if (!m) {
        return std::nullopt;
      }
      total += *m * 60;
      if (Eat(':')) {
        const auto s = Number(59);
        if (!s) {
          return std::nullopt;
        }
        total += *s;
      }
    }
    return sign * total;
  }

  bool Date(RuleDate& date) {
    if (Eat('J')) {
      const auto n = Number(365);
      if (!n || *n < 1) {
        return false;
      }
      date.kind = RuleDate::Kind::kJulian1;
      date.day = static_cast<int>(*n);
    } else if (Eat('M')) {
      const auto m = Number(12);
      if (!m || *m < 1 || !Eat('.')) {
        return false;
      }
      const auto w = Number(5);
      if (!w || *w < 1 || !Eat('.')) {
        return false;
      }
      const auto d = Number(6);
      if (!d) {
        return false;
      }
      date.kind = RuleDate::Kind::kMonthWeekDay;
      date.month = static_cast<int>(*m);
      date.week = static_cast<int>(*w);
      date.weekday = static_cast<int>(*d);
    } else {
      const auto n = Number(365);
      if (!n) {
        return false;
      }
      date.kind = RuleDate::Kind::kJulian0;
      date.day = static_cast<int>(*n);
    }
    if (Eat('/')) {
      const auto t = Time(167);
      if (!t) {
        return false;
      }
      date.time = *t;
    }
    return true;
  }

  std::string_view text_;
  size_t pos_ = 0;
};

// --- TZif reading ---------------------------------------------------------------------------------

class ByteReader {
 public:
  explicit ByteReader(std::string_view bytes) : bytes_(bytes) {}
  size_t Remaining() const { return bytes_.size() - pos_; }
  bool Skip(uint64_t n) {
    if (n > Remaining()) {
      return false;
    }
    pos_ += static_cast<size_t>(n);
    return true;
  }
  // Big-endian, two's complement for the signed reads.
  std::optional<uint64_t> Unsigned(int bytes) {
    if (static_cast<size_t>(bytes) > Remaining()) {
      return std::nullopt;
    }
    uint64_t value = 0;
    for (int i = 0; i < bytes; ++i) {
      value = (value << 8) | static_cast<unsigned char>(bytes_[pos_++]);
    }
    return value;
  }
  std::optional<int64_t> Signed(int bytes) {
    const auto u = Unsigned(bytes);
    if (!u) {
      return std::nullopt;
    }
    if (bytes == 8) {
      return static_cast<int64_t>(*u);
    }
    const uint64_t sign_bit = uint64_t{1} << (bytes * 8 - 1);
    return static_cast<int64_t>(*u ^ sign_bit) - static_cast<int64_t>(sign_bit);
  }
  std::string_view Rest() const { return bytes_.substr(pos_); }

 private:
  std::string_view bytes_;
  size_t pos_ = 0;
};

struct TzifHeader {
  char version = 0;
  uint64_t isutcnt = 0, isstdcnt = 0, leapcnt = 0, timecnt = 0, typecnt = 0, charcnt = 0;

  uint64_t DataSize(int time_bytes) const {
    return timecnt * static_cast<uint64_t>(time_bytes) + timecnt + typecnt * 6 + charcnt +
           leapcnt * static_cast<uint64_t>(time_bytes + 4) + isstdcnt + isutcnt;
  }
};

std::optional<TzifHeader> ReadHeader(ByteReader& reader) {
  const std::string_view rest = reader.Rest();
  if (rest.size() < 44 || rest.substr(0, 4) != "TZif") {
    return std::nullopt;
  }
  TzifHeader header;
  header.version = rest[4];
  if (header.version != '\0' && (header.version < '2' || header.version > '4')) {
    return std::nullopt;
  }
  reader.Skip(20);
  for (uint64_t* count : {&header.isutcnt, &header.isstdcnt, &header.leapcnt, &header.timecnt,
                          &header.typecnt, &header.charcnt}) {
    *count = *reader.Unsigned(4);
  }
  if (header.typecnt == 0 || header.typecnt > 256 || header.charcnt == 0 ||
      (header.isstdcnt != 0 && header.isstdcnt != header.typecnt) ||
      (header.isutcnt != 0 && header.isutcnt != header.typecnt)) {
    return std::nullopt;
  }
  return header;
}

}  // namespace

struct TimeZone::Data {
  std::string name;
  std::vector<int64_t> times;     // transition instants, UTC seconds, strictly ascending
  std::vector<int> offsets;       // offsets[i] is in effect from times[i]
  int initial_offset = 0;         // before times[0] (RFC 8536: local time type 0)
  std::optional<PosixRule> rule;  // from times.back() on, or always when there are no transitions
  int min_offset = 0;             // over all time
  int max_offset = 0;
  // suffix_min[i], suffix_max[i]: over offsets[i..] and the rule (OffsetBounds after a transition).
  std::vector<int> suffix_min;
  std::vector<int> suffix_max;

  int OffsetAt(int64_t t) const {
    if (times.empty() || t >= times.back()) {
      if (rule) {
        return RuleOffset(*rule, t);
      }
      return times.empty() ? initial_offset : offsets.back();
    }
    if (t < times.front()) {
      return initial_offset;
    }
    const auto it = std::upper_bound(times.begin(), times.end(), t);
    return offsets[static_cast<size_t>(std::distance(times.begin(), it)) - 1];
  }

  std::optional<int64_t> NextTransitionAt(int64_t after) const {
    if (!times.empty() && after < times.back()) {
      return *std::upper_bound(times.begin(), times.end(), after);
    }
    if (rule) {
      return RuleNextTransition(*rule, after);
    }
    return std::nullopt;
  }

  void ComputeBounds() {
    int low = std::numeric_limits<int>::max();
    int high = std::numeric_limits<int>::min();
    auto add = [&](int offset) {
      low = std::min(low, offset);
      high = std::max(high, offset);
    };
    if (rule) {
      add(rule->std_offset);
      add(rule->has_dst ? rule->dst_offset : rule->std_offset);
    }
    suffix_min.resize(offsets.size());
    suffix_max.resize(offsets.size());
    for (size_t i = offsets.size(); i-- > 0;) {
      add(offsets[i]);
      suffix_min[i] = low;
      suffix_max[i] = high;
    }
    add(initial_offset);
    min_offset = low;
    max_offset = high;
  }

  std::pair<int, int> BoundsFrom(int64_t from) const {
    if (times.empty() || from < times.front()) {
      return {min_offset, max_offset};
    }
    // The segment holding `from` starts at transition i; everything later is in the suffix.
    const auto i = static_cast<size_t>(
                       std::distance(times.begin(), std::upper_bound(times.begin(), times.end(), from))) -
                   1;
    return {suffix_min[i], suffix_max[i]};
  }

  struct Resolved {
    std::vector<int64_t> instants;
    std::optional<int64_t> gap_end;
  };

  // Walks the offset segments that can contain an instant showing `local`: any such instant u has
  // u = local - offset(u), so it lies in [local - max_offset, local - min_offset].
  Resolved Resolve(int64_t local) const {
    Resolved resolved;
    const int64_t hi = local - min_offset;
    int64_t segment_start = local - max_offset;
    int offset = OffsetAt(segment_start);
    while (true) {
      const std::optional<int64_t> next = NextTransitionAt(segment_start);
      const int64_t u = local - offset;
      if (u >= segment_start && (!next || u < *next)) {
        resolved.instants.push_back(u);
      }
      if (!next || *next > hi) {
        break;
      }
      const int next_offset = OffsetAt(*next);
      // Past the boundary under the old offset, before it under the new one: skipped by the jump.
      if (u >= *next && local - next_offset < *next && !resolved.gap_end) {
        resolved.gap_end = *next;
      }
      segment_start = *next;
      offset = next_offset;
    }
    return resolved;
  }
};

TimeZone::TimeZone(std::shared_ptr<const Data> data) : data_(std::move(data)) {}

TimeZone TimeZone::Utc() {
  static const std::shared_ptr<const Data> utc = [] {
    auto data = std::make_shared<Data>();
    data->name = "UTC";
    return data;
  }();
  return TimeZone(utc);
}

bool TimeZone::IsSafeName(std::string_view name) {
  if (name.empty() || name.front() == '/' || name.find("..") != std::string_view::npos) {
    return false;
  }
  return std::all_of(name.begin(), name.end(), [](char c) {
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '/' ||
           c == '_' || c == '+' || c == '-';
  });
}

std::optional<TimeZone> TimeZone::Load(std::string_view name, std::string_view dir) {
  if (!IsSafeName(name)) {
    return std::nullopt;
  }
  if (name == "UTC") {
    return Utc();
  }
  std::ifstream file(std::string(dir) + "/" + std::string(name), std::ios::binary);
  if (!file) {
    return std::nullopt;
  }
  std::string bytes(static_cast<size_t>(kMaxTzifBytes) + 1, '\0');
  file.read(bytes.data(), kMaxTzifBytes + 1);
  const std::streamsize n = file.gcount();
  if (n > kMaxTzifBytes || file.bad()) {
    return std::nullopt;
  }
  bytes.resize(static_cast<size_t>(n));
  return FromTzif(std::string(name), bytes);
}

std::optional<TimeZone> TimeZone::FromTzif(std::string name, std::string_view bytes) {
  ByteReader reader(bytes);
  auto header = ReadHeader(reader);
  if (!header) {
    return std::nullopt;
  }
  int time_bytes = 4;
  if (header->version >= '2') {
    // Skip the 32-bit block: the 64-bit one that follows holds the same data over a wider range.
    if (!reader.Skip(header->DataSize(4))) {
      return std::nullopt;
    }
    header = ReadHeader(reader);
    if (!header) {
      return std::nullopt;
    }
    time_bytes = 8;
  }
  if (header->leapcnt != 0 || header->DataSize(time_bytes) > reader.Remaining()) {
    return std::nullopt;
  }

  auto data = std::make_shared<Data>();
  data->name = std::move(name);
  std::vector<uint8_t> type_of(static_cast<size_t>(header->timecnt));
  data->times.reserve(type_of.size());
  for (uint64_t i = 0; i < header->timecnt; ++i) {
    const int64_t t = *reader.Signed(time_bytes);
    if (!data->times.empty() && t <= data->times.back()) {
      return std::nullopt;
    }
    data->times.push_back(t);
  }
  for (auto& type : type_of) {
    type = static_cast<uint8_t>(*reader.Unsigned(1));
    if (type >= header->typecnt) {
      return std::nullopt;
    }
  }
  std::vector<int> type_offsets;
  for (uint64_t i = 0; i < header->typecnt; ++i) {
    const int64_t utoff = *reader.Signed(4);
    reader.Skip(2);  // isdst, abbreviation index: not needed for offsets
    if (utoff <= -kMaxUtOffset || utoff >= kMaxUtOffset) {
      return std::nullopt;
    }
    type_offsets.push_back(static_cast<int>(utoff));
  }
  reader.Skip(header->charcnt + header->isstdcnt + header->isutcnt);
  data->initial_offset = type_offsets[0];
  for (const uint8_t type : type_of) {
    data->offsets.push_back(type_offsets[type]);
  }

  if (time_bytes == 8) {
    // The footer: "\n" TZ-string "\n"; an empty string means no rule past the last transition.
    const std::string_view rest = reader.Rest();
    if (rest.size() < 2 || rest.front() != '\n') {
      return std::nullopt;
    }
    const size_t end = rest.find('\n', 1);
    if (end == std::string_view::npos) {
      return std::nullopt;
    }
    const std::string_view footer = rest.substr(1, end - 1);
    if (!footer.empty()) {
      data->rule = PosixParser(footer).Parse();
      if (!data->rule) {
        return std::nullopt;
      }
    }
  }
  data->ComputeBounds();
  return TimeZone(std::move(data));
}

std::optional<TimeZone> TimeZone::FromPosixRule(std::string_view rule) {
  auto parsed = PosixParser(rule).Parse();
  if (!parsed) {
    return std::nullopt;
  }
  auto data = std::make_shared<Data>();
  data->name = std::string(rule);
  data->rule = parsed;
  data->initial_offset = parsed->std_offset;
  data->ComputeBounds();
  return TimeZone(std::move(data));
}

const std::string& TimeZone::Name() const { return data_->name; }

int TimeZone::Offset(TimePoint utc) const { return data_->OffsetAt(ToSeconds(utc)); }

LocalSeconds TimeZone::ToLocal(TimePoint utc) const {
  const int64_t s = ToSeconds(utc);
  return LocalSeconds{seconds{s + data_->OffsetAt(s)}};
}

std::vector<TimePoint> TimeZone::FromLocal(LocalSeconds local) const {
  std::vector<TimePoint> instants;
  for (const int64_t u : data_->Resolve(local.time_since_epoch().count()).instants) {
    instants.push_back(FromSeconds(u));
  }
  return instants;
}

std::optional<TimePoint> TimeZone::GapEnd(LocalSeconds local) const {
  const auto resolved = data_->Resolve(local.time_since_epoch().count());
  if (!resolved.instants.empty() || !resolved.gap_end) {
    return std::nullopt;
  }
  return FromSeconds(*resolved.gap_end);
}

std::optional<TimePoint> TimeZone::NextTransition(TimePoint after) const {
  const auto next = data_->NextTransitionAt(ToSeconds(after));
  if (!next) {
    return std::nullopt;
  }
  return FromSeconds(*next);
}

std::pair<int, int> TimeZone::OffsetBounds(TimePoint from) const {
  return data_->BoundsFrom(ToSeconds(from));
}

}  // namespace warren
