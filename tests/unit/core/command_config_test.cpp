#include "core/command_config.hpp"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>
#include <toml++/toml.h>

#include "core/config.hpp"

namespace warren {
namespace {

std::map<std::string, CommandJob> Parse(std::string_view toml_text) {
  const toml::table root = toml::parse(toml_text);
  const auto* jobs = root["jobs"].as_table();
  return jobs == nullptr ? std::map<std::string, CommandJob>{} : ParseCommandJobs(*jobs);
}

std::string Error(std::string_view toml_text) {
  try {
    Parse(toml_text);
  } catch (const ConfigError& e) {
    return e.what();
  }
  ADD_FAILURE() << "no ConfigError for " << toml_text;
  return {};
}

TEST(CommandConfig, FullJob) {
  const auto jobs = Parse(R"(
[jobs.resize]
command = ["/usr/bin/convert", "{args.src}", "-resize", "{args.size}", "{args.dst}"]
timeout = "30s"
max_attempts = 5
memory_limit = "512MiB"
cpu_limit = "10s"
env = { LANG = "C" }
cwd = "/tmp"
)");
  ASSERT_EQ(jobs.size(), 1u);
  const CommandJob& job = jobs.at("resize");
  EXPECT_EQ(job.type, "resize");
  EXPECT_EQ(job.command, (std::vector<std::string>{"/usr/bin/convert", "{args.src}", "-resize", "{args.size}",
                                                   "{args.dst}"}));
  EXPECT_EQ(job.timeout, Duration{30'000});
  EXPECT_EQ(job.max_attempts, 5);
  EXPECT_EQ(job.memory_limit, uint64_t{512} << 20);
  EXPECT_EQ(job.cpu_limit, Duration{10'000});
  EXPECT_EQ(job.env, (std::map<std::string, std::string>{{"LANG", "C"}}));
  EXPECT_EQ(job.cwd, "/tmp");
}

TEST(CommandConfig, OnlyCommandIsRequired) {
  const auto jobs = Parse(R"(
[jobs.a]
command = ["/bin/true"]
[jobs."b.c"]
command = ["/bin/echo", "{args}"]
timeout = 2.5
cpu_limit = 3
memory_limit = 2000000
)");
  ASSERT_EQ(jobs.size(), 2u);
  EXPECT_FALSE(jobs.at("a").timeout);
  EXPECT_FALSE(jobs.at("a").max_attempts);
  EXPECT_FALSE(jobs.at("a").memory_limit);
  EXPECT_FALSE(jobs.at("a").cwd);
  EXPECT_EQ(jobs.at("b.c").timeout, Duration{2500});
  EXPECT_EQ(jobs.at("b.c").cpu_limit, Duration{3000});
  EXPECT_EQ(jobs.at("b.c").memory_limit, 2'000'000u);
}

TEST(CommandConfig, ByteSizes) {
  EXPECT_EQ(ParseByteSize("1024"), 1024u);
  EXPECT_EQ(ParseByteSize("2K"), 2000u);
  EXPECT_EQ(ParseByteSize("3M"), 3'000'000u);
  EXPECT_EQ(ParseByteSize("1G"), 1'000'000'000u);
  EXPECT_EQ(ParseByteSize("2KiB"), 2048u);
  EXPECT_EQ(ParseByteSize("512MiB"), uint64_t{512} << 20);
  EXPECT_EQ(ParseByteSize("4GiB"), uint64_t{4} << 30);
  EXPECT_FALSE(ParseByteSize(""));
  EXPECT_FALSE(ParseByteSize("0"));
  EXPECT_FALSE(ParseByteSize("-1M"));
  EXPECT_FALSE(ParseByteSize("1.5G"));
  EXPECT_FALSE(ParseByteSize("12 MiB"));
  EXPECT_FALSE(ParseByteSize("1TB"));
  EXPECT_FALSE(ParseByteSize("99999999999999999999GiB"));
  EXPECT_FALSE(ParseByteSize("17179869184GiB"));  // 2^64 bytes
}

TEST(CommandConfig, ErrorsNameTheKey) {
  EXPECT_EQ(
      Error("[jobs.resize]\ncommand = [\"/bin/x\"]\ntimeout = \"abc\""),
      "jobs.resize.timeout: \"abc\" is not a duration (a number of seconds, or such as \"250ms\", \"1.5s\", "
      "\"10m\", \"2h\")");
  EXPECT_EQ(Error("[jobs.resize]\ncommand = [\"/bin/x\"]\ntimeout = 0"),
            "jobs.resize.timeout: must be more than 0");
  EXPECT_EQ(Error("[jobs.resize]\ntimeout = 1"), "jobs.resize.command: is required");
  EXPECT_EQ(Error("[jobs.resize]\ncommand = [\"/bin/x\"]\ncolor = 1"),
            "jobs.resize.color: unknown key (known: command, timeout, max_attempts, memory_limit, cpu_limit, "
            "env, cwd)");
  EXPECT_EQ(Error("[jobs.\"bad type\"]\ncommand = [\"/bin/x\"]"),
            "jobs.bad type: job type 'bad type' may hold only letters, digits and _ - . :");
  EXPECT_EQ(Error("[jobs]\nresize = \"/bin/x\""),
            "jobs.resize: \"/bin/x\" is not a table: write [jobs.resize] with a command");
  EXPECT_EQ(Error("[jobs.r]\ncommand = []"),
            "jobs.r.command: must be a non-empty array of strings, the program (an absolute path) first");
  EXPECT_EQ(Error("[jobs.r]\ncommand = \"/bin/x\""),
            "jobs.r.command: must be a non-empty array of strings, the program (an absolute path) first");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\", 3]"), "jobs.r.command[1]: 3 is not a string");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"convert\"]"),
            "jobs.r.command[0]: \"convert\": the program must be an absolute path without placeholders");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\", \"{args.a\"]"),
            "jobs.r.command[1]: \"{args.a\": unterminated { (write {{ for a literal brace)");
  EXPECT_NE(
      Error("[jobs.r]\ncommand = [\"/bin/x\", \"{nope}\"]").find("jobs.r.command[1]: \"{nope}\": unknown "),
      std::string::npos);
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\", \"a\\u0000b\"]"),
            "jobs.r.command[1]: contains a NUL byte");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nmax_attempts = 0"),
            "jobs.r.max_attempts: 0 is not an integer from 1 to 100");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nmax_attempts = \"3\""),
            "jobs.r.max_attempts: \"3\" is not an integer from 1 to 100");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nmemory_limit = \"lots\""),
            "jobs.r.memory_limit: \"lots\" is not a size (bytes, or such as \"512MiB\", \"2G\")");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nmemory_limit = 512"),
            "jobs.r.memory_limit: 512 is less than 1MiB");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nmemory_limit = -5"),
            "jobs.r.memory_limit: -5 is not a size (bytes, or such as \"512MiB\", \"2G\")");
  EXPECT_EQ(
      Error("[jobs.r]\ncommand = [\"/bin/x\"]\ncpu_limit = \"-1s\""),
      "jobs.r.cpu_limit: \"-1s\" is not a duration (a number of seconds, or such as \"250ms\", \"1.5s\", "
      "\"10m\", \"2h\")");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nenv = { N = 1 }"), "jobs.r.env.N: 1 is not a string");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nenv = \"A=B\""),
            "jobs.r.env: \"A=B\" is not a table of strings, such as { LANG = \"C\" }");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nenv = { \"A=B\" = \"x\" }"),
            "jobs.r.env.A=B: an environment variable name must be non-empty, without = or NUL");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\nenv = { WARREN_JOB_ID = \"x\" }"),
            "jobs.r.env.WARREN_JOB_ID: is set by the worker for every job");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\ncwd = \"tmp\""),
            "jobs.r.cwd: \"tmp\" is not an absolute path");
  EXPECT_EQ(Error("[jobs.r]\ncommand = [\"/bin/x\"]\ncwd = 1"), "jobs.r.cwd: 1 is not a string");
}

