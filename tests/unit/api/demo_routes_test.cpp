#include "api/demo_routes.hpp"

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <deque>
#include <optional>
#include <vector>

namespace warren::api {
namespace {

using amqp::PublishOutcome;

std::string HeaderValue(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

TEST(AddJobResponse, ConfirmedIsTheDemoAnswer) {
  const Response response = AddJobResponse(PublishOutcome::kConfirmed, "hey");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, " [x] Sent: hey");  // the leading space is the demo's
  EXPECT_EQ(response.content_type, "text/plain; charset=utf-8");
  EXPECT_TRUE(response.headers.empty());
}

TEST(AddJobResponse, EveryOtherOutcomeIs503WithRetryAfter) {
  const std::vector<std::pair<PublishOutcome, std::string>> cases = {
      {PublishOutcome::kUnavailable, "broker_unavailable"}, {PublishOutcome::kBlocked, "broker_blocked"},
      {PublishOutcome::kTimeout, "publish_timeout"},        {PublishOutcome::kStopped, "shutting_down"},
      {PublishOutcome::kRejected, "broker_rejected"},       {PublishOutcome::kUnroutable, "unroutable"},
  };
  for (const auto& [outcome, code] : cases) {
    const Response response = AddJobResponse(outcome, "hey");
    EXPECT_EQ(response.status, 503) << code;
    EXPECT_EQ(response.content_type, "application/json") << code;
    EXPECT_EQ(HeaderValue(response, "Retry-After"), "1") << code;
    const auto body = nlohmann::json::parse(response.body);
    EXPECT_EQ(body["error"]["code"], code);
    EXPECT_FALSE(body["error"]["message"].get<std::string>().empty());
  }
}

TEST(SeedJobMessage, IsWhatThePikaProducerSends) {
  const auto message = SeedJobMessage("hello world");
  EXPECT_EQ(message.exchange, "");
  EXPECT_EQ(message.routing_key, "task_queue");
  EXPECT_EQ(message.body, "hello world");
  EXPECT_TRUE(message.persistent);
  EXPECT_EQ(message.content_type, "");
  EXPECT_EQ(message.type, "");
  EXPECT_TRUE(message.headers.empty());
}

// The routes with a fake publisher that records publishes and lets the test answer them later, as the
// real one does from its own thread.
class DemoRoutesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    AddDemoRoutes(router_, [this](amqp::OutgoingMessage message, amqp::PublishCallback done) {
      published_.push_back(std::move(message));
      pending_.push_back(std::move(done));
    });
  }

  std::optional<Response>& Get(const std::string& target) {
    answers_.emplace_back();
    auto& slot = answers_.back();
    Request request;
    request.method = "GET";
    request.target = target;
    router_.Dispatch(std::move(request),
                     Responder([&slot](Response response) { slot = std::move(response); }));
    return slot;
  }

  // Declared first so it is destroyed last: a pending callback dropped unanswered still answers
  // (500) into its slot while the fixture is torn down.
  std::deque<std::optional<Response>> answers_;  // deque: references stay valid
  Router router_;
  std::vector<amqp::OutgoingMessage> published_;
  std::vector<amqp::PublishCallback> pending_;
};

TEST_F(DemoRoutesTest, RootAnswersOk) {
  const auto& answer = Get("/");
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, "OK");
}

TEST_F(DemoRoutesTest, AddJobAnswersOnlyAfterTheConfirm) {
  const auto& answer = Get("/add-job/hello%20world?ignored=yes");
  ASSERT_EQ(published_.size(), 1U);
  EXPECT_EQ(published_[0].body, "hello world");
  EXPECT_EQ(published_[0].routing_key, "task_queue");
  EXPECT_TRUE(published_[0].persistent);
  EXPECT_FALSE(answer) << "answered before the broker confirmed";

  pending_[0](PublishOutcome::kConfirmed);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 200);
  EXPECT_EQ(answer->body, " [x] Sent: hello world");
}

TEST_F(DemoRoutesTest, AddJobMapsFailureTo503) {
  const auto& answer = Get("/add-job/x");
  ASSERT_EQ(pending_.size(), 1U);
  pending_[0](PublishOutcome::kUnavailable);
  ASSERT_TRUE(answer);
  EXPECT_EQ(answer->status, 503);
  EXPECT_EQ(HeaderValue(*answer, "Retry-After"), "1");
}

TEST_F(DemoRoutesTest, EmptyCommandIs400AndPublishesNothing) {
  for (const char* target : {"/add-job/", "/add-job", "/add-job/?x=1"}) {
    const auto& answer = Get(target);
    ASSERT_TRUE(answer) << target;
    EXPECT_EQ(answer->status, 400) << target;
    EXPECT_EQ(nlohmann::json::parse(answer->body)["error"]["code"], "empty_command") << target;
  }
  EXPECT_TRUE(published_.empty());
}

TEST_F(DemoRoutesTest, BadInputChangesNothing) {
  for (const char* target : {"/add-job/%zz", "/add-job/%C3", "/add-job/a/b", "/nope"}) {
    const auto& answer = Get(target);
    ASSERT_TRUE(answer) << target;
    EXPECT_GE(answer->status, 400) << target;
    EXPECT_LT(answer->status, 500) << target;
  }
  EXPECT_TRUE(published_.empty());
}

TEST_F(DemoRoutesTest, PlusAndUtf8ArePublishedAsSent) {
  Get("/add-job/a+b");
  Get("/add-job/caf%C3%A9");
  ASSERT_EQ(published_.size(), 2U);
  EXPECT_EQ(published_[0].body, "a+b");
  EXPECT_EQ(published_[1].body, "caf\xC3\xA9");
}

}  // namespace
}  // namespace warren::api
