// ParseJobSpec: validates a POST /v1/jobs body. Fields are checked in a fixed order (unknown fields
// first, then type, queue, args, priority, max_attempts, timeout, delay/run_at, deadline,
// idempotency_key, tags) and the first problem is returned, so the same body always gets the same
// answer. A JSON null counts as an absent field.
#include <algorithm>
#include <array>
#include <cmath>
#include <limits>
#include <unordered_set>

#include <fmt/format.h>

#include "core/job.hpp"
#include "core/names.hpp"

namespace warren {
namespace {

using nlohmann::json;

constexpr std::array<std::string_view, 11> kFields = {"type",         "queue",           "args",  "priority",
                                                      "max_attempts", "timeout",         "delay", "run_at",
                                                      "deadline",     "idempotency_key", "tags"};

constexpr std::string_view kDurationHint = "a number of seconds or a duration such as 250ms, 1.5s, 10m, 2h";
constexpr std::string_view kTimeHint = "an RFC 3339 time such as \"2026-11-26T12:00:00Z\"";

// A short, single-line, ASCII rendering of a value for error messages.
std::string Describe(const json& value) {
  std::string text = value.dump(-1, ' ', true, json::error_handler_t::replace);
  constexpr size_t kMax = 60;
  if (text.size() > kMax) {
    text.resize(kMax - 3);
    text += "...";
  }
  return text;
}

// A field name as the client sent it, in single quotes, escaped to one ASCII line.
std::string QuoteKey(const std::string& key) {
  std::string text = json(key).dump(-1, ' ', true, json::error_handler_t::replace);
  text = text.substr(1, text.size() - 2);  // a dumped string is always "..."
  constexpr size_t kMax = 60;
  if (text.size() > kMax) {
    text.resize(kMax - 3);
    text += "...";
  }
  return "'" + text + "'";
}

FieldError Invalid(std::string_view field, std::string_view expected, const json& got) {
  return {"invalid_field", fmt::format("field '{}': expected {}, got {}", field, expected, Describe(got))};
}

// The field's value, or nullptr when absent or null.
const json* Find(const json& body, std::string_view field) {
  const auto it = body.find(field);
  return it == body.end() || it->is_null() ? nullptr : &*it;
}

// JSON integers, and floats with an integral value (3.0), as int64.
std::optional<int64_t> AsInteger(const json& value) {
  if (value.is_number_unsigned()) {
    const auto u = value.get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return std::nullopt;
    }
    return static_cast<int64_t>(u);
  }
  if (value.is_number_integer()) {
    return value.get<int64_t>();
  }
  if (value.is_number_float()) {
    const auto d = value.get<double>();
    if (std::isfinite(d) && d == std::floor(d) && std::fabs(d) < 9.0e15) {
      return static_cast<int64_t>(d);
    }
  }
  return std::nullopt;
}

std::optional<Duration> AsDuration(const json& value) {
  if (value.is_number()) {
    return DurationFromSeconds(value.get<double>());
  }
  if (value.is_string()) {
    return ParseDuration(value.get_ref<const std::string&>());
  }
  return std::nullopt;
}

std::optional<TimePoint> AsTime(const json& value) {
  return value.is_string() ? ParseTime(value.get_ref<const std::string&>()) : std::nullopt;
}

// True when `value` nests deeper than `budget` levels (a scalar is 0 levels, [] or {} is 1).
// Recursion stops at budget + 1, so a hostile document cannot exhaust the stack here.
bool DeeperThan(const json& value, size_t budget) {
  if (!value.is_structured()) {
    return false;
  }
  if (budget == 0) {
    return true;
  }
  for (const auto& child : value) {
    if (DeeperThan(child, budget - 1)) {
      return true;
    }
  }
  return false;
}

bool IsPrintableAscii(std::string_view text) {
  for (const char c : text) {
    if (c < 0x20 || c > 0x7E) {
      return false;
    }
  }
  return true;
}

std::optional<FieldError> ParseInteger(const json& body, std::string_view field, int lo, int hi, int& out) {
  const json* value = Find(body, field);
  if (value == nullptr) {
    return std::nullopt;
  }
  const auto n = AsInteger(*value);
  if (!n || *n < lo || *n > hi) {
    return Invalid(field, fmt::format("an integer {}..{}", lo, hi), *value);
  }
  out = static_cast<int>(*n);
  return std::nullopt;
}

}  // namespace

