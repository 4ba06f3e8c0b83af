#include "api/unrouted_relay.hpp"

#include <gtest/gtest.h>

#include "amqp/topology.hpp"

namespace warren::api {
namespace {

amqp::Delivery Unrouted(const std::string& routing_key) {
  amqp::Delivery d;
  d.queue = std::string(amqp::kUnroutedQueue);
  d.routing_key = routing_key;
  d.message_id = "0190a1b2-0000-7000-8000-000000000001";
  d.type = "resize";
  d.body = R"({"src":"a.png"})";
  d.timestamp = 1'800'000'000;
  d.headers = {{std::string(amqp::kAttemptHeader), "2"},
               {std::string(amqp::kNotBeforeHeader), "2026-11-28T03:00:00Z"},
               {"x-death", ""},
               {"x-first-death-reason", "expired"}};
  return d;
}

TEST(UnroutedRelay, AJobGoesBackToTheQueueItsRoutingKeyNamesDeclaringItOnTheWay) {
  const auto m = UnroutedRelayMessage(Unrouted("images"));
  EXPECT_EQ(m.exchange, "");
  EXPECT_EQ(m.routing_key, "images") << "not the queue it was consumed from (warren.unrouted)";
  EXPECT_EQ(m.declare_job_queue, "images") << "the queue was missing: the publish declares it again";
  EXPECT_EQ(m.message_id, "0190a1b2-0000-7000-8000-000000000001");
  EXPECT_EQ(m.type, "resize");
  EXPECT_EQ(m.body, R"({"src":"a.png"})");
  EXPECT_EQ(m.headers.at(std::string(amqp::kAttemptHeader)), "2") << "the same attempt, not a new one";
  EXPECT_TRUE(m.headers.contains(std::string(amqp::kNotBeforeHeader)));
  EXPECT_FALSE(m.headers.contains("x-death")) << "the broker's headers describe the old message";
  EXPECT_TRUE(m.persistent);
  EXPECT_EQ(m.timestamp, 1'800'000'000) << "it has waited since its time came: the autoscaler reads this";
}

TEST(UnroutedRelay, AKeyThatNamesNoJobQueueGoesToTheDeadQueueWithItsReason) {
  for (const std::string key : {"", "amq.gen-x", "no spaces allowed", "warren.unrouted", "warren.dead",
                                "warren.wait.100", "warren.delay.100", "warren.events.recorder"}) {
    const auto m = UnroutedRelayMessage(Unrouted(key));
    EXPECT_EQ(m.routing_key, amqp::kDeadQueue) << "'" << key << "'";
    EXPECT_EQ(m.declare_job_queue, amqp::kDeadQueue);
    EXPECT_EQ(m.headers.at(std::string(amqp::kDeadReasonHeader)), "unroutable");
    EXPECT_NE(m.headers.at(std::string(amqp::kErrorHeader)).find("names no job queue"), std::string::npos);
  }
}

}  // namespace
}  // namespace warren::api
