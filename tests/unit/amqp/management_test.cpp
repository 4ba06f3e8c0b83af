#include "amqp/management.hpp"

#include <gtest/gtest.h>

#include "core/percent_encode.hpp"

namespace warren::amqp {
namespace {

TEST(Management, EncodesTheVhostAndCredentials) {
  EXPECT_EQ(PercentEncode("/"), "%2F");
  EXPECT_EQ(PercentEncode("task_queue"), "task_queue");
  EXPECT_EQ(Base64("guest:guest"), "Z3Vlc3Q6Z3Vlc3Q=");
  EXPECT_EQ(Base64("ab"), "YWI=");
  EXPECT_EQ(Base64("abc"), "YWJj");
  EXPECT_EQ(Base64(""), "");
}

TEST(Management, AnUnreachablePluginAnswersNothingQuickly) {
  ManagementOptions options;
  options.port = 1;  // nothing listens there
  options.timeout = std::chrono::milliseconds(500);
  ManagementClient client(options);
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(client.Queue("default"));
  EXPECT_FALSE(client.Queue("default")) << "and is left alone for a while after the failure";
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(2));
  options.port = 0;
  EXPECT_FALSE(ManagementClient(options).Queue("default")) << "port 0: off";
}

}  // namespace
}  // namespace warren::amqp
