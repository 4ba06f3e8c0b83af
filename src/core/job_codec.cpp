// The job's JSON form: the HTTP API's job object and the store's document. ToJson and
// JobRecordFromJson round-trip exactly (a record whose result is the JSON value null reads back as no
// result; ApplyEvent never stores one). Readers are strict about types and lenient about absence:
// a missing optional field reads as its default, and unknown fields are ignored, so a document an
// older or newer version wrote still reads.
#include <iterator>
#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include "core/job.hpp"

namespace warren {
namespace {

using nlohmann::json;

json TimeJson(const std::optional<TimePoint>& t) { return t ? json(FormatTime(*t)) : json(nullptr); }
json TextOrNull(const std::string& text) { return text.empty() ? json(nullptr) : json(text); }

// Whole seconds as an integer (30), anything else as a fraction (1.5).
json SecondsJson(Duration d) {
  if (d.count() % 1000 == 0) {
    return json(d.count() / 1000);
  }
  return json(static_cast<double>(d.count()) / 1000.0);
}

std::string Describe(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  constexpr size_t kMax = 60;
  if (text.size() > kMax) {
    text.resize(kMax - 3);
    text += "...";
  }
  return text;
}

// Reads the fields of one JSON object; every failure names the object and the field.
class Reader {
 public:
  Reader(const json& object, std::string what) : object_(object), what_(std::move(what)) {
    if (!object_.is_object()) {
      throw std::invalid_argument(
          fmt::format("{}: expected a JSON object, got {}", what_, Describe(object_)));
    }
  }

  // The value, or nullptr when absent or null.
  const json* Find(std::string_view key) const {
    const auto it = object_.find(key);
    return it == object_.end() || it->is_null() ? nullptr : &*it;
  }

  [[noreturn]] void Fail(std::string_view key, std::string_view expected, const json* got) const {
    throw std::invalid_argument(fmt::format("{}: field '{}': expected {}, got {}", what_, key, expected,
                                            got == nullptr ? std::string("nothing") : Describe(*got)));
  }

  const json& Required(std::string_view key, std::string_view expected) const {
    const json* value = Find(key);
    if (value == nullptr) {
      Fail(key, expected, nullptr);
    }
    return *value;
  }

  std::string RequiredString(std::string_view key, bool allow_empty = false) const {
    const json& value = Required(key, "a string");
    if (!value.is_string() || (!allow_empty && value.get_ref<const std::string&>().empty())) {
      Fail(key, allow_empty ? "a string" : "a non-empty string", &value);
    }
    return value.get<std::string>();
  }

  std::optional<std::string> OptionalString(std::string_view key) const {
    const json* value = Find(key);
    if (value == nullptr) {
      return std::nullopt;
    }
    if (!value->is_string()) {
      Fail(key, "a string or null", value);
    }
    return value->get<std::string>();
  }

  std::string StringOrEmpty(std::string_view key) const {
    return OptionalString(key).value_or(std::string());
  }

  int Int(std::string_view key, int lo, int hi, int fallback) const {
    const json* value = Find(key);
    if (value == nullptr) {
      return fallback;
    }
    if (!value->is_number_integer() ||
        (value->is_number_unsigned() ? value->get<uint64_t>() > static_cast<uint64_t>(hi)
                                     : (value->get<int64_t>() < lo || value->get<int64_t>() > hi))) {
      Fail(key, fmt::format("an integer {}..{}", lo, hi), value);
    }
    return static_cast<int>(value->get<int64_t>());
  }

  std::optional<TimePoint> OptionalTime(std::string_view key) const {
    const json* value = Find(key);
    if (value == nullptr) {
      return std::nullopt;
    }
    auto t = value->is_string() ? ParseTime(value->get_ref<const std::string&>()) : std::nullopt;
    if (!t) {
      Fail(key, "an RFC 3339 time or null", value);
    }
    return t;
  }

  TimePoint RequiredTime(std::string_view key) const {
    const json& value = Required(key, "an RFC 3339 time");
    auto t = value.is_string() ? ParseTime(value.get_ref<const std::string&>()) : std::nullopt;
    if (!t) {
      Fail(key, "an RFC 3339 time", &value);
    }
    return *t;
  }

  const std::string& what() const { return what_; }

