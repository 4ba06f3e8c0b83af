#include <gtest/gtest.h>

#include "core/job.hpp"
#include "core/names.hpp"

namespace warren {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const TimePoint kNow = ParseTime("2026-11-26T12:00:00Z").value();

JobSpec Ok(const json& body, const JobLimits& limits = {}, const std::optional<std::string>& header = {}) {
  auto parsed = ParseJobSpec(body, limits, kNow, header);
  if (const auto* error = std::get_if<FieldError>(&parsed)) {
    ADD_FAILURE() << error->code << ": " << error->message;
    return {};
  }
  return std::get<JobSpec>(parsed);
}

FieldError Err(const json& body, const JobLimits& limits = {},
               const std::optional<std::string>& header = {}) {
  auto parsed = ParseJobSpec(body, limits, kNow, header);
  if (!std::holds_alternative<FieldError>(parsed)) {
    ADD_FAILURE() << "accepted " << body.dump();
    return {};
  }
  const auto error = std::get<FieldError>(parsed);
  EXPECT_EQ(error.message.find('\n'), std::string::npos) << error.message;
  return error;
}

TEST(JobSpecParse, MinimalBodyGetsDefaults) {
  const JobSpec spec = Ok({{"type", "send_email"}});
  EXPECT_EQ(spec.type, "send_email");
  EXPECT_EQ(spec.queue, "default");
  EXPECT_TRUE(spec.args.is_null());
  EXPECT_EQ(spec.priority, 0);
  EXPECT_EQ(spec.max_attempts, 3);
  EXPECT_FALSE(spec.timeout);
  EXPECT_FALSE(spec.deadline);
  EXPECT_FALSE(spec.run_at);
  EXPECT_FALSE(spec.idempotency_key);
  EXPECT_TRUE(spec.tags.empty());

  JobLimits limits;
  limits.default_max_attempts = 7;
  EXPECT_EQ(Ok({{"type", "x"}}, limits).max_attempts, 7);
}

TEST(JobSpecParse, FullBody) {
  const JobSpec spec = Ok({{"type", "amq.report:v2"},
                           {"queue", "emails"},
                           {"args", {{"to", "a@b.c"}, {"n", {1, 2, 3}}}},
                           {"priority", 9},
                           {"max_attempts", 5},
                           {"timeout", "1.5s"},
                           {"run_at", "2026-11-26T14:00:00+02:00"},
                           {"deadline", "2026-11-27T00:00:00Z"},
                           {"idempotency_key", "order-42"},
                           {"tags", {"billing", "eu", "billing", "x:1"}}});
  EXPECT_EQ(spec.type, "amq.report:v2");  // job types may start with amq.
  EXPECT_EQ(spec.queue, "emails");
  EXPECT_EQ(spec.args["n"][2], 3);
  EXPECT_EQ(spec.priority, 9);
  EXPECT_EQ(spec.max_attempts, 5);
  EXPECT_EQ(spec.timeout, milliseconds(1500));
  EXPECT_EQ(spec.run_at, kNow);
  EXPECT_EQ(spec.deadline, ParseTime("2026-11-27T00:00:00Z"));
  EXPECT_EQ(spec.idempotency_key, "order-42");
  EXPECT_EQ(spec.tags, (std::vector<std::string>{"billing", "eu", "x:1"}));  // deduplicated, order kept
}

TEST(JobSpecParse, DurationsAreSecondsOrStrings) {
  EXPECT_EQ(Ok({{"type", "x"}, {"timeout", 30}}).timeout, milliseconds(30'000));
  EXPECT_EQ(Ok({{"type", "x"}, {"timeout", 0.25}}).timeout, milliseconds(250));
  EXPECT_EQ(Ok({{"type", "x"}, {"timeout", "250ms"}}).timeout, milliseconds(250));
  EXPECT_EQ(Ok({{"type", "x"}, {"timeout", "2h"}}).timeout, milliseconds(7'200'000));
  EXPECT_EQ(Ok({{"type", "x"}, {"delay", "10m"}}).run_at, kNow + milliseconds(600'000));
  EXPECT_EQ(Ok({{"type", "x"}, {"delay", 1.5}}).run_at, kNow + milliseconds(1'500));
  EXPECT_FALSE(Ok({{"type", "x"}, {"delay", 0}}).run_at);  // no delay: runs now
  EXPECT_FALSE(Ok({{"type", "x"}, {"delay", "0s"}}).run_at);
}

TEST(JobSpecParse, NullMeansAbsent) {
  const JobSpec spec = Ok({{"type", "x"},
                           {"queue", nullptr},
                           {"priority", nullptr},
                           {"timeout", nullptr},
                           {"delay", nullptr},
                           {"run_at", "2026-11-26T13:00:00Z"},
                           {"tags", nullptr}});
  EXPECT_EQ(spec.queue, "default");
  EXPECT_EQ(spec.run_at, ParseTime("2026-11-26T13:00:00Z"));
  EXPECT_EQ(Err({{"type", nullptr}}).code, "missing_field");
}

TEST(JobSpecParse, IntegralFloatsCountAsIntegers) {
  EXPECT_EQ(Ok({{"type", "x"}, {"priority", 3.0}}).priority, 3);
  EXPECT_EQ(Err({{"type", "x"}, {"priority", 3.5}}).code, "invalid_field");
}

TEST(JobSpecParse, ErrorsNameTheFieldInOneLine) {
  const FieldError priority = Err({{"type", "x"}, {"priority", "high"}});
  EXPECT_EQ(priority.code, "invalid_field");
  EXPECT_EQ(priority.message, "field 'priority': expected an integer 0..9, got \"high\"");

  EXPECT_EQ(Err({{"type", "x"}, {"priority", 10}}).message,
            "field 'priority': expected an integer 0..9, got 10");
  EXPECT_EQ(Err({{"type", "x"}, {"priority", -1}}).code, "invalid_field");
  EXPECT_EQ(Err({{"type", "x"}, {"max_attempts", 0}}).message,
            "field 'max_attempts': expected an integer 1..100, got 0");
  EXPECT_EQ(Err({{"type", "x"}, {"max_attempts", 101}}).code, "invalid_field");
  EXPECT_EQ(Err({{"type", "x"}, {"max_attempts", 18446744073709551615ULL}}).code, "invalid_field");

  const FieldError type = Err({{"type", "bad type\nwith newline"}});
  EXPECT_EQ(type.code, "invalid_field");
  EXPECT_NE(type.message.find("field 'type'"), std::string::npos) << type.message;
  EXPECT_NE(type.message.find("\\n"), std::string::npos) << type.message;  // escaped, still one line
}

TEST(JobSpecParse, RejectsWrongShapes) {
  struct Case {
    json body;
    std::string code;
    std::string field;  // must appear in the message
  };
  const std::vector<Case> cases = {
      {json::array(), "invalid_field", "object"},
      {"send_email", "invalid_field", "object"},
      {json::object(), "missing_field", "'type'"},
      {{{"type", 5}}, "invalid_field", "'type'"},
      {{{"type", ""}}, "invalid_field", "'type'"},
      {{{"type", std::string(kMaxNameLength + 1, 'a')}}, "invalid_field", "'type'"},
      {{{"type", "a/b"}}, "invalid_field", "'type'"},
      {{{"type", "x"}, {"queue", "amq.direct"}}, "invalid_field", "'queue'"},
      {{{"type", "x"}, {"queue", "warren.events.recorder"}}, "invalid_field", "'queue'"},
      {{{"type", "x"}, {"queue", "a b"}}, "invalid_field", "'queue'"},
      {{{"type", "x"}, {"queue", 1}}, "invalid_field", "'queue'"},
      {{{"type", "x"}, {"timeout", 0}}, "invalid_field", "'timeout'"},
      {{{"type", "x"}, {"timeout", "0s"}}, "invalid_field", "'timeout'"},
      {{{"type", "x"}, {"timeout", -1}}, "invalid_field", "'timeout'"},
      {{{"type", "x"}, {"timeout", "soon"}}, "invalid_field", "'timeout'"},
      {{{"type", "x"}, {"timeout", true}}, "invalid_field", "'timeout'"},
      {{{"type", "x"}, {"delay", "-5s"}}, "invalid_field", "'delay'"},
      {{{"type", "x"}, {"delay", "5s"}, {"run_at", "2026-11-26T13:00:00Z"}}, "invalid_field", "'run_at'"},
      {{{"type", "x"}, {"run_at", "tomorrow"}}, "invalid_field", "'run_at'"},
      {{{"type", "x"}, {"run_at", 1795694400}}, "invalid_field", "'run_at'"},
      {{{"type", "x"}, {"deadline", "2026-02-30T00:00:00Z"}}, "invalid_field", "'deadline'"},
      {{{"type", "x"}, {"run_at", "2026-11-26T13:00:00Z"}, {"deadline", "2026-11-26T13:00:00Z"}},
       "invalid_field",
       "'deadline'"},
      {{{"type", "x"}, {"delay", "2h"}, {"deadline", "2026-11-26T13:00:00Z"}}, "invalid_field", "'deadline'"},
      {{{"type", "x"}, {"idempotency_key", ""}}, "invalid_field", "'idempotency_key'"},
      {{{"type", "x"}, {"idempotency_key", std::string(256, 'k')}}, "invalid_field", "'idempotency_key'"},
      {{{"type", "x"}, {"idempotency_key", "tab\there"}}, "invalid_field", "'idempotency_key'"},
      {{{"type", "x"}, {"idempotency_key", 42}}, "invalid_field", "'idempotency_key'"},
      {{{"type", "x"}, {"tags", "billing"}}, "invalid_field", "'tags'"},
      {{{"type", "x"}, {"tags", {"ok", 1}}}, "invalid_field", "'tags'"},
      {{{"type", "x"}, {"tags", {""}}}, "invalid_field", "'tags'"},
      {{{"type", "x"}, {"tags", {"has space"}}}, "invalid_field", "'tags'"},
      {{{"type", "x"}, {"tags", {std::string(65, 't')}}}, "invalid_field", "'tags'"},
      {{{"type", "x"}, {"tpye", "y"}}, "unknown_field", "'tpye'"},
  };
  for (const auto& c : cases) {
    const FieldError error = Err(c.body);
    EXPECT_EQ(error.code, c.code) << c.body.dump() << " -> " << error.message;
    EXPECT_NE(error.message.find(c.field), std::string::npos) << c.body.dump() << " -> " << error.message;
  }
  std::vector<std::string> many(21, "t");
  for (size_t i = 0; i < many.size(); ++i) {
    many[i] += std::to_string(i);
  }
  EXPECT_EQ(Err({{"type", "x"}, {"tags", many}}).code, "invalid_field");
  many.pop_back();
  EXPECT_EQ(Ok({{"type", "x"}, {"tags", many}}).tags.size(), 20U);
}

TEST(JobSpecParse, UnknownFieldsAreCheckedFirst) {
  // A typo'd "type" is reported as the typo, not as a missing type.
  const FieldError error = Err({{"typ", "x"}, {"priority", "high"}});
  EXPECT_EQ(error.code, "unknown_field");
  EXPECT_NE(error.message.find("'typ'"), std::string::npos) << error.message;
}

TEST(JobSpecParse, ReportsTheFirstErrorInAStableOrder) {
  // type before queue before priority before tags, whatever the body's key order.
  EXPECT_NE(Err({{"tags", 1}, {"priority", "x"}, {"queue", 1}, {"type", 1}}).message.find("'type'"),
            std::string::npos);
  EXPECT_NE(Err({{"tags", 1}, {"priority", "x"}, {"queue", 1}, {"type", "t"}}).message.find("'queue'"),
            std::string::npos);
  EXPECT_NE(Err({{"tags", 1}, {"priority", "x"}, {"type", "t"}}).message.find("'priority'"),
            std::string::npos);
  EXPECT_NE(Err({{"tags", 1}, {"type", "t"}}).message.find("'tags'"), std::string::npos);
}

TEST(JobSpecParse, ArgsMayBeAnyJsonWithinLimits) {
  for (const json& args :
       {json(nullptr), json(1), json("text"), json::array(), json({{"a", {{"b", true}}}})}) {
    EXPECT_EQ(Ok({{"type", "x"}, {"args", args}}).args, args);
  }
  JobLimits limits;
  limits.max_args_bytes = 10;
  EXPECT_EQ(Ok({{"type", "x"}, {"args", "12345678"}}, limits).args, "12345678");  // "12345678" is 10 bytes
  const FieldError big = Err({{"type", "x"}, {"args", "123456789"}}, limits);
  EXPECT_EQ(big.code, "too_large");
  EXPECT_NE(big.message.find("'args'"), std::string::npos);

  limits = JobLimits{};
  limits.max_json_depth = 3;
  EXPECT_EQ(Ok({{"type", "x"}, {"args", json::parse("[[[1]]]")}}, limits).args, json::parse("[[[1]]]"));
  EXPECT_EQ(Err({{"type", "x"}, {"args", json::parse("[[[[1]]]]")}}, limits).code, "too_large");
  EXPECT_EQ(Err({{"type", "x"}, {"args", json::parse("{\"a\":[{\"b\":[]}]}")}}, limits).code, "too_large");

  // The default depth limit holds against a deep document without recursing through all of it.
  std::string deep(10'000, '[');
  deep += std::string(10'000, ']');
  EXPECT_EQ(Err({{"type", "x"}, {"args", json::parse(deep)}}).code, "too_large");
}

TEST(JobSpecParse, IdempotencyHeaderWins) {
  EXPECT_EQ(Ok({{"type", "x"}}, {}, std::string("from-header")).idempotency_key, "from-header");
  EXPECT_EQ(
      Ok({{"type", "x"}, {"idempotency_key", "from-body"}}, {}, std::string("from-header")).idempotency_key,
      "from-header");
  const FieldError error = Err({{"type", "x"}}, {}, std::string(""));
  EXPECT_EQ(error.code, "invalid_field");
  EXPECT_NE(error.message.find("Idempotency-Key"), std::string::npos) << error.message;
}

TEST(JobSpecParse, RunAtInThePastIsAccepted) {
  const JobSpec spec = Ok({{"type", "x"}, {"run_at", "2020-01-01T00:00:00Z"}});
  EXPECT_EQ(spec.run_at, ParseTime("2020-01-01T00:00:00Z"));
}

TEST(JobTypeName, AllowsTheSafeSetIncludingAmqPrefix) {
  for (const char* ok : {"send_email", "amq.thing", "a-b:c.d", "hey"}) {
    EXPECT_FALSE(InvalidTypeName(ok).has_value()) << ok;
  }
  for (const char* bad : {"", "a b", "a/b", "ünï", "x\n"}) {
    EXPECT_TRUE(InvalidTypeName(bad).has_value()) << bad;
  }
  EXPECT_TRUE(InvalidTypeName(std::string(kMaxNameLength + 1, 'a')).has_value());
  EXPECT_TRUE(InvalidQueueName("amq.thing").has_value());  // queues still may not
}

}  // namespace
}  // namespace warren
