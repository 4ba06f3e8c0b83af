// The deploy files (deploy/: Dockerfile, docker-compose.yml, systemd units, Kubernetes manifests)
// cannot run here (no Docker engine, no cluster), so they are checked against what they depend on:
// every YAML file parses and the Kubernetes objects are the expected ones (tests/e2e/deploy_files.py,
// PyYAML); every `warren` command line they contain is accepted by the real binary; every WARREN_*
// variable they set is a setting; every stop timeout exceeds the workers' drain; the ConfigMap's
// warren.toml is accepted by `warren serve` and `warren work`.
#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "support/support.hpp"

namespace warren::testing {
namespace {

using nlohmann::json;

// Runs `warren ARGS`; returns its exit code and output (stdout and stderr).
std::pair<int, std::string> RunWarren(std::vector<std::string> args,
                                      std::chrono::milliseconds timeout = 10s) {
  args.insert(args.begin(), WarrenBinary());
  Process p(args);
  const auto code = p.Wait(timeout);
  p.WaitForOutput("\n", 500ms);  // the output is read on a thread of its own: let it catch up
  return {code.value_or(-1), p.Output()};
}

std::string ReadFile(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class DeployFilesTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = MakeTempDir("warren-deploy-");
    Process python({"/usr/bin/python3",  // Debian's, which has python3-yaml
                    SourceDir() + "/tests/e2e/deploy_files.py", SourceDir(), dir_});
    const auto code = python.Wait(30s);
    ASSERT_EQ(code, 0) << "tests/e2e/deploy_files.py failed (python3-yaml missing? run `make deps`)\n"
                       << python.Output();
    facts_ = json::parse(ReadFile(std::filesystem::path(dir_) / "deploy.json"));
    for (const std::string sub : {"serve", "work", "up"}) {
      auto [help_code, help] = RunWarren({sub, "--help"});
      ASSERT_EQ(help_code, 0) << help;
      help_[sub] = help;
    }
  }
  static void TearDownTestSuite() {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  static inline std::string dir_;
  static inline json facts_;
  static inline std::map<std::string, std::string> help_;  // subcommand -> its --help text
};

TEST_F(DeployFilesTest, EveryFileParsesAndIsWellFormed) {
  for (const auto& problem : facts_["problems"]) {
    ADD_FAILURE() << problem.get<std::string>();
  }
  std::set<std::string> parsed;
  for (const auto& file : facts_["yaml_files"]) {
    parsed.insert(file["path"].get<std::string>());
    EXPECT_GT(file["documents"].get<int>(), 0) << file["path"];
  }
  for (const char* expected :
       {"deploy/docker-compose.yml", "deploy/k8s/configmap.yaml", "deploy/k8s/secret.yaml",
        "deploy/k8s/deployment-serve.yaml", "deploy/k8s/deployment-work.yaml", "deploy/k8s/service.yaml",
        "deploy/k8s/keda.yaml", "deploy/k8s/kustomization.yaml"}) {
    EXPECT_TRUE(parsed.contains(expected)) << expected << " was not parsed";
  }
}

TEST_F(DeployFilesTest, KubernetesObjectsAreTheExpectedKinds) {
  std::multiset<std::string> kinds;
  for (const auto& kind : facts_["kinds"]) {
    kinds.insert(kind.is_string() ? kind.get<std::string>() : "(no kind)");
  }
  const std::multiset<std::string> expected{"ConfigMap",    "Secret",
                                            "Deployment",   "Deployment",
                                            "Service",      "PodDisruptionBudget",
                                            "ScaledObject", "TriggerAuthentication",
                                            "Kustomization"};
  EXPECT_EQ(kinds, expected);
}

// Each `warren <sub> --flag ...` in a deploy file: the subcommand exists and its --help lists each
// flag. (`warren <sub> <flags> --help` would not do: CLI11 prints the help and exits 0 before it
// rejects an unknown flag.)
bool ListsFlag(const std::string& help, const std::string& flag) {
  return std::regex_search(help, std::regex("(^|[\\s,])" + flag + "([\\s,=]|$)"));
}

TEST_F(DeployFilesTest, EveryCommandLineIsAcceptedByTheBinary) {
  ASSERT_FALSE(facts_["commands"].empty());
  for (const auto& command : facts_["commands"]) {
    const auto where = command["where"].get<std::string>();
    const auto argv = command["argv"].get<std::vector<std::string>>();
    ASSERT_FALSE(argv.empty()) << where << ": no subcommand";
    ASSERT_TRUE(help_.contains(argv[0])) << where << ": unknown subcommand " << argv[0];
    for (const auto& arg : argv) {
      if (arg.starts_with("--")) {
        const std::string flag = arg.substr(0, arg.find('='));
        EXPECT_TRUE(ListsFlag(help_[argv[0]], flag))
            << where << ": warren " << argv[0] << " --help does not list " << flag;
      }
    }
  }
}

TEST_F(DeployFilesTest, FlagCheckHasTeeth) {
  EXPECT_TRUE(ListsFlag(help_["serve"], "--listen"));
  EXPECT_FALSE(ListsFlag(help_["serve"], "--list"));   // a prefix is not the flag
  EXPECT_FALSE(ListsFlag(help_["serve"], "--grace"));  // a work flag
  EXPECT_FALSE(ListsFlag(help_["work"], "--listen"));
}

TEST_F(DeployFilesTest, EveryWarrenVariableIsASetting) {
  std::string all_help;
  for (const auto& [sub, help] : help_) {
    all_help += help;
  }
  ASSERT_FALSE(facts_["env_names"].empty());
  for (const auto& entry : facts_["env_names"]) {
    const auto name = entry["name"].get<std::string>();
    // --help lists each setting as "[env WARREN_X, file section.key]" and the config file as
    // "[env WARREN_CONFIG]".
    const std::regex listed("\\[env " + name + "[,\\]]");
    EXPECT_TRUE(std::regex_search(all_help, listed))
        << entry["where"].get<std::string>() << ": " << name << " is not a Warren setting";
  }
}

// SIGKILL must not come before a draining worker is done: grace for running jobs, then the command
// jobs' kill grace.
TEST_F(DeployFilesTest, StopTimeoutsExceedTheWorkerDrain) {
  ASSERT_EQ(facts_["stops"].size(), 3U) << facts_["stops"].dump();  // compose, systemd, Kubernetes
  for (const auto& stop : facts_["stops"]) {
    const auto where = stop["where"].get<std::string>();
    const auto limit = ParseDuration(stop["stop"].get<std::string>());
    const auto grace = ParseDuration(stop["grace"].get<std::string>());
    const auto kill_grace = ParseDuration(stop["kill_grace"].get<std::string>());
    ASSERT_TRUE(limit && grace && kill_grace) << where << ": " << stop.dump();
    EXPECT_GT(*limit, *grace + *kill_grace)
        << where << " (" << stop["stop"] << ") must exceed work.grace (" << stop["grace"]
        << ") + work.kill_grace (" << stop["kill_grace"] << ")";
  }
}

// The ConfigMap's warren.toml starts `serve` (answers /healthz) and `work` (logs "worker starting")
// with no broker: settings are checked before anything connects. Flags override only what needs the
// network: loopback, a port with nothing behind it, a SQLite store in a temp dir.
TEST_F(DeployFilesTest, ConfigMapTomlIsAcceptedByServeAndWork) {
  ASSERT_EQ(facts_["tomls"].size(), 1U);
  const auto toml = facts_["tomls"][0]["path"].get<std::string>();
  const std::string no_broker = fmt::format("amqp://guest:guest@127.0.0.1:{}", FreePort());

  const auto http = FreePort();
  Process serve({WarrenBinary(), "serve", "--config", toml, "--listen", fmt::format("127.0.0.1:{}", http),
                 "--amqp-url", no_broker, "--store", "sqlite:" + dir_ + "/serve.db"});
  EXPECT_TRUE(WaitForHttp(http, "/healthz", 5s)) << serve.Output();
  EXPECT_FALSE(serve.Wait(0ms).has_value()) << serve.Output();

  Process work({WarrenBinary(), "work", "--config", toml, "--amqp-url", no_broker});
  EXPECT_TRUE(work.WaitForOutput("worker starting", 5s)) << work.Output();
  EXPECT_FALSE(work.Wait(0ms).has_value()) << work.Output();
}

TEST_F(DeployFilesTest, BadTomlKeyIsCaughtTheSameWay) {
  // The check above has teeth: an unknown key stops warren at start-up, exit 2, naming the key.
  const auto bad = std::filesystem::path(dir_) / "bad.toml";
  std::ofstream(bad) << "[work]\ngrace_period = \"30s\"\n";
  auto [code, output] = RunWarren({"work", "--config", bad.string()});
  EXPECT_EQ(code, 2) << output;
  EXPECT_NE(output.find("unknown key 'work.grace_period'"), std::string::npos) << output;
}

}  // namespace
}  // namespace warren::testing
