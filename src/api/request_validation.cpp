#include "api/request_validation.hpp"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <exception>

#include <fmt/format.h>

#include "api/url.hpp"
#include "core/json_depth.hpp"
#include "core/names.hpp"

namespace warren::api {
namespace {

using nlohmann::json;

std::string_view Trim(std::string_view text) {
  while (!text.empty() && (text.front() == ' ' || text.front() == '\t')) {
    text.remove_prefix(1);
  }
  while (!text.empty() && (text.back() == ' ' || text.back() == '\t')) {
    text.remove_suffix(1);
  }
  return text;
}

std::string Lower(std::string_view text) {
  std::string out(text);
  std::transform(out.begin(), out.end(), out.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return out;
}

Response BadParameter(std::string_view code, std::string_view message) {
  return ErrorResponse(400, code, message);
}

}  // namespace

bool IsJsonContentType(std::string_view content_type) {
  const auto semicolon = content_type.find(';');
  if (Lower(Trim(content_type.substr(0, semicolon))) != "application/json") {
    return false;
  }
  if (semicolon == std::string_view::npos) {
    return true;
  }
  // Parameters: only charset means anything for JSON, and JSON is UTF-8 (RFC 8259 §8.1).
  std::string_view params = content_type.substr(semicolon + 1);
  while (!params.empty()) {
    const auto next = params.find(';');
    const std::string_view param = Trim(params.substr(0, next));
    const auto eq = param.find('=');
    if (eq != std::string_view::npos && Lower(Trim(param.substr(0, eq))) == "charset") {
      std::string value = Lower(Trim(param.substr(eq + 1)));
      if (value.size() >= 2 && value.front() == '"' && value.back() == '"') {
        value = value.substr(1, value.size() - 2);
      }
      if (value != "utf-8" && value != "utf8") {
        return false;
      }
    }
    if (next == std::string_view::npos) {
      break;
    }
    params.remove_prefix(next + 1);
  }
  return true;
}

std::optional<Response> CheckBodyContentType(const Request& request) {
  if (request.body.empty()) {
    return std::nullopt;
  }
  const std::string& type = request.Header("content-type");
  if (IsJsonContentType(type)) {
    return std::nullopt;
  }
  return ErrorResponse(415, "unsupported_media_type",
                       type.empty() ? "the request has a body but no Content-Type: send application/json"
                                    : fmt::format("Content-Type '{}' is not supported: send application/json",
                                                  type.substr(0, 100)));
}

std::variant<json, Response> ParseJsonBody(std::string_view body, size_t max_depth) {
  const bool blank = std::all_of(body.begin(), body.end(),
                                 [](char c) { return c == ' ' || c == '\t' || c == '\r' || c == '\n'; });
  if (blank) {
    return ErrorResponse(400, "empty_body", "the request body is empty: send a JSON object");
  }
  if (!IsValidUtf8(body)) {
    return ErrorResponse(400, "invalid_utf8", "the request body is not valid UTF-8");
  }
  auto parsed = ParseBoundedJson(body, max_depth);
  if (parsed.too_deep) {
    return ErrorResponse(400, "too_deep",
                         fmt::format("the request body nests deeper than {} levels", max_depth));
  }
  if (!parsed.value) {
    return ErrorResponse(400, "invalid_json",
                         fmt::format("the request body is not valid JSON: {}", parsed.error));
  }
  return std::move(*parsed.value);
}

std::optional<QueryParams> ParseQueryString(std::string_view query) {
  QueryParams out;
  const auto decode = [](std::string_view raw) -> std::optional<std::string> {
    std::string spaced(raw);
    std::replace(spaced.begin(), spaced.end(), '+', ' ');
    auto decoded = PercentDecode(spaced);
    if (!decoded || !IsValidUtf8(*decoded)) {
      return std::nullopt;
    }
    return decoded;
  };
  while (!query.empty()) {
    const auto amp = query.find('&');
    const std::string_view piece = query.substr(0, amp);
    if (!piece.empty()) {
      const auto eq = piece.find('=');
      auto name = decode(piece.substr(0, eq));
      auto value = decode(eq == std::string_view::npos ? std::string_view() : piece.substr(eq + 1));
      if (!name || !value) {
        return std::nullopt;
      }
      out.emplace_back(std::move(*name), std::move(*value));
    }
    if (amp == std::string_view::npos) {
      break;
    }
    query.remove_prefix(amp + 1);
  }
  return out;
}

namespace {

// The query's parameters, each at most once.
std::variant<QueryParams, Response> ParseUniqueParams(std::string_view query) {
  auto params = ParseQueryString(query);
  if (!params) {
    return BadParameter("bad_query", "the query string has an invalid percent-encoding or is not UTF-8");
  }
  std::vector<std::string_view> seen;
  for (const auto& [name, value] : *params) {
    if (std::find(seen.begin(), seen.end(), name) != seen.end()) {
      return BadParameter("invalid_parameter",
                          fmt::format("query parameter '{}' is given more than once", name.substr(0, 40)));
    }
    seen.push_back(name);
  }
  return std::move(*params);
}

}  // namespace

std::variant<EventQuery, Response> ParseEventQuery(std::string_view query,
                                                   std::string_view last_event_id_header) {
  auto parsed = ParseUniqueParams(query);
  if (auto* error = std::get_if<Response>(&parsed)) {
    return std::move(*error);
  }
  EventQuery out;
  if (!last_event_id_header.empty()) {
    out.last_event_id = std::string(last_event_id_header);
  }
  for (const auto& [name, value] : std::get<QueryParams>(parsed)) {
    if (value.empty()) {
      continue;
    }
    std::optional<std::string> invalid;
    if (name == "queue") {
      invalid = InvalidQueueName(value);
      out.filter.queue = value;
    } else if (name == "type") {
      invalid = InvalidTypeName(value);
      out.filter.type = value;
    } else if (name == "job") {
      if (!IsJobId(value)) {
        invalid = fmt::format("expected a job id (a lower-case UUID), got '{}'", value.substr(0, 40));
      }
      out.filter.job_id = value;
    } else if (name == "last_event_id") {
      // EventSource cannot set headers on its first request; a reconnect's Last-Event-ID header wins.
      if (!out.last_event_id) {
        out.last_event_id = value;
      }
    } else {
      return BadParameter("unknown_parameter",
                          fmt::format("unknown query parameter '{}'; known: queue, type, job, last_event_id",
                                      name.substr(0, 40)));
    }
    if (invalid) {
      return BadParameter("invalid_parameter", fmt::format("query parameter '{}': {}", name, *invalid));
    }
  }
  return out;
}

std::variant<store::ListQuery, Response> ParseListQuery(std::string_view query) {
  auto parsed = ParseUniqueParams(query);
  if (auto* error = std::get_if<Response>(&parsed)) {
    return std::move(*error);
  }
  store::ListQuery out;
  for (const auto& [name, value] : std::get<QueryParams>(parsed)) {
    if (value.empty()) {
      continue;  // "?state=&type=x": an empty filter filters nothing
    }
    if (name == "state") {
      out.state = ParseJobState(value);
      if (!out.state) {
        return BadParameter(
            "invalid_parameter",
            fmt::format(
                "query parameter 'state': expected one of scheduled, queued, running, succeeded, failed, "
                "dead, cancelled, expired, got '{}'",
                value.substr(0, 40)));
      }
    } else if (name == "type") {
      out.type = value;
    } else if (name == "queue") {
      out.queue = value;
    } else if (name == "limit") {
      size_t limit = 0;
      const auto [ptr, ec] = std::from_chars(value.data(), value.data() + value.size(), limit);
      if (ec != std::errc{} || ptr != value.data() + value.size() || limit < 1 || limit > kMaxListLimit) {
        return BadParameter("invalid_parameter",
                            fmt::format("query parameter 'limit': expected an integer 1..{}, "
                                        "got '{}'",
                                        kMaxListLimit, value.substr(0, 40)));
      }
      out.limit = limit;
    } else if (name == "cursor") {
      out.cursor = value;
    } else {
      return BadParameter(
          "unknown_parameter",
          fmt::format("unknown query parameter '{}'; known: state, type, queue, limit, cursor",
                      name.substr(0, 40)));
    }
  }
  return out;
}

namespace {

template <typename Int>
bool ParseWhole(std::string_view text, Int lo, Int hi, Int& out) {
  const auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), out);
  return ec == std::errc{} && ptr == text.data() + text.size() && out >= lo && out <= hi;
}

}  // namespace

