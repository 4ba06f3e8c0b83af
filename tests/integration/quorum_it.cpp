// Quorum queues and broker URL lists on the one test broker (the short version of tests/cluster): in a
// vhost of its own (a classic and a quorum topology cannot share one), `serve` and `work` with
// `--queue-type quorum` run jobs end to end, retries travel the quorum delay tiers, `task_queue` stays
// classic, and a URL list whose first broker is down connects to the next.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <map>
#include <thread>

#include <fmt/format.h>

#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using testing::TestBroker;
using namespace std::chrono_literals;

class Quorum : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    ASSERT_EQ(TestBroker::Get().Ctl({"add_vhost", kVhost}), 0);
    ASSERT_EQ(TestBroker::Get().Ctl({"set_permissions", "-p", kVhost, "guest", ".*", ".*", ".*"}), 0);
  }

  void SetUp() override {
    dir_ = testing::MakeTempDir("warren-quorum");
    port_ = testing::FreePort();
    // Nothing listens on the first URL's port: every connection must move on to the second.
    const std::string urls = fmt::format("amqp://guest:guest@127.0.0.1:{}/{},{}{}", testing::FreePort(),
                                         kVhost, TestBroker::Get().AmqpUrl(), kVhost);
    serve_ = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--amqp-url",
        urls, "--queue-type", "quorum", "--store", "sqlite:" + dir_ + "/warren.db"});
    ASSERT_TRUE(testing::WaitForHttp(port_, "/readyz", 30s)) << serve_->Output();
    worker_ = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::WarrenBinary(), "work", "--amqp-url", urls, "--queue-type", "quorum", "--queue", "default",
        "--concurrency", "2", "--retry-base", "100ms"});
    ASSERT_TRUE(worker_->WaitForOutput("consuming default", 30s)) << worker_->Output();
    ASSERT_TRUE(worker_->WaitForOutput("publisher connected", 30s)) << worker_->Output();
  }

  json WaitForTerminal(const std::string& id) {
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    json job;
    while (std::chrono::steady_clock::now() < deadline) {
      job = json::parse(testing::HttpGet(port_, "/v1/jobs/" + id).body, nullptr, false);
      if (job.is_object() && (job["state"] == "succeeded" || job["state"] == "dead")) {
        return job;
      }
      std::this_thread::sleep_for(100ms);
    }
    ADD_FAILURE() << id << " is " << job.dump() << "\n--- serve:\n"
                  << serve_->Output() << "\n--- work:\n"
                  << worker_->Output();
    return job;
  }

  static constexpr const char* kVhost = "warren-quorum-it";
  std::string dir_;
  unsigned short port_ = 0;
  std::unique_ptr<testing::Process> serve_;
  std::unique_ptr<testing::Process> worker_;
};

