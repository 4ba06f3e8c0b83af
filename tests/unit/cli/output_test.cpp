#include "cli/output.hpp"

#include <gtest/gtest.h>

#include "cli/exit_codes.hpp"

namespace warren::cli {
namespace {

using namespace std::chrono_literals;

const Style kPipe{false, false};
const Style kTerminal{true, false};
const Style kColour{true, true};

TEST(FormatTable, PadsColumnsOnATerminal) {
  const std::string table = FormatTable({"ID", "STATE", "N"},
                                        {{{"a", ""}, {"succeeded", StateColor("succeeded")}, {"7", ""}},
                                         {{"bbbb", ""}, {"dead", StateColor("dead")}, {"12", ""}}},
                                        kTerminal, {2});
  EXPECT_EQ(table,
            "ID    STATE       N\n"
            "a     succeeded   7\n"
            "bbbb  dead       12\n");
}

TEST(FormatTable, IsTabSeparatedWithoutATerminal) {
  const std::string table =
      FormatTable({"ID", "NOTE"}, {{{"a", StateColor("dead")}, {"two\twords\nand a line", ""}}}, kPipe);
  EXPECT_EQ(table, "ID\tNOTE\na\ttwo words and a line\n");
}

TEST(FormatTable, ColoursOnlyWhenAskedAndWidthIgnoresThem) {
  const std::string table = FormatTable({"S", "X"}, {{{"dead", StateColor("dead")}, {"1", ""}}}, kColour);
  EXPECT_EQ(table, "\033[1mS\033[0m     \033[1mX\033[0m\n\033[31mdead\033[0m  1\n");
}

TEST(FormatTable, CountsUtf8AsCharacters) {
  const std::string table = FormatTable({"N", "X"}, {{{"\xc3\xa9t\xc3\xa9", ""}, {"1", ""}}}, kTerminal);
  EXPECT_EQ(table, "N    X\n\xc3\xa9t\xc3\xa9  1\n");
}

TEST(StateColor, MatchesTheStates) {
  EXPECT_EQ(StateColor("succeeded"), "\033[32m");
  EXPECT_EQ(StateColor("dead"), "\033[31m");
  EXPECT_EQ(StateColor("failed"), "\033[31m");
  EXPECT_EQ(StateColor("running"), "\033[33m");
  EXPECT_EQ(StateColor("queued"), "\033[36m");
  EXPECT_EQ(StateColor("whatever"), "");
  EXPECT_EQ(Paint("x", StateColor("dead"), kTerminal), "x");
  EXPECT_EQ(Paint("x", StateColor("dead"), kColour), "\033[31mx\033[0m");
}

TEST(Ago, RoundsDownToOneUnit) {
  const TimePoint now = TimePoint(std::chrono::milliseconds(1'800'000'000'000));
  EXPECT_EQ(Ago(now, now), "just now");
  EXPECT_EQ(Ago(now - 999ms, now), "just now");
  EXPECT_EQ(Ago(now - 12s, now), "12s ago");
  EXPECT_EQ(Ago(now - 5min - 59s, now), "5m ago");
  EXPECT_EQ(Ago(now - 3h, now), "3h ago");
  EXPECT_EQ(Ago(now - 50h, now), "2d ago");
  EXPECT_EQ(Ago(now + 40s, now), "in 40s");
}

TEST(ShowTime, RelativeOnATerminalAsGivenOtherwise) {
  const auto now = *ParseTime("2026-11-26T12:00:10.000Z");
  EXPECT_EQ(ShowTime("2026-11-26T12:00:00.000Z", now, kTerminal), "10s ago");
  EXPECT_EQ(ShowTime("2026-11-26T12:00:00.000Z", now, kPipe), "2026-11-26T12:00:00.000Z");
  EXPECT_EQ(ShowTime(nullptr, now, kTerminal), "-");
  EXPECT_EQ(ShowTime("not a time", now, kTerminal), "not a time");
}

TEST(ProgressLine, DrawsPercentStateAndNote) {
  EXPECT_EQ(ProgressLine("running", 45, "resizing", 20, kTerminal),
            "[#########...........]  45% running  resizing");
  EXPECT_EQ(ProgressLine("queued", std::nullopt, "", 10, kTerminal), "[..........]   0% queued");
  EXPECT_EQ(ProgressLine("succeeded", std::nullopt, "", 10, kTerminal), "[##########] 100% succeeded");
  EXPECT_EQ(ProgressLine("running", 250, "a\tb", 4, kTerminal), "[####] 100% running  a b");
  EXPECT_EQ(ProgressLine("running", -5, "", 4, kColour), "[....]   0% \033[33mrunning\033[0m");
}

TEST(ExitCodes, ReflectTheOutcome) {
  EXPECT_EQ(ExitCodeForState("succeeded"), 0);
  EXPECT_EQ(ExitCodeForState("dead"), 4);
  EXPECT_EQ(ExitCodeForState("cancelled"), 5);
  EXPECT_EQ(ExitCodeForState("expired"), 6);
  EXPECT_EQ(ExitCodeForState("running"), 1);
  EXPECT_TRUE(IsFinalState("expired"));
  EXPECT_FALSE(IsFinalState("failed"));  // failed retries
  EXPECT_FALSE(IsFinalState("scheduled"));
}

}  // namespace
TEST(TerminalSafe, TurnsControlCharactersButTabIntoSpaces) {
  EXPECT_EQ(TerminalSafe("a\tb\x1b[31mred\x07\r\n\x7f"), "a\tb [31mred    ");
  EXPECT_EQ(TerminalSafe("caf\xc3\xa9"), "caf\xc3\xa9");
  // Table cells too: a job's error in `status`'s attempts.
  EXPECT_EQ(FormatTable({"ERROR"}, {{{"x\x1b]0;t\x07", ""}}}, Style{true, false}), "ERROR\nx ]0;t \n");
}

TEST(LogLineText, TabSeparatedOffATerminalAndCleanOnOne) {
  const nlohmann::json line = {{"attempt", 2}, {"at", "2026-11-26T12:00:01.250Z"}, {"line", "a\tb\x1b[31mred"}, {"cursor", "2.7"}};
  EXPECT_EQ(LogLineText(line, Style{false, false}), "2\t2026-11-26T12:00:01.250Z\ta b [31mred\n");
  EXPECT_EQ(LogLineText(line, Style{true, false}), "#2 12:00:01.250 a\tb [31mred\n");
  EXPECT_EQ(LogLineText(line, Style{true, true}), "\033[2m#2 12:00:01.250\033[0m a\tb [31mred\n");
}

}  // namespace warren::cli
