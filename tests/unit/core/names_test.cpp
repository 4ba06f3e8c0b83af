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

}  // namespace
}  // namespace warren
