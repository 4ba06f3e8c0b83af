#include "supervisor/supervisor.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>

namespace warren::supervisor {
namespace {

TEST(ChildSpecs, ServeThenWorkersWithResolvedSettings) {
  Settings s;
  s.workers = 2;
  s.concurrency = 3;
  s.queues = {"task_queue", "mail"};
  s.listen = HostPort{"127.0.0.1", 5001};
  s.grace = std::chrono::seconds(45);
  s.store_url = "postgresql://db/warren";
  UpOptions o;
  o.config_path = "/etc/warren.toml";
  const auto specs = ChildSpecs(s, o, "amqp://guest:guest@127.0.0.1:5673/");
  ASSERT_EQ(specs.size(), 3U);
  EXPECT_EQ(specs[0].name, "serve");
  EXPECT_FALSE(specs[0].is_worker);
  EXPECT_EQ(specs[0].args,
            (std::vector<std::string>{"serve", "--amqp-url", "amqp://guest:guest@127.0.0.1:5673/", "--listen",
                                      "127.0.0.1:5001", "--store", "postgresql://db/warren", "--management-port", "15672", "--config",
                                      "/etc/warren.toml", "--log-level", "info", "--log-format", "text", "--queue-type", "classic"}));
  EXPECT_EQ(specs[1].name, "work.1");
  EXPECT_EQ(specs[2].name, "work.2");
  EXPECT_TRUE(specs[2].is_worker);
  EXPECT_EQ(specs[1].args, (std::vector<std::string>{
                               "work", "--amqp-url", "amqp://guest:guest@127.0.0.1:5673/", "--concurrency",
                               "3", "--grace", "45s", "--queue", "task_queue", "--queue", "mail", "--config",
                               "/etc/warren.toml", "--log-level", "info", "--log-format", "text", "--queue-type", "classic"}));
}

TEST(ChildSpecs, WorkersGetTheQueuePriorities) {
  Settings s;
  s.workers = 1;
  s.queues = {"critical", "default"};
  s.queue_priorities = {{"critical", 10}};
  const auto specs = ChildSpecs(s, UpOptions{}, "amqp://x/");
  ASSERT_EQ(specs.size(), 2U);
  const auto& args = specs[1].args;
  const auto at = std::find(args.begin(), args.end(), "--queue-priority");
  ASSERT_NE(at, args.end());
  ASSERT_NE(at + 1, args.end());
  EXPECT_EQ(*(at + 1), "critical=10");
}

TEST(ChildSpecs, NoWorkersNoConfig) {
  Settings s;
  s.workers = 0;
  const auto specs = ChildSpecs(s, UpOptions{}, "amqp://x/");
  ASSERT_EQ(specs.size(), 1U);
  for (const auto& arg : specs[0].args) {
    EXPECT_NE(arg, "--config");
  }
}

TEST(StoreUrlFor, TheDefaultStoreMovesIntoTheDataDir) {
  Settings s;
  s.data_dir = "/srv/warren";
  EXPECT_EQ(StoreUrlFor(s), "sqlite:/srv/warren/warren.db");
  s.store_url = "sqlite:/elsewhere/jobs.db";
  EXPECT_EQ(StoreUrlFor(s), "sqlite:/elsewhere/jobs.db");
}

TEST(BrokerOptionsFor, DataDirIsMadeAbsolute) {
  Settings s;
  s.data_dir = "./var";
  s.broker_port = 5673;
  s.management_port = 0;
  const auto b = BrokerOptionsFor(s);
  EXPECT_EQ(b.dir, (std::filesystem::current_path() / "var" / "rabbitmq").string());
  EXPECT_EQ(b.amqp_port, 5673);
  EXPECT_EQ(b.management_port, 0);
  EXPECT_EQ(b.node_name, "warren@localhost");
}

TEST(IsPermanentFailure, ConfigAndUsageErrorsOnly) {
  EXPECT_TRUE(IsPermanentFailure(ExitStatus{2, 0}));
  EXPECT_TRUE(IsPermanentFailure(ExitStatus{109, 0}));
  EXPECT_FALSE(IsPermanentFailure(ExitStatus{1, 0}));
  EXPECT_FALSE(IsPermanentFailure(ExitStatus{0, 0}));
  EXPECT_FALSE(IsPermanentFailure(ExitStatus{0, 9}));
}

TEST(ExitStatus, Describe) {
  EXPECT_EQ((ExitStatus{3, 0}).Describe(), "exited with code 3");
  EXPECT_EQ((ExitStatus{0, 9}).Describe(), "killed by signal 9 (KILL)");
  EXPECT_EQ((ExitStatus{0, 15}).ShellCode(), 143);
}

}  // namespace
}  // namespace warren::supervisor

namespace warren::supervisor {
namespace {

TEST(FormatChildLine, PrefixesTextAndPassesJsonThrough) {
  EXPECT_EQ(FormatChildLine("work.1", "hey there", false), "work.1   | hey there");
  EXPECT_EQ(FormatChildLine("serve", R"({"level":"info"})", false), R"(serve    | {"level":"info"})");
  EXPECT_EQ(FormatChildLine("serve", R"({"level":"info"})", true), R"({"level":"info"})");
  EXPECT_EQ(FormatChildLine("rabbitmq", "Starting broker...", true), "rabbitmq | Starting broker...");
}

}  // namespace
}  // namespace warren::supervisor
