// tests/support's TestBroker works: a real node on its own loopback ports, rabbitmqctl reaches it, and
// it survives kill -9 and comes back on the same port.
#include <gtest/gtest.h>

#include <string>

#include "supervisor/net_probe.hpp"
#include "support/support.hpp"

namespace warren::testing {
namespace {

using supervisor::TcpConnects;

TEST(TestBroker, AcceptsAmqpAndAnswersRabbitmqctl) {
  auto& broker = TestBroker::Get();
  EXPECT_TRUE(TcpConnects(broker.AmqpPort(), 2s));
  EXPECT_EQ(broker.AmqpUrl(), "amqp://guest:guest@127.0.0.1:" + std::to_string(broker.AmqpPort()) + "/");
  std::string output;
  EXPECT_EQ(broker.Ctl({"status"}, &output), 0) << output;
  EXPECT_NE(output.find("127.0.0.1"), std::string::npos) << output;
}

TEST(TestBroker, KillThenStartOnTheSamePort) {
  auto& broker = TestBroker::Get();
  broker.Kill();
  EXPECT_FALSE(TcpConnects(broker.AmqpPort(), 500ms));
  broker.Start();
  EXPECT_TRUE(TcpConnects(broker.AmqpPort(), 2s));
  std::string output;
  EXPECT_EQ(broker.Ctl({"list_queues"}, &output), 0) << output;
}

}  // namespace
}  // namespace warren::testing
