#include "supervisor/broker_config.hpp"

#include <gtest/gtest.h>

namespace warren::supervisor {
namespace {

BrokerOptions Options(unsigned short management_port) {
  BrokerOptions o;
  o.dir = "/data/var/rabbitmq";
  o.node_name = "warren@localhost";
  o.amqp_port = 5673;
  o.management_port = management_port;
  o.dist_port = 25673;
  o.epmd_port = 4370;
  return o;
}

TEST(BrokerConfig, ConfWithManagementBindsEverythingToLoopback) {
  const std::string conf = RabbitmqConf(Options(15673));
  EXPECT_NE(conf.find("listeners.tcp.default = 127.0.0.1:5673\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("management.tcp.ip = 127.0.0.1\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("management.tcp.port = 15673\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("log.console.level = warning\n"), std::string::npos) << conf;
  EXPECT_NE(conf.find("log.console.use_colors = off\n"), std::string::npos) << conf;
  EXPECT_EQ(EnabledPlugins(Options(15673)), "[rabbitmq_management].\n");
}

TEST(BrokerConfig, ExtraLinesForAClusterGoAtTheEnd) {
  auto o = Options(0);
  o.extra_conf = "cluster_formation.classic_config.nodes.1 = a@localhost\n";
  const std::string conf = RabbitmqConf(o);
  EXPECT_EQ(conf.substr(conf.size() - o.extra_conf.size()), o.extra_conf) << conf;
}

TEST(BrokerConfig, ManagementOffLeavesNoManagementKeys) {
  // RabbitMQ refuses management.* keys when the plugin is not enabled.
  const std::string conf = RabbitmqConf(Options(0));
  EXPECT_EQ(conf.find("management."), std::string::npos) << conf;
  EXPECT_NE(conf.find("listeners.tcp.default = 127.0.0.1:5673\n"), std::string::npos) << conf;
  EXPECT_EQ(EnabledPlugins(Options(0)), "[].\n");
}

TEST(BrokerConfig, EveryPathLivesUnderTheDirectory) {
  const BrokerPaths p = PathsFor(Options(0));
  EXPECT_EQ(p.home, "/data/var/rabbitmq");
  EXPECT_EQ(p.cookie, "/data/var/rabbitmq/.erlang.cookie");
  EXPECT_EQ(p.config, "/data/var/rabbitmq/rabbitmq.conf");
  EXPECT_EQ(p.enabled_plugins, "/data/var/rabbitmq/enabled_plugins");
  EXPECT_EQ(p.mnesia, "/data/var/rabbitmq/mnesia");
  EXPECT_EQ(p.log, "/data/var/rabbitmq/log");
  EXPECT_EQ(p.pid_file, "/data/var/rabbitmq/rabbitmq.pid");
}

TEST(BrokerConfig, EnvironmentPinsNodePortsAndLoopback) {
  const auto env = BrokerEnvironment(Options(0));
  EXPECT_EQ(env.at("HOME"), "/data/var/rabbitmq");
  EXPECT_EQ(env.at("RABBITMQ_NODENAME"), "warren@localhost");
  EXPECT_EQ(env.at("RABBITMQ_DIST_PORT"), "25673");
  EXPECT_EQ(env.at("ERL_EPMD_PORT"), "4370");
  EXPECT_EQ(env.at("ERL_EPMD_ADDRESS"), "127.0.0.1");
  EXPECT_EQ(env.at("ERL_CRASH_DUMP"), "/data/var/rabbitmq/log/erl_crash.dump");
  EXPECT_EQ(env.at("RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS"), "-kernel inet_dist_use_interface {127,0,0,1}");
  EXPECT_EQ(env.at("RABBITMQ_CONFIG_FILE"), "/data/var/rabbitmq/rabbitmq.conf");
  EXPECT_EQ(env.at("RABBITMQ_CONF_ENV_FILE"), "/data/var/rabbitmq/rabbitmq-env.conf");
  // rabbitmqctl's own distribution listener: kernel-chosen port, loopback.
  EXPECT_EQ(env.at("RABBITMQ_CTL_DIST_PORT_MIN"), "0");
  EXPECT_EQ(env.at("RABBITMQ_CTL_DIST_PORT_MAX"), "0");
  // The listener comes from rabbitmq.conf only; the env variable would add a second one.
  EXPECT_EQ(env.count("RABBITMQ_NODE_PORT"), 0U);
}

TEST(BrokerConfig, AmqpUrl) { EXPECT_EQ(AmqpUrlFor(5673), "amqp://guest:guest@127.0.0.1:5673/"); }

}  // namespace
}  // namespace warren::supervisor

namespace warren::supervisor {
namespace {

TEST(BrokerConfig, ResolvesLocalhostWithoutTheSystem) {
  BrokerOptions o;
  o.dir = "/srv/w/rabbitmq";
  const auto env = BrokerEnvironment(o);
  EXPECT_EQ(env.at("ERL_INETRC"), "/srv/w/rabbitmq/erl_inetrc");
  EXPECT_NE(ErlInetrc().find(R"({host, {127,0,0,1}, ["localhost"]}.)"), std::string::npos);
}

}  // namespace
}  // namespace warren::supervisor