TEST_F(Quorum, JobsAndRetriesRunOnQuorumQueuesAndTheDemoQueueStaysClassic) {
  std::vector<std::string> ids;
  for (int i = 0; i < 10; ++i) {
    const auto r = testing::HttpRequest(port_, "POST", "/v1/jobs",
                                        json{{"type", "warren.echo"}, {"args", {{"i", i}}}}.dump(),
                                        {{"Content-Type", "application/json"}}, 30s);
    ASSERT_EQ(r.status, 202) << r.body << serve_->Output();
    ids.push_back(json::parse(r.body)["id"]);
  }
  // Fails twice: its retry waits in a quorum delay tier and dead-letters back to `default`.
  const auto failing = testing::HttpRequest(
      port_, "POST", "/v1/jobs",
      json{{"type", "warren.fail"}, {"max_attempts", 2}, {"args", {{"error", "twice"}}}}.dump(),
      {{"Content-Type", "application/json"}}, 30s);
  ASSERT_EQ(failing.status, 202) << failing.body;
  for (const auto& id : ids) {
    EXPECT_EQ(WaitForTerminal(id)["state"], "succeeded");
  }
  const auto dead = WaitForTerminal(json::parse(failing.body)["id"]);
  EXPECT_EQ(dead["state"], "dead");
  EXPECT_EQ(dead["attempts"].size(), 2U) << dead;

  std::string listing;
  ASSERT_EQ(TestBroker::Get().Ctl(
                {"list_queues", "-p", kVhost, "--formatter", "json", "name", "type", "arguments"}, &listing),
            0)
      << listing;
  const auto queues = json::parse(listing, nullptr, false);
  ASSERT_TRUE(queues.is_array()) << listing;
  std::map<std::string, std::string> types;
  for (const auto& q : queues) {
    types[q["name"]] = q["type"];
  }
  // serve's relay consumes it: a quorum queue refuses a consumer on a channel with a global prefetch.
  EXPECT_TRUE(serve_->WaitForOutput("consuming warren.unrouted", 5s)) << serve_->Output();
  EXPECT_EQ(types["default"], "quorum") << listing;
  EXPECT_EQ(types["warren.dead"], "quorum") << listing;
  EXPECT_EQ(types["warren.events.recorder"], "quorum") << listing;
  EXPECT_EQ(types["warren.wait.100"], "quorum") << listing;
  EXPECT_EQ(types["warren.unrouted"], "quorum") << listing;
  EXPECT_EQ(types["task_queue"], "classic") << "declared exactly as the demo declares it: " << listing;
  // Each process tried the dead first URL and went on to the broker.
  EXPECT_NE(worker_->Output().find("consumer connected to amqp://guest:***@127.0.0.1:" +
                                   std::to_string(TestBroker::Get().AmqpPort())),
            std::string::npos)
      << worker_->Output();
}

// Queue priorities on quorum queues, whose subscriptions have a per-consumer prefetch only: a worker
// started on a backlog in both queues runs every job of the higher one first.
TEST_F(Quorum, AWorkerTakesTheHigherPriorityQueueFirst) {
  std::vector<std::string> ids;
  for (const std::string queue : {"it.prio.lo", "it.prio.lo", "it.prio.lo", "it.prio.lo", "it.prio.hi",
                                  "it.prio.hi", "it.prio.hi"}) {
    const auto r = testing::HttpRequest(
        port_, "POST", "/v1/jobs", json{{"type", "warren.sleep"}, {"queue", queue}, {"args", {{"seconds", 0.1}}}}.dump(),
        {{"Content-Type", "application/json"}}, 30s);
    ASSERT_EQ(r.status, 202) << r.body << serve_->Output();
    ids.push_back(json::parse(r.body)["id"]);
  }
  const std::string url = TestBroker::Get().AmqpUrl() + kVhost;
  testing::Process prioritised({testing::WarrenBinary(), "work", "--amqp-url", url, "--queue-type", "quorum",
                                "--queue", "it.prio.lo", "--queue", "it.prio.hi", "--queue-priority", "it.prio.hi=1"});
  std::vector<std::pair<std::string, std::string>> starts;  // started_at, queue
  for (const auto& id : ids) {
    const auto job = WaitForTerminal(id);
    ASSERT_EQ(job["state"], "succeeded") << job << prioritised.Output();
    starts.emplace_back(job["attempts"][0]["started_at"], job["queue"]);
  }
  std::sort(starts.begin(), starts.end());
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(starts[i].second, "it.prio.hi") << "start " << i << "\n" << prioritised.Output();
  }
  EXPECT_NE(prioritised.Output().find("it.prio.hi (priority 1)"), std::string::npos) << prioritised.Output();
  bool listed = false;
  json workers;
  const auto deadline = std::chrono::steady_clock::now() + 15s;  // heartbeats come every 5 s
  while (!listed && std::chrono::steady_clock::now() < deadline) {
    workers = json::parse(testing::HttpGet(port_, "/v1/workers").body)["workers"];
    for (const auto& w : workers) {
      listed = listed || w.value("queue_priorities", json()) == json{{"it.prio.hi", 1}};
    }
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_TRUE(listed) << "GET /v1/workers shows the worker's queue priorities: " << workers;
}

}  // namespace
}  // namespace warren
