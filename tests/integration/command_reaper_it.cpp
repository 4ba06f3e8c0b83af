// A command job does not outlive its worker: `warren work` is SIGKILLed while a command job runs, and
// the command's whole process group ends (its watcher, worker/command_reaper.hpp), while the job's
// message goes back to the queue for another attempt.
#include <signal.h>

#include <chrono>
#include <fstream>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "supervisor/process_tree.hpp"

#include "support/support.hpp"
#include "support/worker_support.hpp"

namespace warren {
namespace {

using testing::TestBroker;
using namespace std::chrono_literals;

// Alive and not a zombie.
bool Alive(pid_t pid) { return supervisor::ReadProcessId(pid).has_value(); }

pid_t ReadPid(const std::string& path, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    std::ifstream in(path);
    pid_t pid = 0;
    if (in >> pid && pid > 0) {
      return pid;
    }
    std::this_thread::sleep_for(20ms);
  }
  return -1;
}

bool GoneWithin(pid_t pid, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (Alive(pid) && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(20ms);
  }
  return !Alive(pid);
}

TEST(CommandReaperIt, ACommandJobEndsWhenItsWorkerIsKilled) {
  const std::string dir = testing::MakeTempDir("warren-reaper-it");
  const std::string queue = "it.reaper";
  // The program starts a child of its own and waits: both must end with the worker.
  std::ofstream(dir + "/work.toml")
      << "[jobs.it_linger]\ncommand = [\"/bin/sh\", \"-c\", 'sleep 120 & echo $! > " << dir
      << "/child; echo $$ > " << dir << "/pid; wait']\n";
  testing::Process worker({testing::WarrenBinary(), "work", "--config", dir + "/work.toml", "--amqp-url",
                           TestBroker::Get().AmqpUrl(), "--queue", queue, "--kill-grace", "2s"});
  ASSERT_TRUE(worker.WaitForOutput("consuming " + queue, 20s)) << worker.Output();
  testing::PublishJob(testing::TypedJob("it_linger", nullptr, queue));
  const pid_t program = ReadPid(dir + "/pid", 20s);
  const pid_t child = ReadPid(dir + "/child", 5s);
  ASSERT_GT(program, 0) << worker.Output();
  ASSERT_GT(child, 0) << worker.Output();

  worker.Signal(SIGKILL);
  EXPECT_EQ(worker.Wait(10s), 128 + SIGKILL);
  const bool program_gone = GoneWithin(program, 10s);
  const bool child_gone = GoneWithin(child, 10s);
  kill(-program, SIGKILL);  // whatever the outcome, nothing of the test is left running
  kill(child, SIGKILL);
  EXPECT_TRUE(program_gone) << "the command outlived its SIGKILLed worker\n" << worker.Output();
  EXPECT_TRUE(child_gone) << "the command's own child outlived its SIGKILLed worker\n" << worker.Output();
  EXPECT_NE(worker.Output().find("ending them"), std::string::npos) << worker.Output();
  // The broker hands the unacked job back for its next attempt.
  EXPECT_TRUE(testing::WaitForCounts(queue, {1, 0}, 10s));
}

}  // namespace
}  // namespace warren
