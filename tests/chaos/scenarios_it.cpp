// Fault scenarios against a real stack (`warren up` on the test broker, with command jobs whose side
// effects are counted): whatever is killed, every job that got a 2xx ends in exactly one terminal
// state and no effect runs unrecorded. WARREN_CHAOS_SCALE makes each run longer (`make test-chaos`).
#include <signal.h>

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "chaos/checker.hpp"
#include "support/support.hpp"

namespace warren::chaos {
namespace {

using nlohmann::json;
using testing::TestBroker;
using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

std::string EffectBinary() {
  return std::filesystem::path(testing::WarrenBinary()).parent_path() / "chaos_effect";
}

class Chaos : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("warren-chaos");
    port_ = testing::FreePort();
    queue_ = "chaos." + std::to_string(port_);
    effects_ = dir_ + "/effects.log";
    const std::string effect = EffectBinary();
    std::ofstream(dir_ + "/warren.toml") << fmt::format(R"([amqp]
publish_timeout = "3s"

[work]
queues = ["{0}"]
concurrency = 2
kill_grace = "1s"

[retry]
base = "100ms"
cap = "1s"

[jobs."chaos.effect"]
command = ["{1}", "append", "{{args.file}}", "{{id}}", "{{attempt}}", "{{args.ms}}"]
max_attempts = 10

[jobs."chaos.crash"]
command = ["{1}", "crash-parent"]
max_attempts = 2

[jobs."chaos.hang"]
command = ["{1}", "hang"]
timeout = "1s"
max_attempts = 2
)",
                                                        queue_, effect);
  }

  void StartStack(int workers) {
    up_ = std::make_unique<testing::Process>(
        std::vector<std::string>{testing::WarrenBinary(), "up", "--config", dir_ + "/warren.toml",
                                 "--amqp-url", TestBroker::Get().AmqpUrl(), "--data-dir", dir_, "--listen",
                                 "127.0.0.1:" + std::to_string(port_), "--workers", std::to_string(workers)});
    ASSERT_TRUE(testing::WaitForHttp(port_, "/readyz", 60s)) << up_->Output();
    const auto deadline = Clock::now() + 30s;
    while (RunningWorkerPids().size() < static_cast<size_t>(workers) && Clock::now() < deadline) {
      std::this_thread::sleep_for(200ms);
    }
  }

  void TearDown() override {
    if (up_) {
      up_->Signal(SIGTERM);
      up_->Wait(60s);
    }
  }

  std::vector<pid_t> RunningWorkerPids() {
    std::vector<pid_t> pids;
    const auto listed = json::parse(testing::HttpGet(port_, "/v1/workers").body, nullptr, false);
    if (listed.is_object()) {
      for (const auto& w : listed["workers"]) {
        if (w["state"] == "running" && w["queues"] == json::array({queue_})) {
          pids.push_back(w["pid"].get<pid_t>());
        }
      }
    }
    return pids;
  }

  // POST /v1/jobs; the id on a 2xx, recorded with the checker.
  std::optional<std::string> Enqueue(Checker& checker, const json& job,
                                     std::chrono::milliseconds* took = nullptr) {
    const auto start = Clock::now();
    const auto r = testing::HttpRequest(port_, "POST", "/v1/jobs", job.dump(),
                                        {{"Content-Type", "application/json"}}, 30s);
    if (took != nullptr) {
      *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
    }
    if (r.status != 202 && r.status != 200) {
      return std::nullopt;
    }
    const std::string id = json::parse(r.body)["id"];
    checker.Accepted(id, job["type"] == "chaos.effect");
    return id;
  }

  json EffectJob(int ms) const {
    return {{"type", "chaos.effect"}, {"queue", queue_}, {"args", {{"file", effects_}, {"ms", ms}}}};
  }

  void Expect(const Report& report) {
    std::cout << "chaos: " << ::testing::UnitTest::GetInstance()->current_test_info()->name() << ": "
              << report.Text() << "\n";
    if (const char* results = std::getenv("WARREN_CHAOS_RESULTS")) {
      std::ofstream(results, std::ios::app) << ::testing::UnitTest::GetInstance()->current_test_info()->name()
                                            << " (scale " << Scale() << "): " << report.Text() << "\n";
    }
    EXPECT_EQ(report.lost, 0U) << report.Text();
    EXPECT_EQ(report.unexplained_effects, 0U) << report.Text();
    EXPECT_EQ(report.missing_effects, 0U) << report.Text();
    EXPECT_TRUE(report.problems.empty()) << report.Text();
    EXPECT_GT(report.accepted, 0U);
  }

  std::string dir_;
  unsigned short port_ = 0;
  std::string queue_;
  std::string effects_;
  std::unique_ptr<testing::Process> up_;
};

