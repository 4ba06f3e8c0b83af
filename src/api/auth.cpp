#include "api/auth.hpp"

#include <arpa/inet.h>

#include <array>
#include <cctype>
#include <cstdint>

#include <fmt/format.h>

namespace warren::api {
namespace {

struct RouteRule {
  std::string_view method;
  std::string_view pattern;
  Access access;
};

// Every route of `warren serve`. Keep in step with api_routes.cpp (a unit test compares them).
constexpr auto kRouteRules = std::to_array<RouteRule>({
    {"GET", "/", Access::kOpen},
    {"HEAD", "/", Access::kOpen},
    {"GET", "/add-job", Access::kEnqueue},
    {"GET", "/add-job/{cmd}", Access::kEnqueue},
    {"GET", "/healthz", Access::kOpen},
    {"GET", "/readyz", Access::kOpen},
    {"GET", "/v1/openapi.json", Access::kOpen},
    {"GET", "/ui", Access::kOpen},
    {"GET", "/ui/{asset}", Access::kOpen},
    {"POST", "/v1/jobs", Access::kEnqueue},
    {"POST", "/v1/jobs/batch", Access::kEnqueue},
    {"GET", "/v1/jobs", Access::kRead},
    {"GET", "/v1/jobs/{id}", Access::kRead},
    {"GET", "/v1/jobs/{id}/logs", Access::kRead},
    {"POST", "/v1/jobs/{id}/cancel", Access::kAdmin},
    {"POST", "/v1/jobs/{id}/retry", Access::kAdmin},
    {"DELETE", "/v1/jobs/{id}", Access::kAdmin},
    {"GET", "/v1/queues", Access::kRead},
    {"POST", "/v1/queues/{queue}/retry-dead", Access::kAdmin},
    {"GET", "/v1/job-types", Access::kRead},
    {"GET", "/v1/workers", Access::kRead},
    {"GET", "/v1/events", Access::kRead},
    {"POST", "/v1/workers/scale", Access::kAdmin},
    {"GET", "/v1/workers/scale", Access::kRead},
    {"GET", "/metrics", Access::kRead},
});

const RouteRule* FindRule(std::string_view method, std::string_view pattern) {
  for (const auto& rule : kRouteRules) {
    if (rule.method == method && rule.pattern == pattern) {
      return &rule;
    }
  }
  return nullptr;
}

Scope ScopeOf(Access access) {
  switch (access) {
    case Access::kEnqueue:
      return Scope::kEnqueue;
    case Access::kAdmin:
      return Scope::kAdmin;
    case Access::kOpen:
    case Access::kRead:
      break;
  }
  return Scope::kRead;
}

bool IsToken68Char(char c) {
  const auto u = static_cast<unsigned char>(c);
  return std::isalnum(u) != 0 || c == '-' || c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i]))) {
      return false;
    }
  }
  return true;
}

}  // namespace

std::string_view ToString(Access access) {
  switch (access) {
    case Access::kOpen:
      return "open";
    case Access::kRead:
      return "read";
    case Access::kEnqueue:
      return "enqueue";
    case Access::kAdmin:
      return "admin";
  }
  return "admin";
}

Access RouteAccess(std::string_view method, std::string_view pattern) {
  const RouteRule* rule = FindRule(method, pattern);
  return rule == nullptr ? Access::kAdmin : rule->access;
}

bool HasRouteAccess(std::string_view method, std::string_view pattern) {
  return FindRule(method, pattern) != nullptr;
}

bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  // Walk the longer length whatever the content; accumulate differences without branching on them.
  const size_t n = std::max(a.size(), b.size());
  volatile unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    const auto x = static_cast<unsigned char>(i < a.size() ? a[i] : 0);
    const auto y = static_cast<unsigned char>(i < b.size() ? b[i] : 0);
    diff = static_cast<unsigned char>(diff | (x ^ y));
  }
  return diff == 0;
}