std::string LogCursor(int attempt, int64_t seq) { return fmt::format("{}.{}", attempt, seq); }

std::variant<store::LogQuery, Response> ParseLogQuery(std::string_view query) {
  auto parsed = ParseUniqueParams(query);
  if (auto* error = std::get_if<Response>(&parsed)) {
    return std::move(*error);
  }
  store::LogQuery out;
  for (const auto& [name, value] : std::get<QueryParams>(parsed)) {
    if (value.empty()) {
      continue;
    }
    if (name == "attempt") {
      int attempt = 0;
      if (!ParseWhole(value, 1, 1'000'000'000, attempt)) {
        return BadParameter("invalid_parameter", fmt::format("query parameter 'attempt': expected an integer "
                                                             ">= 1, got '{}'",
                                                             value.substr(0, 40)));
      }
      out.attempt = attempt;
    } else if (name == "after") {
      const size_t dot = value.find('.');
      int attempt = 0;
      int64_t seq = 0;
      if (dot == std::string::npos || !ParseWhole(std::string_view(value).substr(0, dot), 0, 1'000'000'000, attempt) ||
          !ParseWhole(std::string_view(value).substr(dot + 1), int64_t{0}, int64_t{1} << 53, seq)) {
        return BadParameter("invalid_cursor", fmt::format("query parameter 'after': expected a cursor "
                                                          "ATTEMPT.SEQ from a previous answer, got '{}'",
                                                          value.substr(0, 40)));
      }
      out.after = {attempt, seq};
    } else if (name == "limit") {
      size_t limit = 0;
      if (!ParseWhole(value, size_t{1}, kMaxListLimit, limit)) {
        return BadParameter("invalid_parameter", fmt::format("query parameter 'limit': expected an integer 1..{}, "
                                                             "got '{}'",
                                                             kMaxListLimit, value.substr(0, 40)));
      }
      out.limit = limit;
    } else {
      return BadParameter("unknown_parameter", fmt::format("unknown query parameter '{}'; known: attempt, after, "
                                                           "limit",
                                                           name.substr(0, 40)));
    }
  }
  return out;
}

Response FieldErrorResponse(const FieldError& error, std::string_view where) {
  return ErrorResponse(400, error.code.empty() ? "invalid_field" : error.code,
                       fmt::format("{}{}", where, error.message));
}

std::optional<Response> CheckJobType(std::string_view type, const std::vector<std::string>& known,
                                     std::string_view where) {
  if (known.empty() || std::find(known.begin(), known.end(), type) != known.end()) {
    return std::nullopt;
  }
  std::string list;
  for (const auto& name : known) {
    list += list.empty() ? "" : ", ";
    list += name;
  }
  return ErrorResponse(422, "unknown_job_type",
                       fmt::format("{}job type '{}' is not known here; known types: {}", where, type, list));
}

}  // namespace warren::api