TEST_F(Chaos, WorkersKilledMidJobUnderLoadLoseNothing) {
  StartStack(3);
  Checker checker(port_, effects_);
  const int jobs = 150 * Scale();
  const int kills = 4 * Scale();
  std::atomic<bool> done{false};
  std::thread client([&] {
    std::mt19937 random(7);
    for (int i = 0; i < jobs; ++i) {
      Enqueue(checker, EffectJob(static_cast<int>(random() % 150) + 20));
      std::this_thread::sleep_for(10ms);
    }
    done = true;
  });
  std::mt19937 random(11);
  for (int k = 0; k < kills; ++k) {
    std::this_thread::sleep_for(1500ms);
    const auto pids = RunningWorkerPids();
    if (pids.empty()) {
      continue;
    }
    const pid_t victim = pids[random() % pids.size()];
    checker.Fault(fmt::format("kill -9 worker {}", victim));
    ::kill(victim, SIGKILL);  // `up` restarts it
  }
  client.join();
  Expect(checker.Finish(180s));
  EXPECT_NE(up_->Output().find("killed by signal 9 (KILL)"), std::string::npos)
      << up_->Output().substr(0, 3000);
}

TEST_F(Chaos, PoisonJobsEndDeadWhileOthersFlow) {
  StartStack(2);
  Checker checker(port_, effects_);
  for (int round = 0; round < Scale(); ++round) {
    ASSERT_TRUE(Enqueue(checker, {{"type", "chaos.crash"}, {"queue", queue_}}));
    ASSERT_TRUE(Enqueue(checker, {{"type", "chaos.hang"}, {"queue", queue_}}));
    ASSERT_TRUE(Enqueue(
        checker,
        {{"type", "warren.fail"}, {"queue", queue_}, {"max_attempts", 2}, {"args", {{"error", "poison"}}}}));
    for (int i = 0; i < 40; ++i) {
      ASSERT_TRUE(Enqueue(checker, EffectJob(20)));
    }
  }
  const Report report = checker.Finish(180s);
  Expect(report);
  EXPECT_EQ(report.dead, 3U * Scale()) << "every poison job ends dead, after its attempts";
  EXPECT_EQ(report.succeeded, 40U * Scale()) << "and every other job succeeds";
}

// The pid in the last "started serve pid=N" line of `up`.
pid_t ServePid(const std::string& output) {
  const auto at = output.rfind("started serve pid=");
  return at == std::string::npos ? 0 : static_cast<pid_t>(std::atol(output.c_str() + at + 18));
}

TEST_F(Chaos, ServeKilledOrStoppedUnderLoadWithIdempotentRetriesMakesNoDuplicates) {
  StartStack(2);
  Checker checker(port_, effects_);
  const int jobs = 120 * Scale();
  std::atomic<int> duplicates{0};
  std::atomic<int> given_up{0};
  std::thread client([&] {
    for (int i = 0; i < jobs; ++i) {
      json job = EffectJob(20);
      job["idempotency_key"] = fmt::format("chaos-{}-{}", port_, i);
      std::optional<std::string> first;
      // Like a careful client: the same key again until a 2xx, then once more to see the same job.
      for (int round = 0; round < 2; ++round) {
        std::optional<std::string> id;
        const auto deadline = Clock::now() + 60s;
        while (!id && Clock::now() < deadline) {
          const auto r = testing::HttpRequest(port_, "POST", "/v1/jobs", job.dump(),
                                              {{"Content-Type", "application/json"}}, 10s);
          if (r.status == 202 || r.status == 200) {
            id = json::parse(r.body)["id"].get<std::string>();
          } else {
            std::this_thread::sleep_for(200ms);
          }
        }
        if (!id) {
          ++given_up;
          break;
        }
        if (!first) {
          first = id;
          checker.Accepted(*id, true);
        } else if (*first != *id) {
          ++duplicates;
        }
      }
      std::this_thread::sleep_for(30ms);
    }
  });
  for (int k = 0; k < 4 * Scale(); ++k) {
    std::this_thread::sleep_for(1500ms);
    if (const pid_t serve = ServePid(up_->Output())) {
      // Alternately the hard way and the polite one (SIGTERM: finish requests in progress, then stop).
      const int sig = k % 2 == 0 ? SIGKILL : SIGTERM;
      checker.Fault(fmt::format("signal {} to serve {}", sig, serve));
      ::kill(serve, sig);  // `up` restarts it either way
    }
  }
  client.join();
  Expect(checker.Finish(180s));
  EXPECT_EQ(duplicates.load(), 0) << "a key retried after a kill answered another job";
  EXPECT_EQ(given_up.load(), 0);
  const std::string log = up_->Output();
  EXPECT_NE(log.find("serve (pid"), std::string::npos) << log.substr(0, 3000);
  EXPECT_NE(log.find("killed by signal 9 (KILL)"), std::string::npos) << log.substr(0, 3000);
}