class TempFile {
 public:
  explicit TempFile(const std::string& content) {
    char name[] = "/tmp/warren-jobs-XXXXXX";
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

std::optional<std::string> NoEnv(const std::string&) { return std::nullopt; }

TEST(CommandConfig, LoadSettingsReadsJobsBesidePeriodicTables) {
  TempFile file(R"(
[work]
concurrency = 2

[jobs.resize]
command = ["/usr/bin/convert", "{args.src}"]
timeout = "250ms"

[[periodic]]
type = "resize"
cron = "@hourly"
)");
  const auto s = LoadSettings({{"config", {file.path()}}}, NoEnv);
  EXPECT_EQ(s.concurrency, 2);
  ASSERT_EQ(s.command_jobs.size(), 1u);
  EXPECT_EQ(s.command_jobs.at("resize").timeout, Duration{250});
  EXPECT_EQ(s.periodic.size(), 1u);
  EXPECT_TRUE(LoadSettings({}, NoEnv).command_jobs.empty());
}

TEST(CommandConfig, LoadSettingsNamesFileAndKey) {
  TempFile file("[jobs.resize]\ncommand = [\"/bin/x\"]\ntimeout = \"abc\"\n");
  try {
    LoadSettings({{"config", {file.path()}}}, NoEnv);
    FAIL() << "no ConfigError";
  } catch (const ConfigError& e) {
    const std::string message = e.what();
    EXPECT_EQ(message.find('\n'), std::string::npos);
    EXPECT_TRUE(
        message.starts_with("config: " + file.path() + ": jobs.resize.timeout: \"abc\" is not a duration"))
        << message;
  }
}

}  // namespace
}  // namespace warren
