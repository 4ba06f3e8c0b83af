#include "api/router.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <stdexcept>

namespace warren::api {
namespace {

using Kind = Router::Match::Kind;

Handler Answer(std::string body) {
  return [body = std::move(body)](const Request& /*request*/, const Responder& respond) {
    respond(TextResponse(200, body));
  };
}

// Dispatches synchronously-answering handlers and returns the answer.
Response Call(const Router& router, std::string method, std::string target) {
  std::optional<Response> got;
  Request request;
  request.method = std::move(method);
  request.target = std::move(target);
  router.Dispatch(std::move(request), Responder([&](Response response) { got = std::move(response); }));
  EXPECT_TRUE(got.has_value());
  return got.value_or(Response{});
}

std::string ErrorCode(const Response& response) {
  return nlohmann::json::parse(response.body)["error"]["code"].get<std::string>();
}

std::string HeaderValue(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

class RouterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    router_.Add("GET", "/", Answer("root"));
    router_.Add("GET", "/add-job/{cmd}", Answer("add-job"));
    router_.Add("GET", "/v1/jobs/{id}", Answer("get-job"));
    router_.Add("DELETE", "/v1/jobs/{id}", Answer("delete-job"));
    router_.Add("POST", "/v1/jobs", Answer("create-job"));
    router_.Add("GET", "/ui/{path*}", Answer("ui"));
  }
  Router router_;
};

TEST_F(RouterTest, MatchesLiteralsAndParameters) {
  auto match = router_.Find("GET", "/");
  EXPECT_EQ(match.kind, Kind::kFound);

  match = router_.Find("GET", "/add-job/hey");
  ASSERT_EQ(match.kind, Kind::kFound);
  ASSERT_EQ(match.params.size(), 1U);
  EXPECT_EQ(match.params[0].first, "cmd");
  EXPECT_EQ(match.params[0].second, "hey");

  match = router_.Find("DELETE", "/v1/jobs/42");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "42");
}

TEST_F(RouterTest, DecodesParametersAfterSplitting) {
  auto match = router_.Find("GET", "/add-job/hello%20world");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "hello world");

  // An encoded slash is data, not a separator.
  match = router_.Find("GET", "/add-job/a%2Fb");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "a/b");

  match = router_.Find("GET", "/add-job/a+b");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "a+b");

  match = router_.Find("GET", "/add-job/caf%C3%A9");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "caf\xC3\xA9");

  // Literals match their decoded form too, as Werkzeug decodes the whole path before routing.
  EXPECT_EQ(router_.Find("GET", "/add%2Djob/x").kind, Kind::kFound);
}

TEST_F(RouterTest, ParameterMayBeEmptySoTheHandlerCanExplain) {
  auto match = router_.Find("GET", "/add-job/");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "");
}

TEST_F(RouterTest, ParameterTakesOneSegment) {
  EXPECT_EQ(router_.Find("GET", "/add-job/a/b").kind, Kind::kNotFound);
  EXPECT_EQ(router_.Find("GET", "/add-job").kind, Kind::kNotFound);
}

TEST_F(RouterTest, TailTakesTheRest) {
  auto match = router_.Find("GET", "/ui/js/app%20v1.js");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].first, "path");
  EXPECT_EQ(match.params[0].second, "js/app v1.js");

  match = router_.Find("GET", "/ui/");
  ASSERT_EQ(match.kind, Kind::kFound);
  EXPECT_EQ(match.params[0].second, "");

  EXPECT_EQ(router_.Find("GET", "/ui").kind, Kind::kNotFound);
}

TEST_F(RouterTest, UnknownPathIs404) {
  EXPECT_EQ(router_.Find("GET", "/nope").kind, Kind::kNotFound);
  EXPECT_EQ(router_.Find("GET", "//").kind, Kind::kNotFound);
  EXPECT_EQ(router_.Find("GET", "/v1/jobs/1/extra").kind, Kind::kNotFound);
  // An unknown path is 404 whatever the method: 405 only when the path exists.
  EXPECT_EQ(router_.Find("PATCH", "/nope").kind, Kind::kNotFound);
}

TEST_F(RouterTest, KnownPathWrongMethodIs405WithAllow) {
  auto match = router_.Find("POST", "/");
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET");

  match = router_.Find("PUT", "/v1/jobs/7");
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);
  EXPECT_EQ(match.allow, "GET, DELETE");

  // Methods are case-sensitive (RFC 9110 §9.1).
  match = router_.Find("get", "/");
  EXPECT_EQ(match.kind, Kind::kMethodNotAllowed);

  // Unknown verbs are just other methods.
  EXPECT_EQ(router_.Find("PURGE", "/add-job/x").kind, Kind::kMethodNotAllowed);
}

TEST_F(RouterTest, BadPercentEncodingOrUtf8Is400) {
  auto match = router_.Find("GET", "/add-job/%zz");
  EXPECT_EQ(match.kind, Kind::kBadPath);
  EXPECT_NE(match.error.find("percent"), std::string::npos);

  match = router_.Find("GET", "/add-job/%FF");
  EXPECT_EQ(match.kind, Kind::kBadPath);
  EXPECT_NE(match.error.find("UTF-8"), std::string::npos);

  // Even on paths that would be 404: the path itself is malformed.
  EXPECT_EQ(router_.Find("GET", "/nope/%").kind, Kind::kBadPath);
}

