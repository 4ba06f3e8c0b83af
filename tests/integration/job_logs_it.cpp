// A job's own log lines end to end: a command job's stderr and a built-in handler's JobContext::Log
// travel from `warren work` as log events through RabbitMQ to serve's recorder and the store, and come
// back from GET /v1/jobs/{id}/logs and `warren logs`, each line with the attempt that wrote it.
#include <chrono>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fmt/format.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "core/job.hpp"
#include "support/support.hpp"

namespace warren {
namespace {

using nlohmann::json;
using testing::TestBroker;
using namespace std::chrono_literals;

class JobLogs : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = testing::MakeTempDir("warren-logs");
    port_ = testing::FreePort();
    queue_ = "it.logs." + std::to_string(port_);
    // Asks for a retry on its first attempt (exit 75) and succeeds on the second, writing stderr lines
    // each time.
    std::ofstream(dir_ + "/work.toml")
        << "[jobs.it_shout]\ncommand = [\"/bin/sh\", \"-c\", 'echo line one >&2; if [ -f " << dir_
        << "/marker ]; then echo second try >&2; echo 42; else touch " << dir_
        << "/marker; echo failing now >&2; exit 75; fi']\n"
        // Bytes that are not UTF-8 on stderr (early, and after 400 ms, so the watchdog ships a line
        // while the command runs), in a progress note, and as the result.
        << "[jobs.it_bytes]\ncommand = [\"/bin/sh\", \"-c\", 'printf \"bad \\377 byte\\0nul\\n\" >&2; "
        << "printf \"::progress 50 caf\\351\\n\"; sleep 0.4; printf \"late \\377\\n\" >&2; printf "
           "\"\\377\"']\n";
    serve_ = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::WarrenBinary(), "serve", "--listen", "127.0.0.1:" + std::to_string(port_), "--amqp-url",
        TestBroker::Get().AmqpUrl(), "--store", "sqlite:" + dir_ + "/warren.db"});
    ASSERT_TRUE(testing::WaitForHttp(port_, "/healthz", 20s)) << serve_->Output();
    worker_ = std::make_unique<testing::Process>(std::vector<std::string>{
        testing::WarrenBinary(), "work", "--config", dir_ + "/work.toml", "--amqp-url",
        TestBroker::Get().AmqpUrl(), "--queue", queue_, "--concurrency", "2", "--retry-base", "100ms"});
    ASSERT_TRUE(worker_->WaitForOutput("consuming " + queue_, 15s)) << worker_->Output();
    ASSERT_TRUE(worker_->WaitForOutput("publisher connected", 15s)) << worker_->Output();
    ASSERT_TRUE(testing::WaitForHttp(port_, "/readyz", 15s)) << serve_->Output();
  }

  std::string Enqueue(const json& spec) {
    const auto answer =
        testing::HttpRequest(port_, "POST", "/v1/jobs", spec.dump(), {{"Content-Type", "application/json"}});
    EXPECT_EQ(answer.status, 202) << answer.body;
    return json::parse(answer.body, nullptr, false).value("id", "");
  }

  json Get(const std::string& target) {
    const auto answer = testing::HttpGet(port_, target);
    return json::parse(answer.body, nullptr, false);
  }

  // Waits until the job is in `state` and has at least `lines` log lines; returns the lines.
  json WaitForLogs(const std::string& id, const std::string& state, size_t lines) {
    const auto deadline = std::chrono::steady_clock::now() + 30s;
    json logs;
    json job;
    do {
      std::this_thread::sleep_for(100ms);
      job = Get("/v1/jobs/" + id);
      logs = Get("/v1/jobs/" + id + "/logs");
    } while ((job.value("state", "") != state || logs["lines"].size() < lines) &&
             std::chrono::steady_clock::now() < deadline);
    EXPECT_EQ(job.value("state", ""), state) << job.dump();
    EXPECT_GE(logs["lines"].size(), lines) << logs.dump();
    return logs["lines"];
  }

  std::string Cli(std::vector<std::string> args) {
    std::vector<std::string> argv = {testing::WarrenBinary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--url", "http://127.0.0.1:" + std::to_string(port_)});
    testing::Process process(argv);
    const auto code = process.Wait(60s);
    EXPECT_EQ(code, 0) << process.Output();
    return process.Output();
  }

  std::string dir_;
  unsigned short port_ = 0;
  std::string queue_;
  std::unique_ptr<testing::Process> serve_;
  std::unique_ptr<testing::Process> worker_;
};

std::vector<std::pair<int, std::string>> AttemptsAndTexts(const json& lines) {
  std::vector<std::pair<int, std::string>> out;
  for (const auto& line : lines) {
    out.emplace_back(line["attempt"].get<int>(), line["line"].get<std::string>());
  }
  return out;
}

