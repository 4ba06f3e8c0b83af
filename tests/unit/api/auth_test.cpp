#include "api/auth.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_test_support.hpp"

namespace warren::api {
namespace {

using testing::ApiFixture;
using testing::ErrorCode;
using ::testing::HasSubstr;
using testing::HeaderValue;

// Fixed-length secrets: config requires at least 16 characters.
const std::string kReader = "reader-secret-0123456789";
const std::string kEnqueuer = "enqueue-secret-0123456789";
const std::string kAdmin = "admin-secret-0123456789ab";

std::vector<ApiToken> Tokens() {
  return {{kReader, {Scope::kRead}}, {kEnqueuer, {Scope::kRead, Scope::kEnqueue}}, {kAdmin, {Scope::kAdmin}}};
}

Request WithAuthorization(std::string value) {
  Request request;
  request.headers["authorization"] = std::move(value);
  return request;
}

TEST(ConstantTimeEquals, ComparesWholeStrings) {
  EXPECT_TRUE(ConstantTimeEquals("", ""));
  EXPECT_TRUE(ConstantTimeEquals("abc", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "abd"));
  EXPECT_FALSE(ConstantTimeEquals("abc", "ab"));
  EXPECT_FALSE(ConstantTimeEquals("ab", "abc"));
  EXPECT_FALSE(ConstantTimeEquals("", "a"));
  EXPECT_FALSE(ConstantTimeEquals(std::string("a\0b", 3), std::string("a\0c", 3)));
  // A prefix padded with the NULs the loop reads past the end is still different.
  EXPECT_FALSE(ConstantTimeEquals(std::string("ab\0", 3), "ab"));
}

TEST(ParseBearerToken, FollowsRfc6750) {
  EXPECT_EQ(ParseBearerToken("Bearer abc"), "abc");
  EXPECT_EQ(ParseBearerToken("bearer abc"), "abc");
  EXPECT_EQ(ParseBearerToken("BEARER   abc-._~+/=="), "abc-._~+/==");
  EXPECT_EQ(ParseBearerToken("  Bearer abc  "), "abc");
  EXPECT_EQ(ParseBearerToken("Bearer\tabc"), "abc");
  EXPECT_FALSE(ParseBearerToken(""));
  EXPECT_FALSE(ParseBearerToken("Bearer"));
  EXPECT_FALSE(ParseBearerToken("Bearer "));
  EXPECT_FALSE(ParseBearerToken("Bearerabc"));
  EXPECT_FALSE(ParseBearerToken("Basic dXNlcjpwYXNz"));
  EXPECT_FALSE(ParseBearerToken("Bearer a b"));
  EXPECT_FALSE(ParseBearerToken("Bearer a,b"));
  EXPECT_FALSE(ParseBearerToken("Bearer ab=c"));
  EXPECT_FALSE(ParseBearerToken("Bearer =abc"));
  EXPECT_FALSE(ParseBearerToken("Bearer \xc3\xa9"));
}

TEST(Authenticator, NoTokensAllowsEverything) {
  const Authenticator auth({});
  EXPECT_FALSE(auth.Enabled());
  EXPECT_EQ(auth.Check(Request{}, Access::kAdmin), Authenticator::Decision::kAllowed);
}

TEST(Authenticator, ScopesDecide) {
  using D = Authenticator::Decision;
  const Authenticator auth(Tokens());
  EXPECT_TRUE(auth.Enabled());
  const Request reader = WithAuthorization("Bearer " + kReader);
  const Request enqueuer = WithAuthorization("Bearer " + kEnqueuer);
  const Request admin = WithAuthorization("bearer " + kAdmin);

  EXPECT_EQ(auth.Check(Request{}, Access::kOpen), D::kAllowed);
  EXPECT_EQ(auth.Check(Request{}, Access::kRead), D::kMissing);
  EXPECT_EQ(auth.Check(WithAuthorization("Bearer nope-nope-nope-nope"), Access::kRead), D::kInvalid);
  EXPECT_EQ(auth.Check(WithAuthorization("Basic " + kAdmin), Access::kRead), D::kInvalid);
  EXPECT_EQ(auth.Check(WithAuthorization("Bearer " + kReader + "x"), Access::kRead), D::kInvalid);

  EXPECT_EQ(auth.Check(reader, Access::kRead), D::kAllowed);
  EXPECT_EQ(auth.Check(reader, Access::kEnqueue), D::kForbidden);
  EXPECT_EQ(auth.Check(reader, Access::kAdmin), D::kForbidden);
  EXPECT_EQ(auth.Check(enqueuer, Access::kEnqueue), D::kAllowed);
  EXPECT_EQ(auth.Check(enqueuer, Access::kAdmin), D::kForbidden);
  // admin grants every scope
  EXPECT_EQ(auth.Check(admin, Access::kRead), D::kAllowed);
  EXPECT_EQ(auth.Check(admin, Access::kEnqueue), D::kAllowed);
  EXPECT_EQ(auth.Check(admin, Access::kAdmin), D::kAllowed);
}

TEST(Authenticator, RefusalsAre401WithWwwAuthenticateOr403) {
  using D = Authenticator::Decision;
  EXPECT_FALSE(Authenticator::Refusal(D::kAllowed, Access::kRead));

  const auto missing = Authenticator::Refusal(D::kMissing, Access::kRead);
  ASSERT_TRUE(missing);
  EXPECT_EQ(missing->status, 401);
  EXPECT_EQ(ErrorCode(*missing), "unauthorized");
  EXPECT_THAT(HeaderValue(*missing, "WWW-Authenticate"), ::testing::StartsWith("Bearer"));

  const auto invalid = Authenticator::Refusal(D::kInvalid, Access::kRead);
  ASSERT_TRUE(invalid);
  EXPECT_EQ(invalid->status, 401);
  EXPECT_THAT(HeaderValue(*invalid, "WWW-Authenticate"), HasSubstr("invalid_token"));

  const auto forbidden = Authenticator::Refusal(D::kForbidden, Access::kAdmin);
  ASSERT_TRUE(forbidden);
  EXPECT_EQ(forbidden->status, 403);
  EXPECT_EQ(ErrorCode(*forbidden), "forbidden");
  EXPECT_THAT(forbidden->body, HasSubstr("'admin'"));
}

TEST(IsLoopbackHost, KnowsLoopbackOnly) {
  for (const char* host : {"localhost", "127.0.0.1", "127.1.2.3", "::1", "[::1]", "::ffff:127.0.0.1"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"0.0.0.0", "::", "10.0.0.1", "192.168.1.1", "::2", "example.com", "", "128.0.0.1",
                           "::ffff:10.0.0.1"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

TEST(CheckListenAddress, RefusesOpenNonLoopbackUnlessInsecureOrTokens) {
  Settings settings;
  settings.listen = {"0.0.0.0", 5000};
  try {
    CheckListenAddress(settings, "0.0.0.0");
    FAIL() << "expected a ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_THAT(message, HasSubstr("serve.listen 0.0.0.0:5000"));
    EXPECT_THAT(message, HasSubstr("--insecure"));
    EXPECT_THAT(message, HasSubstr("api.tokens"));
    EXPECT_EQ(message.find('\n'), std::string::npos);
  }
  EXPECT_NO_THROW(CheckListenAddress(settings, "127.0.0.1"));  // what it really bound decides
  settings.insecure = true;
  EXPECT_NO_THROW(CheckListenAddress(settings, "0.0.0.0"));
  settings.insecure = false;
  settings.tokens = Tokens();
  EXPECT_NO_THROW(CheckListenAddress(settings, "0.0.0.0"));
}

// ---- through the router: every route's access ---------------------------------------------------------

class AuthRoutes : public ApiFixture {
 protected:
  void SetUp() override {
    Settings settings;
    settings.tokens = Tokens();
    Build(settings);
  }
  std::map<std::string, std::string> Bearer(const std::string& secret) {
    return {{"authorization", "Bearer " + secret}};
  }
};

TEST_F(AuthRoutes, EveryRouteIsInTheAccessTable) {
  for (const auto& route : router_.Routes()) {
    EXPECT_TRUE(HasRouteAccess(route.method, route.pattern)) << route.method << " " << route.pattern;
  }
  EXPECT_EQ(RouteAccess("GET", "/not/a/route"), Access::kAdmin);  // fail closed
}

TEST_F(AuthRoutes, OpenRoutesNeedNoToken) {
  EXPECT_EQ(Call("GET", "/").status, 200);
  EXPECT_EQ(Call("GET", "/healthz").status, 200);
  EXPECT_EQ(Call("GET", "/readyz").status, 200);
  EXPECT_EQ(Call("GET", "/v1/openapi.json").status, 200);
  // The dashboard's files hold no data; what it shows comes from the API, with a token.
  EXPECT_EQ(Call("GET", "/ui").status, 200);
  EXPECT_EQ(Call("GET", "/ui/app.js").status, 200);
  EXPECT_EQ(Call("GET", "/v1/jobs/01900000-0000-7000-8000-000000000000/logs").status, 401);
}

TEST_F(AuthRoutes, MissingOrWrongTokenIs401) {
  Response response = Call("GET", "/v1/jobs");
  EXPECT_EQ(response.status, 401);
  EXPECT_THAT(HeaderValue(response, "WWW-Authenticate"), ::testing::StartsWith("Bearer"));
  response = Call("GET", "/v1/jobs", "", Bearer("wrong-secret-0123456789"));
  EXPECT_EQ(response.status, 401);
  // The secret is never echoed.
  EXPECT_THAT(response.body, ::testing::Not(HasSubstr("wrong-secret")));
  EXPECT_EQ(Call("POST", "/v1/jobs", R"({"type":"a"})").status, 401);
  EXPECT_EQ(Call("GET", "/add-job/hey").status, 401);  // the demo's enqueue is guarded too when tokens exist
  EXPECT_EQ(store_.Size(), 0U);
  EXPECT_EQ(publisher_.publishes, 0);
}

TEST_F(AuthRoutes, ShortScopeIs403) {
  EXPECT_EQ(Call("GET", "/v1/jobs", "", Bearer(kReader)).status, 200);
  EXPECT_EQ(Call("GET", "/v1/queues", "", Bearer(kReader)).status, 200);
  EXPECT_EQ(Call("POST", "/v1/jobs", R"({"type":"a"})", Bearer(kReader)).status, 403);
  const JobRecord job = PutJob(JobState::kDead);
  EXPECT_EQ(Call("POST", "/v1/jobs/" + job.id + "/retry", "", Bearer(kEnqueuer)).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/" + job.id, "", Bearer(kEnqueuer)).status, 403);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/" + job.id, "", Bearer(kAdmin)).status, 200);
}

TEST_F(AuthRoutes, AuthComesBeforeBodyChecks) {
  // No token and a bad content type: 401, not 415 (nothing about the route leaks before auth).
  EXPECT_EQ(Call("POST", "/v1/jobs", "x", {{"content-type", "text/plain"}}).status, 401);
  EXPECT_EQ(
      Call("POST", "/v1/jobs", "x", {{"content-type", "text/plain"}, {"authorization", "Bearer " + kAdmin}})
          .status,
      415);
}

}  // namespace
}  // namespace warren::api
