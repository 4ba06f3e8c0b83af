// Settings for every subcommand, resolved flag > environment > TOML file > default.
// A bad value fails at start-up with one line naming the key, where it came from and why.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/command_config.hpp"
#include "core/duration.hpp"
#include "core/periodic.hpp"
#include "core/queue_type.hpp"
#include "core/retry.hpp"

namespace warren {

class ConfigError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct HostPort {
  std::string host;
  unsigned short port = 0;
  std::string ToString() const;
};

enum class Scope { kRead, kEnqueue, kAdmin };
struct ApiToken {
  std::string secret;
  std::vector<Scope> scopes;  // admin implies the others
};

// The most worker processes `warren up` runs (config, autoscaler, `warren scale`).
inline constexpr int kMaxUpWorkers = 256;
inline constexpr int kMaxQueuePriority = 255;  // work.queue_priorities: 0..255

struct Settings {
  // [serve]
  HostPort listen{"127.0.0.1", 5000};
  int serve_threads = 2;  // HTTP I/O threads
  // [amqp]
  // One broker URL, or the nodes of a cluster comma-separated: connections try them in turn and move
  // to the next when one fails.
  std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/";
  bool amqp_url_is_set = false;  // set by flag, env or file: `warren up` then starts no broker
  QueueType queue_type = QueueType::kClassic;  // how Warren's durable queues are declared
  Duration publish_timeout{5000};
  Duration heartbeat{10000};
  Duration reconnect_max{5000};
  // [work]
  std::vector<std::string> queues{"default", "task_queue"};
  // Queue -> priority (unnamed queues 0): a queue is consumed only while the queues of every higher
  // priority have nothing ready (worker/queue_gate.hpp).
  std::map<std::string, int> queue_priorities;
  int concurrency = 1;
  std::map<std::string, int> type_limits;  // at most N jobs of a type at once in one worker
  Duration grace{30000};
  Duration kill_grace{10000};
  // [retry]
  RetryPolicy retry;
  // [up]
  int workers = 2;
  // [up] autoscale = { min, max, target_wait, cooldown }: off while max is 0.
  struct Autoscale {
    int min = 1;
    int max = 0;
    Duration target_wait{10'000};
    Duration cooldown{60'000};
  } autoscale;
  std::string data_dir = "./var";
  // [broker] the broker `warren up` manages
  unsigned short broker_port = 5672;
  unsigned short management_port = 15672;  // 0 disables the management plugin
  unsigned short dist_port = 25672;
  unsigned short epmd_port = 4369;
  // [store]
  std::string store_url = "sqlite:./var/warren.db";
  Duration keep_succeeded{std::chrono::hours(24)};
  Duration keep_failed{std::chrono::hours(24 * 7)};  // dead, cancelled, expired
  size_t log_lines = 1000;  // a job's newest log lines kept (GET /v1/jobs/{id}/logs); 0: none
  // [api]
  size_t max_body = 1024 * 1024;
  size_t max_batch = 1000;
  // Slow or silent clients cannot hold the server: a request's headers must arrive within
  // header_timeout of its first byte, the whole request within request_timeout, the next request on a
  // keep-alive connection within idle_timeout; past max_connections new connections are closed.
  Duration header_timeout{10'000};
  Duration request_timeout{30'000};
  Duration idle_timeout{60'000};
  size_t max_connections = 10'000;
  std::vector<ApiToken> tokens;         // none: no auth (loopback only unless insecure)
  bool insecure = false;                // allow a non-loopback listen address without tokens
  std::vector<std::string> job_types;   // when set, POST /v1/jobs rejects other types with 422
  // [log]
  std::string log_level = "info";
  std::string log_format = "text";
  // [jobs.TYPE] command jobs, from the TOML file only
  std::map<std::string, CommandJob> command_jobs;
  // [[periodic]]: cron schedules `serve` enqueues (core/periodic.hpp)
  std::vector<PeriodicJob> periodic;
};

// One setting's definition: its TOML key (`section.name`), environment variable and flag name.
struct SettingKey {
  std::string key;
  std::string env;
  std::string flag;
  std::string help;
};
const std::vector<SettingKey>& AllSettingKeys();

// Raw values given on the command line, by TOML key. A repeated flag gives several values.
using FlagValues = std::map<std::string, std::vector<std::string>>;
using EnvLookup = std::function<std::optional<std::string>(const std::string&)>;

// The process environment.
std::optional<std::string> ProcessEnv(const std::string& name);

// Resolves every setting. The config file comes from `--config` (FlagValues key "config"),
// else WARREN_CONFIG, else none. Throws ConfigError.
Settings LoadSettings(const FlagValues& flags, const EnvLookup& env = ProcessEnv);

HostPort ParseHostPort(const std::string& text);  // throws std::invalid_argument
bool HasScope(const ApiToken& token, Scope scope);  // admin grants every scope

}  // namespace warren