TEST_F(JobLogs, CommandStderrAndHandlerLinesAreStoredPerAttempt) {
  const std::string command = Enqueue({{"type", "it_shout"}, {"queue", queue_}, {"max_attempts", 2}});
  const std::string builtin = Enqueue(
      {{"type", "warren.flaky"}, {"queue", queue_}, {"max_attempts", 3}, {"args", {{"fail_attempts", 2}}}});

  const json command_lines = WaitForLogs(command, "succeeded", 4);
  EXPECT_EQ(AttemptsAndTexts(command_lines),
            (std::vector<std::pair<int, std::string>>{
                {1, "line one"}, {1, "failing now"}, {2, "line one"}, {2, "second try"}}));
  for (const auto& line : command_lines) {
    EXPECT_TRUE(ParseTime(line["at"].get<std::string>())) << line;
    EXPECT_EQ(line["cursor"], fmt::format("{}.{}", line["attempt"].get<int>(), line["seq"].get<int>()));
  }
  const json builtin_lines = WaitForLogs(builtin, "succeeded", 3);
  EXPECT_EQ(
      AttemptsAndTexts(builtin_lines),
      (std::vector<std::pair<int, std::string>>{
          {1, "warren.flaky: attempt 1"}, {2, "warren.flaky: attempt 2"}, {3, "warren.flaky: attempt 3"}}));

  // One attempt, and paging with the cursor.
  EXPECT_EQ(Get("/v1/jobs/" + command + "/logs?attempt=2")["lines"].size(), 2U);
  const json first = Get("/v1/jobs/" + command + "/logs?limit=3");
  EXPECT_EQ(first["lines"].size(), 3U);
  ASSERT_TRUE(first["next"].is_string()) << first.dump();
  const json rest = Get("/v1/jobs/" + command + "/logs?after=" + first["next"].get<std::string>());
  EXPECT_EQ(AttemptsAndTexts(rest["lines"]), (std::vector<std::pair<int, std::string>>{{2, "second try"}}));
  EXPECT_TRUE(rest["next"].is_null());
  EXPECT_EQ(testing::HttpGet(port_, "/v1/jobs/01900000-0000-7000-8000-000000000000/logs").status, 404);

  // The CLI: tab-separated off a terminal, the API's lines with --json, --follow ends with the job.
  const std::string text = Cli({"logs", command});
  EXPECT_NE(text.find("1\t"), std::string::npos) << text;
  EXPECT_NE(text.find("\tline one\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2\t"), std::string::npos) << text;
  EXPECT_NE(text.find("\tsecond try\n"), std::string::npos) << text;
  const json doc = json::parse(Cli({"logs", builtin, "--json"}), nullptr, false);
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(AttemptsAndTexts(doc["lines"]), AttemptsAndTexts(builtin_lines));
  const std::string followed = Cli({"logs", builtin, "--follow", "--attempt", "3"});
  EXPECT_EQ(followed.find("attempt 1"), std::string::npos) << followed;
  EXPECT_NE(followed.find("warren.flaky: attempt 3"), std::string::npos) << followed;

  // DELETE takes the lines with the job.
  EXPECT_EQ(testing::HttpRequest(port_, "DELETE", "/v1/jobs/" + command).status, 200);
  EXPECT_EQ(testing::HttpGet(port_, "/v1/jobs/" + command + "/logs").status, 404);
}

// Text a job writes is not checked for UTF-8; it is carried with U+FFFD in place of bad bytes. Before,
// the first such log line, progress note or result ended the worker (nlohmann's dump() threw).
TEST_F(JobLogs, BytesThatAreNotUtf8AreReplacedAndTheWorkerRunsOn) {
  const std::string id = Enqueue({{"type", "it_bytes"}, {"queue", queue_}, {"max_attempts", 1}});
  const json lines = WaitForLogs(id, "succeeded", 2);
  EXPECT_EQ(AttemptsAndTexts(lines),
            (std::vector<std::pair<int, std::string>>{{1, "bad \uFFFD byte\uFFFDnul"}, {1, "late \uFFFD"}}));
  const json job = Get("/v1/jobs/" + id);
  EXPECT_EQ(job["result"], "\uFFFD") << job.dump();
  EXPECT_FALSE(worker_->Wait(0ms).has_value()) << "the worker runs on: " << worker_->Output();
  // And it still runs jobs.
  const std::string next = Enqueue({{"type", "warren.echo"}, {"queue", queue_}, {"args", {{"n", 1}}}});
  WaitForLogs(next, "succeeded", 0);
}

TEST_F(JobLogs, FollowPrintsLinesWhileTheJobRuns) {
  // warren.sleep writes no lines; a flaky job retried after 100 ms writes one per attempt, so a follow
  // started at once sees lines arrive and returns when the job succeeds.
  const std::string id = Enqueue(
      {{"type", "warren.flaky"}, {"queue", queue_}, {"max_attempts", 4}, {"args", {{"fail_attempts", 3}}}});
  const std::string followed = Cli({"logs", id, "--follow"});
  EXPECT_NE(followed.find("warren.flaky: attempt 4"), std::string::npos) << followed;
  EXPECT_EQ(Get("/v1/jobs/" + id)["state"], "succeeded");
}

}  // namespace
}  // namespace warren
