// The multi-host path on one machine: a three-node RabbitMQ cluster on loopback (tests/support's
// TestCluster), PostgreSQL as the store, `serve` connected to one node and two workers to the others,
// each given every node's URL. Measures classic against quorum queues in the cluster, then kills -9
// the node holding the job queue's leader while jobs flow and checks (tests/chaos's checker) that
// every accepted job ends in exactly one terminal state. Prints the figures docs/scaling.md quotes;
// `make test-cluster` also appends them to tests/cluster/results/.
#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chaos/checker.hpp"
#include "core/job.hpp"
#include "support/cluster.hpp"
#include "support/postgres.hpp"
#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

double SecondsSince(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

void Report(const std::string& line) {
  std::cout << "cluster: " << line << "\n" << std::flush;
  if (const char* results = std::getenv("WARREN_CLUSTER_RESULTS")) {
    std::ofstream(results, std::ios::app) << line << "\n";
  }
}

// `serve` with `serve_node` first in its URL list, a worker with each of `worker_nodes` first; every
// process has every node's URL. serve declares `queue` when it connects (it is in [work] queues), so
// the queue's leader starts on serve's node.
class Stack {
 public:
  Stack(testing::TestCluster& cluster, const std::string& vhost, const std::string& queue_type,
        const std::string& queue, int serve_node, const std::vector<int>& worker_nodes, int concurrency)
      : dir_(testing::MakeTempDir("warren-cluster-stack")), port_(testing::FreePort()), queue_(queue) {
    const std::string effect = std::filesystem::path(testing::WarrenBinary()).parent_path() / "chaos_effect";
    std::ofstream(dir_ + "/warren.toml") << fmt::format(R"([amqp]
reconnect_max = "1s"

[work]
queues = ["{1}"]

[retry]
base = "100ms"
cap = "1s"

[jobs."chaos.effect"]
command = ["{0}", "append", "{{args.file}}", "{{id}}", "{{attempt}}", "{{args.ms}}"]
max_attempts = 10
)",
                                                        effect, queue);
    const std::vector<std::string> common{"--config", dir_ + "/warren.toml", "--queue-type", queue_type};
    std::vector<std::string> serve{testing::WarrenBinary(),
                                   "serve",
                                   "--listen",
                                   "127.0.0.1:" + std::to_string(port_),
                                   "--amqp-url",
                                   cluster.AmqpUrls(serve_node, vhost),
                                   "--store",
                                   testing::TestPostgres::Get().CreateDatabase(),
                                   "--max-batch",
                                   "1000"};
    serve.insert(serve.end(), common.begin(), common.end());
    serve_ = std::make_unique<testing::Process>(serve);
    EXPECT_TRUE(testing::WaitForHttp(port_, "/readyz", 120s)) << serve_->Output();
    for (const int node : worker_nodes) {
      std::vector<std::string> work{testing::WarrenBinary(),
                                    "work",
                                    "--amqp-url",
                                    cluster.AmqpUrls(node, vhost),
                                    "--queue",
                                    queue,
                                    "--concurrency",
                                    std::to_string(concurrency)};
      work.insert(work.end(), common.begin(), common.end());
      workers_.push_back(std::make_unique<testing::Process>(work));
    }
    for (auto& w : workers_) {
      EXPECT_TRUE(w->WaitForOutput("consuming " + queue, 120s)) << w->Output();
      EXPECT_TRUE(w->WaitForOutput("publisher connected", 120s)) << w->Output();
    }
  }

  unsigned short Port() const { return port_; }
  std::string ServeOutput() const { return serve_->Output(); }
  std::string WorkerOutput(size_t i) const { return workers_.at(i)->Output(); }
  const std::string& Dir() const { return dir_; }

  // warren_jobs_succeeded_total for the queue and type, from serve's /metrics.
  long Succeeded(const std::string& type) const {
    const auto text = testing::HttpGet(port_, "/metrics").body;
    const std::string needle =
        fmt::format("warren_jobs_succeeded_total{{queue=\"{}\",type=\"{}\"}} ", queue_, type);
    const auto at = text.find(needle);
    return at == std::string::npos ? 0 : std::atol(text.c_str() + at + needle.size());
  }

  std::string Logs() const {
    auto tail = [](const std::string& text) {
      return text.size() > 6000 ? text.substr(text.size() - 6000) : text;
    };
    std::string out = "\n--- serve:\n" + tail(serve_->Output());
    for (const auto& w : workers_) {
      out += "\n--- worker:\n" + tail(w->Output());
    }
    return out;
  }

 private:
  std::string dir_;
  unsigned short port_;
  std::string queue_;
  std::unique_ptr<testing::Process> serve_;
  std::vector<std::unique_ptr<testing::Process>> workers_;
};

