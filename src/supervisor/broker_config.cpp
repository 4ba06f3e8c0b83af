#include "supervisor/broker_config.hpp"

#include <fmt/format.h>

namespace warren::supervisor {
namespace {

// Binds the Erlang distribution listener to loopback; without it, it listens on every interface.
constexpr const char* kLoopbackDist = "-kernel inet_dist_use_interface {127,0,0,1}";

}  // namespace

BrokerPaths PathsFor(const BrokerOptions& options) {
  const std::string& d = options.dir;
  return BrokerPaths{
      .home = d,
      .cookie = d + "/.erlang.cookie",
      .config = d + "/rabbitmq.conf",
      .advanced_config = d + "/advanced.config",
      .enabled_plugins = d + "/enabled_plugins",
      .env_conf = d + "/rabbitmq-env.conf",
      .inetrc = d + "/erl_inetrc",
      .mnesia = d + "/mnesia",
      .log = d + "/log",
      .pid_file = d + "/rabbitmq.pid",
      .process_file = d + "/processes",
  };
}

std::string RabbitmqConf(const BrokerOptions& options) {
  // Listeners come from this file only: setting RABBITMQ_NODE_PORT as well would make RabbitMQ start a
  // second listener on the same address and fail with eaddrinuse.
  std::string out =
      "# Written by warren on every start of the managed broker: change the [broker] settings instead.\n";
  out += fmt::format("listeners.tcp.default = 127.0.0.1:{}\n", options.amqp_port);
  out += "log.console = true\n";
  out += fmt::format("log.console.level = {}\n", options.console_log_level);
  // Its console output goes into our prefixed, interleaved log (often a file): no ANSI colours.
  out += "log.console.use_colors = off\n";
  if (options.management_port != 0) {
    // Only with the plugin enabled: RabbitMQ rejects management.* keys when the plugin is off.
    out += "management.tcp.ip = 127.0.0.1\n";
    out += fmt::format("management.tcp.port = {}\n", options.management_port);
  }
  out += options.extra_conf;
  return out;
}

std::string EnabledPlugins(const BrokerOptions& options) {
  return options.management_port != 0 ? "[rabbitmq_management].\n" : "[].\n";
}

std::string ErlInetrc() {
  // The node is name@localhost. A minimal system may have no /etc/hosts entry for localhost and no
  // DNS (seen on a fresh Debian root: boot failed with "epmd error for host localhost: nxdomain"), so
  // the VM gets its own answer first and the system's after.
  return "{host, {127,0,0,1}, [\"localhost\"]}.\n{lookup, [file, native]}.\n";
}

std::map<std::string, std::string> BrokerEnvironment(const BrokerOptions& options) {
  const BrokerPaths paths = PathsFor(options);
  return {
      // The Erlang cookie is read from $HOME by the node and by every rabbitmqctl call alike.
      {"HOME", paths.home},
      {"RABBITMQ_NODENAME", options.node_name},
      {"RABBITMQ_DIST_PORT", std::to_string(options.dist_port)},
      {"RABBITMQ_MNESIA_BASE", paths.mnesia},
      {"RABBITMQ_LOG_BASE", paths.log},
      {"RABBITMQ_PID_FILE", paths.pid_file},
      {"RABBITMQ_CONFIG_FILE", paths.config},
      {"RABBITMQ_ADVANCED_CONFIG_FILE", paths.advanced_config},
      {"RABBITMQ_ENABLED_PLUGINS_FILE", paths.enabled_plugins},
      {"RABBITMQ_CONF_ENV_FILE", paths.env_conf},
      {"RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS", kLoopbackDist},
      // rabbitmqctl is an Erlang node too. By default its distribution listener takes a port in
      // 35672..35682 on every interface, which can be the very port we picked for AMQP (seen: the
      // broker then fails with eaddrinuse). Port 0 lets the kernel choose; loopback only.
      {"RABBITMQ_CTL_ERL_ARGS", kLoopbackDist},
      {"RABBITMQ_CTL_DIST_PORT_MIN", "0"},
      {"RABBITMQ_CTL_DIST_PORT_MAX", "0"},
      // The VM writes erl_crash.dump into its working directory unless told otherwise.
      {"ERL_CRASH_DUMP", paths.log + "/erl_crash.dump"},
      {"ERL_EPMD_PORT", std::to_string(options.epmd_port)},
      {"ERL_EPMD_ADDRESS", "127.0.0.1"},
      {"ERL_INETRC", paths.inetrc},
  };
}

std::string AmqpUrlFor(unsigned short amqp_port) {
  return fmt::format("amqp://guest:guest@127.0.0.1:{}/", amqp_port);
}

}  // namespace warren::supervisor
