// `warren up` end to end: the managed broker, serve and a worker; a job through HTTP; a clean stop that
// leaves no process behind.
#include <signal.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <string>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "support/support.hpp"

namespace warren::testing {
namespace {

// Every "pid=N" that `up` logged: epmd, the rabbitmq-server script, beam.smp, serve, the workers.
std::set<pid_t> LoggedPids(const std::string& output) {
  std::set<pid_t> pids;
  static const std::regex kPid(R"(pid=(\d+))");
  for (auto it = std::sregex_iterator(output.begin(), output.end(), kPid); it != std::sregex_iterator();
       ++it) {
    pids.insert(static_cast<pid_t>(std::stol((*it)[1].str())));
  }
  return pids;
}

// The pid in the last line "<what> pid=N" that `up` logged, or 0.
pid_t LastPid(const std::string& output, const std::string& what) {
  const std::regex pattern(what + R"( pid=(\d+))");
  pid_t pid = 0;
  for (auto it = std::sregex_iterator(output.begin(), output.end(), pattern); it != std::sregex_iterator();
       ++it) {
    pid = static_cast<pid_t>(std::stol((*it)[1].str()));
  }
  return pid;
}

size_t Count(const std::string& haystack, const std::string& needle) {
  size_t n = 0;
  for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) {
    ++n;
  }
  return n;
}

// Polls until `needle` occurs at least `times` times in the output.
bool WaitForCount(Process& p, const std::string& needle, size_t times, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Count(p.Output(), needle) < times) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(100ms);
  }
  return true;
}

// Like WaitForHttp, but gives up as soon as `up` exits (a broker that cannot boot, a port in use).
bool WaitForHttpWhileRunning(Process& up, unsigned short port, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    // /readyz, not /: serve answers / as soon as it listens, while its publisher may still be
    // connecting (and /add-job answers 503 until it has).
    if (HttpGet(port, "/readyz", 2s).status == 200) {
      return true;
    }
    if (up.Wait(200ms)) {
      return false;
    }
  }
  return false;
}

// A zombie is as good as gone: it is waiting for someone else's wait().
bool Alive(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!std::getline(in, text)) {
    return false;
  }
  const auto close = text.rfind(')');
  return close != std::string::npos && close + 2 < text.size() && text[close + 2] != 'Z';
}

class UpTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("warren-up-"); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  std::vector<std::string> UpArgs(unsigned short http, unsigned short management, int workers) const {
    return {WarrenBinary(),      "up",
            "--data-dir",        dir_,
            "--workers",         std::to_string(workers),
            "--listen",          "127.0.0.1:" + std::to_string(http),
            "--broker-port",     std::to_string(FreePort()),
            "--management-port", std::to_string(management),
            "--dist-port",       std::to_string(FreePort()),
            "--epmd-port",       std::to_string(FreePort())};
  }

  // SIGTERM, exit 0 within 60 s, and nothing it started is left.
  static void StopAndCheckNothingLeft(Process& up, size_t expected_pids) {
    up.Signal(SIGTERM);
    const auto code = up.Wait(60s);
    ASSERT_TRUE(code.has_value()) << "warren up did not stop within 60 s\n" << up.Output();
    EXPECT_EQ(*code, 0) << up.Output();
    const auto pids = LoggedPids(up.Output());
    EXPECT_GE(pids.size(), expected_pids) << up.Output();
    for (const pid_t pid : pids) {
      EXPECT_FALSE(Alive(pid)) << "pid " << pid << " is still running\n" << up.Output();
    }
  }

  std::string dir_;
};

