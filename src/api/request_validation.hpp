// Turning untrusted request bytes into values, or into the one clear 4xx that explains what is wrong.
// Pure functions: no I/O, unit-tested. Nothing here throws on any input.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "api/event_hub.hpp"
#include "api/http.hpp"
#include "core/job.hpp"
#include "store/store.hpp"

namespace warren::api {

// How deep a request body may nest. A job's args may nest JobLimits::max_json_depth (32) levels; the
// body wraps them in up to three more ({"jobs":[{"args":...}]}), so 40 leaves room and still stops a
// hostile 100,000-deep document before any of it is built.
inline constexpr size_t kMaxBodyDepth = 40;

// `application/json`, any case, optionally with parameters; a charset parameter must be utf-8.
bool IsJsonContentType(std::string_view content_type);

// 415 for a request that carries a body (POST, PUT, PATCH or any other method) whose Content-Type is
// missing or not JSON; nullopt when fine (no body, or a JSON one).
std::optional<Response> CheckBodyContentType(const Request& request);

// A request body as JSON: 400 with code empty_body, invalid_utf8, too_deep or invalid_json. Depth is
// checked by a SAX pass that stops at the limit, before any DOM is built.
std::variant<nlohmann::json, Response> ParseJsonBody(std::string_view body, size_t max_depth = kMaxBodyDepth);

// "a=1&b=x%20y" → {{"a","1"},{"b","x y"}} (application/x-www-form-urlencoded: '+' is a space). nullopt
// for a bad percent-escape or a name or value that is not UTF-8 once decoded. Empty pieces are skipped.
using QueryParams = std::vector<std::pair<std::string, std::string>>;
std::optional<QueryParams> ParseQueryString(std::string_view query);

// GET /v1/jobs's query: state, type, queue, limit (1..kMaxListLimit, default 50), cursor. Unknown or
// repeated parameters, an unknown state or a bad limit are a 400.
inline constexpr size_t kMaxListLimit = 1000;
std::variant<store::ListQuery, Response> ParseListQuery(std::string_view query);

// GET /v1/jobs/{id}/logs's query: attempt (1..), after (a cursor "ATTEMPT.SEQ", as `next` and every
// line's `cursor` give it), limit (1..1000, default 500). Unknown or repeated parameters are a 400.
std::variant<store::LogQuery, Response> ParseLogQuery(std::string_view query);
// The cursor of a log line: "ATTEMPT.SEQ".
std::string LogCursor(int attempt, int64_t seq);

// GET /v1/events's query: queue, type, job (filters) and last_event_id (for clients that cannot send
// the Last-Event-ID header, which wins when both are given). Bad names or ids, unknown or repeated
// parameters are a 400.
struct EventQuery {
  EventFilter filter;
  std::optional<std::string> last_event_id;
};
std::variant<EventQuery, Response> ParseEventQuery(std::string_view query, std::string_view last_event_id_header);

// A ParseJobSpec error as a 400 (its code: invalid_field, missing_field, unknown_field, too_large).
// `where` prefixes the message ("jobs[3]: ") in a batch.
Response FieldErrorResponse(const FieldError& error, std::string_view where = {});

// 422 unknown_job_type naming the known types, when `known` is non-empty and lacks `type`.
std::optional<Response> CheckJobType(std::string_view type, const std::vector<std::string>& known,
                                     std::string_view where = {});

}  // namespace warren::api
