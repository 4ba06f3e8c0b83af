#include "amqp/topology.hpp"

#include <gtest/gtest.h>

#include "core/retry.hpp"

namespace warren::amqp {
namespace {

using std::chrono::milliseconds;

JobEvent Event(const std::string& id, EventKind kind) {
  JobEvent e;
  e.job_id = id;
  e.kind = kind;
  e.attempt = 1;
  e.at = TimePoint(milliseconds(1'800'000'000'000));
  e.worker = "w:1";
  return e;
}

TEST(EventMessages, OneEventOrABatchDecodeTheSame) {
  const auto a = Event("a", EventKind::kStarted);
  const auto b = Event("b", EventKind::kSucceeded);
  const auto single = EncodeEventMessage(a, "default", "resize");
  EXPECT_EQ(single.routing_key, "job.started.default.resize");
  EXPECT_EQ(DecodeEvents(single.body), std::vector<JobEvent>{a});

  const auto batch =
      EncodeEventBatchMessage({single.body, EncodeEventMessage(b, "default", "resize").body});
  EXPECT_EQ(batch.routing_key, "job.batch");
  EXPECT_EQ(batch.type, kEventBatchType);
  EXPECT_EQ(DecodeEvents(batch.body), (std::vector<JobEvent>{a, b}));
  EXPECT_THROW(DecodeEvents("not json"), std::invalid_argument);
  EXPECT_THROW(DecodeEvents("[1, 2]"), std::invalid_argument);
}

TEST(DelayRouting, TheLongestFittingTierCarriesTheJobToItsQueue) {
  OutgoingMessage m;
  m.routing_key = "images";
  const TimePoint at(milliseconds(1'800'000'000'000));
  RouteThroughDelay(m, at, milliseconds(5000));
  EXPECT_EQ(m.exchange, DelayTierName(milliseconds(3200)));
  EXPECT_EQ(m.routing_key, "images") << "the tier dead-letters under the message's own routing key";
  EXPECT_EQ(m.headers.at(std::string(kNotBeforeHeader)), FormatTime(at));

  OutgoingMessage soon;
  soon.routing_key = "images";
  RouteThroughDelay(soon, at, milliseconds(40));
  EXPECT_EQ(soon.exchange, "") << "under the shortest tier: straight to the queue, the worker waits";
}

TEST(DelayTopology, EveryTierIsAFanoutAndAQueueWithItsTtl) {
  const Topology t = DelayTopology();
  ASSERT_EQ(t.queues.size(), DelayTiers().size());
  for (size_t i = 0; i < t.queues.size(); ++i) {
    EXPECT_EQ(t.exchanges[i].type, "fanout");
    EXPECT_EQ(t.queues[i].int_args.at("x-message-ttl"), DelayTiers()[i].count());
    EXPECT_EQ(t.queues[i].string_args.at("x-dead-letter-exchange"), "");
    EXPECT_EQ(t.bindings[i].queue, t.queues[i].name);
  }
}

}  // namespace
}  // namespace warren::amqp