std::optional<std::string_view> ParseBearerToken(std::string_view authorization) {
  std::string_view value = authorization;
  constexpr std::string_view kScheme = "bearer";
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  while (!value.empty() && (value.back() == ' ' || value.back() == '\t')) {
    value.remove_suffix(1);
  }
  if (value.size() <= kScheme.size() || !EqualsIgnoreCase(value.substr(0, kScheme.size()), kScheme) ||
      (value[kScheme.size()] != ' ' && value[kScheme.size()] != '\t')) {
    return std::nullopt;
  }
  value.remove_prefix(kScheme.size());
  while (!value.empty() && (value.front() == ' ' || value.front() == '\t')) {
    value.remove_prefix(1);
  }
  // token68: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"="
  size_t i = 0;
  while (i < value.size() && IsToken68Char(value[i])) {
    ++i;
  }
  if (i == 0) {
    return std::nullopt;
  }
  size_t end = i;
  while (end < value.size() && value[end] == '=') {
    ++end;
  }
  if (end != value.size()) {
    return std::nullopt;  // spaces inside, a comma (several credentials), other characters
  }
  return value;
}

Authenticator::Authenticator(std::vector<ApiToken> tokens) : tokens_(std::move(tokens)) {}

Authenticator::Decision Authenticator::Check(const Request& request, Access access) const {
  if (access == Access::kOpen || tokens_.empty()) {
    return Decision::kAllowed;
  }
  const std::string& header = request.Header("authorization");
  if (header.empty()) {
    return Decision::kMissing;
  }
  const auto presented = ParseBearerToken(header);
  if (!presented) {
    return Decision::kInvalid;
  }
  const ApiToken* match = nullptr;
  for (const auto& token : tokens_) {
    // Compare with every secret; remember the match without leaving the loop early.
    const bool equal = ConstantTimeEquals(*presented, token.secret);
    match = equal && match == nullptr ? &token : match;
  }
  if (match == nullptr) {
    return Decision::kInvalid;
  }
  return HasScope(*match, ScopeOf(access)) ? Decision::kAllowed : Decision::kForbidden;
}

std::optional<Response> Authenticator::Refusal(Decision decision, Access access) {
  switch (decision) {
    case Decision::kAllowed:
      return std::nullopt;
    case Decision::kMissing: {
      Response response = ErrorResponse(401, "unauthorized",
                                        "this route needs a token: send 'Authorization: Bearer <token>'");
      response.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="warren")");
      return response;
    }
    case Decision::kInvalid: {
      // The same words whether the header was malformed or the secret unknown: nothing to probe.
      Response response = ErrorResponse(401, "unauthorized", "the bearer token is not valid");
      response.headers.emplace_back("WWW-Authenticate", R"(Bearer realm="warren", error="invalid_token")");
      return response;
    }
    case Decision::kForbidden: {
      Response response =
          ErrorResponse(403, "forbidden",
                        fmt::format("this token lacks the '{}' scope this route needs", ToString(access)));
      response.headers.emplace_back(
          "WWW-Authenticate",
          fmt::format(R"(Bearer realm="warren", error="insufficient_scope", scope="{}")", ToString(access)));
      return response;
    }
  }
  return std::nullopt;
}

bool IsLoopbackHost(std::string_view host) {
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  if (host == "localhost") {
    return true;
  }
  const std::string text(host);
  std::array<unsigned char, 16> bytes{};
  if (inet_pton(AF_INET, text.c_str(), bytes.data()) == 1) {
    return bytes[0] == 127;
  }
  if (inet_pton(AF_INET6, text.c_str(), bytes.data()) == 1) {
    bool zero_prefix = true;
    for (size_t i = 0; i < 10; ++i) {
      zero_prefix = zero_prefix && bytes[i] == 0;
    }
    if (zero_prefix && bytes[10] == 0 && bytes[11] == 0) {
      // ::1 (and nothing else in ::/96: "::" is every address)
      bool rest_zero = bytes[12] == 0 && bytes[13] == 0 && bytes[14] == 0;
      return rest_zero && bytes[15] == 1;
    }
    if (zero_prefix && bytes[10] == 0xff && bytes[11] == 0xff) {
      return bytes[12] == 127;  // ::ffff:127.x.x.x
    }
    return false;
  }
  return false;
}

void CheckListenAddress(const Settings& settings, std::string_view bound_host) {
  // The bound address, not the configured name: "myhost" may resolve to a public address.
  if (!settings.tokens.empty() || settings.insecure || IsLoopbackHost(bound_host)) {
    return;
  }
  throw ConfigError(fmt::format(
      "serve.listen {}: refusing to serve without authentication beyond loopback; configure api.tokens "
      "(--token SECRET:SCOPE, WARREN_TOKENS) or pass --insecure",
      settings.listen.ToString()));
}

}  // namespace warren::api
