// The recorder on its own against the real broker and a real SQLite file: what it holds and for how
// long.
#include <chrono>
#include <optional>
#include <string>
#include <thread>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "amqp/topology.hpp"
#include "api/recorder.hpp"
#include "core/job.hpp"
#include "store/store.hpp"
#include "support/support.hpp"
#include "support/worker_support.hpp"

namespace warren::api {
namespace {

using namespace std::chrono_literals;
using testing::TestBroker;

JobEvent StartedEvent(const std::string& job_id) {
  JobEvent event;
  event.job_id = job_id;
  event.kind = EventKind::kStarted;
  event.attempt = 1;
  event.at = SystemNow();
  event.worker = "w1";
  event.stored = true;  // from a job `serve` published while storing it: worth waiting for
  return event;
}

// After a store outage, jobs published without a record (decision 77) must not stall the recording
// of every other job for the minute their reports may wait.
TEST(Recorder, ReportsWaitingForARecordHoldAtMostHalfThePrefetch) {
  const std::string dir = testing::MakeTempDir("warren-recorder");
  auto store = store::OpenStore("sqlite:" + dir + "/warren.db");
  store->Migrate();
  const JobRecord known = testing::TypedJob("warren.echo", nlohmann::json::object(), "it.recorder");
  ASSERT_TRUE(store->InsertJobs({known}).at(0).inserted);

  const std::string recorder_queue(amqp::kRecorderQueue);
  // Shared with the serve processes other tests start: start empty (if it exists yet), end empty.
  TestBroker::Get().Ctl({"purge_queue", recorder_queue});
  struct PurgeAtEnd {
    std::string queue;
    ~PurgeAtEnd() { TestBroker::Get().Ctl({"purge_queue", queue}); }
  } purge_at_end{recorder_queue};

  RecorderOptions options;
  options.connection.url = TestBroker::Get().AmqpUrl();
  options.prefetch = 4;
  Recorder recorder(options, *store);
  ASSERT_TRUE(recorder.WaitConnected(10s));

  // Six young jobs with no record: without the cap the first four would fill the prefetch for a minute.
  // With it, those held over two seconds beyond half the prefetch get one more look, then go.
  for (int i = 0; i < 6; ++i) {
    testing::PublishMessage(
        amqp::EncodeEventMessage(StartedEvent(NewJobId(SystemNow())), "it.recorder", "warren.echo"));
  }
  testing::PublishMessage(amqp::EncodeEventMessage(StartedEvent(known.id), "it.recorder", "warren.echo"));

  const auto deadline = std::chrono::steady_clock::now() + 10s;
  std::optional<JobRecord> record;
  while (std::chrono::steady_clock::now() < deadline) {
    record = store->GetJob(known.id);
    if (record && record->state == JobState::kRunning) {
      break;
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_TRUE(record.has_value());
  EXPECT_EQ(record->state, JobState::kRunning);
  // Two messages are still held (half the prefetch); the rest were acked.
  EXPECT_TRUE(testing::WaitForCounts(recorder_queue, {0, 2}, 5s))
      << testing::QueueCounts(recorder_queue).first << " ready, "
      << testing::QueueCounts(recorder_queue).second << " unacked";
  recorder.Stop();
}

}  // namespace
}  // namespace warren::api
