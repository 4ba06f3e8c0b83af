// The publish outbox: confirmed jobs leave it in batches; a job whose publish was lost is published
// again by the sweep, and one that moved on (ran, was cancelled) only leaves it.
#include "api/outbox.hpp"

#include <gtest/gtest.h>

#include <thread>

#include "amqp/topology.hpp"
#include "fakes.hpp"

namespace warren::api {
namespace {

using namespace std::chrono_literals;
using testing::FakePublisher;
using testing::FakeStore;

const TimePoint kNow = TimePoint(std::chrono::milliseconds(1'800'000'000'000));

JobRecord Job(TimePoint created, JobState state = JobState::kQueued, int attempt = 0) {
  JobSpec spec;
  spec.type = "t";
  JobRecord record = NewJobRecord(NewJobId(created), spec, created);
  record.state = state;
  record.attempt = attempt;
  return record;
}

class OutboxTest : public ::testing::Test {
 protected:
  OutboxOptions Options() {
    OutboxOptions o;
    o.sweep_interval = 1h;  // sweeps are called by hand
    o.mark_interval = 5ms;
    o.stale_after = 30s;
    return o;
  }
  PublishFn Publish() {
    return [this](amqp::OutgoingMessage m, amqp::PublishCallback done) {
      publisher_.Publish(std::move(m), std::move(done));
    };
  }
  FakeStore store_;
  FakePublisher publisher_;
};

TEST_F(OutboxTest, ConfirmedJobsLeaveTheOutboxInBatches) {
  const auto a = Job(kNow - 1min);
  const auto b = Job(kNow - 1min);
  store_.InsertJobs({a, b});
  Outbox outbox(
      store_, Publish(), [] { return kNow; }, Options());
  outbox.Published({a.id, b.id});
  outbox.Stop();  // writes what is pending
  EXPECT_FALSE(store_.Unpublished(a.id));
  EXPECT_FALSE(store_.Unpublished(b.id));
}

TEST_F(OutboxTest, ASweepPublishesLostJobsAgainAndOnlyThose) {
  const auto lost = Job(kNow - 1min);
  const auto fresh = Job(kNow - 1s);  // its publish may still be in flight
  const auto ran = Job(kNow - 1min, JobState::kSucceeded, 1);
  const auto cancelled = Job(kNow - 1min, JobState::kCancelled, 0);
  store_.InsertJobs({lost, fresh, ran, cancelled});
  Outbox outbox(
      store_, Publish(), [] { return kNow; }, Options());
  EXPECT_EQ(outbox.Sweep(), 1U);
  const auto messages = publisher_.Messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].message_id, lost.id);
  ASSERT_TRUE(publisher_.Resolve(amqp::PublishOutcome::kConfirmed));
  outbox.Stop();
  EXPECT_FALSE(store_.Unpublished(lost.id)) << "published and confirmed";
  EXPECT_TRUE(store_.Unpublished(fresh.id)) << "too young to be taken for lost";
  EXPECT_FALSE(store_.Unpublished(ran.id)) << "it ran: its message was published";
  EXPECT_FALSE(store_.Unpublished(cancelled.id)) << "cancelled: nothing to publish";
}

TEST_F(OutboxTest, ARetryReservedButNeverPublishedIsPublishedAsThatAttempt) {
  auto dead = Job(kNow - 10min, JobState::kDead, 1);
  dead.attempts.push_back(Attempt{1, "w", kNow - 10min, kNow - 9min, "dead", "boom"});
  auto reserved = dead;  // what RetryNow stored before serve died: attempt 2 reserved, queued
  reserved.attempt = 2;
  reserved.state = JobState::kQueued;
  store_.InsertJobs({reserved});
  store_.MarkPublished({reserved.id});
  store_.MarkUnpublished(reserved.id, kNow - 1min);
  Outbox outbox(
      store_, Publish(), [] { return kNow; }, Options());
  EXPECT_EQ(outbox.Sweep(), 1U);
  const auto messages = publisher_.Messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].headers.at(std::string(amqp::kAttemptHeader)), "2");
}

TEST_F(OutboxTest, AnUnconfirmedRepublishStaysForTheNextSweep) {
  const auto lost = Job(kNow - 1min);
  store_.InsertJobs({lost});
  Outbox outbox(
      store_, Publish(), [] { return kNow; }, Options());
  EXPECT_EQ(outbox.Sweep(), 1U);
  ASSERT_TRUE(publisher_.Resolve(amqp::PublishOutcome::kUnavailable));
  outbox.Stop();
  EXPECT_TRUE(store_.Unpublished(lost.id));
}

}  // namespace
}  // namespace warren::api
