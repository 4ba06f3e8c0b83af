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
  EXPECT_EQ(s.queues, (std::vector<std::string>{"default", "task_queue"}));
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

TEST(LoadSettings, WorkerEngineSectionsAndPeriodicJobs) {
  TempFile file(R"(
[work]
kill_grace = "2s"
[retry]
base = "500ms"
cap = "1m"
jitter = 0.1
[[periodic]]
type = "cleanup"
cron = "*/5 * * * *"
missed = "once"
[[periodic]]
name = "nightly"
type = "report"
cron = "0 3 * * *"
timezone = "Europe/Berlin"
)");
  const auto s = LoadSettings({{"config", {file.path()}}}, Env({}));
  EXPECT_EQ(s.kill_grace, std::chrono::seconds(2));
  EXPECT_EQ(s.retry.base, std::chrono::milliseconds(500));
  EXPECT_EQ(s.retry.cap, std::chrono::minutes(1));
  EXPECT_DOUBLE_EQ(s.retry.jitter, 0.1);
  ASSERT_EQ(s.periodic.size(), 2U);
  EXPECT_EQ(s.periodic[0].name, "cleanup");
  EXPECT_EQ(s.periodic[0].missed, MissedPolicy::kOnce);
  EXPECT_EQ(s.periodic[1].name, "nightly");
  EXPECT_EQ(s.periodic[1].tz.Name(), "Europe/Berlin");

  TempFile bad(R"(
[[periodic]]
type = "cleanup"
cron = "0 25 * * *"
)");
  try {
    LoadSettings({{"config", {bad.path()}}}, Env({}));
    FAIL() << "an hour of 25 was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("periodic[0].cron"), std::string::npos) << e.what();
  }
  EXPECT_THROW(LoadSettings({{"retry.jitter", {"2"}}}, Env({})), ConfigError);

  // A periodic job of a command type takes that type's max_attempts and timeout unless it sets its own,
  // as a POST /v1/jobs of that type would.
  TempFile command_type(R"(
[jobs.report]
command = ["/usr/bin/true"]
max_attempts = 5
timeout = "90s"
[[periodic]]
type = "report"
cron = "0 3 * * *"
[[periodic]]
name = "report-quick"
type = "report"
cron = "0 4 * * *"
max_attempts = 2
timeout = "10s"
)");
  const auto typed = LoadSettings({{"config", {command_type.path()}}}, Env({}));
  ASSERT_EQ(typed.periodic.size(), 2U);
  EXPECT_EQ(typed.periodic[0].max_attempts, 5);
  EXPECT_EQ(typed.periodic[0].timeout, std::chrono::seconds(90));
  EXPECT_EQ(typed.periodic[1].max_attempts, 2);
  EXPECT_EQ(typed.periodic[1].timeout, std::chrono::seconds(10));
  // With api.job_types enforced, a periodic job of another type is a config error, not a tick the API
  // would have refused.
  try {
    LoadSettings({{"config", {command_type.path()}}, {"api.job_types", {"resize"}}}, Env({}));
    FAIL() << "a periodic type outside api.job_types was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("periodic[0].type"), std::string::npos) << e.what();
  }

  const auto limited = LoadSettings({{"work.type_limits", {"resize=2", "report=1"}}}, Env({}));
  EXPECT_EQ(limited.type_limits, (std::map<std::string, int>{{"resize", 2}, {"report", 1}}));
  EXPECT_EQ(LoadSettings({}, Env({{"WARREN_TYPE_LIMITS", "a=3,b=4"}})).type_limits.size(), 2U);
  EXPECT_THROW(LoadSettings({{"work.type_limits", {"resize"}}}, Env({})), ConfigError);
  EXPECT_THROW(LoadSettings({{"work.type_limits", {"resize=0"}}}, Env({})), ConfigError);
  EXPECT_THROW(LoadSettings({{"work.type_limits", {"bad type=1"}}}, Env({})), ConfigError);
}

