#include "api/request_validation.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_test_support.hpp"

namespace warren::api {
namespace {

using testing::ErrorCode;
using ::testing::HasSubstr;

TEST(IsJsonContentType, AcceptsJsonWithUtf8Only) {
  for (const char* ok : {"application/json", "Application/JSON", " application/json ",
                         "application/json;charset=utf-8", "application/json; charset=UTF-8",
                         "application/json; charset=\"utf-8\"", "application/json; foo=bar"}) {
    EXPECT_TRUE(IsJsonContentType(ok)) << ok;
  }
  for (const char* bad : {"", "text/plain", "application/jsonx", "application/x-www-form-urlencoded",
                          "application/json; charset=latin1", "text/json", "multipart/form-data"}) {
    EXPECT_FALSE(IsJsonContentType(bad)) << bad;
  }
}

TEST(CheckBodyContentType, OnlyBodiesNeedIt) {
  Request request;
  request.method = "POST";
  EXPECT_FALSE(CheckBodyContentType(request));  // no body
  request.body = "{}";
  auto refused = CheckBodyContentType(request);
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 415);
  EXPECT_EQ(ErrorCode(*refused), "unsupported_media_type");
  request.headers["content-type"] = "text/plain";
  refused = CheckBodyContentType(request);
  ASSERT_TRUE(refused);
  EXPECT_THAT(refused->body, HasSubstr("text/plain"));
  request.headers["content-type"] = "application/json";
  EXPECT_FALSE(CheckBodyContentType(request));
}

std::string BodyError(std::string_view body, size_t depth = kMaxBodyDepth) {
  auto parsed = ParseJsonBody(body, depth);
  if (const auto* response = std::get_if<Response>(&parsed)) {
    EXPECT_EQ(response->status, 400);
    return ErrorCode(*response);
  }
  return "ok";
}

TEST(ParseJsonBody, AcceptsJson) {
  auto parsed = ParseJsonBody(R"({"a":[1,{"b":null}],"s":"é"})");
  ASSERT_TRUE(std::holds_alternative<nlohmann::json>(parsed));
  EXPECT_EQ(std::get<nlohmann::json>(parsed)["s"], "é");
  EXPECT_EQ(BodyError("[[[1]]]", 3), "ok");
  EXPECT_EQ(BodyError("5"), "ok");
}

TEST(ParseJsonBody, NamesWhatIsWrong) {
  EXPECT_EQ(BodyError(""), "empty_body");
  EXPECT_EQ(BodyError(" \r\n\t"), "empty_body");
  EXPECT_EQ(BodyError("{\"a\":\"\xff\"}"), "invalid_utf8");
  EXPECT_EQ(BodyError("{\"a\":\"\xed\xa0\x80\"}"), "invalid_utf8");  // an encoded surrogate
  EXPECT_EQ(BodyError(R"({"a":"\ud800"})"), "invalid_json");         // a lone escaped surrogate
  EXPECT_EQ(BodyError("{"), "invalid_json");
  EXPECT_EQ(BodyError("{} x"), "invalid_json");
  EXPECT_EQ(BodyError("{'a':1}"), "invalid_json");
  EXPECT_EQ(BodyError("[1e999]"), "invalid_json");
  EXPECT_EQ(BodyError("[[[[1]]]]", 3), "too_deep");
  EXPECT_EQ(BodyError(R"({"a":{"b":{"c":{}}}})", 3), "too_deep");
  const auto parsed = ParseJsonBody("{");
  EXPECT_THAT(std::get<Response>(parsed).body, HasSubstr("line 1"));
  EXPECT_THAT(std::get<Response>(parsed).body, ::testing::Not(HasSubstr("[json.exception")));
}

TEST(ParseJsonBody, AHundredThousandLevelsStopAtTheLimitWithoutRecursion) {
  const std::string deep = std::string(100'000, '[') + std::string(100'000, ']');
  EXPECT_EQ(BodyError(deep), "too_deep");
  const std::string open_only(1'000'000, '[');
  EXPECT_EQ(BodyError(open_only), "too_deep");
  std::string objects;
  for (int i = 0; i < 50'000; ++i) {
    objects += R"({"a":)";
  }
  EXPECT_EQ(BodyError(objects), "too_deep");
}

TEST(ParseQueryString, DecodesFormEncoding) {
  auto params = ParseQueryString("a=1&b=x%20y+z&&c&d=%2B");
  ASSERT_TRUE(params);
  const QueryParams expected = {{"a", "1"}, {"b", "x y z"}, {"c", ""}, {"d", "+"}};
  EXPECT_EQ(*params, expected);
  EXPECT_TRUE(ParseQueryString("")->empty());
  EXPECT_FALSE(ParseQueryString("a=%zz"));
  EXPECT_FALSE(ParseQueryString("a=%ff"));  // not UTF-8 once decoded
  EXPECT_FALSE(ParseQueryString("%=1"));
}

TEST(ParseListQuery, ReadsFiltersAndPaging) {
  auto parsed = ParseListQuery("state=dead&type=send_email&queue=q&limit=10&cursor=abc");
  ASSERT_TRUE(std::holds_alternative<store::ListQuery>(parsed));
  const auto& q = std::get<store::ListQuery>(parsed);
  EXPECT_EQ(q.state, JobState::kDead);
  EXPECT_EQ(q.type, "send_email");
  EXPECT_EQ(q.queue, "q");
  EXPECT_EQ(q.limit, 10U);
  EXPECT_EQ(q.cursor, "abc");

  const auto defaults = std::get<store::ListQuery>(ParseListQuery("state=&type="));
  EXPECT_FALSE(defaults.state);
  EXPECT_FALSE(defaults.type);
  EXPECT_EQ(defaults.limit, 50U);
}

TEST(ParseListQuery, RefusesWhatItDoesNotUnderstand) {
  const auto code = [](std::string_view query) {
    auto parsed = ParseListQuery(query);
    return std::holds_alternative<Response>(parsed) ? ErrorCode(std::get<Response>(parsed)) : "ok";
  };
  EXPECT_EQ(code("limit=1000"), "ok");
  EXPECT_EQ(code("limit=1001"), "invalid_parameter");
  EXPECT_EQ(code("limit=-1"), "invalid_parameter");
  EXPECT_EQ(code("limit=1x"), "invalid_parameter");
  EXPECT_EQ(code("limit=99999999999999999999999"), "invalid_parameter");
  EXPECT_EQ(code("state=Queued"), "invalid_parameter");
  EXPECT_EQ(code("type=a&type=b"), "invalid_parameter");
  EXPECT_EQ(code("sort=asc"), "unknown_parameter");
  EXPECT_EQ(code("type=%"), "bad_query");
}

TEST(FieldErrorResponse, Is400WithTheFieldCode) {
  const Response response = FieldErrorResponse({"missing_field", "field 'type' is required"}, "jobs[2]: ");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "missing_field");
  EXPECT_THAT(response.body, HasSubstr("jobs[2]: field 'type' is required"));
}

TEST(CheckJobType, Is422OnlyWhenAListIsConfigured) {
  EXPECT_FALSE(CheckJobType("anything", {}));
  EXPECT_FALSE(CheckJobType("a", {"a", "b"}));
  const auto refused = CheckJobType("c", {"a", "b"});
  ASSERT_TRUE(refused);
  EXPECT_EQ(refused->status, 422);
  EXPECT_EQ(ErrorCode(*refused), "unknown_job_type");
  EXPECT_THAT(refused->body, HasSubstr("known types: a, b"));
}

}  // namespace
}  // namespace warren::api