TEST_F(UpTest, RunsAJobAndStopsEverything) {
  const unsigned short http = FreePort();
  Process up(UpArgs(http, 0, 1));
  // The broker boots in about 10 s on two cores; serve starts after it is ready.
  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();
  const auto root = HttpGet(http, "/");
  EXPECT_EQ(root.status, 200);
  EXPECT_EQ(root.body, "OK");

  const auto sent = HttpGet(http, "/add-job/hey", 10s);
  EXPECT_EQ(sent.status, 200) << sent.body;
  EXPECT_EQ(sent.body, " [x] Sent: hey");
  EXPECT_TRUE(up.WaitForOutput("hey there", 10s)) << up.Output();
  EXPECT_NE(up.Output().find("rabbitmq ready on 127.0.0.1:"), std::string::npos) << up.Output();
  StopAndCheckNothingLeft(up, 5);  // epmd, rabbitmq-server, beam.smp, serve, work.1
}

TEST_F(UpTest, RestartsACrashedWorkerAndACrashedBroker) {
  const unsigned short http = FreePort();
  Process up(UpArgs(http, 0, 1));
  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();

  const pid_t worker = LastPid(up.Output(), "started work.1");
  ASSERT_GT(worker, 0) << up.Output();
  ::kill(worker, SIGKILL);
  EXPECT_TRUE(up.WaitForOutput(fmt::format("work.1 (pid {}) killed by signal 9 (KILL)", worker), 5s))
      << up.Output();
  EXPECT_TRUE(WaitForCount(up, "started work.1 pid=", 2, 5s)) << up.Output();  // after a 1 s backoff

  const pid_t beam = LastPid(up.Output(), "beam.smp");
  ASSERT_GT(beam, 0) << up.Output();
  ::kill(beam, SIGKILL);
  EXPECT_TRUE(up.WaitForOutput("rabbitmq stopped unexpectedly", 10s)) << up.Output();
  ASSERT_TRUE(WaitForCount(up, "rabbitmq ready on", 2, 90s)) << up.Output();
  // serve and the worker reconnect on their own; the job goes through the restarted broker.
  HttpResponse sent;
  for (int i = 0; i < 100 && sent.status != 200; ++i) {
    sent = HttpGet(http, "/add-job/hey", 5s);
    if (sent.status != 200) {
      std::this_thread::sleep_for(200ms);
    }
  }
  EXPECT_EQ(sent.status, 200) << sent.body << up.Output();
  EXPECT_TRUE(up.WaitForOutput("hey there", 15s)) << up.Output();
  // epmd, two rabbitmq-server scripts, two beam.smp, serve, two work.1
  StopAndCheckNothingLeft(up, 8);
}

TEST_F(UpTest, ManagementConsoleAnswersOnLoopback) {
  const unsigned short http = FreePort();
  const unsigned short management = FreePort();
  Process up(UpArgs(http, management, 0));
  ASSERT_TRUE(up.WaitForOutput("rabbitmq ready on", 90s)) << up.Output();
  EXPECT_NE(up.Output().find("management http://127.0.0.1:" + std::to_string(management)), std::string::npos)
      << up.Output();
  const auto page = HttpGet(management, "/", 10s);
  EXPECT_EQ(page.status, 200) << up.Output();
  EXPECT_NE(page.body.find("RabbitMQ"), std::string::npos);
  // serve asks the plugin what a passive declare cannot tell: unacked messages and rates.
  ASSERT_TRUE(WaitForHttp(http, "/readyz", 30s)) << up.Output();
  // The plugin collects queue statistics every few seconds: a new queue has none at first.
  nlohmann::json task_queue;
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (std::chrono::steady_clock::now() < deadline) {
    const auto queues = nlohmann::json::parse(HttpGet(http, "/v1/queues", 10s).body, nullptr, false);
    for (const auto& q : queues.value("queues", nlohmann::json::array())) {
      if (q["name"] == "task_queue") {
        task_queue = q;
      }
    }
    if (task_queue.is_object() && task_queue["unacked"].is_number()) {
      break;
    }
    std::this_thread::sleep_for(500ms);
  }
  EXPECT_TRUE(task_queue["unacked"].is_number()) << task_queue;
  EXPECT_TRUE(task_queue["rates"].is_object()) << task_queue;
  // epmd, rabbitmq-server, beam.smp, serve
  StopAndCheckNothingLeft(up, 4);
}

}  // namespace
}  // namespace warren::testing
