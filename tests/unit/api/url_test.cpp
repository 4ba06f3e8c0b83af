#include "api/url.hpp"

#include <gtest/gtest.h>

namespace warren::api {
namespace {

TEST(SplitTarget, OriginForm) {
  auto split = SplitTarget("/add-job/hey?x=1&y=2");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/add-job/hey");
  EXPECT_EQ(split->query, "x=1&y=2");

  split = SplitTarget("/");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/");
  EXPECT_EQ(split->query, "");

  split = SplitTarget("/a?");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/a");
  EXPECT_EQ(split->query, "");
}

TEST(SplitTarget, AbsoluteForm) {
  auto split = SplitTarget("http://127.0.0.1:5000/add-job/hey?q");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/add-job/hey");
  EXPECT_EQ(split->query, "q");

  split = SplitTarget("HTTP://example.com");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/");

  split = SplitTarget("http://example.com?a=b");
  ASSERT_TRUE(split);
  EXPECT_EQ(split->path, "/");
  EXPECT_EQ(split->query, "a=b");
}

TEST(SplitTarget, RejectsOtherForms) {
  EXPECT_FALSE(SplitTarget("*"));
  EXPECT_FALSE(SplitTarget(""));
  EXPECT_FALSE(SplitTarget("add-job/hey"));
  EXPECT_FALSE(SplitTarget("example.com:443"));
}

TEST(PercentDecode, DecodesEscapes) {
  EXPECT_EQ(PercentDecode("hello%20world"), "hello world");
  EXPECT_EQ(PercentDecode("a%2Fb"), "a/b");
  EXPECT_EQ(PercentDecode("%2f%2F"), "//");
  EXPECT_EQ(PercentDecode("100%25"), "100%");
  EXPECT_EQ(PercentDecode(""), "");
  EXPECT_EQ(PercentDecode("plain"), "plain");
}

TEST(PercentDecode, PlusStaysPlusInPaths) {
  // Only HTML forms encode a space as '+'; in a path it is a literal plus, as in Flask.
  EXPECT_EQ(PercentDecode("a+b"), "a+b");
  EXPECT_EQ(PercentDecode("a%2Bb"), "a+b");
}

TEST(PercentDecode, KeepsUtf8Bytes) {
  EXPECT_EQ(PercentDecode("caf%C3%A9"), "caf\xC3\xA9");
  EXPECT_EQ(PercentDecode("%E2%9C%93"), "\xE2\x9C\x93");
  EXPECT_EQ(PercentDecode("%00"), std::string(1, '\0'));
}

TEST(PercentDecode, RejectsInvalidEscapes) {
  for (const char* bad : {"%", "%2", "a%", "a%2", "%zz", "%2g", "%G0", "%%20", "x%-1"}) {
    EXPECT_FALSE(PercentDecode(bad).has_value()) << bad;
  }
}

TEST(IsValidUtf8, AcceptsWellFormed) {
  EXPECT_TRUE(IsValidUtf8(""));
  EXPECT_TRUE(IsValidUtf8("hello"));
  EXPECT_TRUE(IsValidUtf8("caf\xC3\xA9"));
  EXPECT_TRUE(IsValidUtf8("\xE2\x9C\x93"));
  EXPECT_TRUE(IsValidUtf8("\xF0\x9F\x90\x87"));  // U+1F407
  EXPECT_TRUE(IsValidUtf8("\xF4\x8F\xBF\xBF"));  // U+10FFFF
}

TEST(IsValidUtf8, RejectsMalformed) {
  for (const char* bad : {"\xC3", "\xC3(", "\x80", "\xBF", "\xC0\xAF", "\xE0\x80\xAF", "\xED\xA0\x80",
                          "\xF4\x90\x80\x80", "\xF8\x88\x80\x80\x80", "\xFF", "abc\xE2\x9C"}) {
    EXPECT_FALSE(IsValidUtf8(bad)) << testing::PrintToString(std::string(bad));
  }
}

}  // namespace
}  // namespace warren::api
