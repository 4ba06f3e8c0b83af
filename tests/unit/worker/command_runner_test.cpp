#include "worker/command_runner.hpp"

#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <cerrno>
#include <fstream>
#include <thread>

#include <gtest/gtest.h>

#include "worker/command_template.hpp"

namespace warren::worker {
namespace {

using namespace std::chrono_literals;

CommandRequest Request(std::vector<std::string> argv) {
  CommandRequest r;
  r.argv = std::move(argv);
  r.job_id = "0190job";
  r.job_type = "test.type";
  r.queue = "q1";
  r.attempt = 3;
  r.kill_grace = 200ms;
  r.timeout = 3s;  // a safety net: no test here should come near it
  return r;
}

CommandRequest Shell(const std::string& script) { return Request({"/bin/sh", "-c", script}); }

// A process is gone once kill() finds nothing or only a zombie (nobody may reap a grandchild that
// was handed to PID 1 in a container).
bool Gone(pid_t pid) {
  if (kill(pid, 0) != 0) {
    return errno == ESRCH;
  }
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  std::getline(stat, line);
  const auto paren = line.rfind(')');
  return paren != std::string::npos && paren + 2 < line.size() && line[paren + 2] == 'Z';
}

bool GoneSoon(pid_t pid) {
  for (int i = 0; i < 100 && !Gone(pid); ++i) {
    std::this_thread::sleep_for(10ms);
  }
  return Gone(pid);
}

bool Exists(const std::string& path) {
  struct stat st {};
  return ::stat(path.c_str(), &st) == 0;
}

TEST(CommandRunner, ExitCodesAndOutput) {
  const auto r = RunCommand(Shell("echo out; echo err >&2; exit 0"));
  EXPECT_FALSE(r.spawn_error);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_FALSE(r.signal);
  EXPECT_EQ(r.stdout_text, "out\n");
  EXPECT_EQ(r.stderr_text, "err\n");
  EXPECT_FALSE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(Classify(r).verdict, CommandVerdict::kSuccess);
  EXPECT_EQ(ResultJson(r.stdout_text), "out");
  EXPECT_EQ(kill(r.pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
}

TEST(CommandRunner, ExitStatusClassification) {
  const auto retry = Classify(RunCommand(Shell("echo 'try later' >&2; exit 75")));
  EXPECT_EQ(retry.verdict, CommandVerdict::kRetry);
  EXPECT_EQ(retry.message, "exit status 75: try later");

  const auto failed = Classify(RunCommand(Shell("echo first >&2; echo 'bad input' >&2; exit 3")));
  EXPECT_EQ(failed.verdict, CommandVerdict::kFailure);
  EXPECT_EQ(failed.message, "exit status 3: bad input");

  EXPECT_EQ(Classify(RunCommand(Shell("exit 1"))).message, "exit status 1");
  const auto killed = Classify(RunCommand(Shell("kill -USR1 $$")));
  EXPECT_EQ(killed.verdict, CommandVerdict::kFailure);
  EXPECT_EQ(killed.message, "killed by SIGUSR1");
}

TEST(CommandRunner, TheErrorIsTheLastStderrLineHoweverMuchCameBefore) {
  // 100 KiB of log first: more than the captured stderr holds, so the end is what must count.
  const auto r =
      RunCommand(Shell("head -c 102400 /dev/zero | tr '\\0' y >&2; echo >&2; "
                       "echo 'error: disk full' >&2; echo '   ' >&2; exit 3"));
  EXPECT_TRUE(r.stderr_truncated);
  EXPECT_EQ(Classify(r).message, "exit status 3: error: disk full");
}

TEST(CommandRunner, InjectionAttemptsReachTheProgramLiterally) {
  const std::string marker = "/tmp/warren-injected-" + std::to_string(getpid());
  const std::vector<std::string> evil = {"; touch " + marker,
                                         "$(touch " + marker + ")",
                                         "`touch " + marker + "`",
                                         "a b\nc",
                                         "| touch " + marker,
                                         "' \"",
                                         "${HOME}*"};
  nlohmann::json args = nlohmann::json::object();
  std::vector<std::string> tmpl = {"/usr/bin/printf", "[%s]\\n"};
  std::string expected;
  for (size_t i = 0; i < evil.size(); ++i) {
    args["v" + std::to_string(i)] = evil[i];
    tmpl.push_back("{args.v" + std::to_string(i) + "}");
    expected += "[" + evil[i] + "]\n";
  }
  auto argv =
      ExpandCommand(tmpl, CommandVars{.id = "1", .type = "t", .queue = "q", .attempt = 1, .args = args});
  ASSERT_TRUE(std::holds_alternative<std::vector<std::string>>(argv));
  const auto r = RunCommand(Request(std::get<std::vector<std::string>>(argv)));
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_text, expected);
  EXPECT_FALSE(Exists(marker));

  // A value that would be an option never gets to run.
  args = {{"path", "-rf"}};
  auto rejected = ExpandCommand({"/bin/echo", "{args.path}"},
                                CommandVars{.id = "1", .type = "t", .queue = "q", .args = args});
  EXPECT_TRUE(std::holds_alternative<TemplateError>(rejected));
}

TEST(CommandRunner, TimeoutKillsTheProcessGroup) {
  auto request = Shell("/bin/sleep 30 & echo $!; wait");
  request.timeout = 200ms;
  const auto r = RunCommand(request);
  EXPECT_TRUE(r.timed_out);
  EXPECT_FALSE(r.cancelled);
  EXPECT_EQ(r.signal, SIGTERM);
  EXPECT_LT(r.elapsed, 2s);
  EXPECT_EQ(Classify(r).message, "killed by SIGTERM after timeout 200ms");
  EXPECT_EQ(kill(r.pid, 0), -1);
  EXPECT_EQ(errno, ESRCH);
  ASSERT_FALSE(r.stdout_text.empty());
  const pid_t sleeper = std::stoi(r.stdout_text);
  EXPECT_TRUE(GoneSoon(sleeper)) << sleeper;
}

TEST(CommandRunner, SigkillAfterGraceWhenTermIsIgnored) {
  auto request = Shell("trap '' TERM; /bin/sleep 30");
  request.timeout = 200ms;
  const auto r = RunCommand(request);
  EXPECT_TRUE(r.timed_out);
  EXPECT_EQ(r.signal, SIGKILL);
  EXPECT_LT(r.elapsed, 2s);
  EXPECT_EQ(Classify(r).message, "killed by SIGKILL after timeout 200ms");
}

TEST(CommandRunner, CancelThroughStopToken) {
  std::stop_source source;
  auto request = Shell("echo '::progress 10 started'; /bin/sleep 30");
  request.stop = source.get_token();
  request.on_progress = [&](int, std::string_view) { source.request_stop(); };
  const auto r = RunCommand(request);
  EXPECT_TRUE(r.cancelled);
  EXPECT_FALSE(r.timed_out);
  EXPECT_LT(r.elapsed, 2s);
  EXPECT_EQ(Classify(r).verdict, CommandVerdict::kFailure);
  EXPECT_EQ(Classify(r).message, "cancelled (killed by SIGTERM)");

  std::stop_source already;
  already.request_stop();
  auto early = Request({"/bin/sleep", "30"});
  early.stop = already.get_token();
  EXPECT_TRUE(RunCommand(early).cancelled);
}

TEST(CommandRunner, LeftoverGroupMembersAreKilled) {
  // The background sleep keeps our pipes open; the run must still end right after the shell exits.
  const auto holding = RunCommand(Shell("/bin/sleep 1000 & echo $!"));
  EXPECT_EQ(holding.exit_code, 0);
  EXPECT_LT(holding.elapsed, 2s);
  EXPECT_TRUE(GoneSoon(std::stoi(holding.stdout_text)));

  const auto detached = RunCommand(Shell("/bin/sleep 1000 >/dev/null 2>&1 </dev/null & echo $!"));
  EXPECT_EQ(detached.exit_code, 0);
  EXPECT_TRUE(GoneSoon(std::stoi(detached.stdout_text)));
}

TEST(CommandRunner, OutputCapsKeepDraining) {
  auto request = Shell(
      "i=0; while [ $i -lt 2000 ]; do echo 0123456789; echo abcdefghij >&2; i=$((i+1)); done; echo done >&2");
  request.max_stdout = 1000;
  request.max_stderr = 500;
  std::vector<std::string> logs;
  request.on_log = [&](std::string_view line) { logs.emplace_back(line); };
  const auto r = RunCommand(request);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(r.stdout_text.size(), 1000u);
  EXPECT_TRUE(r.stdout_truncated);
  EXPECT_EQ(r.stderr_text.size(), 500u);
  EXPECT_TRUE(r.stderr_truncated);
  // on_log sees every line, capped or not.
  ASSERT_EQ(logs.size(), 2001u);
  EXPECT_EQ(logs.front(), "abcdefghij");
  EXPECT_EQ(logs.back(), "done");

  const auto small = RunCommand(Shell("echo hi"));
  EXPECT_FALSE(small.stdout_truncated);
}

TEST(CommandRunner, ProgressLinesAreNotOutput) {
  auto request = Request(
      {"/usr/bin/printf",
       "::progress 40 resizing now\n{\"ok\":\n::progress 100\ntrue}\n::progress abc\n::progress 101"});
  std::vector<std::pair<int, std::string>> progress;
  request.on_progress = [&](int percent, std::string_view note) { progress.emplace_back(percent, note); };
  const auto r = RunCommand(request);
  EXPECT_EQ(r.exit_code, 0);
  EXPECT_EQ(progress, (std::vector<std::pair<int, std::string>>{{40, "resizing now"}, {100, ""}}));
  EXPECT_EQ(r.stdout_text, "{\"ok\":\ntrue}\n::progress abc\n::progress 101");
}

TEST(CommandRunner, StdinReceivesTheJob) {
  auto request = Request({"/bin/cat"});
  request.stdin_data = R"({"id":"0190job","args":{"a":1}})";
  const auto r = RunCommand(request);
  EXPECT_EQ(r.stdout_text, request.stdin_data);
  EXPECT_EQ(ResultJson(r.stdout_text)["args"]["a"], 1);

  // Larger than any pipe buffer both ways: writing and reading must interleave.
  request.stdin_data = std::string(3 << 20, 'x');
  request.max_stdout = 4 << 20;
  const auto big = RunCommand(request);
  EXPECT_EQ(big.exit_code, 0);
  EXPECT_EQ(big.stdout_text.size(), request.stdin_data.size());
}

TEST(CommandRunner, ProgramThatIgnoresStdin) {
  auto request = Request({"/bin/true"});
  request.stdin_data = std::string(1 << 20, 'x');
  const auto r = RunCommand(request);  // EPIPE, not SIGPIPE
  EXPECT_EQ(r.exit_code, 0);
}

TEST(CommandRunner, EnvironmentAndWorkingDirectory) {
  auto request = Shell("echo $WARREN_JOB_ID $WARREN_JOB_TYPE $WARREN_QUEUE $WARREN_ATTEMPT $EXTRA; /bin/pwd");
  request.env = {{"EXTRA", "x y"}};
  request.cwd = "/";
  const auto r = RunCommand(request);
  EXPECT_EQ(r.stdout_text, "0190job test.type q1 3 x y\n/\n");
  EXPECT_NE(RunCommand(Shell("env")).stdout_text.find("PATH="), std::string::npos);  // inherited

  // The worker's own WARREN_* settings (the broker's password in WARREN_AMQP_URL) are not.
  ASSERT_EQ(setenv("WARREN_AMQP_URL", "amqp://user:secret@host/", 1), 0);
  ASSERT_EQ(setenv("WARREN_TOKENS", "secret-token", 1), 0);
  const auto env = RunCommand(Shell("env")).stdout_text;
  unsetenv("WARREN_AMQP_URL");
  unsetenv("WARREN_TOKENS");
  EXPECT_EQ(env.find("secret"), std::string::npos) << env;
  EXPECT_NE(env.find("WARREN_JOB_ID=0190job"), std::string::npos);

  auto missing = Request({"/bin/pwd"});
  missing.cwd = "/nonexistent-dir";
  const auto m = RunCommand(missing);
  ASSERT_TRUE(m.spawn_error);
  EXPECT_EQ(*m.spawn_error,
            "cannot start /bin/pwd: working directory /nonexistent-dir: No such file or directory");
}

TEST(CommandRunner, SpawnErrors) {
  const auto r = RunCommand(Request({"/nonexistent/program", "x"}));
  ASSERT_TRUE(r.spawn_error);
  EXPECT_EQ(*r.spawn_error, "cannot start /nonexistent/program: No such file or directory");
  EXPECT_EQ(Classify(r).verdict, CommandVerdict::kFailure);
  EXPECT_EQ(Classify(r).message, *r.spawn_error);
  EXPECT_FALSE(r.spawn_retryable);  // a missing program stays missing
  EXPECT_TRUE(RunCommand(Request({"sh", "-c", "true"})).spawn_error);
  EXPECT_TRUE(RunCommand(Request({})).spawn_error);
  EXPECT_TRUE(RunCommand(Request({"/bin/echo", std::string("a\0b", 3)})).spawn_error);
}

TEST(CommandRunner, AProgramFileBeingReplacedIsWorthAnotherAttempt) {
  // A program open for writing cannot be executed (ETXTBSY), as while a deploy copies it in place.
  const std::string path = "/tmp/warren-etxtbsy-" + std::to_string(getpid());
  {
    std::ifstream in("/bin/true", std::ios::binary);
    std::ofstream out(path, std::ios::binary);
    out << in.rdbuf();
  }
  ASSERT_EQ(chmod(path.c_str(), 0755), 0);
  std::ofstream held(path, std::ios::app);  // still open for writing
  const auto r = RunCommand(Request({path}));
  held.close();
  ASSERT_TRUE(r.spawn_error);
  EXPECT_NE(r.spawn_error->find("Text file busy"), std::string::npos) << *r.spawn_error;
  EXPECT_TRUE(r.spawn_retryable);
  EXPECT_FALSE(RunCommand(Request({path})).spawn_error);  // once written, it runs
  std::remove(path.c_str());
}

TEST(CommandRunner, LimitsAreApplied) {
  // `read` waits for stdin, which comes after the limits are set, so there is no race here.
  auto request = Shell("read x; ulimit -v; ulimit -t");
  request.stdin_data = "go\n";
  request.memory_limit = uint64_t{64} << 20;
  request.cpu_limit = 1500ms;
  const auto r = RunCommand(request);
  EXPECT_EQ(r.stdout_text, "65536\n2\n");
}

TEST(CommandRunner, MemoryLimitStopsABigAllocation) {
  // dash keeps the 100 MB command substitution in memory; under 32 MiB it cannot.
  auto request = Shell(
      "ulimit -c 0; read x; v=$(/usr/bin/head -c 100000000 /dev/zero | /usr/bin/tr '\\0' a); echo survived");
  request.stdin_data = "go\n";
  request.memory_limit = uint64_t{32} << 20;
  const auto r = RunCommand(request);
  EXPECT_EQ(r.stdout_text.find("survived"), std::string::npos);
  EXPECT_NE(Classify(r).verdict, CommandVerdict::kSuccess);
}

TEST(CommandRunner, ConcurrentRunsKeepTheirOwnPipes) {
  std::vector<std::thread> threads;
  std::vector<CommandResult> results(4);
  for (size_t i = 0; i < results.size(); ++i) {
    threads.emplace_back([&results, i] {
      auto request = Request({"/bin/cat"});
      request.stdin_data = "job " + std::to_string(i);
      results[i] = RunCommand(request);
    });
  }
  for (auto& t : threads) {
    t.join();
  }
  for (size_t i = 0; i < results.size(); ++i) {
    EXPECT_EQ(results[i].stdout_text, "job " + std::to_string(i));
    EXPECT_LT(results[i].elapsed, 2s);  // a leaked stdin write end would keep cat waiting for EOF
  }
}

TEST(CommandResultJson, JsonTextOrNull) {
  EXPECT_TRUE(ResultJson("").is_null());
  EXPECT_EQ(ResultJson("{\"a\":1}\n"), (nlohmann::json{{"a", 1}}));
  EXPECT_EQ(ResultJson("42"), 42);
  EXPECT_EQ(ResultJson("\"quoted\""), "quoted");
  EXPECT_EQ(ResultJson("plain text\n"), "plain text");
  EXPECT_EQ(ResultJson("two\n\n"), "two\n");
  EXPECT_EQ(ResultJson("\n"), "");
  EXPECT_EQ(ResultJson("{\"a\":"), "{\"a\":");
  EXPECT_EQ(ResultJson("bad \xff byte"), "bad \xEF\xBF\xBD byte");
  const std::string deep(1000, '[');
  EXPECT_EQ(ResultJson(deep + std::string(1000, ']')), deep + std::string(1000, ']'));
}

}  // namespace
}  // namespace warren::worker