class Cluster : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    const auto start = Clock::now();
    cluster_ = std::make_unique<testing::TestCluster>(3);
    Report(fmt::format("three nodes booted and clustered in {:.0f} s", SecondsSince(start)));
  }
  static void TearDownTestSuite() { cluster_.reset(); }

  static std::unique_ptr<testing::TestCluster> cluster_;
};
std::unique_ptr<testing::TestCluster> Cluster::cluster_;

// The same burst of no-op jobs through classic and through quorum queues: enqueue rate (confirmed
// by the broker and stored in PostgreSQL) and end-to-end rate (until every job is recorded succeeded).
TEST_F(Cluster, ClassicAndQuorumQueuesBothRunABurstAcrossTheCluster) {
  constexpr int kJobs = 2000;
  constexpr int kBatch = 500;
  for (const std::string type : {"classic", "quorum"}) {
    const std::string vhost = "throughput-" + type;
    cluster_->AddVhost(vhost);
    Stack stack(*cluster_, vhost, type, "bench", 0, {1, 2}, 8);
    ASSERT_FALSE(HasFailure()) << stack.Logs();
    const auto start = Clock::now();
    for (int sent = 0; sent < kJobs; sent += kBatch) {
      json jobs = json::array();
      for (int i = 0; i < kBatch; ++i) {
        jobs.push_back({{"type", "warren.noop"}, {"queue", "bench"}});
      }
      const auto r = testing::HttpRequest(stack.Port(), "POST", "/v1/jobs/batch", json{{"jobs", jobs}}.dump(),
                                          {{"Content-Type", "application/json"}}, 60s);
      ASSERT_TRUE(r.status == 202 || r.status == 200) << r.status << " " << r.body << stack.Logs();
    }
    const double enqueue_s = SecondsSince(start);
    const auto deadline = Clock::now() + 300s;
    while (stack.Succeeded("warren.noop") < kJobs && Clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    const double total_s = SecondsSince(start);
    ASSERT_EQ(stack.Succeeded("warren.noop"), kJobs) << stack.Logs();
    Report(fmt::format(
        "{} queues, {} no-op jobs in batches of {}, serve on node 0, 2 workers x 8 on nodes 1 and 2: "
        "enqueued at {:.0f} jobs/s, all succeeded after {:.1f} s ({:.0f} jobs/s end to end)",
        type, kJobs, kBatch, kJobs / enqueue_s, total_s, kJobs / total_s));
  }
}

// serve and worker A connect to node 0 first, worker B to node 1. serve declares the queues on node 0,
// so node 0 holds their leaders: killing it takes the leaders, serve's connections and worker A's at
// once, and all of them must move to the surviving nodes.
TEST_F(Cluster, KillingTheQueueLeadersNodeLosesNoAcceptedJob) {
  const std::string vhost = "failover";
  const std::string queue = "cluster.jobs";
  cluster_->AddVhost(vhost);
  Stack stack(*cluster_, vhost, "quorum", queue, 0, {0, 1}, 4);
  ASSERT_FALSE(HasFailure()) << stack.Logs();
  const std::string effects = stack.Dir() + "/effects.log";
  int leader = cluster_->LeaderOf(queue, vhost);
  Report(fmt::format("leader of {} before the kill: node {}", queue, leader));
  if (leader < 0) {
    leader = 0;
  }

  chaos::Checker checker(stack.Port(), effects);
  std::atomic<bool> stop{false};
  std::atomic<bool> killed{false};
  std::atomic<int> refused{0};
  std::map<std::string, int> refused_by_code;  // guarded by mu: which 503 (or other) answers came
  std::atomic<Clock::time_point> kill_at{Clock::now() + 1h};
  std::atomic<double> first_accept_after_kill{-1};
  std::mutex mu;
  std::vector<std::string> after_kill;  // guarded by mu
  std::thread client([&] {
    while (!stop) {
      const auto sent = Clock::now();
      const json job{{"type", "chaos.effect"}, {"queue", queue}, {"args", {{"file", effects}, {"ms", 10}}}};
      const auto r = testing::HttpRequest(stack.Port(), "POST", "/v1/jobs", job.dump(),
                                          {{"Content-Type", "application/json"}}, 30s);
      if (r.status == 202 || r.status == 200) {
        const std::string id = json::parse(r.body)["id"];
        checker.Accepted(id, true);
        if (killed && sent >= kill_at.load()) {
          if (first_accept_after_kill < 0) {
            first_accept_after_kill = std::chrono::duration<double>(Clock::now() - kill_at.load()).count();
          }
          std::lock_guard lock(mu);
          after_kill.push_back(id);
        }
      } else {
        ++refused;
        const auto body = json::parse(r.body, nullptr, false);
        const std::string code = body.is_object() && body.contains("error")
                                     ? body["error"].value("code", std::string("?"))
                                     : std::string("no JSON body");
        {
          std::lock_guard lock(mu);
          ++refused_by_code[fmt::format("{} {}", r.status, code)];
        }
        std::this_thread::sleep_for(50ms);
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(6s);
  checker.Fault(fmt::format("kill -9 node {}", leader));
  const auto wall_kill = std::chrono::system_clock::now();
  kill_at = Clock::now();
  killed = true;
  cluster_->Kill(leader);
  std::this_thread::sleep_for(20s);
  stop = true;
  client.join();

  const chaos::Report report = checker.Finish(240s);
  Report(fmt::format("kill -9 of the leader's node under load: {}", report.Text()));
  double first_completion = -1;
  {
    std::lock_guard lock(mu);
    for (const auto& id : after_kill) {
      const auto record = json::parse(testing::HttpGet(stack.Port(), "/v1/jobs/" + id).body, nullptr, false);
      if (record.is_object() && record["finished_at"].is_string()) {
        if (const auto at = ParseTime(record["finished_at"].get<std::string>())) {
          const double s = std::chrono::duration<double>(*at - wall_kill).count();
          first_completion = first_completion < 0 ? s : std::min(first_completion, s);
        }
      }
    }
    Report(fmt::format(
        "after the kill: first enqueue accepted after {:.1f} s, first job enqueued after the kill "
        "completed {:.1f} s after it; {} enqueues refused (503) meanwhile, {} accepted after the kill",
        first_accept_after_kill.load(), first_completion, refused.load(), after_kill.size()));
    for (const auto& [code, n] : refused_by_code) {
      Report(fmt::format("  refused with {}: {}", code, n));
    }
    EXPECT_FALSE(after_kill.empty()) << "enqueues were accepted again after the kill" << stack.Logs();
  }
  EXPECT_EQ(report.lost, 0U) << report.Text() << stack.Logs();
  EXPECT_EQ(report.unexplained_effects, 0U) << report.Text();
  EXPECT_EQ(report.missing_effects, 0U) << report.Text();
  EXPECT_TRUE(report.problems.empty()) << report.Text();
  EXPECT_GT(report.accepted, 0U);
  EXPECT_GE(first_completion, 0) << "a job enqueued after the kill completed" << stack.Logs();
  // The connections on the killed node moved to the others.
  auto count = [](const std::string& text, const std::string& needle) {
    size_t n = 0;
    for (auto at = text.find(needle); at != std::string::npos; at = text.find(needle, at + 1)) {
      ++n;
    }
    return n;
  };
  const auto killed_port = ":" + std::to_string(cluster_->AmqpPort(leader)) + "/";
  const std::string serve_log = stack.ServeOutput();
  EXPECT_NE(serve_log.find("publisher lost the broker amqp://guest:***@127.0.0.1" + killed_port),
            std::string::npos)
      << serve_log;
  EXPECT_GE(count(serve_log, "publisher connected to"), 2U) << serve_log;
  Report(fmt::format("serve's publisher connected {} times, recycled {} times for refused publishes",
                     count(serve_log, "publisher connected to"), count(serve_log, "(basic.nack)")));
  if (leader == 0) {
    EXPECT_GE(count(stack.WorkerOutput(0), "consuming " + queue), 2U) << stack.WorkerOutput(0);
  }
  Report(fmt::format("leader of {} after the kill: node {}", queue, cluster_->LeaderOf(queue, vhost)));
}

}  // namespace
}  // namespace warren
