#include "amqp/topology.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <limits>
#include <set>

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

TEST(QueueSpecs, ClassicQueuesHaveNoArguments) {
  for (const std::string name : {"default", "task_queue", "warren.dead"}) {
    const auto spec = JobQueueSpec(name, QueueType::kClassic);
    EXPECT_TRUE(spec.durable);
    EXPECT_TRUE(spec.string_args.empty() && spec.int_args.empty()) << name;
  }
  const auto recorder = RecorderTopology(QueueType::kClassic).queues.at(0);
  EXPECT_TRUE(recorder.string_args.empty() && recorder.int_args.empty());
}

TEST(QueueSpecs, PriorityJobQueuesHaveAMaxPriorityAndNothingElseDoes) {
  const auto spec = JobQueueSpec("images", QueueType::kPriority);
  EXPECT_TRUE(spec.durable);
  EXPECT_EQ(spec.int_args, (std::map<std::string, int64_t>{{"x-max-priority", kJobPriorityLevels}}));
  EXPECT_TRUE(spec.string_args.empty()) << "a classic queue";
  for (const std::string name : {"task_queue", "warren.dead"}) {
    const auto plain = JobQueueSpec(name, QueueType::kPriority);
    EXPECT_TRUE(plain.string_args.empty() && plain.int_args.empty()) << name;
  }
  for (const auto& tier : DelayTopology(QueueType::kPriority).queues) {
    EXPECT_FALSE(tier.int_args.contains("x-max-priority")) << tier.name << ": a tier is FIFO by its TTL";
  }
  const auto recorder = RecorderTopology(QueueType::kPriority).queues.at(0);
  EXPECT_TRUE(recorder.string_args.empty() && recorder.int_args.empty());
}

TEST(JobMessages, AJobsPriorityTravelsAsTheMessagePriorityAndSurvivesACopy) {
  JobSpec spec;
  spec.type = "resize";
  spec.priority = 7;
  const auto record = NewJobRecord("0190f5b2-7c4e-7000-8000-000000000001", spec, TimePoint(milliseconds(1)));
  const auto message = EncodeJobMessage(record);
  EXPECT_EQ(message.priority, 7);
  Delivery d;
  d.queue = "default";
  d.priority = message.priority;
  EXPECT_EQ(CopyOf(d).priority, 7) << "a retry, a delay or a dead letter keeps it";
  spec.priority = 0;
  EXPECT_EQ(EncodeJobMessage(NewJobRecord(record.id, spec, TimePoint(milliseconds(1)))).priority, 0);
}

TEST(JobMessages, TheStoredMarkTravelsInAHeaderAndSurvivesACopy) {
  JobSpec spec;
  spec.type = "resize";
  const auto record = NewJobRecord("0190f5b2-7c4e-7000-8000-000000000001", spec, TimePoint(milliseconds(1)));
  Delivery d;
  d.queue = "default";
  d.type = "resize";
  d.message_id = record.id;
  d.headers = EncodeJobMessage(record).headers;
  EXPECT_FALSE(DecodeJobMessage(d)->stored) << "an SDK client's job: no record to wait for";
  d.headers[std::string(kStoredHeader)] = "1";
  EXPECT_TRUE(DecodeJobMessage(d)->stored);
  EXPECT_EQ(CopyOf(d).headers.at(std::string(kStoredHeader)), "1") << "a retry keeps it";
}

TEST(Topologies, ServesPublisherDeclaresEveryExchangeItPublishesTo) {
  // The change feed shares the publisher's channel: were warren.changes missing when it first
  // published (the feeds' consumer, which also declares it, not connected yet), the broker would close
  // the channel and fail the enqueues in flight with it.
  const auto t = ServePublisherTopology({"default"}, QueueType::kClassic);
  std::set<std::string> exchanges;
  for (const auto& e : t.exchanges) {
    exchanges.insert(e.name);
  }
  for (const auto name : {kChangesExchange, kControlExchange, kDueExchange}) {
    EXPECT_TRUE(exchanges.contains(std::string(name))) << name;
  }
}

TEST(JobMessages, AForeignProducersHugeTimeoutIsHeldToTheLongestDuration) {
  Delivery d;
  d.queue = "default";
  d.type = "resize";
  d.message_id = "0190f5b2-7c4e-7000-8000-000000000001";
  d.headers[std::string(kTimeoutHeader)] = std::to_string(std::numeric_limits<int64_t>::max());
  EXPECT_EQ(DecodeJobMessage(d)->timeout, kMaxDuration) << "now + timeout must not overflow";
  d.headers[std::string(kTimeoutHeader)] = "2500";
  EXPECT_EQ(DecodeJobMessage(d)->timeout, milliseconds(2500));
}

