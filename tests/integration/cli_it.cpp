// The client commands as a user runs them: the real `warren` binary as a child process against a real
// `warren serve` and `warren work` on the test broker. Output is not a terminal here, so tables come
// tab-separated and without colour, and times as the API gives them.
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <chrono>
#include <csignal>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/unique_fd.hpp"
#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using testing::TestBroker;
using namespace std::chrono_literals;

struct CliRun {
  int code = -1;
  std::string output;  // stdout and stderr, merged
};

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> lines;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    lines.push_back(line);
  }
  return lines;
}

std::vector<std::string> Fields(const std::string& line) {
  std::vector<std::string> fields;
  std::istringstream in(line);
  for (std::string field; std::getline(in, field, '\t');) {
    fields.push_back(field);
  }
  return fields;
}

// One error line: "warren: <reason>", nothing else.
void ExpectOneErrorLine(const CliRun& run, const std::string& starts_with) {
  const auto lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 1U) << run.output;
  EXPECT_THAT(lines[0], StartsWith(starts_with)) << run.output;
}

// Answers every request on a loopback port with 200 and `body`: a server that speaks HTTP and JSON but
// not the jobs API (another program on the port, a proxy's page).
class StubServer {
 public:
  explicit StubServer(std::string body) : body_(std::move(body)) {
    listener_.Reset(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t size = sizeof addr;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    EXPECT_EQ(::bind(listener_.Get(), reinterpret_cast<sockaddr*>(&addr), size), 0);
    EXPECT_EQ(::listen(listener_.Get(), 16), 0);
    ::getsockname(listener_.Get(), reinterpret_cast<sockaddr*>(&addr), &size);
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    port_ = ntohs(addr.sin_port);
    thread_ = std::jthread([this](const std::stop_token& stop) { Serve(stop); });
  }

  std::string Url() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  void Serve(const std::stop_token& stop) {
    while (!stop.stop_requested()) {
      pollfd ready{listener_.Get(), POLLIN, 0};
      if (::poll(&ready, 1, 100) <= 0) {
        continue;
      }
      UniqueFd client(::accept4(listener_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
      std::string request;
      std::array<char, 4096> buf{};
      while (request.find("\r\n\r\n") == std::string::npos) {
        const ssize_t n = ::recv(client.Get(), buf.data(), buf.size(), 0);
        if (n <= 0) {
          break;
        }
        request.append(buf.data(), static_cast<size_t>(n));
      }
      const std::string answer = "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: " +
                                 std::to_string(body_.size()) + "\r\nConnection: close\r\n\r\n" + body_;
      ::send(client.Get(), answer.data(), answer.size(), MSG_NOSIGNAL);
    }
  }

  std::string body_;
  UniqueFd listener_;
  unsigned short port_ = 0;
  std::jthread thread_;
};

// Runs `warren ARGS...` without a broker or server of the test's own.
CliRun RunAlone(std::vector<std::string> args) {
  args.insert(args.begin(), testing::WarrenBinary());
  testing::Process process(args);
  const auto code = process.Wait(30s);
  return {code.value_or(-1), process.Output()};
}

// JSON that is not the document the command expects once made the CLI abort (std::terminate).
TEST(CliAnswers, AnAnswerOfAnotherShapeIsOneLineAndExitOne) {
  const std::string id = "01234567-89ab-7def-8123-456789abcdef";
  const std::vector<std::pair<std::string, std::vector<std::string>>> cases = {
      {"[]", {"status", id}}, {R"({"state":5})", {"status", id}},  {R"({"jobs":5})", {"jobs"}},
      {"[]", {"queues"}},     {R"({"workers":[1]})", {"workers"}}, {R"({"id":5})", {"cancel", id}},
  };
  for (const auto& [body, args] : cases) {
    StubServer stub(body);
    auto argv = args;
    argv.insert(argv.end(), {"--url", stub.Url()});
    const auto run = RunAlone(argv);
    EXPECT_EQ(run.code, 1) << body << " " << ::testing::PrintToString(args) << ": " << run.output;
    ExpectOneErrorLine(run, "warren: the API answered something unexpected: ");
  }
}

TEST(CliUsage, ARequestTimeoutThatIsNotSecondsInRangeIsAUsageError) {
  // NaN passed the range check once, and its conversion to milliseconds was undefined.
  for (const std::string value : {"nan", "-nan", "inf", "0", "3601", "soon"}) {
    const auto run = RunAlone({"queues", "--request-timeout", value, "--url", "http://127.0.0.1:1"});
    EXPECT_EQ(run.code, 2) << value << ": " << run.output;
    ExpectOneErrorLine(run,
                       "warren: --request-timeout: expected seconds from 0.1 to 3600, got '" + value + "'");
  }
}

TEST(CliUsage, AUrlWithAQueryAfterTheHostOrTwoPortsIsAUsageError) {
  const auto run = RunAlone({"queues", "--url", "http://localhost?x"});
  EXPECT_EQ(run.code, 2) << run.output;
  ExpectOneErrorLine(run, "warren: --url http://localhost?x: the URL must not have a query or fragment");
  const auto ports = RunAlone({"queues", "--url", "http://127.0.0.1:80:90"});
  EXPECT_EQ(ports.code, 2) << ports.output;
  ExpectOneErrorLine(ports, "warren: --url http://127.0.0.1:80:90: more than one ':' after the host");
}

TEST(CliUsage, ArgsNestedDeeperThanTheServerTakesAreAUsageError) {
  // A million levels: dumping them to send them overflowed the CLI's stack.
  const std::string path = testing::MakeTempDir("warren-cli-deep") + "/args.json";
  std::ofstream(path) << std::string(1'000'000, '[') << std::string(1'000'000, ']');
  const auto run = RunAlone({"enqueue", "warren.echo", "--args", "@" + path, "--url", "http://127.0.0.1:1"});
  EXPECT_EQ(run.code, 2) << run.output;
  ExpectOneErrorLine(run, "warren: --args @" + path + ": nests deeper than 32 levels");
}

class Cli : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("warren-cli");
    port_ = testing::FreePort();
    queue_ = "it.cli." + std::to_string(port_);
    url_ = "http://127.0.0.1:" + std::to_string(port_);
    serve_ = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--amqp-url",
        TestBroker::Get().AmqpUrl(), "--store", "sqlite:" + dir_ + "/warren.db"});
    ASSERT_TRUE(testing::WaitForHttp(port_, "/healthz", 20s)) << serve_->Output();
    worker_ = std::make_unique<testing::Process>(
        std::vector<std::string>{testing::WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(),
                                 "--queue", queue_, "--concurrency", "4", "--retry-base", "100ms"});
    ASSERT_TRUE(worker_->WaitForOutput("consuming " + queue_, 15s)) << worker_->Output();
    ASSERT_TRUE(worker_->WaitForOutput("publisher connected", 15s)) << worker_->Output();
    ASSERT_TRUE(worker_->WaitForOutput("consuming warren.control.", 15s)) << worker_->Output();
    ASSERT_TRUE(testing::WaitForHttp(port_, "/readyz", 15s)) << serve_->Output();
  }

  // Runs `warren ARGS... --url URL` and waits for it.
  CliRun Run(std::vector<std::string> args, bool with_url = true,
             std::map<std::string, std::string> env = {}) {
    std::vector<std::string> argv = {testing::WarrenBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    if (with_url) {
      argv.insert(argv.end(), {"--url", url_});
    }
    testing::Process process(argv, std::move(env));
    const auto code = process.Wait(60s);
    EXPECT_TRUE(code.has_value()) << "warren " << ::testing::PrintToString(args) << " did not finish";
    return {code.value_or(-1), process.Output()};
  }

  json Job(const std::string& id) {
    return json::parse(testing::HttpGet(port_, "/v1/jobs/" + id).body, nullptr, false);
  }

  json WaitForJob(const std::string& id, const std::function<bool(const json&)>& done) {
    const auto deadline = std::chrono::steady_clock::now() + 20s;
    json job = Job(id);
    while (!done(job) && std::chrono::steady_clock::now() < deadline) {
      std::this_thread::sleep_for(50ms);
      job = Job(id);
    }
    EXPECT_TRUE(done(job)) << job.dump();
    return job;
  }

  // Enqueues a warren.fail job with one attempt and waits until it is dead; returns its id.
  std::string DeadJob(const std::string& error = "boom") {
    const auto run = Run({"enqueue", "warren.fail", "--queue", queue_, "--max-attempts", "1", "--args",
                          json{{"error", error}}.dump()});
    EXPECT_EQ(run.code, 0) << run.output;
    const std::string id = Lines(run.output).empty() ? "" : Lines(run.output)[0];
    WaitForJob(id, [](const json& j) { return j.value("state", "") == "dead"; });
    return id;
  }

  std::string dir_;
  unsigned short port_ = 0;
  std::string queue_;
  std::string url_;
  std::unique_ptr<testing::Process> serve_;
  std::unique_ptr<testing::Process> worker_;
};