TEST(LoadSettings, QueuePrioritiesNameConsumedQueues) {
  const auto s = LoadSettings({{"work.queues", {"critical", "default"}}, {"work.queue_priorities", {"critical=10"}}},
                              Env({}));
  EXPECT_EQ(s.queue_priorities, (std::map<std::string, int>{{"critical", 10}}));
  EXPECT_EQ(LoadSettings({}, Env({{"WARREN_QUEUE_PRIORITIES", "default=2,task_queue=1"}})).queue_priorities.size(), 2U);
  EXPECT_THROW(LoadSettings({{"work.queue_priorities", {"default"}}}, Env({})), ConfigError);
  EXPECT_THROW(LoadSettings({{"work.queue_priorities", {"default=-1"}}}, Env({})), ConfigError);
  EXPECT_THROW(LoadSettings({{"work.queue_priorities", {"default=256"}}}, Env({})), ConfigError);
  EXPECT_THROW(LoadSettings({{"work.queue_priorities", {"bad queue=1"}}}, Env({})), ConfigError);
  try {
    LoadSettings({{"work.queue_priorities", {"mail=3"}}}, Env({}));
    FAIL() << "a priority for a queue the worker does not consume was accepted";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find("'mail', which is not one of work.queues"), std::string::npos) << e.what();
  }
}

TEST(LoadSettings, AutoscaleIsAnInlineTableOrFlags) {
  const TempFile file("[up]\nautoscale = { min = 2, max = 6, target_wait = \"5s\", cooldown = \"30s\" }\n");
  const auto s = LoadSettings({{"config", {file.path()}}}, Env({}));
  EXPECT_EQ(s.autoscale.min, 2);
  EXPECT_EQ(s.autoscale.max, 6);
  EXPECT_EQ(s.autoscale.target_wait, Duration(5000));
  EXPECT_EQ(s.autoscale.cooldown, Duration(30000));
  EXPECT_EQ(LoadSettings({{"up.autoscale.max", {"3"}}}, Env({})).autoscale.max, 3);
  EXPECT_EQ(LoadSettings({}, Env({})).autoscale.max, 0) << "off by default";
  EXPECT_THROW(LoadSettings({{"up.autoscale.min", {"4"}}, {"up.autoscale.max", {"3"}}}, Env({})), ConfigError);
  const TempFile typo("[up]\nautoscale = { mni = 1 }\n");
  EXPECT_THROW(LoadSettings({{"config", {typo.path()}}}, Env({})), ConfigError);
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
  ExpectError({}, Env({{"WARREN_QUEUES", "default,warren.dead"}}), "prefix warren.");
  ExpectError({}, Env({{"WARREN_GRACE", "soon"}}), "work.grace");
  ExpectError({}, Env({{"WARREN_LOG_LEVEL", "loud"}}), "log.level");
  ExpectError({}, Env({{"WARREN_HEARTBEAT", "1500ms"}}), "amqp.heartbeat");
}

TEST(LoadSettings, SeveralBrokerUrlsForACluster) {
  // Comma-separated, a repeated flag, or a TOML array: one comma-separated list for the connections.
  const std::string joined = "amqp://u:p@a:5672/,amqp://u:p@b:5672/,amqp://u:p@c:5672/";
  EXPECT_EQ(LoadSettings({}, Env({{"WARREN_AMQP_URL", joined}})).amqp_url, joined);
  EXPECT_EQ(LoadSettings({{"amqp.url", {"amqp://u:p@a:5672/", "amqp://u:p@b:5672/,amqp://u:p@c:5672/"}}}, Env({}))
                .amqp_url,
            joined);
  TempFile file("[amqp]\nurl = [\"amqp://u:p@a:5672/\", \"amqp://u:p@b:5672/\", \"amqp://u:p@c:5672/\"]\n");
  EXPECT_EQ(LoadSettings({{"config", {file.path()}}}, Env({})).amqp_url, joined);
  ExpectError({}, Env({{"WARREN_AMQP_URL", "amqp://a/,http://b/"}}), "got 'http://b/'");
  ExpectError({}, Env({{"WARREN_AMQP_URL", ","}}), "amqp.url");
}