TEST(QueueSpecs, QuorumJobQueuesDeadLetterPastTheDeliveryLimit) {
  const auto spec = JobQueueSpec("images", QueueType::kQuorum);
  EXPECT_EQ(spec.string_args.at("x-queue-type"), "quorum");
  EXPECT_EQ(spec.int_args.at("x-delivery-limit"), kQuorumDeliveryLimit);
  EXPECT_EQ(spec.string_args.at("x-dead-letter-exchange"), "");
  EXPECT_EQ(spec.string_args.at("x-dead-letter-routing-key"), kDeadQueue);
  EXPECT_EQ(spec.string_args.at("x-dead-letter-strategy"), "at-least-once");
  EXPECT_EQ(spec.string_args.at("x-overflow"), "reject-publish") << "at-least-once dead-lettering needs it";

  const auto dead = JobQueueSpec(std::string(kDeadQueue), QueueType::kQuorum);
  EXPECT_EQ(dead.string_args.at("x-queue-type"), "quorum");
  EXPECT_FALSE(dead.int_args.contains("x-delivery-limit"));
  EXPECT_FALSE(dead.string_args.contains("x-dead-letter-exchange"));

  const auto recorder = RecorderTopology(QueueType::kQuorum).queues.at(0);
  EXPECT_EQ(recorder.string_args.at("x-queue-type"), "quorum");
  EXPECT_FALSE(recorder.int_args.contains("x-delivery-limit")) << "the recorder hands batches back on store errors";
}

TEST(QueueSpecs, TheDemoQueueStaysAsTheDemoDeclaresIt) {
  const auto spec = JobQueueSpec(std::string(kDemoQueue), QueueType::kQuorum);
  EXPECT_TRUE(spec.durable);
  EXPECT_TRUE(spec.string_args.empty() && spec.int_args.empty());
}

TEST(QueueSpecs, QuorumDelayTiersKeepTheirTtlAndDeadLetterAtLeastOnce) {
  const Topology t = DelayTopology(QueueType::kQuorum);
  ASSERT_FALSE(t.queues.empty());
  for (const auto& q : t.queues) {
    EXPECT_EQ(q.string_args.at("x-queue-type"), "quorum");
    EXPECT_EQ(q.string_args.at("x-dead-letter-exchange"), kDueExchange);
    EXPECT_FALSE(q.string_args.contains("x-dead-letter-routing-key")) << "the message keeps its job queue";
    EXPECT_EQ(q.string_args.at("x-dead-letter-strategy"), "at-least-once");
    EXPECT_TRUE(q.int_args.contains("x-message-ttl"));
  }
}

TEST(CopyOf, LeavesOutWhatTheBrokerAddedToTheOldMessage) {
  Delivery d;
  d.queue = "images";
  d.headers = {{"x-delivery-count", "3"}, {"x-death", ""}, {std::string(kAttemptHeader), "2"}};
  const auto copy = CopyOf(d);
  EXPECT_EQ(copy.declare_job_queue, "images");
  EXPECT_FALSE(copy.headers.contains("x-delivery-count"));
  EXPECT_FALSE(copy.headers.contains("x-death"));
  EXPECT_EQ(copy.headers.at(std::string(kAttemptHeader)), "2");
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
  const Topology t = DelayTopology(QueueType::kClassic);
  ASSERT_EQ(t.queues.size(), DelayTiers().size());
  for (size_t i = 0; i < t.queues.size(); ++i) {
    EXPECT_EQ(t.exchanges[i].type, "fanout");
    EXPECT_EQ(t.queues[i].int_args.at("x-message-ttl"), DelayTiers()[i].count());
    EXPECT_EQ(t.queues[i].string_args.at("x-dead-letter-exchange"), kDueExchange)
        << "not the default exchange, which drops a job whose queue is gone";
    EXPECT_EQ(t.bindings[i].queue, t.queues[i].name);
    EXPECT_TRUE(t.queues[i].name.starts_with("warren.wait.")) << "new names: the old tiers' arguments differ";
  }
}

TEST(DueTopology, JobQueuesAreBoundToTheDueExchangeWhoseAlternateKeepsWhatItCannotRoute) {
  const Topology t = JobTopology({"images", "task_queue"}, QueueType::kClassic);
  const auto due = std::find_if(t.exchanges.begin(), t.exchanges.end(),
                                [](const ExchangeSpec& e) { return e.name == kDueExchange; });
  ASSERT_NE(due, t.exchanges.end());
  EXPECT_EQ(due->type, "direct");
  EXPECT_EQ(due->alternate_exchange, kUnroutedQueue);
  const auto unrouted = std::find_if(t.exchanges.begin(), t.exchanges.end(),
                                     [](const ExchangeSpec& e) { return e.name == kUnroutedQueue; });
  ASSERT_NE(unrouted, t.exchanges.end());
  EXPECT_LT(unrouted - t.exchanges.begin(), due - t.exchanges.begin()) << "the alternate is declared first";
  EXPECT_EQ(unrouted->type, "fanout");
  for (const std::string queue : {"images", "task_queue"}) {
    const auto binding = std::find_if(t.bindings.begin(), t.bindings.end(),
                                      [&](const BindingSpec& b) { return b.queue == queue; });
    ASSERT_NE(binding, t.bindings.end()) << queue;
    EXPECT_EQ(binding->exchange, kDueExchange);
    EXPECT_EQ(binding->routing_key, queue);
  }
  const auto kept = std::find_if(t.queues.begin(), t.queues.end(),
                                 [](const QueueSpec& q) { return q.name == kUnroutedQueue; });
  ASSERT_NE(kept, t.queues.end());
  EXPECT_TRUE(kept->durable);
  EXPECT_EQ(DueTopology(QueueType::kQuorum).queues.at(0).string_args.at("x-queue-type"), "quorum");
}

}  // namespace
}  // namespace warren::amqp
