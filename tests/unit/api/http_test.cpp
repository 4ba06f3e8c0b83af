#include "api/http.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <optional>
#include <thread>

namespace warren::api {
namespace {

TEST(ErrorResponse, HasTheOneErrorShape) {
  const Response response = ErrorResponse(404, "not_found", "no route for /nope");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(response.content_type, "application/json");
  const auto body = nlohmann::json::parse(response.body);
  ASSERT_TRUE(body.is_object());
  EXPECT_EQ(body.size(), 1U);
  EXPECT_EQ(body["error"]["code"], "not_found");
  EXPECT_EQ(body["error"]["message"], "no route for /nope");
  EXPECT_EQ(body["error"].size(), 2U);
}

TEST(ErrorResponse, EscapesAndNeverThrowsOnClientBytes) {
  const Response quoted = ErrorResponse(400, "bad", "say \"hi\"\n\\");
  EXPECT_EQ(nlohmann::json::parse(quoted.body)["error"]["message"], "say \"hi\"\n\\");

  // Invalid UTF-8 quoted from a request is replaced (U+FFFD), not thrown on.
  Response invalid;
  EXPECT_NO_THROW(invalid = ErrorResponse(400, "bad", "x\xFFy"));
  EXPECT_EQ(nlohmann::json::parse(invalid.body)["error"]["message"], "x\xEF\xBF\xBDy");
}

TEST(TextResponse, IsPlainUtf8Text) {
  const Response response = TextResponse(200, "OK");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.content_type, "text/plain; charset=utf-8");
  EXPECT_EQ(response.body, "OK");
  EXPECT_FALSE(response.close);
}

TEST(Responder, DeliversTheFirstAnswerOnly) {
  int calls = 0;
  std::optional<Response> got;
  {
    Responder respond([&](Response response) {
      ++calls;
      got = std::move(response);
    });
    EXPECT_FALSE(respond.Answered());
    Responder copy = respond;
    copy(TextResponse(200, "first"));
    EXPECT_TRUE(respond.Answered());
    respond(TextResponse(500, "second"));
  }
  EXPECT_EQ(calls, 1);
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, "first");
}

TEST(Responder, AnswersFromAnotherThread) {
  std::optional<Response> got;
  {
    Responder respond([&](Response response) { got = std::move(response); });
    std::thread([respond] { respond(TextResponse(200, "later")); }).join();
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->body, "later");
}

TEST(Responder, DroppedUnansweredBecomes500) {
  std::optional<Response> got;
  {
    Responder respond([&](Response response) { got = std::move(response); });
    Responder copy = respond;  // the last copy's destruction is what counts
  }
  ASSERT_TRUE(got);
  EXPECT_EQ(got->status, 500);
  EXPECT_EQ(nlohmann::json::parse(got->body)["error"]["code"], "internal_error");
}

}  // namespace
}  // namespace warren::api
