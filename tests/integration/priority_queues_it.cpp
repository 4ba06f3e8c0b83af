// Job priorities end to end (decision 71): in a vhost of its own (a priority `default` and a plain one
// cannot share one), `serve` and `work` with `--queue-type priority` declare job queues with
// `x-max-priority`, and jobs enqueued over HTTP before any worker runs start highest priority first.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <thread>

#include <fmt/format.h>

#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using testing::TestBroker;
using namespace std::chrono_literals;

constexpr const char* kVhost = "warren-priority-it";

TEST(PriorityQueues, JobsEnqueuedOverHttpStartHighestPriorityFirst) {
  ASSERT_EQ(TestBroker::Get().Ctl({"add_vhost", kVhost}), 0);
  ASSERT_EQ(TestBroker::Get().Ctl({"set_permissions", "-p", kVhost, "guest", ".*", ".*", ".*"}), 0);
  const std::string dir = testing::MakeTempDir("warren-priority");
  const unsigned short port = testing::FreePort();
  const std::string url = TestBroker::Get().AmqpUrl() + kVhost;
  testing::Process serve({testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port),
                          "--amqp-url", url, "--queue-type", "priority", "--store", "sqlite:" + dir + "/warren.db"});
  ASSERT_TRUE(testing::WaitForHttp(port, "/readyz", 30s)) << serve.Output();

  // Enqueued while no worker runs: the queue holds them all when the worker starts.
  std::vector<std::pair<std::string, int>> jobs;
  for (int priority : {0, 3, 0, 9, 3, 9, 0}) {
    const auto r = testing::HttpRequest(
        port, "POST", "/v1/jobs",
        json{{"type", "warren.sleep"}, {"priority", priority}, {"args", {{"seconds", 0.05}}}}.dump(),
        {{"Content-Type", "application/json"}}, 30s);
    ASSERT_EQ(r.status, 202) << r.body << serve.Output();
    jobs.emplace_back(json::parse(r.body)["id"], priority);
  }
  testing::Process worker({testing::WarrenBinary(), "work", "--amqp-url", url, "--queue-type", "priority",
                           "--queue", "default", "--concurrency", "1"});

  std::vector<std::pair<std::string, int>> started;  // (first attempt's started_at, priority)
  const auto deadline = std::chrono::steady_clock::now() + 60s;
  for (const auto& [id, priority] : jobs) {
    json job;
    while (std::chrono::steady_clock::now() < deadline) {
      job = json::parse(testing::HttpGet(port, "/v1/jobs/" + id).body, nullptr, false);
      if (job.is_object() && job["state"] == "succeeded") {
        break;
      }
      std::this_thread::sleep_for(50ms);
    }
    ASSERT_EQ(job["state"], "succeeded") << job.dump() << "\n--- work:\n" << worker.Output();
    EXPECT_EQ(job["priority"], priority);
    started.emplace_back(job["attempts"][0]["started_at"], priority);
  }
  std::sort(started.begin(), started.end());  // RFC 3339 UTC text sorts by time
  std::vector<int> order;
  for (const auto& [at, priority] : started) {
    order.push_back(priority);
  }
  EXPECT_EQ(order, (std::vector<int>{9, 9, 3, 3, 0, 0, 0})) << worker.Output();

  std::string listing;
  ASSERT_EQ(TestBroker::Get().Ctl({"list_queues", "-p", kVhost, "--formatter", "json", "name", "arguments"}, &listing),
            0)
      << listing;
  const auto queues = json::parse(listing, nullptr, false);
  ASSERT_TRUE(queues.is_array()) << listing;
  // rabbitmqctl lists arguments as [name, type, value] triples.
  auto max_priority = [](const json& queue) -> json {
    for (const auto& argument : queue["arguments"]) {
      if (argument.is_array() && argument.size() == 3 && argument[0] == "x-max-priority") {
        return argument[2];
      }
    }
    return nullptr;
  };
  for (const auto& q : queues) {
    if (q["name"] == "default") {
      EXPECT_EQ(max_priority(q), 9) << listing;
    } else {
      EXPECT_TRUE(max_priority(q).is_null()) << "only job queues: " << q.dump();
    }
  }
}

// Once a priority worker has declared `default` with x-max-priority, a process configured for plain
// classic queues cannot use it, and no retry changes that: `work` and `serve` refuse to start, with
// the reason on one line.
TEST(PriorityQueues, ProcessesOfAnotherQueueTypeRefuseToStartOnTheVhost) {
  constexpr const char* kOwnVhost = "warren-mismatch-it";
  const std::string url = TestBroker::Get().AmqpUrl() + kOwnVhost;
  ASSERT_EQ(TestBroker::Get().Ctl({"add_vhost", kOwnVhost}), 0);
  ASSERT_EQ(TestBroker::Get().Ctl({"set_permissions", "-p", kOwnVhost, "guest", ".*", ".*", ".*"}), 0);
  {
    testing::Process priority({testing::WarrenBinary(), "work", "--amqp-url", url, "--queue-type", "priority",
                               "--queue", "default"});
    ASSERT_TRUE(priority.WaitForOutput("connected", 30s)) << priority.Output();
  }
  const std::string dir = testing::MakeTempDir("warren-priority-mismatch");
  const std::vector<std::vector<std::string>> commands{
      {testing::WarrenBinary(), "work", "--amqp-url", url, "--queue", "default"},
      {testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(testing::FreePort()),
       "--amqp-url", url, "--store", "sqlite:" + dir + "/warren.db"}};
  for (const auto& argv : commands) {
    testing::Process process(argv);
    EXPECT_EQ(process.Wait(30s), 1) << argv[1] << ":\n" << process.Output();
    const std::string output = process.Output();
    EXPECT_NE(output.find("warren: queue default exists with other arguments than this process declares ("),
              std::string::npos)
        << output;
    EXPECT_NE(output.find("x-max-priority"), std::string::npos) << output;
  }
}

}  // namespace
}  // namespace warren