 private:
  const json& object_;
  std::string what_;
};

constexpr int kMaxInt = 1'000'000'000;
// A record's attempt is an event's (at most kMaxInt) plus one per API retry: room for any number of
// retries a person can make, so a retried record always reads back.
constexpr int kMaxRecordAttempt = 2'000'000'000;

// Events come from workers, whose clocks can be wrong. A record's times move past its events' (a retry
// stamps updated_at + 1 ms), and RFC 3339 ends at year 9999: an event dated after this could make a
// record whose time no longer formats into something ParseTime reads back.
TimePoint LatestEventTime() {
  static const TimePoint latest = *ParseTime("9000-01-01T00:00:00.000Z");
  return latest;
}

bool IsKnownOutcome(std::string_view outcome) {
  for (const std::string_view known :
       {"running", "succeeded", "failed", "dead", "cancelled", "expired", "timeout", "crashed"}) {
    if (outcome == known) {
      return true;
    }
  }
  return false;
}

bool NeedsAttempt(EventKind kind) {
  return kind == EventKind::kStarted || kind == EventKind::kProgress || kind == EventKind::kSucceeded ||
         kind == EventKind::kFailed || kind == EventKind::kRetrying || kind == EventKind::kLog;
}

}  // namespace

json ToJson(const JobRecord& record) {
  const JobSpec& spec = record.spec;
  json attempts = json::array();
  for (const Attempt& a : record.attempts) {
    attempts.push_back({{"number", a.number},
                        {"worker", TextOrNull(a.worker)},
                        {"started_at", TimeJson(a.started_at)},
                        {"finished_at", TimeJson(a.finished_at)},
                        {"outcome", a.outcome},
                        {"error", TextOrNull(a.error)}});
  }
  json progress = nullptr;
  if (record.progress) {
    progress = {{"percent", record.progress->percent},
                {"note", record.progress->note},
                {"at", TimeJson(record.progress->at)}};
  }
  return json{
      {"id", record.id},
      {"type", spec.type},
      {"queue", spec.queue},
      {"args", spec.args},
      {"priority", spec.priority},
      {"max_attempts", spec.max_attempts},
      {"timeout", spec.timeout ? SecondsJson(*spec.timeout) : json(nullptr)},
      {"deadline", TimeJson(spec.deadline)},
      {"run_at", TimeJson(spec.run_at)},
      {"idempotency_key", spec.idempotency_key ? json(*spec.idempotency_key) : json(nullptr)},
      {"tags", spec.tags},
      {"state", ToString(record.state)},
      {"attempt", record.attempt},
      {"attempts", std::move(attempts)},
      {"result", record.result ? *record.result : json(nullptr)},
      {"error", TextOrNull(record.error)},
      {"progress", std::move(progress)},
      {"created_at", FormatTime(record.created_at)},
      {"updated_at", FormatTime(record.updated_at)},
      {"started_at", TimeJson(record.started_at)},
      {"finished_at", TimeJson(record.finished_at)},
  };
}

namespace {

// Writes JSON text straight into a string, as nlohmann's dump(-1, ' ', false, replace) would for the
// same values: the hot path (every enqueue stores the record and answers with it) spent more on
// building the intermediate json object than on the rest of the request.
class TextWriter {
 public:
  explicit TextWriter(std::string& out) : out_(out) {}

  void Key(std::string_view key) {
    Separate();
    out_ += '"';
    out_ += key;  // our own keys: plain ASCII
    out_ += "\":";
    fresh_ = true;
  }
  void Open(char bracket) {
    Separate();
    out_ += bracket;
    fresh_ = true;
  }
  void Close(char bracket) {
    out_ += bracket;
    fresh_ = false;
  }
  void String(std::string_view text) {
    Separate();
    if (IsPlain(text)) {
      out_ += '"';
      out_ += text;
      out_ += '"';
    } else {
      out_ += json(text).dump(-1, ' ', false, json::error_handler_t::replace);
    }
  }
  void TextOrNull(const std::string& text) {
    if (text.empty()) {
      Null();
    } else {
      String(text);
    }
  }
  void Time(const std::optional<TimePoint>& t) {
    if (t) {
      String(FormatTime(*t));
    } else {
      Null();
    }
  }
  void Int(int64_t value) {
    Separate();
    fmt::format_to(std::back_inserter(out_), "{}", value);
  }
  void Null() {
    Separate();
    out_ += "null";
  }
  void Value(const json& value) {
    Separate();
    out_ += value.dump(-1, ' ', false, json::error_handler_t::replace);
  }

 private:
  // Printable ASCII without quote or backslash needs no escaping and is valid UTF-8.
  static bool IsPlain(std::string_view text) {
    for (const char c : text) {
      if (c < 0x20 || c > 0x7e || c == '"' || c == '\\') {
        return false;
      }
    }
    return true;
  }
  void Separate() {
    if (!fresh_) {
      out_ += ',';
    }
    fresh_ = false;
  }