std::variant<JobSpec, FieldError> ParseJobSpec(const json& body, const JobLimits& limits, TimePoint now,
                                               const std::optional<std::string>& header_idempotency_key) {
  if (!body.is_object()) {
    return FieldError{"invalid_field", fmt::format("the body must be a JSON object, got {}", Describe(body))};
  }
  for (const auto& [key, value] : body.items()) {
    if (std::find(kFields.begin(), kFields.end(), key) == kFields.end()) {
      return FieldError{
          "unknown_field",
          fmt::format("unknown field {}; known fields: type, queue, args, priority, max_attempts, "
                      "timeout, delay, run_at, deadline, idempotency_key, tags",
                      QuoteKey(key))};
    }
  }
  JobSpec spec;

  const json* type = Find(body, "type");
  if (type == nullptr) {
    return FieldError{"missing_field", "field 'type' is required: the job type, such as \"send_email\""};
  }
  if (!type->is_string() || InvalidTypeName(type->get_ref<const std::string&>())) {
    return Invalid("type", fmt::format("a string of 1 to {} letters, digits and _ - . :", kMaxNameLength),
                   *type);
  }
  spec.type = type->get<std::string>();

  if (const json* queue = Find(body, "queue")) {
    if (!queue->is_string() || InvalidJobQueueName(queue->get_ref<const std::string&>())) {
      return Invalid(
          "queue",
          fmt::format("a string of 1 to {} letters, digits and _ - . : not starting with amq. or warren.",
                      kMaxNameLength),
          *queue);
    }
    spec.queue = queue->get<std::string>();
  }

  if (const json* args = Find(body, "args")) {
    if (DeeperThan(*args, limits.max_json_depth)) {
      return FieldError{"too_large",
                        fmt::format("field 'args': nested deeper than {} levels", limits.max_json_depth)};
    }
    const size_t bytes = args->dump(-1, ' ', false, json::error_handler_t::replace).size();
    if (bytes > limits.max_args_bytes) {
      return FieldError{"too_large",
                        fmt::format("field 'args': {} bytes serialized, more than the limit of {}", bytes,
                                    limits.max_args_bytes)};
    }
    spec.args = *args;
  }

  if (auto error = ParseInteger(body, "priority", 0, limits.max_priority, spec.priority)) {
    return *error;
  }
  spec.max_attempts = limits.default_max_attempts;
  if (auto error = ParseInteger(body, "max_attempts", 1, limits.max_attempts_limit, spec.max_attempts)) {
    return *error;
  }

  if (const json* timeout = Find(body, "timeout")) {
    const auto d = AsDuration(*timeout);
    if (!d || d->count() <= 0) {
      return Invalid("timeout", fmt::format("a positive {}", kDurationHint), *timeout);
    }
    spec.timeout = d;
  }

  const json* delay = Find(body, "delay");
  const json* run_at = Find(body, "run_at");
  if (delay != nullptr && run_at != nullptr) {
    return FieldError{"invalid_field", "fields 'delay' and 'run_at' exclude each other: give one of them"};
  }
  if (delay != nullptr) {
    const auto d = AsDuration(*delay);
    if (!d) {
      return Invalid("delay", kDurationHint, *delay);
    }
    if (d->count() > 0) {
      spec.run_at = now + *d;
    }
  }
  if (run_at != nullptr) {
    spec.run_at = AsTime(*run_at);
    if (!spec.run_at) {
      return Invalid("run_at", kTimeHint, *run_at);
    }
  }

  if (const json* deadline = Find(body, "deadline")) {
    spec.deadline = AsTime(*deadline);
    if (!spec.deadline) {
      return Invalid("deadline", kTimeHint, *deadline);
    }
    if (spec.run_at && *spec.deadline <= *spec.run_at) {
      return FieldError{"invalid_field", fmt::format("field 'deadline': must be after run_at ({}), got {}",
                                                     FormatTime(*spec.run_at), FormatTime(*spec.deadline))};
    }
  }

  const auto valid_key = [&](std::string_view key) {
    return !key.empty() && key.size() <= limits.max_idempotency_key_length && IsPrintableAscii(key);
  };
  const std::string key_hint =
      fmt::format("a string of 1 to {} printable ASCII characters", limits.max_idempotency_key_length);
  if (const json* key = Find(body, "idempotency_key")) {
    if (!key->is_string() || !valid_key(key->get_ref<const std::string&>())) {
      return Invalid("idempotency_key", key_hint, *key);
    }
    spec.idempotency_key = key->get<std::string>();
  }
  if (header_idempotency_key) {
    if (!valid_key(*header_idempotency_key)) {
      return FieldError{"invalid_field", fmt::format("header 'Idempotency-Key': expected {}, got {}",
                                                     key_hint, Describe(json(*header_idempotency_key)))};
    }
    spec.idempotency_key = *header_idempotency_key;
  }

  if (const json* tags = Find(body, "tags")) {
    const std::string tag_hint =
        fmt::format("an array of at most {} strings of 1 to {} letters, digits and _ - . :", limits.max_tags,
                    limits.max_tag_length);
    if (!tags->is_array() || tags->size() > limits.max_tags) {
      return Invalid("tags", tag_hint, *tags);
    }
    std::unordered_set<std::string> seen;
    for (const auto& tag : *tags) {
      if (!tag.is_string()) {
        return Invalid("tags", tag_hint, tag);
      }
      const auto& text = tag.get_ref<const std::string&>();
      if (text.empty() || text.size() > limits.max_tag_length ||
          !std::all_of(text.begin(), text.end(), IsSafeNameChar)) {
        return Invalid("tags", tag_hint, tag);
      }
      if (seen.insert(text).second) {
        spec.tags.push_back(text);
      }
    }
  }
  return spec;
}

}  // namespace warren