TEST_F(Cli, EnqueueWaitPrintsTheResultAndExitsZero) {
  const auto run = Run({"enqueue", "warren.echo", "--queue", queue_, "--args", R"({"n":7})", "--wait"});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "{\"n\":7}\n");
}

TEST_F(Cli, EnqueueWaitOfAJobThatDiesExitsFourWithItsError) {
  const auto run = Run({"enqueue", "warren.fail", "--queue", queue_, "--args", R"({"error":"boom"})",
                        "--max-attempts", "1", "--wait"});
  EXPECT_EQ(run.code, 4) << run.output;
  ExpectOneErrorLine(run, "warren: job ");
  EXPECT_THAT(run.output, HasSubstr(" ended dead: boom"));
}

TEST_F(Cli, ArgsComeFromAFile) {
  const std::string path = dir_ + "/args.json";
  std::ofstream(path) << R"({"from":"file"})";
  const auto run = Run({"enqueue", "warren.echo", "--queue", queue_, "--args", "@" + path, "--wait"});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "{\"from\":\"file\"}\n");
}

TEST_F(Cli, EnqueueWaitOfACancelledJobExitsFive) {
  testing::Process waiter({testing::WarrenBinary(), "enqueue", "warren.sleep", "--queue", queue_, "--args",
                           R"({"seconds":60})", "--wait", "--json", "--url", url_});
  // The job it waits for, once running, is cancelled from another shell.
  std::string id;
  const auto deadline = std::chrono::steady_clock::now() + 20s;
  while (id.empty() && std::chrono::steady_clock::now() < deadline) {
    const json page = json::parse(testing::HttpGet(port_, "/v1/jobs?state=running&queue=" + queue_).body);
    if (!page["jobs"].empty()) {
      id = page["jobs"][0]["id"];
    }
    std::this_thread::sleep_for(50ms);
  }
  ASSERT_FALSE(id.empty()) << waiter.Output();
  EXPECT_EQ(Run({"cancel", id}).code, 0);
  EXPECT_EQ(waiter.Wait(20s), 5) << waiter.Output();
  EXPECT_THAT(waiter.Output(), HasSubstr("\"state\":\"cancelled\""));
  EXPECT_THAT(waiter.Output(), HasSubstr("warren: job " + id + " ended cancelled"));
}

