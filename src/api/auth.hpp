// Who may call what: bearer tokens with scopes, and the one table that gives every route its access.
//
// Tokens come from settings (flag, environment or file: api.tokens), each a secret with scopes (read,
// enqueue, admin; admin grants all). With no token configured the API is open, and `serve` refuses
// to listen beyond loopback unless --insecure says so (CheckListenAddress). Secrets are compared in
// constant time and never logged or echoed.
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "api/http.hpp"
#include "core/config.hpp"

namespace warren::api {

// What a route requires. kOpen routes answer without a token even when tokens are configured.
enum class Access { kOpen, kRead, kEnqueue, kAdmin };
std::string_view ToString(Access access);

// The access of a route, by method and pattern as registered with the Router. A route missing from
// the table is admin-only (fail closed); a unit test checks that every registered route is listed.
//  - open: GET/HEAD / (load balancers), /healthz, /readyz (probes), /v1/openapi.json (it holds no data,
//    and clients read the security scheme from it).
//  - enqueue: POST /v1/jobs, /v1/jobs/batch, and the demo's GET /add-job/<cmd> (it queues work as
//    much as POST /v1/jobs does; with no token configured it stays open, so demo parity holds).
//  - read: the other GET routes. admin: cancel, retry, delete.
Access RouteAccess(std::string_view method, std::string_view pattern);
// Whether the table lists the route (false: RouteAccess falls back to admin).
bool HasRouteAccess(std::string_view method, std::string_view pattern);

// Equal in time that depends only on the lengths, never on where the bytes first differ.
bool ConstantTimeEquals(std::string_view a, std::string_view b);

// The token of an `Authorization: Bearer <token>` value (RFC 6750 §2.1: the scheme is case-insensitive,
// the token is token68: A-Z a-z 0-9 - . _ ~ + / then optional '='). nullopt when the value is absent,
// uses another scheme, or the token is malformed.
std::optional<std::string_view> ParseBearerToken(std::string_view authorization);

class Authenticator {
 public:
  enum class Decision { kAllowed, kMissing, kInvalid, kForbidden };

  explicit Authenticator(std::vector<ApiToken> tokens);

  // No tokens configured: every request is allowed.
  [[nodiscard]] bool Enabled() const { return !tokens_.empty(); }
  // Checks the request's Authorization header against `access`. Every configured secret is compared
  // (no early exit), so the time taken does not tell which one, if any, nearly matched.
  [[nodiscard]] Decision Check(const Request& request, Access access) const;
  // The answer to a refused request: 401 with `WWW-Authenticate: Bearer` (kMissing, kInvalid) or 403
  // (kForbidden); nullopt for kAllowed.
  [[nodiscard]] static std::optional<Response> Refusal(Decision decision, Access access);

 private:
  std::vector<ApiToken> tokens_;
};

// True for "localhost", 127.0.0.0/8, ::1 and ::ffff:127.x.x.x; false for anything else, names included.
bool IsLoopbackHost(std::string_view host);
// Throws ConfigError (one line, naming api.tokens and --insecure) when `bound_host` is not loopback, no
// token is configured and insecure is off.
void CheckListenAddress(const Settings& settings, std::string_view bound_host);

}  // namespace warren::api
