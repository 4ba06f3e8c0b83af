#include "cli/job_args.hpp"

#include <fstream>

#include <gtest/gtest.h>

namespace warren::cli {
namespace {

using nlohmann::json;

std::string NoStdin() { return "<stdin must not be read>"; }

std::string Why(std::string_view text) {
  try {
    ParseArgs(text, [] { return std::string("{oops"); });
  } catch (const UsageError& e) {
    return e.what();
  }
  return "<parsed>";
}

TEST(ParseArgs, TakesJsonAFileOrStdin) {
  EXPECT_EQ(ParseArgs(R"({"a":[1,2]})", NoStdin), (json{{"a", {1, 2}}}));
  EXPECT_EQ(ParseArgs("42", NoStdin), json(42));
  EXPECT_EQ(ParseArgs("@-", [] { return std::string(R"({"from":"stdin"})"); }), (json{{"from", "stdin"}}));

  const std::string path = ::testing::TempDir() + "/warren-args.json";
  std::ofstream(path) << R"({"from":"file"})";
  EXPECT_EQ(ParseArgs("@" + path, NoStdin), (json{{"from", "file"}}));
}

TEST(ParseArgs, RefusesArgsNestedDeeperThanTheServerTakes) {
  const auto nested = [](size_t depth) { return std::string(depth, '[') + std::string(depth, ']'); };
  EXPECT_EQ(ParseArgs(nested(32), NoStdin).dump(), nested(32));
  EXPECT_EQ(Why(nested(33)), "--args: nests deeper than 32 levels");
  // Deep enough that dumping it (to send it) would overflow the stack.
  const std::string path = ::testing::TempDir() + "/warren-deep-args.json";
  std::ofstream(path) << nested(1'000'000);
  EXPECT_EQ(Why("@" + path), "--args @" + path + ": nests deeper than 32 levels");
}

TEST(ParseArgs, SaysWhatIsWrongInOneLine) {
  EXPECT_EQ(
      Why("{a}"),
      "--args: not valid JSON: parse error at line 1, column 2: syntax error while parsing object key - "
      "invalid literal; last read: '{a'; expected string literal");
  EXPECT_EQ(Why("@/no/such/file"), "--args @/no/such/file: cannot read the file");
  EXPECT_NE(Why("@-").find("--args @- (stdin): not valid JSON"), std::string::npos);
  EXPECT_EQ(Why("").find('\n'), std::string::npos);
}

TEST(JobSpecJson, MapsTheFlagsToTheApiFields) {
  EnqueueOptions options;
  options.type = "resize";
  EXPECT_EQ(JobSpecJson(options, NoStdin), (json{{"type", "resize"}}));
  options.args = R"({"src":"a.png"})";
  options.queue = "images";
  options.delay = "10s";
  options.timeout = "30s";
  options.max_attempts = 2;
  options.priority = 7;
  options.idempotency_key = "k1";
  EXPECT_EQ(JobSpecJson(options, NoStdin), (json{{"type", "resize"},
                                                 {"args", {{"src", "a.png"}}},
                                                 {"queue", "images"},
                                                 {"delay", "10s"},
                                                 {"timeout", "30s"},
                                                 {"max_attempts", 2},
                                                 {"priority", 7},
                                                 {"idempotency_key", "k1"}}));
}

}  // namespace
}  // namespace warren::cli
