#include <gtest/gtest.h>

#include "amqp/connection.hpp"

namespace warren::amqp {
namespace {

TEST(ParseAmqpUrl, ReadsEveryPart) {
  const auto u = ParseAmqpUrl("amqp://user:secret@broker.local:5673/prod");
  EXPECT_EQ(u.host, "broker.local");
  EXPECT_EQ(u.port, 5673);
  EXPECT_EQ(u.user, "user");
  EXPECT_EQ(u.password, "secret");
  EXPECT_EQ(u.vhost, "prod");
}

TEST(ParseAmqpUrl, TrailingSlashMeansTheDefaultVhost) {
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672/").vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://guest:guest@127.0.0.1:5672").vhost, "/");
  EXPECT_EQ(ParseAmqpUrl("amqp://127.0.0.1/%2f").vhost, "/");
}

TEST(SplitAmqpUrls, ACommaSeparatedListOfCheckedUrls) {
  EXPECT_EQ(SplitAmqpUrls("amqp://a/"), (std::vector<std::string>{"amqp://a/"}));
  EXPECT_EQ(SplitAmqpUrls("amqp://a:1/,amqp://b:2/v,,"), (std::vector<std::string>{"amqp://a:1/", "amqp://b:2/v"}));
  EXPECT_THROW(SplitAmqpUrls(""), std::invalid_argument);
  EXPECT_THROW(SplitAmqpUrls("amqp://a/,http://b/"), std::invalid_argument);
}

TEST(ParseAmqpUrl, RejectsGarbage) {
  EXPECT_THROW(ParseAmqpUrl("http://x"), std::invalid_argument);
  EXPECT_THROW(ParseAmqpUrl("amqp://host:notaport/"), std::invalid_argument);
}

}  // namespace
}  // namespace warren::amqp
