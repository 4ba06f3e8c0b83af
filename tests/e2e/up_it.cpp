// `warren up` end to end: the managed broker, serve and a worker; a job through HTTP; a clean stop that
// leaves no process behind.
#include <signal.h>

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <tuple>

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
  void SetUp() override { dir_ = root_ = MakeTempDir("warren-up-"); }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(root_, ec);
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
  std::string root_;  // dir_, or a directory above it
};

TEST_F(UpTest, RunsAJobAndStopsEverything) {
  const unsigned short http = FreePort();
  // A command job type makes the worker start its command watcher (warren-reaper), which must go too.
  std::ofstream(dir_ + "/warren.toml") << "[jobs.it_echo]\ncommand = [\"/bin/echo\", \"{args.word}\"]\n";
  auto args = UpArgs(http, 0, 1);
  args.insert(args.end(), {"--config", dir_ + "/warren.toml"});
  Process up(args);
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
  EXPECT_NE(up.Output().find("warren-reaper pid="), std::string::npos) << up.Output();
  EXPECT_TRUE(ThreadNames(up.Pid()).contains("child-output")) << "each child's output has a named reader";
  StopAndCheckNothingLeft(up, 6);  // epmd, rabbitmq-server, beam.smp, serve, work.1, its warren-reaper
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

// Runs a `warren` CLI command to its end; its exit code and output.
std::pair<int, std::string> RunCli(std::vector<std::string> args, std::chrono::milliseconds timeout = 30s) {
  args.insert(args.begin(), WarrenBinary());
  Process p(args);
  const auto code = p.Wait(timeout);
  return {code.value_or(-1), p.Output()};
}

// How many workers serve lists as running.
int RunningWorkers(unsigned short http) {
  const auto listed = nlohmann::json::parse(HttpGet(http, "/v1/workers").body, nullptr, false);
  int n = 0;
  if (listed.is_object()) {
    for (const auto& w : listed["workers"]) {
      n += w["state"] == "running" ? 1 : 0;
    }
  }
  return n;
}

bool WaitForRunningWorkers(unsigned short http, int n, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (RunningWorkers(http) != n) {
    if (std::chrono::steady_clock::now() > deadline) {
      return false;
    }
    std::this_thread::sleep_for(200ms);
  }
  return true;
}

// Enqueues `count` warren.sleep jobs of `seconds` and waits (up to 15 s) until they run; their ids, or
// fewer when an enqueue failed.
std::vector<std::string> StartSleepJobs(unsigned short http, int count, int seconds) {
  std::vector<std::string> ids;
  for (int i = 0; i < count; ++i) {
    const auto r = HttpRequest(http, "POST", "/v1/jobs",
                               fmt::format(R"({{"type":"warren.sleep","args":{{"seconds":{}}}}})", seconds),
                               {{"Content-Type", "application/json"}}, 10s);
    EXPECT_EQ(r.status, 202) << r.body;
    if (r.status != 202) {
      return ids;
    }
    ids.push_back(nlohmann::json::parse(r.body)["id"]);
  }
  const auto all_running = std::chrono::steady_clock::now() + 15s;
  for (const auto& id : ids) {
    while (nlohmann::json::parse(HttpGet(http, "/v1/jobs/" + id).body)["state"] != "running" &&
           std::chrono::steady_clock::now() < all_running) {
      std::this_thread::sleep_for(100ms);
    }
  }
  return ids;
}

TEST_F(UpTest, ScalesWorkersAtRunTimeAndRemovedOnesDrainTheirJobs) {
  const unsigned short http = FreePort();
  Process up(UpArgs(http, 0, 1));
  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();

  auto [code, out] = RunCli({"scale", "workers=3", "--data-dir", dir_});
  ASSERT_EQ(code, 0) << out << up.Output();
  EXPECT_NE(out.find("workers: 1 -> 3"), std::string::npos) << out;
  ASSERT_TRUE(WaitForRunningWorkers(http, 3, 30s)) << HttpGet(http, "/v1/workers").body;

  // Three 3-second jobs, one per worker (concurrency 1), then scale to one while they run.
  const auto ids = StartSleepJobs(http, 3, 3);
  ASSERT_EQ(ids.size(), 3U);
  const auto scaled = HttpRequest(http, "POST", "/v1/workers/scale", R"({"workers":1})",
                                  {{"Content-Type", "application/json"}}, 10s);
  ASSERT_EQ(scaled.status, 200) << scaled.body;
  const auto result = nlohmann::json::parse(scaled.body);
  EXPECT_EQ(result["previous"], 3);
  EXPECT_EQ(result["draining"].size(), 2U) << scaled.body;

  // Removal is a drain: every job finishes once, none is cut short.
  for (const auto& id : ids) {
    nlohmann::json job;
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    do {
      std::this_thread::sleep_for(200ms);
      job = nlohmann::json::parse(HttpGet(http, "/v1/jobs/" + id).body);
    } while (job["state"] != "succeeded" && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(job["state"], "succeeded") << job << up.Output();
    EXPECT_EQ(job["attempts"].size(), 1U) << job;
  }
  EXPECT_TRUE(WaitForCount(up, "scaled away", 2, 30s)) << up.Output();
  EXPECT_TRUE(WaitForRunningWorkers(http, 1, 30s)) << HttpGet(http, "/v1/workers").body;

  // Bad requests change nothing.
  EXPECT_EQ(RunCli({"scale", "workers=999", "--data-dir", dir_}).first, 2);
  EXPECT_EQ(RunCli({"scale", "lots", "--data-dir", dir_}).first, 2);
  EXPECT_EQ(HttpRequest(http, "POST", "/v1/workers/scale", R"({"workers":-1})", {{"Content-Type", "application/json"}})
                .status,
            400);
  StopAndCheckNothingLeft(up, 5);
}

TEST_F(UpTest, ScaleWhileTheBrokerStartsIsRefusedAndStartsNoWorker) {
  // The control socket answers while the broker boots; a scale then once started workers that the
  // start-up started again under the same names.
  const unsigned short http = FreePort();
  Process up(UpArgs(http, 0, 1));
  const auto deadline = std::chrono::steady_clock::now() + 30s;
  while (!std::filesystem::exists(dir_ + "/warren-up.sock") && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  auto [code, out] = RunCli({"scale", "workers=2", "--data-dir", dir_});
  ASSERT_EQ(up.Output().find("rabbitmq ready"), std::string::npos) << "too late to scale during start-up\n"
                                                                   << up.Output();
  EXPECT_EQ(code, 1) << out;
  EXPECT_EQ(out, "warren: starting: try again when the stack is up\n");

  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();
  ASSERT_TRUE(WaitForRunningWorkers(http, 1, 30s)) << HttpGet(http, "/v1/workers").body;
  EXPECT_EQ(Count(up.Output(), "started work."), 1U) << up.Output();
  std::tie(code, out) = RunCli({"scale", "workers=2", "--data-dir", dir_});
  EXPECT_EQ(code, 0) << out;
  EXPECT_NE(out.find("workers: 1 -> 2; started work.2"), std::string::npos) << out;
  StopAndCheckNothingLeft(up, 6);
}

TEST_F(UpTest, StoppingDuringAScaleDownLetsTheDrainingWorkerFinishItsJob) {
  // The stop sent a second SIGTERM to a worker already draining, which a worker takes as "exit now".
  const unsigned short http = FreePort();
  Process up(UpArgs(http, 0, 2));
  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();
  ASSERT_TRUE(WaitForRunningWorkers(http, 2, 30s)) << HttpGet(http, "/v1/workers").body;
  ASSERT_EQ(StartSleepJobs(http, 2, 4).size(), 2U);  // one 4-second job per worker (concurrency 1)
  auto [code, out] = RunCli({"scale", "workers=1", "--data-dir", dir_});
  ASSERT_EQ(code, 0) << out;
  up.Signal(SIGTERM);
  const auto stopped = up.Wait(60s);
  ASSERT_TRUE(stopped.has_value()) << up.Output();
  EXPECT_EQ(*stopped, 0) << up.Output();
  EXPECT_EQ(up.Output().find("second signal: exiting now"), std::string::npos) << up.Output();
  EXPECT_EQ(Count(up.Output(), "exited with code 0: scaled away"), 1U) << up.Output();
  EXPECT_EQ(up.Output().find("killing it"), std::string::npos) << up.Output();
}

TEST_F(UpTest, DetachRunsInTheBackgroundUntilDown) {
  // A deep data dir: the control socket's path is longer than a socket address holds (107 bytes), and
  // `up` once ran without one, so --detach waited for it in vain and then stopped the stack.
  dir_ += "/" + std::string(100, 'd');
  std::filesystem::create_directories(dir_);
  ASSERT_GT(dir_.size() + std::string("/warren-up.sock").size(), 110U);
  const unsigned short http = FreePort();
  auto args = UpArgs(http, 0, 1);
  args.erase(args.begin());  // RunCli adds the binary
  args.insert(args.begin() + 1, "--detach");
  auto [code, out] = RunCli(args, 150s);
  ASSERT_EQ(code, 0) << out;
  EXPECT_NE(out.find("running in the background"), std::string::npos) << out;
  EXPECT_EQ(HttpGet(http, "/readyz").status, 200);
  std::ifstream pid_file(dir_ + "/warren-up.pid");
  pid_t pid = 0;
  ASSERT_TRUE(pid_file >> pid);
  EXPECT_TRUE(Alive(pid));

  const auto again = RunCli(args, 30s);
  EXPECT_EQ(again.first, 1) << again.second;
  EXPECT_NE(again.second.find("already runs"), std::string::npos) << again.second;
  const auto scaled = RunCli({"scale", "workers=1", "--data-dir", dir_});
  EXPECT_EQ(scaled.first, 0) << scaled.second;
  EXPECT_NE(scaled.second.find("workers: 1 -> 1"), std::string::npos) << scaled.second;

  const auto down = RunCli({"down", "--data-dir", dir_}, 120s);
  EXPECT_EQ(down.first, 0) << down.second;
  EXPECT_FALSE(Alive(pid));
  EXPECT_EQ(HttpGet(http, "/", 1s).status, 0) << "serve is gone too";
  EXPECT_FALSE(std::filesystem::exists(dir_ + "/warren-up.pid"));
  std::ifstream log(dir_ + "/warren-up.log");
  std::stringstream text;
  text << log.rdbuf();
  EXPECT_NE(text.str().find("rabbitmq and epmd stopped"), std::string::npos) << text.str();
  for (const pid_t started : LoggedPids(text.str())) {
    EXPECT_FALSE(Alive(started)) << "pid " << started << " is still running";
  }

  const auto nothing = RunCli({"down", "--data-dir", dir_});
  EXPECT_EQ(nothing.first, 0);
  EXPECT_NE(nothing.second.find("no warren up is running"), std::string::npos) << nothing.second;
  EXPECT_EQ(RunCli({"scale", "workers=2", "--data-dir", dir_}).first, 1);
}

// The processes whose parent is `pid`, from /proc.
std::vector<pid_t> ChildrenOf(pid_t pid) {
  std::vector<pid_t> children;
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    std::ifstream in(entry.path() / "stat");
    std::string text;
    const auto close = std::getline(in, text) ? text.rfind(')') : std::string::npos;
    if (close == std::string::npos) {
      continue;
    }
    std::istringstream rest(text.substr(close + 1));
    char state = 0;
    pid_t parent = 0;
    if (rest >> state >> parent && parent == pid) {
      children.push_back(static_cast<pid_t>(std::stol(name)));
    }
  }
  return children;
}

// A `warren up` started by a `warren up` started by `pid`: a background stack that detached again.
bool UpStartedByUp(pid_t pid) {
  for (const pid_t child : ChildrenOf(pid)) {
    for (const pid_t grandchild : ChildrenOf(child)) {
      std::ifstream in("/proc/" + std::to_string(grandchild) + "/cmdline", std::ios::binary);
      std::string program;
      std::string command;
      if (std::getline(in, program, '\0') && std::getline(in, command, '\0') && program == WarrenBinary() &&
          command == "up") {
        return true;
      }
    }
  }
  return false;
}

// SIGSTOP for `pid` and everything below it (a stopped process starts nothing more), then SIGKILL.
void KillTree(pid_t pid) {
  std::set<pid_t> stopped;
  for (bool more = true; more;) {
    more = false;
    std::vector<pid_t> todo{pid};
    while (!todo.empty()) {
      const pid_t next = todo.back();
      todo.pop_back();
      if (stopped.insert(next).second) {
        ::kill(next, SIGSTOP);
        more = true;
      }
      const auto children = ChildrenOf(next);
      todo.insert(todo.end(), children.begin(), children.end());
    }
  }
  for (const pid_t p : stopped) {
    ::kill(p, SIGKILL);
  }
}

TEST_F(UpTest, DetachWithAValueStartsOneStackAndSaysWhyItFailed) {
  // Only the literal --detach and -d used to be left out of the background process's command line:
  // with --detach=true it detached again, and its child too, for ever.
  for (const std::string flag : {"--detach=true", "--detach=yes"}) {
    auto args = UpArgs(FreePort(), 0, 1);
    args.insert(args.begin() + 2, flag);
    // The broker's distribution port the same as its AMQP port: the stack fails as soon as it starts.
    const auto broker_port = std::find(args.begin(), args.end(), "--broker-port");
    *(std::find(args.begin(), args.end(), "--dist-port") + 1) = *(broker_port + 1);
    Process up(args);
    std::optional<int> code;
    bool again = false;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    while (!code && !again && std::chrono::steady_clock::now() < deadline) {
      code = up.Wait(50ms);
      again = !code && UpStartedByUp(up.Pid());
    }
    if (!code) {
      KillTree(up.Pid());
    }
    ASSERT_FALSE(again) << flag << ": the background warren up detached again\n" << up.Output();
    ASSERT_TRUE(code.has_value()) << flag << ": still running after 60 s\n" << up.Output();
    EXPECT_EQ(*code, 1) << up.Output();
    EXPECT_NE(up.Output().find("warren up stopped while starting (exit 1)"), std::string::npos)
        << up.Output();
    EXPECT_NE(up.Output().find("is the same as broker.port"), std::string::npos) << up.Output();
  }
}

TEST_F(UpTest, AutoscalesToABurstAndBackWithoutLosingOrRepeatingAJob) {
  const unsigned short http = FreePort();
  auto args = UpArgs(http, 0, 1);
  args.insert(args.end(), {"--autoscale-min", "1", "--autoscale-max", "3", "--autoscale-target-wait", "2s",
                           "--autoscale-cooldown", "3s", "--concurrency", "1"});
  Process up(args);
  ASSERT_TRUE(WaitForHttpWhileRunning(up, http, 90s)) << up.Output();
  // One batch: the burst lands at once, so the sampler sees all of it however slow a loaded machine
  // makes single requests (one by one, a sample could fall between them and see a trickle).
  nlohmann::json burst = {{"jobs", nlohmann::json::array()}};
  // Ten of 2 s: when the autoscaler may first act (5 s after start) one worker has run at most three.
  for (int i = 0; i < 10; ++i) {
    burst["jobs"].push_back({{"type", "warren.sleep"}, {"args", {{"seconds", 2}}}});
  }
  const auto r = HttpRequest(http, "POST", "/v1/jobs/batch", burst.dump(), {{"Content-Type", "application/json"}}, 10s);
  ASSERT_EQ(r.status, 202) << r.body;
  std::vector<std::string> ids;
  const auto answer = nlohmann::json::parse(r.body);
  for (const auto& job : answer["jobs"]) {
    ids.push_back(job["id"]);
  }
  ASSERT_EQ(ids.size(), 10U) << r.body;
  EXPECT_TRUE(up.WaitForOutput("autoscale: workers 1 -> 3", 30s)) << up.Output();
  EXPECT_TRUE(ThreadNames(up.Pid()).contains("autoscaler"));
  for (const auto& id : ids) {
    nlohmann::json job;
    const auto deadline = std::chrono::steady_clock::now() + 60s;
    do {
      std::this_thread::sleep_for(200ms);
      job = nlohmann::json::parse(HttpGet(http, "/v1/jobs/" + id).body);
    } while (job["state"] != "succeeded" && std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(job["state"], "succeeded") << job;
    EXPECT_EQ(job["attempts"].size(), 1U) << "ran once: " << job;
  }
  EXPECT_TRUE(up.WaitForOutput("autoscale: workers 3 -> 1", 30s)) << up.Output();
  EXPECT_TRUE(WaitForRunningWorkers(http, 1, 30s)) << HttpGet(http, "/v1/workers").body;
  const auto status = nlohmann::json::parse(HttpGet(http, "/v1/workers/scale").body, nullptr, false);
  ASSERT_TRUE(status.is_object()) << HttpGet(http, "/v1/workers/scale").body;
  EXPECT_EQ(status["autoscale"]["scaled_up"], 1) << status;
  EXPECT_EQ(status["autoscale"]["scaled_down"], 1) << status;
  EXPECT_NE(HttpGet(http, "/metrics").body.find("warren_autoscale_decisions_total{direction=\"up\"} 1"),
            std::string::npos);
  StopAndCheckNothingLeft(up, 5);
}

}  // namespace
}  // namespace warren::testing