TEST_F(Cli, EnqueueWaitJsonPrintsTheFinalJob) {
  const auto run = Run({"enqueue", "warren.noop", "--queue", queue_, "--wait", "--json"});
  EXPECT_EQ(run.code, 0) << run.output;
  const json job = json::parse(run.output, nullptr, false);
  ASSERT_FALSE(job.is_discarded()) << run.output;
  EXPECT_EQ(job["state"], "succeeded");
  EXPECT_EQ(job["type"], "warren.noop");
}

TEST_F(Cli, EnqueuePrintsTheIdAndStatusShowsTheJob) {
  const auto run = Run({"enqueue", "warren.echo", "--queue", queue_, "--args", R"({"to":"ada"})", "--timeout",
                        "30s", "--priority", "7", "--idempotency-key", "cli-status-1"});
  ASSERT_EQ(run.code, 0) << run.output;
  const std::string id = Lines(run.output).at(0);
  EXPECT_EQ(id.size(), 36U) << run.output;
  WaitForJob(id, [](const json& j) { return j.value("state", "") == "succeeded"; });
  const json job = Job(id);
  EXPECT_EQ(job["timeout"], 30);
  EXPECT_EQ(job["priority"], 7);
  EXPECT_EQ(job["idempotency_key"], "cli-status-1");

  const auto status = Run({"status", id});
  ASSERT_EQ(status.code, 0) << status.output;
  const auto lines = Lines(status.output);
  EXPECT_EQ(lines.at(0), "id\t" + id);
  EXPECT_THAT(lines, ::testing::Contains("type\twarren.echo"));
  EXPECT_THAT(lines, ::testing::Contains("queue\t" + queue_));
  EXPECT_THAT(lines, ::testing::Contains("state\tsucceeded"));
  EXPECT_THAT(lines, ::testing::Contains("attempts\t1/3"));
  EXPECT_THAT(lines, ::testing::Contains(R"(result	{"to":"ada"})"));

  const auto as_json = Run({"status", id, "--json"});
  ASSERT_EQ(as_json.code, 0) << as_json.output;
  EXPECT_EQ(json::parse(as_json.output, nullptr, false), Job(id));

  // The same key again: the same job, not a new one.
  const auto again = Run({"enqueue", "warren.echo", "--queue", queue_, "--idempotency-key", "cli-status-1"});
  EXPECT_EQ(again.output, id + "\n");
}

