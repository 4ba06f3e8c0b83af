#include "worker/recent_set.hpp"

#include <gtest/gtest.h>

namespace warren::worker {
namespace {

TEST(RecentSet, KeepsTheNewestKeysOnly) {
  RecentSet set(2);
  set.Insert("a");
  set.Insert("b");
  set.Insert("a");  // already there: not newer
  EXPECT_TRUE(set.Contains("a"));
  set.Insert("c");  // "a" was the oldest
  EXPECT_FALSE(set.Contains("a"));
  EXPECT_TRUE(set.Contains("b"));
  EXPECT_TRUE(set.Contains("c"));
}

}  // namespace
}  // namespace warren::worker