  std::string& out_;
  bool fresh_ = true;
};

}  // namespace

// Keys in the order nlohmann's std::map sorts them, so the text equals ToJson(record).dump().
std::string ToJsonText(const JobRecord& record) {
  const JobSpec& spec = record.spec;
  std::string out;
  out.reserve(512);
  TextWriter w(out);
  w.Open('{');
  w.Key("args");
  w.Value(spec.args);
  w.Key("attempt");
  w.Int(record.attempt);
  w.Key("attempts");
  w.Open('[');
  for (const Attempt& a : record.attempts) {
    w.Open('{');
    w.Key("error");
    w.TextOrNull(a.error);
    w.Key("finished_at");
    w.Time(a.finished_at);
    w.Key("number");
    w.Int(a.number);
    w.Key("outcome");
    w.String(a.outcome);
    w.Key("started_at");
    w.Time(a.started_at);
    w.Key("worker");
    w.TextOrNull(a.worker);
    w.Close('}');
  }
  w.Close(']');
  w.Key("created_at");
  w.String(FormatTime(record.created_at));
  w.Key("deadline");
  w.Time(spec.deadline);
  w.Key("error");
  w.TextOrNull(record.error);
  w.Key("finished_at");
  w.Time(record.finished_at);
  w.Key("id");
  w.String(record.id);
  w.Key("idempotency_key");
  if (spec.idempotency_key) {
    w.String(*spec.idempotency_key);
  } else {
    w.Null();
  }
  w.Key("max_attempts");
  w.Int(spec.max_attempts);
  w.Key("priority");
  w.Int(spec.priority);
  w.Key("progress");
  if (record.progress) {
    w.Open('{');
    w.Key("at");
    w.Time(record.progress->at);
    w.Key("note");
    w.String(record.progress->note);
    w.Key("percent");
    w.Int(record.progress->percent);
    w.Close('}');
  } else {
    w.Null();
  }
  w.Key("queue");
  w.String(spec.queue);
  w.Key("result");
  if (record.result) {
    w.Value(*record.result);
  } else {
    w.Null();
  }
  w.Key("run_at");
  w.Time(spec.run_at);
  w.Key("started_at");
  w.Time(record.started_at);
  w.Key("state");
  w.String(ToString(record.state));
  w.Key("tags");
  w.Open('[');
  for (const auto& tag : spec.tags) {
    w.String(tag);
  }
  w.Close(']');
  w.Key("timeout");
  if (spec.timeout) {
    w.Value(SecondsJson(*spec.timeout));
  } else {
    w.Null();
  }
  w.Key("type");
  w.String(spec.type);
  w.Key("updated_at");
  w.String(FormatTime(record.updated_at));
  w.Close('}');
  return out;
}

JobRecord JobRecordFromJson(const json& j) {
  const Reader r(j, "job record");
  JobRecord record;
  record.id = r.RequiredString("id");
  JobSpec& spec = record.spec;
  spec.type = r.RequiredString("type");
  spec.queue = r.OptionalString("queue").value_or("default");
  if (const auto it = j.find("args"); it != j.end()) {
    spec.args = *it;
  }
  spec.priority = r.Int("priority", 0, kMaxInt, 0);
  spec.max_attempts = r.Int("max_attempts", 1, kMaxInt, JobLimits{}.default_max_attempts);
  if (const json* timeout = r.Find("timeout")) {
    spec.timeout = timeout->is_number() ? DurationFromSeconds(timeout->get<double>()) : std::nullopt;
    if (!spec.timeout) {
      r.Fail("timeout", "a number of seconds or null", timeout);
    }
  }
  spec.deadline = r.OptionalTime("deadline");
  spec.run_at = r.OptionalTime("run_at");
  spec.idempotency_key = r.OptionalString("idempotency_key");
  if (const json* tags = r.Find("tags")) {
    if (!tags->is_array()) {
      r.Fail("tags", "an array of strings", tags);
    }
    for (const auto& tag : *tags) {
      if (!tag.is_string()) {
        r.Fail("tags", "an array of strings", tags);
      }
      spec.tags.push_back(tag.get<std::string>());
    }
  }

  const std::string state = r.RequiredString("state");
  const auto parsed_state = ParseJobState(state);
  if (!parsed_state) {
    r.Fail("state", "one of scheduled, queued, running, succeeded, failed, dead, cancelled, expired",
           r.Find("state"));
  }
  record.state = *parsed_state;
  record.attempt = r.Int("attempt", 0, kMaxRecordAttempt, 0);
  if (const json* attempts = r.Find("attempts")) {
    if (!attempts->is_array()) {
      r.Fail("attempts", "an array", attempts);
    }
    for (size_t i = 0; i < attempts->size(); ++i) {
      const Reader a((*attempts)[i], fmt::format("job record: attempts[{}]", i));
      Attempt attempt;
      attempt.number = a.Int("number", 1, kMaxInt, 0);
      if (attempt.number == 0) {
        a.Fail("number", "an integer 1..", nullptr);
      }
      if (!record.attempts.empty() && attempt.number <= record.attempts.back().number) {
        r.Fail("attempts", "attempts in ascending order of number", attempts);
      }
      attempt.worker = a.StringOrEmpty("worker");
      attempt.started_at = a.OptionalTime("started_at");
      attempt.finished_at = a.OptionalTime("finished_at");
      attempt.outcome = a.RequiredString("outcome");
      if (!IsKnownOutcome(attempt.outcome)) {
        a.Fail("outcome", "one of running, succeeded, failed, dead, cancelled, expired, timeout, crashed",
               a.Find("outcome"));
      }
      attempt.error = a.StringOrEmpty("error");
      record.attempts.push_back(std::move(attempt));
    }
  }
  if (const json* result = r.Find("result")) {
    record.result = *result;
  }
  record.error = r.StringOrEmpty("error");
  if (const json* progress = r.Find("progress")) {
    const Reader p(*progress, "job record: progress");
    Progress value;
    value.percent = p.Int("percent", 0, 100, 0);
    value.note = p.StringOrEmpty("note");
    value.at = p.OptionalTime("at");
    record.progress = std::move(value);
  }
  record.created_at = r.RequiredTime("created_at");
  record.updated_at = r.RequiredTime("updated_at");
  record.started_at = r.OptionalTime("started_at");
  record.finished_at = r.OptionalTime("finished_at");
  return record;
}

json ToJson(const JobEvent& event) {
  json j = {{"job_id", event.job_id},
            {"kind", ToString(event.kind)},
            {"attempt", event.attempt},
            {"at", FormatTime(event.at)}};
  if (!event.worker.empty()) {
    j["worker"] = event.worker;
  }
  if (!event.result.is_null()) {
    j["result"] = event.result;
  }
  if (!event.error.empty()) {
    j["error"] = event.error;
  }
  if (event.kind == EventKind::kProgress || event.percent != 0) {
    j["percent"] = event.percent;
  }
  if (!event.note.empty()) {
    j["note"] = event.note;
  }
  if (event.kind == EventKind::kLog) {
    json lines = json::array();
    for (const auto& line : event.lines) {
      lines.push_back({{"seq", line.seq}, {"at", FormatTime(line.at)}, {"line", line.text}});
    }
    j["lines"] = std::move(lines);
  }
  if (event.stored) {
    j["stored"] = true;
  }
  return j;
}

JobEvent JobEventFromJson(const json& j) {
  const Reader r(j, "job event");
  JobEvent event;
  event.job_id = r.RequiredString("job_id");
  const std::string kind = r.RequiredString("kind");
  const auto parsed_kind = ParseEventKind(kind);
  if (!parsed_kind) {
    r.Fail("kind", "one of started, progress, succeeded, failed, retrying, dead, cancelled, expired, log",
           r.Find("kind"));
  }
  event.kind = *parsed_kind;
  event.attempt = r.Int("attempt", 0, kMaxInt, 0);
  if (event.attempt == 0 && NeedsAttempt(event.kind)) {
    r.Fail("attempt", fmt::format("an integer >= 1 for a '{}' event", kind), r.Find("attempt"));
  }
  event.at = r.RequiredTime("at");
  if (event.at >= LatestEventTime()) {
    r.Fail("at", "a time before the year 9000", r.Find("at"));
  }
  event.worker = r.StringOrEmpty("worker");
  if (const auto it = j.find("result"); it != j.end()) {
    event.result = *it;
  }
  event.error = r.StringOrEmpty("error");
  event.percent = r.Int("percent", 0, 100, 0);
  event.note = r.StringOrEmpty("note");
  if (const json* stored = r.Find("stored"); stored != nullptr) {
    if (!stored->is_boolean()) {
      r.Fail("stored", "true or false", stored);
    }
    event.stored = stored->get<bool>();
  }
  if (event.kind == EventKind::kLog) {
    const json& lines = r.Required("lines", "an array of log lines");
    if (!lines.is_array()) {
      r.Fail("lines", "an array of log lines", &lines);
    }
    for (const json& item : lines) {
      const Reader line(item, "log line");
      event.lines.push_back(LogLine{line.Int("seq", 1, kMaxInt, 0), line.RequiredTime("at"),
                                    line.RequiredString("line", /*allow_empty=*/true)});
      if (event.lines.back().seq == 0) {
        line.Fail("seq", "an integer >= 1", line.Find("seq"));
      }
    }
  }
  return event;
}

std::string DumpJson(const nlohmann::json& value) {
  return value.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace warren
