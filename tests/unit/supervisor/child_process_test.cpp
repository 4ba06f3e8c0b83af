// Spawns tiny local programs (no network, no broker): the posix_spawn wrapper's contract.
#include "supervisor/child_process.hpp"

#include <signal.h>
#include <unistd.h>

#include <gtest/gtest.h>

#include <array>

namespace warren::supervisor {
namespace {

SpawnOptions Options(std::vector<std::string> argv,
                     std::map<std::string, std::optional<std::string>> env = {},
                     std::vector<std::string> drop = {}) {
  SpawnOptions o;
  o.argv = std::move(argv);
  o.env = std::move(env);
  o.drop_env_prefixes = std::move(drop);
  return o;
}

std::string ReadAll(ChildProcess& child) {
  std::string out;
  std::array<char, 4096> buf{};
  child.WaitFor(std::chrono::seconds(10));
  while (true) {
    const ssize_t n = ::read(child.OutputFd(), buf.data(), buf.size());
    if (n <= 0) {
      break;
    }
    out.append(buf.data(), static_cast<size_t>(n));
  }
  return out;
}

TEST(ChildProcess, CapturesStdoutAndStderrAndExitCode) {
  auto child = ChildProcess::Spawn(Options({"/usr/bin/env"}, {{"WARREN_UNIT_X", "42"}}));
  const std::string out = ReadAll(child);
  ASSERT_TRUE(child.Status());
  EXPECT_TRUE(child.Status()->Success());
  EXPECT_NE(out.find("WARREN_UNIT_X=42\n"), std::string::npos);
}

TEST(ChildProcess, RemovesAndDropsVariables) {
  ::setenv("WARREN_UNIT_DROP_ME", "1", 1);
  ::setenv("WARREN_UNIT_REMOVE", "1", 1);
  auto child = ChildProcess::Spawn(
      Options({"/usr/bin/env"}, {{"WARREN_UNIT_REMOVE", std::nullopt}}, {"WARREN_UNIT_DROP"}));
  const std::string out = ReadAll(child);
  EXPECT_EQ(out.find("WARREN_UNIT_DROP_ME"), std::string::npos);
  EXPECT_EQ(out.find("WARREN_UNIT_REMOVE"), std::string::npos);
  ::unsetenv("WARREN_UNIT_DROP_ME");
  ::unsetenv("WARREN_UNIT_REMOVE");
}

TEST(ChildProcess, OwnProcessGroupAndTerminate) {
  auto child = ChildProcess::Spawn(Options({"/bin/sleep", "30"}));
  EXPECT_EQ(::getpgid(child.Pid()), child.Pid());
  EXPECT_FALSE(child.TryWait());
  const auto status = child.Terminate(std::chrono::seconds(5));
  EXPECT_EQ(status.signal, SIGTERM);
  EXPECT_FALSE(child.Running());
}

TEST(ChildProcess, ReportsExitCodeAndMissingProgram) {
  auto child = ChildProcess::Spawn(Options({"/bin/false"}));
  auto status = child.WaitFor(std::chrono::seconds(10));
  ASSERT_TRUE(status);
  EXPECT_EQ(status->code, 1);
  EXPECT_THROW(ChildProcess::Spawn(Options({"/nonexistent/warren-nope"})), SpawnError);
  EXPECT_THROW(ChildProcess::Spawn(Options({"relative/path"})), SpawnError);
}

TEST(ChildProcess, RunsInTheGivenDirectory) {
  auto o = Options({"/bin/pwd"});
  o.cwd = "/tmp";
  auto child = ChildProcess::Spawn(o);
  EXPECT_EQ(ReadAll(child), "/tmp\n");
}

TEST(FindExecutable, SearchesGivenDirsThenPath) {
  EXPECT_EQ(FindExecutable("env", {"/usr/bin"}), std::optional<std::string>("/usr/bin/env"));
  EXPECT_FALSE(FindExecutable("warren-surely-not-installed"));
}

}  // namespace
}  // namespace warren::supervisor