TEST_F(Cli, JobsFiltersByStateAndTypeAndPages) {
  const std::string dead = DeadJob();
  std::vector<std::string> echoes;
  for (int i = 0; i < 3; ++i) {
    const auto run =
        Run({"enqueue", "warren.echo", "--queue", queue_, "--args", std::to_string(i), "--wait", "--json"});
    ASSERT_EQ(run.code, 0) << run.output;
    echoes.push_back(json::parse(run.output)["id"]);
  }

  auto run = Run({"jobs", "--queue", queue_, "--state", "dead"});
  ASSERT_EQ(run.code, 0) << run.output;
  auto lines = Lines(run.output);
  ASSERT_EQ(lines.size(), 2U) << run.output;
  EXPECT_EQ(lines[0], "ID\tTYPE\tQUEUE\tSTATE\tATTEMPTS\tPROGRESS\tCREATED");
  const auto row = Fields(lines[1]);
  ASSERT_EQ(row.size(), 7U) << lines[1];
  EXPECT_EQ(row[0], dead);
  EXPECT_EQ(row[1], "warren.fail");
  EXPECT_EQ(row[3], "dead");
  EXPECT_EQ(row[4], "1/1");

  // Newest first, two per page across the store's pages (--limit larger than one page is followed).
  run = Run({"jobs", "--queue", queue_, "--type", "warren.echo", "--json"});
  ASSERT_EQ(run.code, 0) << run.output;
  json page = json::parse(run.output, nullptr, false);
  ASSERT_FALSE(page.is_discarded()) << run.output;
  ASSERT_EQ(page["jobs"].size(), 3U) << run.output;
  EXPECT_EQ(page["jobs"][0]["id"], echoes[2]);
  EXPECT_EQ(page["jobs"][2]["id"], echoes[0]);

  run = Run({"jobs", "--queue", queue_, "--type", "warren.echo", "--limit", "2", "--json"});
  page = json::parse(run.output, nullptr, false);
  ASSERT_EQ(page["jobs"].size(), 2U) << run.output;
  ASSERT_TRUE(page["next_cursor"].is_string()) << run.output;
  run = Run({"jobs", "--queue", queue_, "--type", "warren.echo", "--cursor", page["next_cursor"], "--json"});
  page = json::parse(run.output, nullptr, false);
  ASSERT_EQ(page["jobs"].size(), 1U) << run.output;
  EXPECT_EQ(page["jobs"][0]["id"], echoes[0]);

  run = Run({"jobs", "--state", "nonsense"});
  EXPECT_EQ(run.code, 1);
  ExpectOneErrorLine(run, "warren: invalid_");
}

TEST_F(Cli, CancelAQueuedJobThenItIsAConflict) {
  auto run = Run({"enqueue", "warren.noop", "--queue", queue_, "--delay", "1h"});
  ASSERT_EQ(run.code, 0) << run.output;
  const std::string id = Lines(run.output).at(0);
  EXPECT_EQ(Job(id)["state"], "scheduled");

  run = Run({"cancel", id});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "cancelled " + id + " (cancelled)\n");
  EXPECT_EQ(Job(id)["state"], "cancelled");

  run = Run({"cancel", id});
  EXPECT_EQ(run.code, 1) << run.output;
  ExpectOneErrorLine(run, "warren: conflict: job " + id + " is already cancelled");
}

