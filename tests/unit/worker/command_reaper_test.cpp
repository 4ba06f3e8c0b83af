#include "worker/command_reaper.hpp"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "supervisor/process_tree.hpp"

extern char** environ;

namespace warren::worker {
namespace {

using namespace std::chrono_literals;

std::string TempDir() {
  std::string path = "/tmp/warren-reaper-XXXXXX";
  EXPECT_NE(mkdtemp(path.data()), nullptr);
  return path;
}

// `script` under /bin/sh in a process group of its own, as RunCommand starts a command.
pid_t SpawnGroup(const std::string& script) {
  posix_spawnattr_t attr;
  posix_spawnattr_init(&attr);
  posix_spawnattr_setpgroup(&attr, 0);
  posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETPGROUP);
  std::vector<std::string> args{"/bin/sh", "-c", script};
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  pid_t pid = -1;
  EXPECT_EQ(posix_spawn(&pid, "/bin/sh", nullptr, &attr, argv.data(), environ), 0);
  posix_spawnattr_destroy(&attr);
  return pid;
}

// Alive and not a zombie.
bool Alive(pid_t pid) { return supervisor::ReadProcessId(pid).has_value(); }

bool GoneWithin(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(10ms);
  }
  return !Alive(pid);
}

// The pid a script wrote to `path`, once it has.
pid_t ReadPid(const std::string& path) {
  for (int i = 0; i < 500; ++i) {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 0) {
      return pid;
    }
    std::this_thread::sleep_for(10ms);
  }
  ADD_FAILURE() << "no pid in " << path;
  return -1;
}

// The signal that ended our child `pid`, 0 when it exited.
int EndingSignal(pid_t pid) {
  int status = 0;
  while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  return WIFSIGNALED(status) ? WTERMSIG(status) : 0;
}

TEST(CommandReaper, EndsEveryProcessOfATrackedGroupWhenTheWorkerSideCloses) {
  const std::string dir = TempDir();
  // The test process is the group's parent and reaps it only after reset(): its zombie keeps the group
  // visible to the watcher, which then waits out the grace (a dead worker's groups go to init).
  auto reaper = CommandReaper::Start(300ms, 4);
  ASSERT_NE(reaper, nullptr);
  const pid_t group = SpawnGroup("sleep 30 & echo $! > " + dir + "/child; wait");
  reaper->Track(group);
  const pid_t grandchild = ReadPid(dir + "/child");

  reaper.reset();  // what the kernel does to the worker's end when the worker is SIGKILLed

  EXPECT_EQ(EndingSignal(group), SIGTERM);
  EXPECT_TRUE(GoneWithin(grandchild, 5s)) << "the program's own child outlived its worker";
  std::filesystem::remove_all(dir);
}

TEST(CommandReaper, LeavesAloneAGroupThatWasReaped) {
  auto reaper = CommandReaper::Start(5s, 4);
  ASSERT_NE(reaper, nullptr);
  const pid_t group = SpawnGroup("sleep 30");
  reaper->Track(group);
  reaper->Untrack(group);
  reaper.reset();
  EXPECT_TRUE(Alive(group));
  kill(-group, SIGKILL);
  EXPECT_EQ(EndingSignal(group), SIGKILL);
}

TEST(CommandReaper, AGroupIgnoringSigtermGetsSigkillAfterTheGrace) {
  const std::string dir = TempDir();
  auto reaper = CommandReaper::Start(300ms, 4);
  ASSERT_NE(reaper, nullptr);
  const pid_t group = SpawnGroup("trap '' TERM; echo $$ > " + dir + "/ready; while :; do sleep 0.05; done");
  reaper->Track(group);
  ReadPid(dir + "/ready");  // the trap is set
  reaper.reset();
  EXPECT_EQ(EndingSignal(group), SIGKILL);
  std::filesystem::remove_all(dir);
}

TEST(CommandReaper, TheWatcherIgnoresStopSignalsAndOnlyTheClosedSocketEndsIt) {
  auto reaper = CommandReaper::Start(300ms, 4);
  ASSERT_NE(reaper, nullptr);
  const pid_t watcher = reaper->WatcherPid();
  EXPECT_NE(getpgid(watcher), getpgrp()) << "a signal to the worker's group would reach the watcher";
  for (const int sig : {SIGINT, SIGTERM, SIGHUP}) {
    kill(watcher, sig);
  }
  std::this_thread::sleep_for(100ms);
  ASSERT_TRUE(Alive(watcher));
  const pid_t group = SpawnGroup("sleep 30");
  reaper->Track(group);
  reaper.reset();
  EXPECT_EQ(EndingSignal(group), SIGTERM);
}

TEST(CommandReaper, TracksNoMoreGroupsThanItsCapacity) {
  // One slot: a second group is not tracked (a worker never runs more commands than its executors).
  auto reaper = CommandReaper::Start(300ms, 1);
  ASSERT_NE(reaper, nullptr);
  const pid_t first = SpawnGroup("sleep 30");
  const pid_t second = SpawnGroup("sleep 30");
  reaper->Track(first);
  reaper->Track(second);
  reaper.reset();
  EXPECT_EQ(EndingSignal(first), SIGTERM);
  EXPECT_TRUE(Alive(second));
  kill(-second, SIGKILL);
  EXPECT_EQ(EndingSignal(second), SIGKILL);
}

}  // namespace
}  // namespace warren::worker