TEST(LoadSettings, QueueTypeIsClassicUnlessQuorumOrPriorityIsAskedFor) {
  EXPECT_EQ(LoadSettings({}, Env({})).queue_type, QueueType::kClassic);
  EXPECT_EQ(LoadSettings({}, Env({{"WARREN_QUEUE_TYPE", "quorum"}})).queue_type, QueueType::kQuorum);
  EXPECT_EQ(LoadSettings({{"amqp.queue_type", {"priority"}}}, Env({})).queue_type, QueueType::kPriority);
  EXPECT_STREQ(ToString(QueueType::kPriority), "priority") << "what `up` hands its children as --queue-type";
  EXPECT_EQ(LoadSettings({{"amqp.queue_type", {"classic"}}}, Env({{"WARREN_QUEUE_TYPE", "quorum"}})).queue_type,
            QueueType::kClassic);
  ExpectError({}, Env({{"WARREN_QUEUE_TYPE", "stream"}}), "amqp.queue_type (from WARREN_QUEUE_TYPE): expected classic, priority or quorum");
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

TEST(LoadSettings, TokensCarryScopesAndNeverEchoTheSecret) {
  const auto s = LoadSettings({}, Env({{"WARREN_TOKENS", "0123456789abcdef:read,fedcba9876543210:enqueue+admin"}}));
  ASSERT_EQ(s.tokens.size(), 2u);
  EXPECT_EQ(s.tokens[0].secret, "0123456789abcdef");
  EXPECT_TRUE(HasScope(s.tokens[0], Scope::kRead));
  EXPECT_FALSE(HasScope(s.tokens[0], Scope::kEnqueue));
  EXPECT_TRUE(HasScope(s.tokens[1], Scope::kRead)) << "admin grants every scope";
  try {
    LoadSettings({}, Env({{"WARREN_TOKENS", "supersecretvalue1234:write"}}));
    FAIL();
  } catch (const ConfigError& e) {
    EXPECT_EQ(std::string(e.what()).find("supersecretvalue1234"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("unknown token scope 'write'"), std::string::npos) << e.what();
  }
  ExpectError({}, Env({{"WARREN_TOKENS", "short:read"}}), "at least 16 characters");
}

TEST(LoadSettings, StoreAndApiSettings) {
  const auto s = LoadSettings({{"store.url", {"postgresql://u@127.0.0.1/db"}}, {"api.job_types", {"a", "b.c"}}},
                              Env({{"WARREN_INSECURE", "true"}, {"WARREN_MAX_BATCH", "50"}}));
  EXPECT_EQ(s.store_url, "postgresql://u@127.0.0.1/db");
  EXPECT_TRUE(s.insecure);
  EXPECT_EQ(s.max_batch, 50u);
  EXPECT_EQ(s.job_types, (std::vector<std::string>{"a", "b.c"}));
  EXPECT_EQ(LoadSettings({}, Env({})).store_url, "sqlite:./var/warren.db");
  ExpectError({}, Env({{"WARREN_STORE", "mysql://x"}}), "store.url (from WARREN_STORE)");
  ExpectError({}, Env({{"WARREN_INSECURE", "maybe"}}), "api.insecure");
}

TEST(LoadSettings, HttpTimeoutsAndConnectionLimit) {
  const auto defaults = LoadSettings({}, Env({}));
  EXPECT_EQ(defaults.header_timeout, std::chrono::seconds(10));
  EXPECT_EQ(defaults.request_timeout, std::chrono::seconds(30));
  EXPECT_EQ(defaults.idle_timeout, std::chrono::seconds(60));
  EXPECT_EQ(defaults.max_connections, 10'000u);
  const auto s = LoadSettings({{"api.header_timeout", {"2s"}}, {"api.idle_timeout", {"5s"}}},
                              Env({{"WARREN_REQUEST_TIMEOUT", "4s"}, {"WARREN_MAX_CONNECTIONS", "600"}}));
  EXPECT_EQ(s.header_timeout, std::chrono::seconds(2));
  EXPECT_EQ(s.request_timeout, std::chrono::seconds(4));
  EXPECT_EQ(s.idle_timeout, std::chrono::seconds(5));
  EXPECT_EQ(s.max_connections, 600u);
  ExpectError({}, Env({{"WARREN_HEADER_TIMEOUT", "1ms"}}), "api.header_timeout");
  ExpectError({}, Env({{"WARREN_MAX_CONNECTIONS", "0"}}), "api.max_connections");
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
