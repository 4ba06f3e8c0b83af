#include "worker/command_template.hpp"

#include <gtest/gtest.h>

namespace warren::worker {
namespace {

using Argv = std::vector<std::string>;

const nlohmann::json kArgs = nlohmann::json::parse(R"({
  "src": "in.png", "size": 640, "ratio": 1.5, "big": 12345678901234, "neg": -3, "flag": true, "off": false,
  "nested": {"a": {"b": "deep"}}, "items": ["zero", 1, {"x": "y"}], "nothing": null, "obj": {}, "list": [],
  "dash": "-rf", "dash_mid": "a-b"
})");

CommandVars Vars(const nlohmann::json& args = kArgs) {
  return CommandVars{.id = "0190abc", .type = "resize", .queue = "images", .attempt = 2, .args = args};
}

Argv Expand(const Argv& tmpl, const nlohmann::json& args = kArgs) {
  auto out = ExpandCommand(tmpl, Vars(args));
  if (auto* error = std::get_if<TemplateError>(&out)) {
    ADD_FAILURE() << error->message;
    return {};
  }
  return std::get<Argv>(out);
}

std::string Error(const Argv& tmpl, const nlohmann::json& args = kArgs) {
  auto out = ExpandCommand(tmpl, Vars(args));
  if (auto* error = std::get_if<TemplateError>(&out)) {
    return error->message;
  }
  ADD_FAILURE() << "expected an error for " << nlohmann::json(tmpl).dump();
  return {};
}

TEST(CommandTemplate, JobPlaceholders) {
  EXPECT_EQ(Expand({"/bin/x", "{id}", "{type}", "{queue}", "{attempt}"}),
            (Argv{"/bin/x", "0190abc", "resize", "images", "2"}));
}

TEST(CommandTemplate, WholeArgsAsCompactJson) {
  const nlohmann::json args = {{"a", 1}, {"b", "two words"}};
  EXPECT_EQ(Expand({"/bin/x", "{args}"}, args), (Argv{"/bin/x", R"({"a":1,"b":"two words"})"}));
  EXPECT_EQ(Expand({"/bin/x", "{args}"}, nullptr), (Argv{"/bin/x", "null"}));
}

TEST(CommandTemplate, ArgsPathsOfEveryScalarKind) {
  EXPECT_EQ(
      Expand({"/bin/x", "{args.src}", "{args.size}", "{args.ratio}", "{args.big}", "{args.flag}",
              "{args.off}", "{args.nested.a.b}", "{args.items.0}", "{args.items.1}", "{args.items.2.x}"}),
      (Argv{"/bin/x", "in.png", "640", "1.5", "12345678901234", "true", "false", "deep", "zero", "1", "y"}));
}

TEST(CommandTemplate, PlaceholdersInsideAnElementAndLiteralBraces) {
  EXPECT_EQ(Expand({"/bin/x", "--size={args.size}x{args.size}", "{{literal}}", "{{{id}}}", "out/{id}.png"}),
            (Argv{"/bin/x", "--size=640x640", "{literal}", "{0190abc}", "out/0190abc.png"}));
}

TEST(CommandTemplate, NumericKeyOfAnObject) {
  EXPECT_EQ(Expand({"/bin/x", "{args.m.0}"}, {{"m", {{"0", "zero-key"}}}}), (Argv{"/bin/x", "zero-key"}));
}

TEST(CommandTemplate, MissingOrNonScalarValuesAreErrors) {
  EXPECT_EQ(Error({"/bin/x", "{args.nope}"}), "command[1] {args.nope}: args.nope is missing");
  EXPECT_NE(Error({"/bin/x", "{args.nested.a.c}"}).find("args.nested.a.c is missing"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.items.3}"}).find("is missing"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.items.x}"}).find("is missing"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.src.deeper}"}).find("is missing"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.nothing}"}).find("args.nothing is null"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.obj}"}).find("is an object"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.list}"}).find("is an array"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.src}"}, nullptr).find("is missing"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args.0}"}, nlohmann::json::array()).find("is missing"), std::string::npos);
}

TEST(CommandTemplate, InjectionAttemptsStayOneLiteralElement) {
  for (const std::string evil : {"; touch /tmp/x", "$(id)", "`id`", "a b c", "x\ny", "'\"", "&& rm -rf /",
                                 "|cat", "${HOME}", "*", "> /tmp/x", "{id}", "{{"}) {
    const nlohmann::json args = {{"v", evil}};
    EXPECT_EQ(Expand({"/bin/echo", "{args.v}", "pre:{args.v}"}, args),
              (Argv{"/bin/echo", evil, "pre:" + evil}))
        << evil;
  }
}

TEST(CommandTemplate, ValueCannotBecomeAnOption) {
  EXPECT_EQ(Error({"/bin/rm", "{args.dash}"}),
            "command[1] \"{args.dash}\": the value would start with '-' and could be taken for an option");
  EXPECT_NE(Error({"/bin/x", "{args.neg}"}).find("start with '-'"), std::string::npos);
  EXPECT_NE(Error({"/bin/x", "{args}"}, -1).find("start with '-'"), std::string::npos);
  // A dash inside, or an element that is an option already, is fine.
  EXPECT_EQ(Expand({"/bin/x", "{args.dash_mid}", "--name={args.dash}", "-{args.src}"}),
            (Argv{"/bin/x", "a-b", "--name=-rf", "-in.png"}));
  EXPECT_EQ(Expand({"/bin/x", " {args.dash}"}), (Argv{"/bin/x", " -rf"}));
}

TEST(CommandTemplate, NulInAValueIsAnError) {
  const nlohmann::json args = {{"v", std::string("a\0b", 3)}};
  EXPECT_NE(Error({"/bin/x", "{args.v}"}, args).find("NUL"), std::string::npos);
  // {args} escapes it as \u0000, so the JSON is fine.
  EXPECT_EQ(Expand({"/bin/x", "{args}"}, args), (Argv{"/bin/x", R"({"v":"a\u0000b"})"}));
}

TEST(CommandTemplate, TemplateErrors) {
  EXPECT_EQ(ValidateTemplate({"/bin/x", "{id}"}), std::nullopt);
  EXPECT_EQ(ValidateTemplate({}), "command: must hold at least the program");
  EXPECT_EQ(*ValidateTemplate({"/bin/x", "{args.src"}),
            "command[1]: \"{args.src\": unterminated { (write {{ for a literal brace)");
  EXPECT_NE(ValidateTemplate({"/bin/x", "{a{id}"})->find("unterminated"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "a}"})->find("lone }"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{nope}"})->find("unknown placeholder {nope}"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{}"})->find("unknown placeholder {}"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{ id }"})->find("unknown placeholder"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{args.}"})->find("empty path step"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{args.a..b}"})->find("empty path step"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", "{args.a b}"})->find("path step"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"bin/x"})->find("absolute path"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/usr/bin/{args.tool}"})->find("command[0]"), std::string::npos);
  EXPECT_NE(ValidateTemplate({"/bin/x", std::string("a\0b", 3)})->find("NUL"), std::string::npos);
  // ExpandCommand checks the template too.
  EXPECT_NE(Error({"/bin/x", "{bad}"}).find("unknown placeholder"), std::string::npos);
}

}  // namespace
}  // namespace warren::worker
