#include "core/log.hpp"

#include <gtest/gtest.h>

namespace warren {
namespace {

TEST(RedactedUrl, HidesThePasswordOnly) {
  EXPECT_EQ(RedactedUrl("amqp://user:secret@host:5672/"), "amqp://user:***@host:5672/");
  EXPECT_EQ(RedactedUrl("postgresql://warren:pw@db:5432/jobs"), "postgresql://warren:***@db:5432/jobs");
  EXPECT_EQ(RedactedUrl("amqp://host:5672/"), "amqp://host:5672/");
  EXPECT_EQ(RedactedUrl("amqp://user@host/"), "amqp://user@host/");
  EXPECT_EQ(RedactedUrl("amqp://u:a@h1/,amqp://u:b@h2/"), "amqp://u:***@h1/,amqp://u:***@h2/");
}

TEST(JsonEscape, EscapesQuotesBackslashesAndControls) {
  EXPECT_EQ(JsonEscape("a\"b\\c\n\t\x01"), "a\\\"b\\\\c\\n\\t\\u0001");
}

}  // namespace
}  // namespace warren
