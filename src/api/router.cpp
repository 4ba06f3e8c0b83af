#include "api/router.hpp"

#include <exception>
#include <stdexcept>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "api/url.hpp"

namespace warren::api {
namespace {

// "/a/b" → {"a", "b"}; "/" → {""}; "/a/" → {"a", ""}. The path must start with '/'.
std::vector<std::string_view> SplitSegments(std::string_view path) {
  std::vector<std::string_view> out;
  path.remove_prefix(1);
  for (;;) {
    const size_t slash = path.find('/');
    out.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) {
      return out;
    }
    path.remove_prefix(slash + 1);
  }
}

}  // namespace

void Router::Add(std::string method, std::string_view pattern, Handler handler) {
  if (method.empty() || pattern.empty() || pattern.front() != '/') {
    throw std::invalid_argument(fmt::format("route pattern '{}' must start with '/'", pattern));
  }
  Route route{std::move(method), std::string(pattern), {}, std::move(handler)};
  const auto parts = SplitSegments(pattern);
  for (size_t i = 0; i < parts.size(); ++i) {
    const std::string_view part = parts[i];
    if (part.size() >= 2 && part.front() == '{' && part.back() == '}') {
      std::string_view name = part.substr(1, part.size() - 2);
      Segment::Kind kind = Segment::Kind::kParam;
      if (!name.empty() && name.back() == '*') {
        if (i + 1 != parts.size()) {
          throw std::invalid_argument(
              fmt::format("route pattern '{}': a tail parameter must come last", pattern));
        }
        name.remove_suffix(1);
        kind = Segment::Kind::kTail;
      }
      if (name.empty()) {
        throw std::invalid_argument(fmt::format("route pattern '{}': empty parameter name", pattern));
      }
      route.segments.push_back({kind, std::string(name)});
    } else if (part.find_first_of("{}%") != std::string_view::npos) {
      throw std::invalid_argument(fmt::format("route pattern '{}': bad segment '{}'", pattern, part));
    } else {
      route.segments.push_back({Segment::Kind::kLiteral, std::string(part)});
    }
  }
  routes_.push_back(std::move(route));
}

std::vector<Router::RouteInfo> Router::Routes() const {
  std::vector<RouteInfo> out;
  out.reserve(routes_.size());
  for (const Route& route : routes_) {
    out.push_back({route.method, route.pattern});
  }
  return out;
}

bool Router::MatchPath(const Route& route, const std::vector<std::string>& segments,
                       std::vector<std::pair<std::string, std::string>>* params) {
  const auto& pattern = route.segments;
  const bool has_tail = !pattern.empty() && pattern.back().kind == Segment::Kind::kTail;
  if (has_tail ? segments.size() < pattern.size() : segments.size() != pattern.size()) {
    return false;
  }
  params->clear();
  for (size_t i = 0; i < pattern.size(); ++i) {
    const Segment& segment = pattern[i];
    switch (segment.kind) {
      case Segment::Kind::kLiteral:
        if (segments[i] != segment.text) {
          return false;
        }
        break;
      case Segment::Kind::kParam:
        params->emplace_back(segment.text, segments[i]);
        break;
      case Segment::Kind::kTail: {
        std::string rest = segments[i];
        for (size_t k = i + 1; k < segments.size(); ++k) {
          rest += '/';
          rest += segments[k];
        }
        params->emplace_back(segment.text, std::move(rest));
        break;
      }
    }
  }
  return true;
}

Router::Match Router::Find(std::string_view method, std::string_view encoded_path) const {
  Match match;
  if (encoded_path.empty() || encoded_path.front() != '/') {
    match.kind = Match::Kind::kBadPath;
    match.error = "the request path must start with '/'";
    return match;
  }
  // Decode segment by segment, after splitting, so an encoded slash stays inside its segment.
  std::vector<std::string> segments;
  for (const std::string_view raw : SplitSegments(encoded_path)) {
    auto decoded = PercentDecode(raw);
    if (!decoded) {
      match.kind = Match::Kind::kBadPath;
      match.error =
          "the request path has an invalid percent-encoding ('%' must be followed by two hex digits)";
      return match;
    }
    if (!IsValidUtf8(*decoded)) {
      match.kind = Match::Kind::kBadPath;
      match.error = "the request path is not valid UTF-8 once percent-decoded";
      return match;
    }
    segments.push_back(std::move(*decoded));
  }

  std::vector<std::pair<std::string, std::string>> params;
  std::vector<std::string_view> allowed;
  for (const Route& route : routes_) {
    if (!MatchPath(route, segments, &params)) {
      continue;
    }
    if (route.method == method) {
      match.kind = Match::Kind::kFound;
      match.handler = &route.handler;
      match.pattern = route.pattern;
      match.params = std::move(params);
      return match;
    }
    bool seen = false;
    for (const auto m : allowed) {
      seen = seen || m == route.method;
    }
    if (!seen) {
      allowed.push_back(route.method);
    }
  }
  if (allowed.empty()) {
    match.kind = Match::Kind::kNotFound;
    return match;
  }
  match.kind = Match::Kind::kMethodNotAllowed;
  for (const auto m : allowed) {
    if (!match.allow.empty()) {
      match.allow += ", ";
    }
    match.allow += m;
  }
  return match;
}

Responder Router::Observed(std::string_view method, std::string_view pattern,
                           const Responder& respond) const {
  if (!observer_) {
    return respond;
  }
  // Copies: the answer may come after the Router is gone (a publish answered during shutdown).
  return Responder([observer = observer_, method = std::string(method), pattern = std::string(pattern),
                    respond](Response response) {
    (*observer)(method, pattern, response.status);
    respond(std::move(response));
  });
}

void Router::Dispatch(Request request, const Responder& direct) const {
  const auto split = SplitTarget(request.target);
  if (!split) {
    Observed(request.method, "", direct)(
        ErrorResponse(400, "bad_request", "the request-target must be a path starting with '/'"));
    return;
  }
  request.path = std::string(split->path);
  request.query = std::string(split->query);

  Match match = Find(request.method, request.path);
  const Responder respond = Observed(
      request.method, match.kind == Match::Kind::kFound ? match.pattern : std::string_view(), direct);
  switch (match.kind) {
    case Match::Kind::kBadPath:
      respond(ErrorResponse(400, "bad_path", match.error));
      return;
    case Match::Kind::kNotFound:
      respond(ErrorResponse(404, "not_found", fmt::format("no route for {}", request.path)));
      return;
    case Match::Kind::kMethodNotAllowed: {
      Response response =
          ErrorResponse(405, "method_not_allowed",
                        fmt::format("{} is not allowed here; use {}", request.method, match.allow));
      response.headers.emplace_back("Allow", match.allow);
      respond(std::move(response));
      return;
    }
    case Match::Kind::kFound:
      break;
  }
  request.params = std::move(match.params);
  try {
    if (guard_) {
      if (auto refused = guard_(request, match.pattern)) {
        respond(std::move(*refused));
        return;
      }
    }
    (*match.handler)(std::move(request), respond);
  } catch (const std::exception& e) {
    spdlog::error("http: handler failed: {}", e.what());
    if (!respond.Answered()) {
      respond(ErrorResponse(500, "internal_error", "the server failed to answer this request"));
    }
  }
}

}  // namespace warren::api
