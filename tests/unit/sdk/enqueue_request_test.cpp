// What the SDK client publishes, built and validated without a broker.
#include <gtest/gtest.h>

#include "amqp/topology.hpp"
#include "sdk/enqueue_request.hpp"

namespace warren::sdk {
namespace {

using namespace std::chrono_literals;

const TimePoint kNow = *ParseTime("2026-11-26T12:00:00.000Z");

TEST(SdkEnqueue, BuildsTheSameJobAsThePostBody) {
  EnqueueOptions o;
  o.queue = "images";
  o.priority = 5;
  o.max_attempts = 7;
  o.timeout = 1500ms;
  o.deadline = std::chrono::system_clock::time_point(kNow.time_since_epoch() + 1h);
  o.tags = {"a", "b"};
  const auto record = NewEnqueuedJob("resize", {{"src", "a.png"}}, o, kNow);
  EXPECT_TRUE(IsJobId(record.id));
  EXPECT_EQ(record.state, JobState::kQueued);
  EXPECT_EQ(record.spec.type, "resize");
  EXPECT_EQ(record.spec.queue, "images");
  EXPECT_EQ(record.spec.args, nlohmann::json({{"src", "a.png"}}));
  EXPECT_EQ(record.spec.priority, 5);
  EXPECT_EQ(record.spec.max_attempts, 7);
  EXPECT_EQ(record.spec.timeout, Duration(1500));
  EXPECT_EQ(record.spec.deadline, kNow + 1h);
  EXPECT_EQ(record.spec.tags, (std::vector<std::string>{"a", "b"}));
  EXPECT_FALSE(record.spec.run_at);

  const auto message = FirstMessage(record, kNow);
  EXPECT_EQ(message.routing_key, "images");
  EXPECT_EQ(message.type, "resize");
  EXPECT_EQ(message.message_id, record.id);
  EXPECT_EQ(message.body, R"({"src":"a.png"})");
  EXPECT_EQ(message.headers.at(std::string(amqp::kMaxAttemptsHeader)), "7");
}

TEST(SdkEnqueue, DefaultsMatchTheHttpApi) {
  const auto record = NewEnqueuedJob("ping", nullptr, {}, kNow);
  EXPECT_EQ(record.spec.queue, "default");
  EXPECT_EQ(record.spec.max_attempts, JobLimits{}.default_max_attempts);
  EXPECT_TRUE(record.spec.args.is_null());
  EXPECT_EQ(EnqueueBody("ping", nullptr, {}),
            nlohmann::json({{"type", "ping"}, {"queue", "default"}, {"args", nullptr}, {"priority", 0}}));
}

TEST(SdkEnqueue, ADelayedJobGoesThroughTheDelayTiers) {
  EnqueueOptions o;
  o.delay = 5s;
  const auto record = NewEnqueuedJob("later", nullptr, o, kNow);
  EXPECT_EQ(record.state, JobState::kScheduled);
  EXPECT_EQ(record.spec.run_at, kNow + 5s);
  const auto message = FirstMessage(record, kNow);
  EXPECT_NE(message.exchange, "");
  EXPECT_EQ(message.headers.at(std::string(amqp::kNotBeforeHeader)), FormatTime(kNow + 5s));
}

TEST(SdkEnqueue, InvalidRequestsThrowTheApisOneLineMessage) {
  const auto message_for = [](const std::string& type, const EnqueueOptions& o) -> std::string {
    try {
      NewEnqueuedJob(type, nullptr, o, kNow);
    } catch (const std::invalid_argument& e) {
      return e.what();
    }
    return "<accepted>";
  };
  EXPECT_EQ(message_for("has space", {}).find("field 'type'"), 0U) << message_for("has space", {});
  EXPECT_NE(message_for("ok", {.queue = "amq.nope"}).find("'queue'"), std::string::npos);
  EXPECT_NE(message_for("ok", {.priority = 10}).find("'priority'"), std::string::npos);
  EXPECT_NE(message_for("ok", {.max_attempts = 0}).find("'max_attempts'"), std::string::npos);
  EXPECT_NE(message_for("ok", {.timeout = 0ms}).find("'timeout'"), std::string::npos);
  EnqueueOptions both;
  both.delay = 1s;
  both.run_at = std::chrono::system_clock::now();
  EXPECT_NE(message_for("ok", both).find("exclude each other"), std::string::npos);
  EnqueueOptions early;
  early.delay = 1h;
  early.deadline = std::chrono::system_clock::time_point(kNow.time_since_epoch() + 1s);
  EXPECT_NE(message_for("ok", early).find("'deadline'"), std::string::npos);
}

}  // namespace
}  // namespace warren::sdk
