#include "core/names.hpp"

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(InvalidQueueName, AcceptsTheSafeSet) {
  for (const char* ok : {"task_queue", "default", "warren.q.emails", "a-b:c", "Q1"}) {
    EXPECT_FALSE(InvalidQueueName(ok).has_value()) << ok;
  }
}

TEST(InvalidQueueName, RejectsEverythingElse) {
  for (const char* bad : {"", "with space", "semi;colon", "slash/x", "amq.reserved", "ünïcode", "new\nline"}) {
    EXPECT_TRUE(InvalidQueueName(bad).has_value()) << bad;
  }
  EXPECT_TRUE(InvalidQueueName(std::string(kMaxNameLength + 1, 'a')).has_value());
  EXPECT_FALSE(InvalidQueueName(std::string(kMaxNameLength, 'a')).has_value());
}

TEST(InvalidJobQueueName, KeepsWarrensOwnPrefixForWarrensOwnQueues) {
  for (const char* own :
       {"warren.dead", "warren.unrouted", "warren.events.recorder", "warren.wait.100", "warren.q.emails"}) {
    const auto why = InvalidJobQueueName(own);
    ASSERT_TRUE(why.has_value()) << own;
    EXPECT_NE(why->find("prefix warren."), std::string::npos) << *why;
    EXPECT_FALSE(InvalidQueueName(own).has_value()) << "still a queue name one may look jobs up by";
  }
  for (const char* ok : {"task_queue", "default", "warrens", "my.warren.q"}) {
    EXPECT_FALSE(InvalidJobQueueName(ok).has_value()) << ok;
  }
  EXPECT_TRUE(InvalidJobQueueName("amq.x").has_value());
}

}  // namespace
}  // namespace warren