TEST_F(Cli, RetryADeadJobRunsItAgain) {
  const std::string id = DeadJob();
  const auto run = Run({"retry", id});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "retried " + id + " (attempt 2, queued)\n");
  const json job = WaitForJob(
      id, [](const json& j) { return j.value("state", "") == "dead" && j["attempts"].size() == 2; });
  EXPECT_EQ(job["attempt"], 2);
}

TEST_F(Cli, RetryDeadRetriesEveryDeadJobOfTheQueue) {
  std::vector<std::string> ids = {DeadJob("one"), DeadJob("two"), DeadJob("three")};
  auto run = Run({"retry", "--dead", queue_, "--json"});
  ASSERT_EQ(run.code, 0) << run.output;
  const json answer = json::parse(run.output, nullptr, false);
  ASSERT_FALSE(answer.is_discarded()) << run.output;
  EXPECT_EQ(answer["retried"], 3);
  std::vector<std::string> retried = answer["ids"];
  std::sort(retried.begin(), retried.end());
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(retried, ids);
  for (const auto& id : ids) {
    WaitForJob(id, [](const json& j) { return j.value("state", "") == "dead" && j["attempts"].size() == 2; });
  }
  run = Run({"retry", "--dead", queue_});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_EQ(run.output, "retried 3 dead jobs of " + queue_ + "\n");

  run = Run({"retry", "--dead", "no-dead-jobs-here"});
  EXPECT_EQ(run.output, "retried 0 dead jobs of no-dead-jobs-here\n");
}

TEST_F(Cli, QueuesAndWorkers) {
  auto run = Run({"queues"});
  ASSERT_EQ(run.code, 0) << run.output;
  auto lines = Lines(run.output);
  ASSERT_GE(lines.size(), 2U) << run.output;
  EXPECT_EQ(lines[0], "QUEUE\tDEPTH\tREADY\tUNACKED\tCONSUMERS\tPUBLISH/S\tDELIVER/S\tACK/S");
  EXPECT_THAT(run.output, HasSubstr("\ndefault\t"));
  run = Run({"queues", "--json"});
  const json queues = json::parse(run.output, nullptr, false);
  ASSERT_TRUE(queues.contains("queues")) << run.output;

  const std::string pid = std::to_string(worker_->Pid());
  const auto deadline = std::chrono::steady_clock::now() + 15s;
  do {
    run = Run({"workers"});
    if (run.output.find("\t" + pid + "\t") != std::string::npos) {
      break;
    }
    std::this_thread::sleep_for(200ms);
  } while (std::chrono::steady_clock::now() < deadline);
  ASSERT_EQ(run.code, 0) << run.output;
  lines = Lines(run.output);
  EXPECT_EQ(lines.at(0), "ID\tHOST\tPID\tSTATE\tQUEUES\tBUSY\tDONE\tLAST SEEN");
  bool found = false;
  for (const auto& line : lines) {
    const auto fields = Fields(line);
    if (fields.size() == 8 && fields[2] == pid) {
      found = true;
      EXPECT_EQ(fields[3], "running");
      EXPECT_EQ(fields[4], queue_);
      EXPECT_THAT(fields[5], ::testing::EndsWith("/4"));
    }
  }
  EXPECT_TRUE(found) << run.output;
  run = Run({"workers", "--json"});
  EXPECT_TRUE(json::parse(run.output, nullptr, false).contains("workers")) << run.output;
}