TEST_F(RouterTest, FirstAddedRouteWins) {
  Router router;
  router.Add("GET", "/v1/jobs/stats", Answer("stats"));
  router.Add("GET", "/v1/jobs/{id}", Answer("job"));
  EXPECT_EQ(Call(router, "GET", "/v1/jobs/stats").body, "stats");
  EXPECT_EQ(Call(router, "GET", "/v1/jobs/x").body, "job");
}

TEST_F(RouterTest, DispatchAnswersErrorsAsJson) {
  EXPECT_EQ(Call(router_, "GET", "/").body, "root");
  EXPECT_EQ(Call(router_, "GET", "/add-job/x?ignored=1").body, "add-job");

  const Response not_found = Call(router_, "GET", "/nope");
  EXPECT_EQ(not_found.status, 404);
  EXPECT_EQ(not_found.content_type, "application/json");
  EXPECT_EQ(ErrorCode(not_found), "not_found");

  const Response not_allowed = Call(router_, "POST", "/add-job/x");
  EXPECT_EQ(not_allowed.status, 405);
  EXPECT_EQ(ErrorCode(not_allowed), "method_not_allowed");
  EXPECT_EQ(HeaderValue(not_allowed, "Allow"), "GET");

  const Response bad_path = Call(router_, "GET", "/add-job/%2");
  EXPECT_EQ(bad_path.status, 400);
  EXPECT_EQ(ErrorCode(bad_path), "bad_path");

  const Response bad_target = Call(router_, "OPTIONS", "*");
  EXPECT_EQ(bad_target.status, 400);
  EXPECT_EQ(ErrorCode(bad_target), "bad_request");
}

TEST_F(RouterTest, DispatchFillsPathQueryAndParams) {
  Router router;
  std::optional<Request> seen;
  router.Add("GET", "/add-job/{cmd}", [&](Request request, const Responder& respond) {
    seen = std::move(request);
    respond(TextResponse(200, ""));
  });
  Call(router, "GET", "/add-job/hello%20world?x=%20");
  ASSERT_TRUE(seen);
  EXPECT_EQ(seen->path, "/add-job/hello%20world");
  EXPECT_EQ(seen->query, "x=%20");
  EXPECT_EQ(seen->Param("cmd"), "hello world");
  EXPECT_EQ(seen->Param("other"), "");
}

TEST_F(RouterTest, HandlerExceptionBecomes500) {
  Router router;
  router.Add("GET", "/boom", [](const Request&, const Responder&) { throw std::runtime_error("boom"); });
  const Response response = Call(router, "GET", "/boom");
  EXPECT_EQ(response.status, 500);
  EXPECT_EQ(ErrorCode(response), "internal_error");
}

TEST_F(RouterTest, ListsRoutesInTheOrderAdded) {
  const auto routes = router_.Routes();
  ASSERT_EQ(routes.size(), 6U);
  EXPECT_EQ(routes[0], (Router::RouteInfo{"GET", "/"}));
  EXPECT_EQ(routes[3], (Router::RouteInfo{"DELETE", "/v1/jobs/{id}"}));
  EXPECT_EQ(routes[5], (Router::RouteInfo{"GET", "/ui/{path*}"}));
}

TEST_F(RouterTest, FindReportsTheMatchedPattern) {
  EXPECT_EQ(router_.Find("GET", "/v1/jobs/abc").pattern, "/v1/jobs/{id}");
  EXPECT_EQ(router_.Find("GET", "/ui/a/b").pattern, "/ui/{path*}");
}

TEST_F(RouterTest, TheGuardRunsAfterMatchingAndBeforeTheHandler) {
  std::vector<std::string> seen;
  router_.SetGuard([&seen](const Request& request, std::string_view pattern) -> std::optional<Response> {
    seen.emplace_back(pattern);
    if (request.Param("id") == "secret") {
      return ErrorResponse(403, "forbidden", "no");
    }
    return std::nullopt;
  });
  EXPECT_EQ(Call(router_, "GET", "/v1/jobs/open").body, "get-job");
  const Response refused = Call(router_, "GET", "/v1/jobs/secret");
  EXPECT_EQ(refused.status, 403);
  // 404 and 405 are decided before the guard: it sees matched routes only.
  EXPECT_EQ(Call(router_, "GET", "/nope").status, 404);
  EXPECT_EQ(Call(router_, "PUT", "/v1/jobs/x").status, 405);
  EXPECT_EQ(seen, (std::vector<std::string>{"/v1/jobs/{id}", "/v1/jobs/{id}"}));
}

TEST(RouterPatterns, RejectsMalformedPatterns) {
  Router router;
  EXPECT_THROW(router.Add("GET", "", Answer("")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "no-slash", Answer("")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/{}", Answer("")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/{rest*}/more", Answer("")), std::invalid_argument);
  EXPECT_THROW(router.Add("GET", "/a{b}", Answer("")), std::invalid_argument);
  EXPECT_THROW(router.Add("", "/", Answer("")), std::invalid_argument);
}

}  // namespace
}  // namespace warren::api
