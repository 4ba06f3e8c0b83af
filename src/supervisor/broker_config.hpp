// What a managed RabbitMQ node is told: its rabbitmq.conf, enabled_plugins and environment. Pure
// functions of BrokerOptions, so the files are unit-tested without starting anything.
//
// Everything lives under one directory (`warren up` uses DATA_DIR/rabbitmq):
//   .erlang.cookie       the node's and rabbitmqctl's shared secret (mode 400); this dir is their HOME
//   rabbitmq.conf        listeners, management, console logging: rewritten on every start
//   enabled_plugins      `[rabbitmq_management].` or `[].`
//   rabbitmq-env.conf    empty: keeps /etc/rabbitmq/rabbitmq-env.conf from overriding our environment
//   advanced.config      not written; used when the user puts one there
//   mnesia/  log/  rabbitmq.pid
//   processes            pids and start times of epmd and the broker's tree, while they run
#pragma once

#include <map>
#include <string>

namespace warren::supervisor {

struct BrokerOptions {
  std::string dir;  // absolute
  std::string node_name = "warren@localhost";
  unsigned short amqp_port = 5672;
  unsigned short management_port = 15672;  // 0: management plugin off (boots about a second faster)
  unsigned short dist_port = 25672;
  unsigned short epmd_port = 4369;
  std::string rabbitmq_bin_dir = "/usr/lib/rabbitmq/bin";  // Debian's scripts, run directly (no su)
  std::string console_log_level = "warning";               // the full log is in dir/log at info level
  // Several nodes of one cluster on one host (tests/support's TestCluster): they share one epmd, which
  // the first node runs and the others only use, and one Erlang cookie; extra rabbitmq.conf lines
  // (peer discovery) are appended.
  bool own_epmd = true;
  std::string cookie;      // empty: a random one, kept across restarts
  std::string extra_conf;  // appended to rabbitmq.conf
};

struct BrokerPaths {
  std::string home;
  std::string cookie;
  std::string config;
  std::string advanced_config;
  std::string enabled_plugins;
  std::string env_conf;
  std::string inetrc;  // Erlang's resolver config: `localhost` without /etc/hosts or DNS
  std::string mnesia;
  std::string log;
  std::string pid_file;
  std::string process_file;  // our record of the broker's processes (pid, start time)
};
BrokerPaths PathsFor(const BrokerOptions& options);

std::string RabbitmqConf(const BrokerOptions& options);
std::string EnabledPlugins(const BrokerOptions& options);
std::string ErlInetrc();
// The variables set for rabbitmq-server and rabbitmqctl alike (the rest of our environment is
// inherited, minus every RABBITMQ_* and ERL_* variable and NOTIFY_SOCKET).
std::map<std::string, std::string> BrokerEnvironment(const BrokerOptions& options);
std::string AmqpUrlFor(unsigned short amqp_port);  // amqp://guest:guest@127.0.0.1:PORT/

}  // namespace warren::supervisor
