// Fault scenarios against a real stack (`warren up` on the test broker, with command jobs whose side
// effects are counted): whatever is killed, every job that got a 2xx ends in exactly one terminal
// state and no effect runs unrecorded. WARREN_CHAOS_SCALE makes each run longer (`make test-chaos`).
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <sys/socket.h>

#include <arpa/inet.h>

#include <gtest/gtest.h>

#include <array>
#include <atomic>
#include <limits>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <random>
#include <regex>
#include <thread>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include "chaos/checker.hpp"
#include "core/unique_fd.hpp"
#include "support/support.hpp"
#include "support/tcp_proxy.hpp"

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
    config_ = fmt::format(R"([amqp]
publish_timeout = "3s"

[work]
queues = ["{0}"]
concurrency = 2
kill_grace = "1s"

[retry]
base = "100ms"
cap = "1s"

[api]
header_timeout = "3s"

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

  // `amqp_url`: the tests' broker when empty.
  void StartStack(int workers, const std::string& amqp_url = "") {
    std::ofstream(dir_ + "/warren.toml") << config_;
    up_ = std::make_unique<testing::Process>(
        std::vector<std::string>{testing::WarrenBinary(), "up", "--config", dir_ + "/warren.toml", "--amqp-url",
                                 amqp_url.empty() ? TestBroker::Get().AmqpUrl() : amqp_url, "--data-dir", dir_, "--listen",
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

  // Enqueues EffectJob(ms) continuously, pausing briefly after a refusal, until Stop().
  class SteadyClient {
   public:
    SteadyClient(Chaos& chaos, Checker& checker, int ms)
        : thread_([this, &chaos, &checker, ms] {
            while (!stop_) {
              std::chrono::milliseconds took{0};
              if (!chaos.Enqueue(checker, chaos.EffectJob(ms), &took)) {
                ++refused_;
                std::this_thread::sleep_for(100ms);
              }
              slowest_ms_ = std::max<int64_t>(slowest_ms_, took.count());
              std::this_thread::sleep_for(20ms);
            }
          }) {}
    ~SteadyClient() { Stop(); }
    SteadyClient(const SteadyClient&) = delete;
    SteadyClient& operator=(const SteadyClient&) = delete;
    void Stop() {
      stop_ = true;
      if (thread_.joinable()) {
        thread_.join();
      }
    }
    int Refused() const { return refused_; }
    int64_t SlowestMs() const { return slowest_ms_; }

   private:
    std::atomic<bool> stop_{false};
    std::atomic<int> refused_{0};
    std::atomic<int64_t> slowest_ms_{0};
    std::thread thread_;  // last: starts once the counters exist
  };

  void AlarmAnswers503PromptlyAndWorkResumesAfter(const std::string& what, const std::vector<std::string>& raise,
                                                  const std::vector<std::string>& clear);
  void BrokerOutageLosesNothingAndNoRequestHangs(const std::string& what, const std::function<void()>& fault,
                                                 const std::function<void()>& recover);

  std::string dir_;
  std::string config_;  // warren.toml, written by StartStack
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

// A client enqueues continuously while `raise` sets off a broker alarm for 6 s and `clear` lifts it:
// 503 with Retry-After within 5 s, enqueues accepted again after, nothing lost.
void Chaos::AlarmAnswers503PromptlyAndWorkResumesAfter(const std::string& what,
                                                       const std::vector<std::string>& raise,
                                                       const std::vector<std::string>& clear) {
  StartStack(2);
  Checker checker(port_, effects_);
  struct Clear {
    const std::vector<std::string>& args;
    ~Clear() { TestBroker::Get().Ctl(args); }
  } clear_at_exit{clear};
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
  checker.Fault(what);
  alarmed = true;
  ASSERT_EQ(TestBroker::Get().Ctl(raise), 0);
  // In effect from here. An enqueue whose publish was already on its way waits for its confirm up to
  // the publish timeout (3 s here, 5 s by default) and gets 503; later ones get 503 at once.
  alarm_at = Clock::now();
  std::this_thread::sleep_for(6s);
  ASSERT_EQ(TestBroker::Get().Ctl(clear), 0);
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

TEST_F(Chaos, AMemoryAlarmAnswers503PromptlyAndWorkResumesAfter) {
  AlarmAnswers503PromptlyAndWorkResumesAfter("memory alarm", {"set_vm_memory_high_watermark", "0.000001"},
                                             {"set_vm_memory_high_watermark", "0.4"});
}

TEST_F(Chaos, ADiskAlarmAnswers503PromptlyAndWorkResumesAfter) {
  // A free-disk limit far above any disk (1 PB) sets the alarm off at once; 50MB is RabbitMQ's default.
  AlarmAnswers503PromptlyAndWorkResumesAfter("disk alarm", {"set_disk_free_limit", "1000000GB"},
                                             {"set_disk_free_limit", "50MB"});
}

// RabbitMQ closes the channel of a consumer that holds a delivery unacked past `consumer_timeout` (30 min
// by default) and requeues it, while the worker still runs the job. Here the timeout is 2 s and jobs
// take 5 s: the worker must not run the copy it gets back (nor count it as a crashed attempt), and
// each job ends succeeded after one run.
TEST_F(Chaos, AConsumerTimeoutShorterThanAJobRunsItOnceAndEndsItOnce) {
  // The broker's own settings, restored as they were (unset when they were) for the later scenarios.
  struct Env {
    std::string key;
    std::string was;  // "{ok,VALUE}" or "undefined"
    explicit Env(std::string name) : key(std::move(name)) {
      TestBroker::Get().Ctl({"eval", fmt::format("application:get_env(rabbit, {}).", key)}, &was);
    }
    ~Env() {
      const auto ok = was.find("{ok,");
      TestBroker::Get().Ctl({"eval", ok == std::string::npos
                                         ? fmt::format("application:unset_env(rabbit, {}).", key)
                                         : fmt::format("application:set_env(rabbit, {}, {}).", key,
                                                       was.substr(ok + 4, was.find('}', ok) - ok - 4))});
    }
    Env(const Env&) = delete;
    Env& operator=(const Env&) = delete;
    int Set(int value) const {
      return TestBroker::Get().Ctl({"eval", fmt::format("application:set_env(rabbit, {}, {}).", key, value)});
    }
  };
  // Read by each channel when it opens: set before the stack connects. The tick is how often a channel
  // checks its deliveries' age (60 s by default).
  const Env timeout("consumer_timeout");
  const Env tick("channel_tick_interval");
  ASSERT_EQ(timeout.Set(2000), 0);
  ASSERT_EQ(tick.Set(500), 0);
  StartStack(1);  // one worker: the broker hands the copy back to the worker that still runs the job
  Checker checker(port_, effects_);
  const int jobs = 4 * Scale();
  for (int i = 0; i < jobs; ++i) {
    ASSERT_TRUE(Enqueue(checker, EffectJob(5000)));
  }
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(Enqueue(checker, EffectJob(10)));
  }
  const Report report = checker.Finish(std::chrono::seconds(60 + 10 * jobs));
  Expect(report);
  EXPECT_EQ(report.succeeded, report.accepted);
  EXPECT_EQ(report.duplicated_effects, 0U) << "no job ran twice";
  EXPECT_EQ(report.repeated_successes, 0U);
  EXPECT_NE(up_->Output().find("came back while it still runs here"), std::string::npos)
      << "the broker took deliveries back mid-job (the scenario happened)\n"
      << up_->Output().substr(0, 3000);
}

// Slowloris: connections that send a request's headers a byte every 2 s and never finish them. Each
// is replaced as soon as the server closes it, so `count` are open all the time until Stop().
class SlowClients {
 public:
  SlowClients(unsigned short port, size_t count) : port_(port), conns_(count) {
    for (auto& c : conns_) {
      Open(c);
    }
    thread_ = std::thread([this] { Run(); });
  }
  ~SlowClients() { Stop(); }
  SlowClients(const SlowClients&) = delete;
  SlowClients& operator=(const SlowClients&) = delete;

  // No more reconnects; waits up to `timeout` until the server closed every connection.
  void Stop(std::chrono::milliseconds timeout = 0ms) {
    reconnect_ = false;
    const auto deadline = Clock::now() + timeout;
    while (Open() > 0 && Clock::now() < deadline) {
      std::this_thread::sleep_for(100ms);
    }
    done_ = true;
    if (thread_.joinable()) {
      thread_.join();
    }
  }
  size_t Open() const { return open_; }
  size_t ClosedByServer() const { return closed_; }
  std::chrono::milliseconds LongestLife() const { return std::chrono::milliseconds(longest_ms_.load()); }
  std::chrono::milliseconds ShortestLife() const { return std::chrono::milliseconds(shortest_ms_.load()); }

 private:
  struct Conn {
    UniqueFd fd;
    Clock::time_point opened;
    Clock::time_point next_byte;
  };

  void Open(Conn& c) {
    c.fd = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_port = htons(port_);
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (::connect(c.fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
      c.fd.Reset();
      return;
    }
    const std::string start = "POST /v1/jobs HTTP/1.1\r\nHost: slow\r\nX-Slow: ";
    if (::send(c.fd.Get(), start.data(), start.size(), MSG_NOSIGNAL) < 0) {
      c.fd.Reset();
      return;
    }
    c.opened = Clock::now();
    c.next_byte = c.opened + 2s;
    ++open_;
  }

  void Closed(Conn& c) {
    const auto life = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - c.opened).count();
    longest_ms_ = std::max<int64_t>(longest_ms_, life);
    shortest_ms_ = std::min<int64_t>(shortest_ms_, life);
    c.fd.Reset();
    --open_;
    ++closed_;
    if (reconnect_) {
      Open(c);
    }
  }

  void Run() {
    std::vector<pollfd> fds(conns_.size());
    while (!done_) {
      for (size_t i = 0; i < conns_.size(); ++i) {
        fds[i] = {conns_[i].fd.Get(), POLLIN, 0};  // a negative fd is ignored by poll
      }
      ::poll(fds.data(), fds.size(), 100);
      const auto now = Clock::now();
      for (size_t i = 0; i < conns_.size(); ++i) {
        Conn& c = conns_[i];
        if (!c.fd) {
          if (reconnect_) {
            Open(c);
          }
          continue;
        }
        if ((fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
          std::array<char, 4096> sink{};
          if (::recv(c.fd.Get(), sink.data(), sink.size(), MSG_DONTWAIT) <= 0) {
            Closed(c);  // eof or reset: the server let go
            continue;
          }
        }
        if (now >= c.next_byte) {
          if (::send(c.fd.Get(), "x", 1, MSG_NOSIGNAL | MSG_DONTWAIT) < 0 && errno != EAGAIN) {
            Closed(c);
            continue;
          }
          c.next_byte = now + 2s;
        }
      }
    }
  }

  const unsigned short port_;
  std::vector<Conn> conns_;  // the Run thread's (and the constructor's, before it)
  std::thread thread_;
  std::atomic<bool> reconnect_{true};
  std::atomic<bool> done_{false};
  std::atomic<size_t> open_{0};
  std::atomic<size_t> closed_{0};
  std::atomic<int64_t> longest_ms_{0};
  std::atomic<int64_t> shortest_ms_{std::numeric_limits<int64_t>::max()};
};

// The median of `n` enqueues' latencies, in ms (all must be accepted).
double MedianEnqueueMs(const std::function<std::optional<std::string>(std::chrono::milliseconds*)>& enqueue,
                       int n, int* failed) {
  std::vector<double> ms;
  for (int i = 0; i < n; ++i) {
    std::chrono::milliseconds took{0};
    if (!enqueue(&took)) {
      ++*failed;
      continue;
    }
    ms.push_back(static_cast<double>(took.count()));
  }
  if (ms.empty()) {
    return 0;
  }
  std::nth_element(ms.begin(), ms.begin() + static_cast<std::ptrdiff_t>(ms.size() / 2), ms.end());
  return ms[ms.size() / 2];
}

// 500 slow clients (a header byte every 2 s, never done) hold no more than api.header_timeout (3 s
// here) each, and enqueues keep their latency meanwhile.
TEST_F(Chaos, FiveHundredSlowClientsAreCutOffAndNormalRequestsKeepTheirLatency) {
  StartStack(1);
  Checker checker(port_, effects_);
  auto enqueue = [&](std::chrono::milliseconds* took) { return Enqueue(checker, EffectJob(1), took); };
  int failed = 0;
  MedianEnqueueMs(enqueue, 10, &failed);  // warm-up: connections, caches
  const double baseline = MedianEnqueueMs(enqueue, 40, &failed);
  SlowClients slow(port_, 500);
  const auto until = Clock::now() + std::chrono::seconds(8 * Scale());
  double under_load = 0;
  int rounds = 0;
  while (Clock::now() < until) {
    under_load = std::max(under_load, MedianEnqueueMs(enqueue, 20, &failed));
    ++rounds;
  }
  const size_t open_under_load = slow.Open();
  slow.Stop(15s);
  Expect(checker.Finish(120s));
  const std::string figures = fmt::format(
      "slow clients: enqueue median {:.1f} ms without them, worst median of {} rounds of 20 with 500 open "
      "{:.1f} ms; {} slow connections closed by the server, each after {}..{} ms",
      baseline, rounds, under_load, slow.ClosedByServer(), slow.ShortestLife().count(),
      slow.LongestLife().count());
  std::cout << "chaos: " << figures << "\n";
  if (const char* results = std::getenv("WARREN_CHAOS_RESULTS")) {
    std::ofstream(results, std::ios::app) << figures << "\n";
  }
  EXPECT_EQ(failed, 0) << "every normal enqueue was accepted";
  EXPECT_GT(open_under_load, 400U) << "the slow clients were there while the latency was measured";
  // Generous: the machine is shared, only a collapse (slow clients starving the server) must fail.
  EXPECT_LE(under_load, std::max(10 * baseline, baseline + 50)) << figures;
  EXPECT_EQ(slow.Open(), 0U) << "the server closed every slow connection";
  EXPECT_GE(slow.ClosedByServer(), 500U) << figures;
  EXPECT_LT(slow.LongestLife(), 3s + 5s) << "none outlived the header timeout by much: " << figures;
}

// serve and the workers reach RabbitMQ through a proxy that drops every connection, then stalls them
// (nothing forwarded, nothing closed: only heartbeats can tell), then resumes. Short heartbeats here
// (2 s): a stalled connection is given up after two missed ones, and reconnects wait for the path.
TEST_F(Chaos, AProxyThatDropsAndStallsTheBrokerConnectionLosesNothingAndNoRequestHangs) {
  testing::TcpProxy proxy("127.0.0.1", TestBroker::Get().AmqpPort());
  config_ = std::regex_replace(config_, std::regex("publish_timeout = \"3s\"\n"),
                               "publish_timeout = \"3s\"\nheartbeat = \"2s\"\n");
  StartStack(2, fmt::format("amqp://guest:guest@127.0.0.1:{}/", proxy.Port()));
  Checker checker(port_, effects_);
  SteadyClient client(*this, checker, 50);
  size_t connections = 0;
  for (int round = 0; round < Scale(); ++round) {
    std::this_thread::sleep_for(3s);
    connections = std::max(connections, proxy.Connections());
    checker.Fault("proxy drops every connection");
    proxy.DropAll();
    std::this_thread::sleep_for(4s);
    checker.Fault("proxy stalls");
    proxy.Stall();
    std::this_thread::sleep_for(8s);
    proxy.Resume();
  }
  std::this_thread::sleep_for(4s);
  client.Stop();
  Expect(checker.Finish(180s));
  const std::string log = up_->Output();
  EXPECT_GE(connections, 6U) << "serve and both workers went through the proxy";
  EXPECT_GT(proxy.Accepted(), connections) << "and reconnected through it";
  EXPECT_GT(client.Refused(), 0) << "enqueues were refused while the path was stalled";
  EXPECT_LT(client.SlowestMs(), 3000 + 3000) << "no enqueue waited much past the publish timeout (3 s)";
  EXPECT_NE(log.find("heartbeat timeout"), std::string::npos)
      << "a heartbeat found the stalled connection\n"
      << log.substr(0, 3000);
}

// A client enqueues continuously while `fault` takes the broker away (scale times, down 2 s each) and
// `recover` brings it back: enqueues meanwhile are refused (503), none hangs, every accepted job
// completes.
void Chaos::BrokerOutageLosesNothingAndNoRequestHangs(const std::string& what, const std::function<void()>& fault,
                                                      const std::function<void()>& recover) {
  StartStack(2);
  std::this_thread::sleep_for(5s);  // the queues are older than RabbitMQ's lazy write of a new declaration
  Checker checker(port_, effects_);
  SteadyClient client(*this, checker, 10);
  std::this_thread::sleep_for(2s);
  for (int round = 0; round < Scale(); ++round) {
    checker.Fault(what);
    fault();
    std::this_thread::sleep_for(2s);
    recover();
    std::this_thread::sleep_for(3s);
  }
  client.Stop();
  Expect(checker.Finish(180s));
  EXPECT_GT(client.Refused(), 0) << "while the broker was down, enqueues were refused (503), not accepted";
  EXPECT_LT(client.SlowestMs(), 6000) << "no request hung while the broker was away";
}

// `rabbitmqctl stop_app` stops RabbitMQ but keeps its Erlang node: connections are closed by the
// broker (connection.close, not a reset), and start_app recovers the queues from disk.
TEST_F(Chaos, TheBrokerAppStoppedWhileClientsEnqueueLosesNothingAndNoRequestHangs) {
  BrokerOutageLosesNothingAndNoRequestHangs(
      "rabbitmqctl stop_app", [] { ASSERT_EQ(TestBroker::Get().Ctl({"stop_app"}), 0); },
      [] { ASSERT_EQ(TestBroker::Get().Ctl({"start_app"}), 0); });
}

// Resident memory (kB) and open descriptors of a process; nullopt once it is gone.
struct Usage {
  int64_t rss_kb = 0;
  int64_t fds = 0;
};
std::optional<Usage> UsageOf(pid_t pid) {
  std::ifstream status(fmt::format("/proc/{}/status", pid));
  Usage usage;
  for (std::string line; std::getline(status, line);) {
    if (line.starts_with("VmRSS:")) {
      usage.rss_kb = std::atoll(line.c_str() + 6);
    }
  }
  std::error_code ec;
  for (std::filesystem::directory_iterator it(fmt::format("/proc/{}/fd", pid), ec), end; !ec && it != end;
       it.increment(ec)) {
    ++usage.fds;
  }
  if (usage.rss_kb == 0 || ec) {
    return std::nullopt;
  }
  return usage;
}

int64_t EnvInt(const char* name, int64_t fallback) {
  const char* text = std::getenv(name);
  return text != nullptr && *text != '\0' ? std::atoll(text) : fallback;
}

double Median(std::vector<int64_t> values) {
  if (values.empty()) {
    return 0;
  }
  std::nth_element(values.begin(), values.begin() + static_cast<std::ptrdiff_t>(values.size() / 2), values.end());
  return static_cast<double>(values[values.size() / 2]);
}

// `make soak` (not part of `make test`): WARREN_SOAK_MINUTES (30) of load at half the measured maximum,
// a worker killed (-9) every WARREN_SOAK_KILL_EVERY seconds (60), the broker killed and restarted every
// WARREN_SOAK_BROKER_EVERY seconds (600). Clients retry refused enqueues with their idempotency key.
// Nothing may be lost or run unrecorded, no idempotency key may answer two jobs, and serve's and up's
// memory and descriptors stay flat after the warm-up (the first quarter).
TEST_F(Chaos, SoakAtHalfTheMaximumWithWorkerKillsAndBrokerRestarts) {
  const int64_t minutes = EnvInt("WARREN_SOAK_MINUTES", 0);
  if (minutes <= 0) {
    GTEST_SKIP() << "a soak runs only from `make soak` (WARREN_SOAK_MINUTES)";
  }
  const auto kill_every = std::chrono::seconds(EnvInt("WARREN_SOAK_KILL_EVERY", 60));
  const auto broker_every = std::chrono::seconds(EnvInt("WARREN_SOAK_BROKER_EVERY", 600));
  const auto duration = std::chrono::seconds(minutes * 60);
  StartStack(2);
  std::this_thread::sleep_for(5s);  // the queues are older than RabbitMQ's lazy write of a new declaration
  Checker checker(port_, effects_);
  std::atomic<int> given_up{0};
  std::atomic<int> refusals{0};
  std::atomic<int> key_duplicates{0};
  std::atomic<int64_t> next_key{0};
  // POSTs `job` until a 2xx (like a careful client, up to 2 minutes); its id then.
  auto post = [&](const json& job) -> std::optional<std::string> {
    const auto deadline = Clock::now() + 120s;
    while (Clock::now() < deadline) {
      const auto r = testing::HttpRequest(port_, "POST", "/v1/jobs", job.dump(),
                                          {{"Content-Type", "application/json"}}, 10s);
      if (r.status == 202 || r.status == 200) {
        return json::parse(r.body)["id"].get<std::string>();
      }
      ++refusals;
      std::this_thread::sleep_for(250ms);
    }
    return std::nullopt;
  };
  // One job with an idempotency key; every tenth is sent again once accepted and must answer the same id.
  auto enqueue = [&] {
    json job = EffectJob(5);
    const int64_t key = next_key++;
    job["idempotency_key"] = fmt::format("soak-{}-{}", port_, key);
    const auto id = post(job);
    if (!id) {
      ++given_up;
      return;
    }
    checker.Accepted(*id, true);
    if (key % 10 == 0) {
      const auto again = post(job);
      key_duplicates += again && *again != *id ? 1 : 0;
    }
  };

  // The maximum: 4 clients enqueue as fast as they can for 10 s; the rate is what was accepted over the
  // time until all of it had finished.
  const auto measure_start = Clock::now();
  {
    std::vector<std::thread> blast;
    for (int i = 0; i < 4; ++i) {
      blast.emplace_back([&] {
        while (Clock::now() < measure_start + 10s) {
          enqueue();
        }
      });
    }
    for (auto& t : blast) {
      t.join();
    }
  }
  const Report warm = checker.Finish(300s);
  const double max_rate =
      static_cast<double>(warm.accepted) / std::chrono::duration<double>(Clock::now() - measure_start).count();
  const double rate = max_rate / 2;

  // The load: 4 clients, each paced at a quarter of the rate.
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int i = 0; i < 4; ++i) {
    clients.emplace_back([&] {
      const auto interval = std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(4 / rate));
      auto next = Clock::now();
      while (!stop) {
        enqueue();
        next += interval;
        const auto now = Clock::now();
        if (next < now) {
          next = now;  // behind (an outage): carry on at the rate rather than burst to catch up
        }
        std::this_thread::sleep_until(next);
      }
    });
  }

  // Faults and samples.
  const pid_t serve = ServePid(up_->Output());
  std::map<std::string, std::vector<std::pair<Clock::time_point, Usage>>> samples;  // "serve", "up"
  const auto start = Clock::now();
  auto next_kill = start + kill_every;
  auto next_broker = start + broker_every;
  int kills = 0;
  int restarts = 0;
  std::mt19937 random(5);
  while (Clock::now() < start + duration) {
    std::this_thread::sleep_for(5s);
    const auto now = Clock::now();
    for (const auto& [name, pid] : {std::pair<std::string, pid_t>{"serve", serve}, {"up", up_->Pid()}}) {
      if (const auto usage = UsageOf(pid)) {
        samples[name].emplace_back(now, *usage);
      }
    }
    if (now >= next_kill) {
      next_kill += kill_every;
      if (const auto pids = RunningWorkerPids(); !pids.empty()) {
        const pid_t victim = pids[random() % pids.size()];
        checker.Fault(fmt::format("kill -9 worker {}", victim));
        ::kill(victim, SIGKILL);
        ++kills;
      }
    }
    if (now >= next_broker) {
      next_broker += broker_every;
      checker.Fault("broker restart");
      TestBroker::Get().Kill();
      TestBroker::Get().Start();
      ++restarts;
    }
  }
  stop = true;
  for (auto& t : clients) {
    t.join();
  }
  const Report report = checker.Finish(600s);

  std::string figures = fmt::format(
      "soak: {} min, maximum {:.1f} jobs/s, load {:.1f} jobs/s; {} worker kills, {} broker restarts; {} refused "
      "enqueues retried; idempotency keys that answered two jobs: {}; {}",
      minutes, max_rate, rate, kills, restarts, refusals.load(), key_duplicates.load(), report.Text());
  const auto warm_until = start + duration / 4;
  const auto last_from = start + duration * 3 / 4;
  std::vector<std::string> growing;
  for (const auto& [name, series] : samples) {
    std::vector<int64_t> early_rss;
    std::vector<int64_t> early_fds;
    std::vector<int64_t> late_rss;
    std::vector<int64_t> late_fds;
    for (const auto& [at, usage] : series) {
      if (at >= warm_until && at < warm_until + duration / 4) {
        early_rss.push_back(usage.rss_kb);
        early_fds.push_back(usage.fds);
      } else if (at >= last_from) {
        late_rss.push_back(usage.rss_kb);
        late_fds.push_back(usage.fds);
      }
    }
    const double rss0 = Median(early_rss);
    const double rss1 = Median(late_rss);
    const double fds0 = Median(early_fds);
    const double fds1 = Median(late_fds);
    figures += fmt::format("\n  {}: RSS {:.0f} kB after warm-up, {:.0f} kB at the end; open fds {:.0f} -> {:.0f}",
                           name, rss0, rss1, fds0, fds1);
    // The shape: one sample a minute (RSS kB / fds), to tell a cache filling up from a leak.
    figures += "\n    per minute:";
    for (size_t i = 0; i < series.size(); i += 12) {
      figures += fmt::format(" {}/{}", series[i].second.rss_kb, series[i].second.fds);
    }
    if (rss0 <= 0 || rss1 > rss0 * 1.1 || fds1 > fds0 * 1.1) {
      growing.push_back(name);
    }
  }
  std::cout << "chaos: " << figures << "\n";
  if (const char* results = std::getenv("WARREN_CHAOS_RESULTS")) {
    std::ofstream(results, std::ios::app) << figures << "\n";
  }
  Expect(report);
  // A worker killed between its outcome's confirm and its ack leaves the message to another worker,
  // which cannot know the outcome and runs the job again (at-least-once, decision 50): those repeats
  // are recorded attempts (unexplained 0, checked above), harmless to an idempotent handler.
  EXPECT_EQ(key_duplicates.load(), 0) << "an idempotency key answered two jobs";
  EXPECT_EQ(given_up.load(), 0) << "every enqueue was accepted within 2 minutes of retries";
  EXPECT_TRUE(growing.empty()) << "RSS or descriptors grew by 10% or more after the warm-up: "
                               << fmt::format("{}", fmt::join(growing, ", ")) << "\n"
                               << figures;
  EXPECT_EQ(samples.size(), 2U) << "serve and up were sampled";
}

// Last: it restarts the broker.
TEST_F(Chaos, TheBrokerKilledWhileClientsEnqueueLosesNothingAndNoRequestHangs) {
  BrokerOutageLosesNothingAndNoRequestHangs(
      "kill -9 rabbitmq", [] { TestBroker::Get().Kill(); }, [] { TestBroker::Get().Start(); });
}

}  // namespace
}  // namespace warren::chaos