TEST_F(Cli, ErrorsAreOneLineWithTheirExitCode) {
  auto run = Run({"status", "01234567-89ab-7def-8123-456789abcdef"});
  EXPECT_EQ(run.code, 1);
  ExpectOneErrorLine(run, "warren: not_found: no job '01234567-89ab-7def-8123-456789abcdef'");

  const std::string nobody = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  run = Run({"status", "x", "--url", nobody}, false);
  EXPECT_EQ(run.code, 3);
  ExpectOneErrorLine(run, "warren: cannot reach 127.0.0.1:");

  run = Run({"enqueue", "warren.echo", "--args", "{bad"});
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: --args: not valid JSON: ");

  run = Run({"queues", "--url", "https://127.0.0.1:5000"}, false);
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: --url https://127.0.0.1:5000: https is not supported");

  run = Run({"retry"});
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: retry: give a job ID or --dead QUEUE");

  run = Run({"jobs", "--no-such-flag"});
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: ");

  run = Run({"enqueue", "warren.echo", "--queue", "amq.nope"});
  EXPECT_EQ(run.code, 1);
  ExpectOneErrorLine(run, "warren: invalid_field: ");

  run = Run({"enqueue", "warren.echo", "--priority", "10"});
  EXPECT_EQ(run.code, 1);
  ExpectOneErrorLine(run, "warren: invalid_field: field 'priority': expected an integer 0..9, got 10");

  // A bad AMQP URL stops `work` and `serve` before they connect, as any bad setting does.
  run = Run({"work", "--amqp-url", "amqps://guest:secret@127.0.0.1/?cacertfile=/nonexistent.pem"}, false);
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: amqp.url: AMQP URL parameter cacertfile: /nonexistent.pem: No such file or directory");
  run = Run({"serve", "--amqp-url", "amqps://127.0.0.1/?verify=maybe"}, false);
  EXPECT_EQ(run.code, 2);
  ExpectOneErrorLine(run, "warren: amqp.url: AMQP URL parameter verify: expected verify_peer or verify_none, got 'maybe'");
  run = Run({"work", "--amqp-url", "http://guest:secret@127.0.0.1/"}, false);
  EXPECT_EQ(run.code, 2);
  EXPECT_EQ(run.output.find("secret"), std::string::npos) << "a password in a bad URL is not echoed: " << run.output;
}

// Only log lines were cleaned once; an error's escape sequences reached the terminal.
TEST_F(Cli, AJobsErrorCannotDriveTheTerminal) {
  const std::string error = "boom \x1b[2J\x1b]0;owned\x07 end";
  const std::string shown = "boom  [2J ]0;owned  end";
  testing::Process tail({testing::WarrenBinary(), "tail", "--queue", queue_, "--count", "3", "--url", url_});
  std::this_thread::sleep_for(500ms);  // the stream opens before the job exists
  const auto wait = Run({"enqueue", "warren.fail", "--queue", queue_, "--max-attempts", "1", "--args",
                         json{{"error", error}}.dump(), "--wait"});
  EXPECT_EQ(wait.code, 4) << wait.output;
  EXPECT_THAT(wait.output, HasSubstr(shown));
  const auto ended = wait.output.find("warren: job ");
  ASSERT_NE(ended, std::string::npos) << wait.output;
  const std::string id = wait.output.substr(ended + 12, 36);
  const auto status = Run({"status", id});
  EXPECT_EQ(status.code, 0) << status.output;
  EXPECT_THAT(status.output, HasSubstr("error\t" + shown));
  ASSERT_EQ(tail.Wait(20s), 0) << tail.Output();
  EXPECT_THAT(tail.Output(), HasSubstr(shown));
  for (const auto* output : {&wait.output, &status.output}) {
    EXPECT_EQ(output->find_first_of("\x1b\x07"), std::string::npos) << *output;
  }
  EXPECT_EQ(tail.Output().find_first_of("\x1b\x07"), std::string::npos) << tail.Output();
}

TEST_F(Cli, TheUrlComesFromWarrenUrlUnlessGiven) {
  auto run = Run({"queues", "--json"}, false, {{"WARREN_URL", url_}});
  EXPECT_EQ(run.code, 0) << run.output;
  EXPECT_TRUE(json::parse(run.output, nullptr, false).contains("queues")) << run.output;
  const std::string nobody = "http://127.0.0.1:" + std::to_string(testing::FreePort());
  run = Run({"queues", "--json"}, true, {{"WARREN_URL", nobody}});  // --url wins
  EXPECT_EQ(run.code, 0) << run.output;
  run = Run({"queues"}, false, {{"WARREN_URL", nobody}});
  EXPECT_EQ(run.code, 3) << run.output;
}

