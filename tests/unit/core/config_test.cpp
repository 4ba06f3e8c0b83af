#include "core/config.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace warren {
namespace {

EnvLookup Env(std::map<std::string, std::string> vars) {
  return [vars = std::move(vars)](const std::string& name) -> std::optional<std::string> {
    if (auto it = vars.find(name); it != vars.end()) {
      return it->second;
    }
    return std::nullopt;
  };
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/warren-config-XXXXXX";
    const int fd = mkstemp(name);
    ::close(fd);
    path_ = name;
    std::ofstream(path_) << content;
  }
  ~TempFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

TEST(LoadSettings, DefaultsMatchTheDemo) {
  const auto s = LoadSettings({}, Env({}));
  EXPECT_EQ(s.listen.ToString(), "127.0.0.1:5000");
  EXPECT_EQ(s.amqp_url, "amqp://guest:guest@127.0.0.1:5672/");
  EXPECT_FALSE(s.amqp_url_is_set);
  EXPECT_EQ(s.queues, std::vector<std::string>{"task_queue"});
  EXPECT_EQ(s.concurrency, 1);
  EXPECT_EQ(s.workers, 2);
  EXPECT_EQ(s.data_dir, "./var");
  EXPECT_EQ(s.management_port, 15672);
}

TEST(LoadSettings, FlagBeatsEnvBeatsFileBeatsDefault) {
  TempFile file(R"(
[serve]
listen = "127.0.0.1:7001"
[work]
concurrency = 3
queues = ["a", "b"]
[up]
workers = 4
)");
  const auto from_file = LoadSettings({{"config", {file.path()}}}, Env({}));
  EXPECT_EQ(from_file.listen.port, 7001);
  EXPECT_EQ(from_file.concurrency, 3);
  EXPECT_EQ(from_file.workers, 4);
  EXPECT_EQ(from_file.queues, (std::vector<std::string>{"a", "b"}));

  const auto from_env =
      LoadSettings({{"config", {file.path()}}}, Env({{"WARREN_LISTEN", "127.0.0.1:7002"}, {"WARREN_QUEUES", "x,y"}}));
  EXPECT_EQ(from_env.listen.port, 7002);
  EXPECT_EQ(from_env.queues, (std::vector<std::string>{"x", "y"}));
  EXPECT_EQ(from_env.concurrency, 3);

  const auto from_flag = LoadSettings({{"config", {file.path()}}, {"serve.listen", {"0.0.0.0:7003"}},
                                       {"work.queues", {"q1", "q2"}}},
                                      Env({{"WARREN_LISTEN", "127.0.0.1:7002"}}));
  EXPECT_EQ(from_flag.listen.host, "0.0.0.0");
  EXPECT_EQ(from_flag.listen.port, 7003);
  EXPECT_EQ(from_flag.queues, (std::vector<std::string>{"q1", "q2"}));
}

TEST(LoadSettings, ConfigFileFromEnvironment) {
  TempFile file("[work]\nconcurrency = 5\n");
  EXPECT_EQ(LoadSettings({}, Env({{"WARREN_CONFIG", file.path()}})).concurrency, 5);
}

TEST(LoadSettings, DurationsAcceptNumbersAndUnits) {
  TempFile file("[work]\ngrace = 2.5\n[amqp]\npublish_timeout = \"750ms\"\n");
  const auto s = LoadSettings({{"config", {file.path()}}}, Env({}));
  EXPECT_EQ(s.grace, std::chrono::milliseconds(2500));
  EXPECT_EQ(s.publish_timeout, std::chrono::milliseconds(750));
}

TEST(LoadSettings, AmqpUrlMarksAnExternalBroker) {
  const auto s = LoadSettings({}, Env({{"WARREN_AMQP_URL", "amqp://u:p@broker:5673/v"}}));
  EXPECT_TRUE(s.amqp_url_is_set);
  EXPECT_EQ(s.amqp_url, "amqp://u:p@broker:5673/v");
}

// Every error is one line that names the key and where the bad value came from.
void ExpectError(const FlagValues& flags, const EnvLookup& env, const std::string& needle) {
  try {
    LoadSettings(flags, env);
    FAIL() << "expected ConfigError containing " << needle;
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
}

TEST(LoadSettings, BadValuesNameKeyAndSource) {
  ExpectError({{"serve.listen", {"nonsense"}}}, Env({}), "serve.listen (from --listen)");
  ExpectError({}, Env({{"WARREN_LISTEN", "127.0.0.1:99999"}}), "serve.listen (from WARREN_LISTEN)");
  ExpectError({}, Env({{"WARREN_CONCURRENCY", "0"}}), "work.concurrency (from WARREN_CONCURRENCY)");
  ExpectError({}, Env({{"WARREN_CONCURRENCY", "two"}}), "expected an integer");
  ExpectError({}, Env({{"WARREN_AMQP_URL", "http://x"}}), "amqp.url");
  ExpectError({}, Env({{"WARREN_QUEUES", "bad queue"}}), "work.queues");
  ExpectError({}, Env({{"WARREN_QUEUES", "amq.gen"}}), "reserves");
  ExpectError({}, Env({{"WARREN_GRACE", "soon"}}), "work.grace");
  ExpectError({}, Env({{"WARREN_LOG_LEVEL", "loud"}}), "log.level");
  ExpectError({}, Env({{"WARREN_HEARTBEAT", "1500ms"}}), "amqp.heartbeat");
}

TEST(LoadSettings, BadFilesAreOneLineErrors) {
  TempFile unknown("[serve]\nlisten = \"127.0.0.1:1\"\nlistne = 3\n");
  ExpectError({{"config", {unknown.path()}}}, Env({}), "unknown key 'serve.listne'");
  TempFile broken("[serve\n");
  ExpectError({{"config", {broken.path()}}}, Env({}), broken.path());
  TempFile wrong_type("[work]\nconcurrency = \"many\"\n");
  ExpectError({{"config", {wrong_type.path()}}}, Env({}), "work.concurrency (from " + wrong_type.path());
  ExpectError({{"config", {"/nonexistent/warren.toml"}}}, Env({}), "/nonexistent/warren.toml");
}

TEST(ParseHostPort, HandlesIpv6Brackets) {
  const auto hp = ParseHostPort("[::1]:8080");
  EXPECT_EQ(hp.host, "::1");
  EXPECT_EQ(hp.port, 8080);
  EXPECT_EQ(hp.ToString(), "[::1]:8080");
  EXPECT_THROW(ParseHostPort(":80"), std::invalid_argument);
  EXPECT_THROW(ParseHostPort("host"), std::invalid_argument);
}

}  // namespace
}  // namespace warren