TEST_F(Chaos, AMemoryAlarmAnswers503PromptlyAndWorkResumesAfter) {
  StartStack(2);
  Checker checker(port_, effects_);
  struct ResetWatermark {
    ~ResetWatermark() { TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"}); }
  } reset;
  std::atomic<bool> stop{false};
  std::atomic<bool> alarmed{false};
  std::atomic<bool> cleared{false};
  std::atomic<int64_t> first_refusal_ms{-1};
  std::atomic<int> accepted_after{0};
  std::atomic<bool> retry_after_seen{false};
  std::atomic<Clock::time_point> alarm_at{Clock::now() + 1h};
  std::thread client([&] {
    while (!stop) {
      const json job = EffectJob(10);
      const auto r = testing::HttpRequest(port_, "POST", "/v1/jobs", job.dump(),
                                          {{"Content-Type", "application/json"}}, 30s);
      if (r.status == 202 || r.status == 200) {
        checker.Accepted(json::parse(r.body)["id"], true);
        accepted_after += cleared ? 1 : 0;
      } else if (alarmed && r.status == 503) {
        retry_after_seen = retry_after_seen || r.headers.contains("retry-after");
        if (first_refusal_ms < 0) {
          first_refusal_ms = std::max<int64_t>(
              0,
              std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - alarm_at.load()).count());
        }
        std::this_thread::sleep_for(100ms);
      }
      std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(2s);
  checker.Fault("memory alarm");
  alarmed = true;
  ASSERT_EQ(TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.000001"}), 0);
  // In effect from here. An enqueue whose publish was already on its way waits for its confirm up to
  // the publish timeout (3 s here, 5 s by default) and gets 503; later ones get 503 at once.
  alarm_at = Clock::now();
  std::this_thread::sleep_for(6s);
  ASSERT_EQ(TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"}), 0);
  cleared = true;
  std::this_thread::sleep_for(4s);
  stop = true;
  client.join();
  Expect(checker.Finish(120s));
  EXPECT_GE(first_refusal_ms.load(), 0) << "enqueues were refused during the alarm";
  EXPECT_LT(first_refusal_ms.load(), 5000) << "within 5 s of the alarm";
  EXPECT_TRUE(retry_after_seen.load()) << "the 503s carry Retry-After";
  EXPECT_GT(accepted_after.load(), 0) << "enqueues are accepted again once the alarm clears";
}

// Last: it restarts the broker.
TEST_F(Chaos, TheBrokerKilledWhileClientsEnqueueLosesNothingAndNoRequestHangs) {
  StartStack(2);
  std::this_thread::sleep_for(5s);  // the queues are older than RabbitMQ's lazy write of a new declaration
  Checker checker(port_, effects_);
  std::atomic<bool> stop{false};
  std::atomic<int> refused{0};
  std::atomic<int64_t> slowest_ms{0};
  std::thread client([&] {
    while (!stop) {
      std::chrono::milliseconds took{0};
      if (!Enqueue(checker, EffectJob(10), &took)) {
        ++refused;
        std::this_thread::sleep_for(100ms);
      }
      slowest_ms = std::max<int64_t>(slowest_ms, took.count());
      std::this_thread::sleep_for(20ms);
    }
  });
  std::this_thread::sleep_for(2s);
  for (int round = 0; round < Scale(); ++round) {
    checker.Fault("kill -9 rabbitmq");
    TestBroker::Get().Kill();
    std::this_thread::sleep_for(2s);
    TestBroker::Get().Start();
    std::this_thread::sleep_for(3s);
  }
  stop = true;
  client.join();
  Expect(checker.Finish(180s));
  EXPECT_GT(refused.load(), 0) << "while the broker was down, enqueues were refused (503), not accepted";
  EXPECT_LT(slowest_ms.load(), 6000) << "no request hung while the broker was away";
}

}  // namespace
}  // namespace warren::chaos