// Tokens: --token or WARREN_TOKEN; without one the API's 401 is the one line.
TEST(CliTokens, TheTokenIsSentAsABearer) {
  const std::string dir = testing::MakeTempDir("warren-cli-tokens");
  const unsigned short port = testing::FreePort();
  const std::string reader = "reader-token-aaaaaaaaaaaa";
  testing::Process serve({testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port),
                          "--amqp-url", TestBroker::Get().AmqpUrl(), "--store", "sqlite:" + dir + "/w.db",
                          "--token", reader + ":read"});
  ASSERT_TRUE(testing::WaitForHttp(port, "/healthz", 20s)) << serve.Output();
  const std::string url = "http://127.0.0.1:" + std::to_string(port);
  const auto run = [&](std::vector<std::string> args, std::map<std::string, std::string> env = {}) {
    args.insert(args.begin(), testing::WarrenBinary());
    testing::Process process(args, std::move(env));
    const auto code = process.Wait(30s);
    return CliRun{code.value_or(-1), process.Output()};
  };
  auto result = run({"jobs", "--url", url});
  EXPECT_EQ(result.code, 1);
  ExpectOneErrorLine(result, "warren: unauthorized: ");
  result = run({"jobs", "--url", url, "--token", reader});
  EXPECT_EQ(result.code, 0) << result.output;
  result = run({"jobs", "--url", url, "--json"}, {{"WARREN_TOKEN", reader}});
  EXPECT_EQ(result.code, 0) << result.output;
  result = run({"retry", "--dead", "default", "--url", url, "--token", reader});
  EXPECT_EQ(result.code, 1);
  ExpectOneErrorLine(result, "warren: forbidden: this token lacks the 'admin' scope");
}

TEST_F(Cli, TailFollowsAJobLive) {
  // Follow the queue for three events (enqueued, started, succeeded) while a job runs.
  testing::Process tail({testing::WarrenBinary(), "tail", "--queue", queue_, "--count", "3", "--json", "--url", url_});
  std::this_thread::sleep_for(500ms);  // the stream opens before the job exists
  const auto run = Run({"enqueue", "warren.echo", "--queue", queue_, "--args", R"({"n":1})"});
  ASSERT_EQ(run.code, 0) << run.output;
  const std::string id = run.output.substr(0, run.output.find('\n'));
  ASSERT_EQ(tail.Wait(20s), 0) << tail.Output();
  std::vector<std::string> kinds;
  std::istringstream lines(tail.Output());
  for (std::string line; std::getline(lines, line);) {
    const json event = json::parse(line, nullptr, false);
    ASSERT_TRUE(event.is_object()) << line;
    EXPECT_EQ(event["data"]["job_id"], id) << line;
    EXPECT_FALSE(event["id"].get<std::string>().empty());
    kinds.push_back(event["event"]);
  }
  EXPECT_EQ(kinds, (std::vector<std::string>{"enqueued", "started", "succeeded"})) << tail.Output();

  // As a table (not a terminal: tab-separated), one job only: a scheduled job, then its cancel.
  const auto later = Run({"enqueue", "warren.noop", "--queue", queue_, "--delay", "1h"});
  ASSERT_EQ(later.code, 0) << later.output;
  const std::string later_id = later.output.substr(0, later.output.find('\n'));
  std::this_thread::sleep_for(1s);  // its `enqueued` has reached the streams by now (100 ms batches)
  testing::Process one({testing::WarrenBinary(), "tail", "--job", later_id, "--count", "1", "--url", url_});
  std::this_thread::sleep_for(500ms);
  ASSERT_EQ(Run({"cancel", later_id}).code, 0);
  ASSERT_EQ(one.Wait(20s), 0) << one.Output();
  const std::string line = one.Output();
  EXPECT_NE(line.find("\tcancelled"), std::string::npos) << line;
  EXPECT_NE(line.find("\t" + later_id + "\twarren.noop\t" + queue_ + "\tcancelled"), std::string::npos) << line;

  EXPECT_EQ(Run({"tail", "--job", "not-an-id", "--count", "1"}).code, 1) << "the API's 400";
  const auto unreachable = Run({"tail", "--count", "1"}, false, {{"WARREN_URL", "http://127.0.0.1:1"}});
  EXPECT_EQ(unreachable.code, 3) << unreachable.output;
}

}  // namespace
}  // namespace warren
