// Method + path pattern → handler, with the 400/404/405 decisions made in one pure place.
//
// Patterns are '/'-separated segments: literals ("add-job"), a parameter that takes one whole segment
// ("{cmd}", possibly empty: the handler says why empty is wrong, which beats a bare 404), and a final
// tail parameter that takes the rest of the path, slashes included ("{path*}"). Every segment is
// percent-decoded on its own after splitting, so "%2F" inside a parameter is a literal '/' and never a
// separator. Routes are tried in the order they were added; add specific ones before general ones.
//
// Add routes (and the guard) at start-up, then share the Router read-only between io threads: Find and
// Dispatch are const and touch no shared mutable state.
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "api/http.hpp"

namespace warren::api {

class Router {
 public:
  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed, kBadPath };
    Kind kind = Kind::kNotFound;
    const Handler* handler = nullptr;                         // kFound
    std::string_view pattern;                                 // kFound: the route's pattern, as added
    std::vector<std::pair<std::string, std::string>> params;  // kFound: decoded parameters
    std::string allow;                                        // kMethodNotAllowed: "GET, POST"
    std::string error;                                        // kBadPath: why
  };

  // One registered route, as given to Add.
  struct RouteInfo {
    std::string method;
    std::string pattern;
    friend bool operator==(const RouteInfo&, const RouteInfo&) = default;
  };

  // Told of every answer Dispatch's requests get, with the request's method and the pattern of the
  // route that took it: empty when none did (a bad target or path, 404, 405), so what a client puts in
  // its path never reaches the observer. May run on any thread, as the answer does.
  using AnswerObserver = std::function<void(std::string_view method, std::string_view pattern, int status)>;

  // Runs after a route matched and before its handler: a response to send instead of running the
  // handler (401, 403, 415, ...), or nullopt to go on. `pattern` is the matched route's pattern, so a
  // guard decides per route ("/v1/jobs/{id}"), never per concrete path. Must not block.
  using Guard = std::function<std::optional<Response>(const Request& request, std::string_view pattern)>;

  // Throws std::invalid_argument for a malformed pattern (a programming error, caught at start-up).
  void Add(std::string method, std::string_view pattern, Handler handler);
  // At most one guard; set it at start-up. Without one every matched route runs its handler.
  void SetGuard(Guard guard) { guard_ = std::move(guard); }
  // At most one observer (the request metrics); set it at start-up.
  void SetAnswerObserver(AnswerObserver observer) {
    observer_ = std::make_shared<const AnswerObserver>(std::move(observer));
  }

  // Every route, in the order added (the OpenAPI test checks the document against this list).
  [[nodiscard]] std::vector<RouteInfo> Routes() const;

  // `encoded_path` is the request-target's path, still percent-encoded, starting with '/'.
  [[nodiscard]] Match Find(std::string_view method, std::string_view encoded_path) const;

  // Routes one request: splits its target, runs the matched handler, or answers a JSON 400, 404 or
  // 405 (with Allow). An exception from the handler's synchronous part becomes a 500 (our bug).
  void Dispatch(Request request, const Responder& respond) const;

 private:
  struct Segment {
    enum class Kind { kLiteral, kParam, kTail };
    Kind kind;
    std::string text;  // the literal, or the parameter's name
  };
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<Segment> segments;
    Handler handler;
  };
  static bool MatchPath(const Route& route, const std::vector<std::string>& segments,
                        std::vector<std::pair<std::string, std::string>>* params);
  // `respond`, or with the observer set, a Responder that tells it before answering.
  Responder Observed(std::string_view method, std::string_view pattern, const Responder& respond) const;

  std::vector<Route> routes_;
  Guard guard_;
  std::shared_ptr<const AnswerObserver> observer_;  // shared with the Responders it wraps
};

}  // namespace warren::api
