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

TEST(RecentMap, AnInsertOfAKnownKeyReplacesItsValueAndEraseFreesItsPlace) {
  RecentMap<int> map(2);
  map.Insert("a", 1);
  map.Insert("a", 2);
  ASSERT_NE(map.Find("a"), nullptr);
  EXPECT_EQ(*map.Find("a"), 2);
  EXPECT_EQ(map.Find("b"), nullptr);
  map.Insert("b", 3);
  EXPECT_TRUE(map.Erase("a"));
  EXPECT_FALSE(map.Erase("a"));
  map.Insert("c", 4);  // two keys again: nothing is pushed out
  EXPECT_TRUE(map.Contains("b"));
  EXPECT_TRUE(map.Contains("c"));
  map.Insert("d", 5);  // "b" is now the oldest
  EXPECT_FALSE(map.Contains("b"));
  EXPECT_EQ(*map.Find("d"), 5);
}

}  // namespace
}  // namespace warren::worker
