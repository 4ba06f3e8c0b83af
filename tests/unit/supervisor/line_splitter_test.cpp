#include "supervisor/line_splitter.hpp"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace warren::supervisor {
namespace {

struct Collect {
  std::vector<std::string> lines;
  LineSplitter::LineHandler Handler() {
    return [this](std::string_view line) { lines.emplace_back(line); };
  }
};

TEST(LineSplitter, JoinsLinesSplitAcrossChunks) {
  LineSplitter s;
  Collect c;
  s.Feed("hel", c.Handler());
  EXPECT_TRUE(c.lines.empty());
  s.Feed("lo\nwor", c.Handler());
  s.Feed("ld\n", c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"hello", "world"}));
  EXPECT_FALSE(s.HasPartial());
}

TEST(LineSplitter, SeveralLinesInOneChunkAndEmptyLines) {
  LineSplitter s;
  Collect c;
  s.Feed("a\n\nb\nc", c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "", "b"}));
  EXPECT_TRUE(s.HasPartial());
  s.Finish(c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"a", "", "b", "c"}));
  s.Finish(c.Handler());  // nothing left
  EXPECT_EQ(c.lines.size(), 4U);
}

TEST(LineSplitter, DropsCarriageReturns) {
  LineSplitter s;
  Collect c;
  s.Feed("dos\r", c.Handler());
  s.Feed("\nline\r\n", c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"dos", "line"}));
}

TEST(LineSplitter, CapsAnUnterminatedLine) {
  LineSplitter s(4);
  Collect c;
  s.Feed("abcdefghij", c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"abcd", "efgh"}));
  s.Feed("\n", c.Handler());
  EXPECT_EQ(c.lines, (std::vector<std::string>{"abcd", "efgh", "ij"}));
}

TEST(PrefixLine, PadsNamesToOneColumn) {
  EXPECT_EQ(PrefixLine("serve", "listening"), "serve    | listening");
  EXPECT_EQ(PrefixLine("work.1", "hey there"), "work.1   | hey there");
  EXPECT_EQ(PrefixLine("rabbitmq", "ready"), "rabbitmq | ready");
  EXPECT_EQ(PrefixLine("work.10.long", "x"), "work.10.long | x");
  EXPECT_EQ(PrefixLine("serve", ""), "serve    | ");
}

}  // namespace
}  // namespace warren::supervisor
