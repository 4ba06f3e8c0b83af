#include "core/config.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <set>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/log.hpp"
#include "core/names.hpp"
#include "core/periodic.hpp"

namespace warren {
namespace {

struct RawValue {
  std::vector<std::string> values;
  std::string source;  // "--listen", "WARREN_LISTEN", "/etc/warren.toml"
};

const std::vector<SettingKey> kKeys = {
    {"serve.listen", "WARREN_LISTEN", "listen", "HTTP address HOST:PORT"},
    {"serve.threads", "WARREN_SERVE_THREADS", "threads", "I/O threads of the HTTP API"},
    {"amqp.url", "WARREN_AMQP_URL", "amqp-url",
     "RabbitMQ URL amqp://user:pass@host:port/vhost; several (a cluster's nodes) comma-separated or repeated"},
    {"amqp.queue_type", "WARREN_QUEUE_TYPE", "queue-type",
     "classic, priority or quorum: how job, retry, dead and recorder queues are declared"},
    {"amqp.publish_timeout", "WARREN_PUBLISH_TIMEOUT", "publish-timeout",
     "longest wait for a publisher confirm"},
    {"amqp.heartbeat", "WARREN_HEARTBEAT", "heartbeat", "AMQP heartbeat interval (whole seconds)"},
    {"amqp.reconnect_max", "WARREN_RECONNECT_MAX", "reconnect-max", "cap of the reconnect backoff"},
    {"work.queues", "WARREN_QUEUES", "queue", "queues a worker consumes (repeat or comma-separate)"},
    {"work.queue_priorities", "WARREN_QUEUE_PRIORITIES", "queue-priority",
     "QUEUE=N: a queue is consumed only while queues of higher N have nothing ready (default 0; repeat or "
     "comma-separate)"},
    {"work.concurrency", "WARREN_CONCURRENCY", "concurrency", "jobs a worker runs at once"},
    {"work.type_limits", "WARREN_TYPE_LIMITS", "type-limit",
     "TYPE=N: at most N jobs of TYPE at once in a worker (repeat or comma-separate)"},
    {"work.grace", "WARREN_GRACE", "grace", "how long SIGTERM waits for running jobs"},
    {"work.kill_grace", "WARREN_KILL_GRACE", "kill-grace",
     "after a timeout or cancel: how long a job has to stop before it is killed"},
    {"retry.base", "WARREN_RETRY_BASE", "retry-base", "wait before the first retry (doubles each attempt)"},
    {"retry.cap", "WARREN_RETRY_CAP", "retry-cap", "longest wait between attempts"},
    {"retry.jitter", "WARREN_RETRY_JITTER", "retry-jitter", "fraction 0..1 by which each wait may be shortened"},
    {"up.workers", "WARREN_WORKERS", "workers", "worker processes `warren up` starts"},
    {"up.data_dir", "WARREN_DATA_DIR", "data-dir", "directory for the managed broker's data"},
    {"up.autoscale.min", "WARREN_AUTOSCALE_MIN", "autoscale-min", "fewest workers the autoscaler keeps"},
    {"up.autoscale.max", "WARREN_AUTOSCALE_MAX", "autoscale-max",
     "most workers the autoscaler starts (0: no autoscaling)"},
    {"up.autoscale.target_wait", "WARREN_AUTOSCALE_TARGET_WAIT", "autoscale-target-wait",
     "longest a job should wait for a worker; past it, or past one waiting job per free slot, workers are added"},
    {"up.autoscale.cooldown", "WARREN_AUTOSCALE_COOLDOWN", "autoscale-cooldown",
     "how long workers must be idle before the autoscaler removes them"},
    {"broker.port", "WARREN_BROKER_PORT", "broker-port", "AMQP port of the managed broker"},
    {"broker.management_port", "WARREN_MANAGEMENT_PORT", "management-port",
     "management console port of the managed broker (0: off)"},
    {"broker.dist_port", "WARREN_DIST_PORT", "dist-port", "Erlang distribution port of the managed broker"},
    {"broker.epmd_port", "WARREN_EPMD_PORT", "epmd-port", "epmd port of the managed broker"},
    {"store.url", "WARREN_STORE", "store", "job store: sqlite:PATH or postgresql://..."},
    {"store.keep_succeeded", "WARREN_KEEP_SUCCEEDED", "keep-succeeded", "how long succeeded jobs are kept"},
    {"store.keep_failed", "WARREN_KEEP_FAILED", "keep-failed", "how long dead, cancelled and expired jobs are kept"},
    {"store.log_lines", "WARREN_LOG_LINES", "log-lines",
     "a job's newest log lines kept for GET /v1/jobs/{id}/logs (0: none)"},
    {"api.max_body", "WARREN_MAX_BODY", "max-body", "largest request body in bytes"},
    {"api.max_batch", "WARREN_MAX_BATCH", "max-batch", "most jobs in one POST /v1/jobs/batch"},
    {"api.header_timeout", "WARREN_HEADER_TIMEOUT", "header-timeout",
     "longest a request's line and headers may take to arrive, from its first byte"},
    {"api.request_timeout", "WARREN_REQUEST_TIMEOUT", "request-timeout",
     "longest a whole request (headers and body) may take to arrive"},
    {"api.idle_timeout", "WARREN_IDLE_TIMEOUT", "idle-timeout",
     "how long a keep-alive connection may wait for its next request"},
    {"api.max_connections", "WARREN_MAX_CONNECTIONS", "max-connections",
     "most open HTTP connections; more are closed as soon as they are accepted"},
    {"api.tokens", "WARREN_TOKENS", "token", "bearer tokens as SECRET:SCOPE[+SCOPE] (read, enqueue, admin)"},
    {"api.insecure", "WARREN_INSECURE", "insecure", "listen beyond loopback without tokens (true/false)"},
    {"api.job_types", "WARREN_JOB_TYPES", "job-type", "the only job types POST /v1/jobs accepts (default: any)"},
    {"log.level", "WARREN_LOG_LEVEL", "log-level", "trace, debug, info, warn, error"},
    {"log.format", "WARREN_LOG_FORMAT", "log-format", "text or json"},
};

std::vector<std::string> SplitList(const std::vector<std::string>& values) {
  std::vector<std::string> out;
  for (const auto& v : values) {
    size_t start = 0;
    while (start <= v.size()) {
      const size_t comma = v.find(',', start);
      const size_t end = comma == std::string::npos ? v.size() : comma;
      std::string item = v.substr(start, end - start);
      if (!item.empty()) {
        out.push_back(std::move(item));
      }
      if (comma == std::string::npos) {
        break;
      }
      start = comma + 1;
    }
  }
  return out;
}

// Reads the TOML file into raw values; unknown keys are errors so typos do not pass silently.
// [jobs] is parsed whole into `command_jobs`, [[periodic]] into `periodic`.
std::map<std::string, RawValue> ReadConfigFile(const std::string& path,
                                               std::map<std::string, CommandJob>& command_jobs,
                                               std::vector<PeriodicJob>& periodic) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw ConfigError(fmt::format("config: {}:{}:{}: {}", path, where.line, where.column, e.description()));
  }
  std::set<std::string> known;
  for (const auto& k : kKeys) {
    known.insert(k.key);
  }
  std::map<std::string, RawValue> out;
  for (const auto& [section, node] : table) {
    const std::string section_name(section.str());
    if (section_name == "periodic") {
      const auto* entries = node.as_array();
      if (entries == nullptr) {
        throw ConfigError(fmt::format("config: {}: periodic jobs are [[periodic]] tables", path));
      }
      try {
        periodic = ParsePeriodicJobs(*entries);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("config: {}: {}", path, e.what()));
      }
      continue;
    }
    const auto* inner = node.as_table();
    if (inner == nullptr) {
      throw ConfigError(fmt::format("config: {}: key '{}' is not a [section]", path, section_name));
    }
    if (section_name == "jobs") {
      try {
        command_jobs = ParseCommandJobs(*inner);
      } catch (const ConfigError& e) {
        throw ConfigError(fmt::format("config: {}: {}", path, e.what()));
      }
      continue;
    }
    // One level of nesting: `autoscale = { min = 1 }` (or [up.autoscale]) gives the key up.autoscale.min.
    std::vector<std::pair<std::string, const toml::node*>> entries;
    for (const auto& [name, value] : *inner) {
      const std::string key = section_name + "." + std::string(name.str());
      if (const auto* nested = value.as_table()) {
        for (const auto& [inner_name, inner_value] : *nested) {
          entries.emplace_back(key + "." + std::string(inner_name.str()), &inner_value);
        }
      } else {
        entries.emplace_back(key, &value);
      }
    }
    // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture one.
    for (const auto& entry : entries) {
      const std::string& key = entry.first;
      const toml::node& value = *entry.second;
      if (!known.contains(key)) {
        throw ConfigError(fmt::format("config: {}: unknown key '{}'", path, key));
      }
      RawValue raw{{}, path};
      auto scalar = [&](const toml::node& n) -> std::string {
        if (auto s = n.value<std::string>()) {
          return *s;
        }
        if (n.is_integer()) {
          return std::to_string(*n.value<int64_t>());
        }
        if (n.is_floating_point()) {
          return fmt::format("{}", *n.value<double>());
        }
        if (auto b = n.value<bool>()) {
          return *b ? "true" : "false";
        }
        throw ConfigError(fmt::format("config: {} (from {}): unsupported value type", key, path));
      };
      if (const auto* arr = value.as_array()) {
        for (const auto& item : *arr) {
          raw.values.push_back(scalar(item));
        }
      } else {
        raw.values.push_back(scalar(value));
      }
      out[key] = std::move(raw);
    }
  }
  return out;
}

template <typename Int>
Int ParseInt(const std::string& text, Int lo, Int hi) {
  long long value = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (ec != std::errc{} || ptr != text.data() + text.size()) {
    throw std::invalid_argument(fmt::format("expected an integer, got '{}'", text));
  }
  if (value < static_cast<long long>(lo) || value > static_cast<long long>(hi)) {
    throw std::invalid_argument(fmt::format("{} is out of range {}..{}", value, lo, hi));
  }
  return static_cast<Int>(value);
}

// NAME=N items (repeated or comma-separated): `kind` names NAME in the message, `invalid` checks it.
std::map<std::string, int> ParseNamedInts(const std::vector<std::string>& values, std::string_view kind,
                                          std::optional<std::string> (*invalid)(std::string_view), int min,
                                          int max) {
  std::map<std::string, int> out;
  for (const auto& item : SplitList(values)) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos) {
      throw std::invalid_argument(fmt::format("'{}' is not {}=N", item, kind));
    }
    const std::string name = item.substr(0, eq);
    if (auto why = invalid(name)) {
      throw std::invalid_argument(*why);
    }
    out[name] = ParseInt<int>(item.substr(eq + 1), min, max);
  }
  return out;
}

Duration ParseDurationOrThrow(const std::string& text) {
  auto d = ParseDuration(text);
  if (!d) {
    throw std::invalid_argument(fmt::format("expected a duration such as 30, 250ms, 1.5s, 10m, got '{}'", text));
  }
  return *d;
}

unsigned short ParsePort(const std::string& text, bool allow_zero) {
  return ParseInt<unsigned short>(text, allow_zero ? 0 : 1, 65535);
}

bool ParseBool(const std::string& text) {
  if (text == "true" || text == "1" || text == "yes") {
    return true;
  }
  if (text == "false" || text == "0" || text == "no") {
    return false;
  }
  throw std::invalid_argument(fmt::format("expected true or false, got '{}'", text));
}

// SECRET:SCOPE[+SCOPE...]. The secret never appears in an error message.
ApiToken ParseToken(const std::string& entry) {
  const auto colon = entry.rfind(':');
  if (colon == std::string::npos || colon == 0 || colon + 1 == entry.size()) {
    throw std::invalid_argument("each token must be SECRET:SCOPE[+SCOPE], scopes read, enqueue, admin");
  }
  ApiToken token{entry.substr(0, colon), {}};
  if (token.secret.size() < 16) {
    throw std::invalid_argument("a token secret must be at least 16 characters");
  }
  std::string scopes = entry.substr(colon + 1);
  size_t start = 0;
  while (start <= scopes.size()) {
    const auto plus = scopes.find('+', start);
    const std::string scope = scopes.substr(start, plus == std::string::npos ? std::string::npos : plus - start);
    if (scope == "read") {
      token.scopes.push_back(Scope::kRead);
    } else if (scope == "enqueue") {
      token.scopes.push_back(Scope::kEnqueue);
    } else if (scope == "admin") {
      token.scopes.push_back(Scope::kAdmin);
    } else {
      throw std::invalid_argument(fmt::format("unknown token scope '{}' (read, enqueue, admin)", scope));
    }
    if (plus == std::string::npos) {
      break;
    }
    start = plus + 1;
  }
  return token;
}

}  // namespace

bool HasScope(const ApiToken& token, Scope scope) {
  for (const Scope s : token.scopes) {
    if (s == scope || s == Scope::kAdmin) {
      return true;
    }
  }
  return false;
}

std::string HostPort::ToString() const {
  return host.find(':') != std::string::npos ? fmt::format("[{}]:{}", host, port)
                                             : fmt::format("{}:{}", host, port);
}

HostPort ParseHostPort(const std::string& text) {
  const auto colon = text.rfind(':');
  if (colon == std::string::npos || colon == 0) {
    throw std::invalid_argument(fmt::format("expected HOST:PORT, got '{}'", text));
  }
  std::string host = text.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  return HostPort{host, ParsePort(text.substr(colon + 1), true)};
}

const std::vector<SettingKey>& AllSettingKeys() { return kKeys; }

std::optional<std::string> ProcessEnv(const std::string& name) {
  const char* value = std::getenv(name.c_str());
  if (value == nullptr) {
    return std::nullopt;
  }
  return std::string(value);
}

Settings LoadSettings(const FlagValues& flags, const EnvLookup& env) {
  std::optional<std::string> config_path;
  if (auto it = flags.find("config"); it != flags.end() && !it->second.empty()) {
    config_path = it->second.back();
  } else if (auto e = env("WARREN_CONFIG"); e && !e->empty()) {
    config_path = *e;
  }
  std::map<std::string, RawValue> raw;
  std::map<std::string, CommandJob> command_jobs;
  std::vector<PeriodicJob> periodic;
  if (config_path) {
    raw = ReadConfigFile(*config_path, command_jobs, periodic);
  }
  for (const auto& k : kKeys) {
    if (auto e = env(k.env)) {
      raw[k.key] = RawValue{{*e}, k.env};
    }
    if (auto it = flags.find(k.key); it != flags.end() && !it->second.empty()) {
      raw[k.key] = RawValue{it->second, "--" + k.flag};
    }
  }

  Settings s;
  s.command_jobs = std::move(command_jobs);
  s.periodic = std::move(periodic);
  for (const auto& [key, value] : raw) {
    const std::string text = value.values.empty() ? "" : value.values.back();
    try {
      if (key == "serve.listen") {
        s.listen = ParseHostPort(text);
      } else if (key == "serve.threads") {
        s.serve_threads = ParseInt<int>(text, 1, 64);
      } else if (key == "amqp.url") {
        const auto urls = SplitList(value.values);
        if (urls.empty()) {
          throw std::invalid_argument("expected amqp://user:pass@host:port/vhost");
        }
        std::string joined;
        for (const auto& url : urls) {
          // The rest (TLS parameters, readable files) is checked where AMQP URLs are understood: the
          // processes that connect check them at start-up (amqp::SplitAmqpUrls).
          if (url.rfind("amqp://", 0) != 0 && url.rfind("amqps://", 0) != 0) {
            throw std::invalid_argument(
                fmt::format("expected amqp://user:pass@host:port/vhost or amqps://..., got '{}'", RedactedUrl(url)));
          }
          joined += joined.empty() ? url : "," + url;
        }
        s.amqp_url = joined;
        s.amqp_url_is_set = true;
      } else if (key == "amqp.queue_type") {
        if (text == "classic") {
          s.queue_type = QueueType::kClassic;
        } else if (text == "priority") {
          s.queue_type = QueueType::kPriority;
        } else if (text == "quorum") {
          s.queue_type = QueueType::kQuorum;
        } else {
          throw std::invalid_argument(fmt::format("expected classic, priority or quorum, got '{}'", text));
        }
      } else if (key == "amqp.publish_timeout") {
        s.publish_timeout = ParseDurationOrThrow(text);
        if (s.publish_timeout.count() == 0) {
          throw std::invalid_argument("must be more than 0");
        }
      } else if (key == "amqp.heartbeat") {
        s.heartbeat = ParseDurationOrThrow(text);
        if (s.heartbeat.count() % 1000 != 0 || s.heartbeat > std::chrono::hours(1)) {
          throw std::invalid_argument("must be whole seconds, at most 1h (0 turns heartbeats off)");
        }
      } else if (key == "amqp.reconnect_max") {
        s.reconnect_max = ParseDurationOrThrow(text);
        if (s.reconnect_max.count() < 100) {
          throw std::invalid_argument("must be at least 100ms");
        }
      } else if (key == "work.queues") {
        auto queues = SplitList(value.values);
        if (queues.empty()) {
          throw std::invalid_argument("needs at least one queue");
        }
        for (const auto& q : queues) {
          if (auto why = InvalidJobQueueName(q)) {
            throw std::invalid_argument(*why);
          }
        }
        s.queues = std::move(queues);
      } else if (key == "work.concurrency") {
        s.concurrency = ParseInt<int>(text, 1, 1024);
      } else if (key == "work.queue_priorities") {
        s.queue_priorities = ParseNamedInts(value.values, "QUEUE", InvalidJobQueueName, 0, kMaxQueuePriority);
      } else if (key == "work.type_limits") {
        s.type_limits = ParseNamedInts(value.values, "TYPE", InvalidTypeName, 1, 1024);
      } else if (key == "work.grace") {
        s.grace = ParseDurationOrThrow(text);
      } else if (key == "work.kill_grace") {
        s.kill_grace = ParseDurationOrThrow(text);
        if (s.kill_grace.count() == 0) {
          throw std::invalid_argument("must be more than 0");
        }
      } else if (key == "retry.base") {
        s.retry.base = ParseDurationOrThrow(text);
      } else if (key == "retry.cap") {
        s.retry.cap = ParseDurationOrThrow(text);
      } else if (key == "retry.jitter") {
        double jitter = 0;
        auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), jitter);
        if (ec != std::errc{} || ptr != text.data() + text.size() || !(jitter >= 0 && jitter <= 1)) {
          throw std::invalid_argument("must be a number from 0 to 1");
        }
        s.retry.jitter = jitter;
      } else if (key == "up.workers") {
        s.workers = ParseInt<int>(text, 0, kMaxUpWorkers);
      } else if (key == "up.autoscale.min") {
        s.autoscale.min = ParseInt<int>(text, 0, kMaxUpWorkers);
      } else if (key == "up.autoscale.max") {
        s.autoscale.max = ParseInt<int>(text, 0, kMaxUpWorkers);
      } else if (key == "up.autoscale.target_wait") {
        s.autoscale.target_wait = ParseDurationOrThrow(text);
        if (s.autoscale.target_wait.count() == 0) {
          throw std::invalid_argument("must be more than 0");
        }
      } else if (key == "up.autoscale.cooldown") {
        s.autoscale.cooldown = ParseDurationOrThrow(text);
      } else if (key == "up.data_dir") {
        if (text.empty()) {
          throw std::invalid_argument("must not be empty");
        }
        s.data_dir = text;
      } else if (key == "broker.port") {
        s.broker_port = ParsePort(text, false);
      } else if (key == "broker.management_port") {
        s.management_port = ParsePort(text, true);
      } else if (key == "broker.dist_port") {
        s.dist_port = ParsePort(text, false);
      } else if (key == "broker.epmd_port") {
        s.epmd_port = ParsePort(text, false);
      } else if (key == "store.url") {
        if (!text.starts_with("sqlite:") && !text.starts_with("postgresql://") && !text.starts_with("postgres://")) {
          throw std::invalid_argument(fmt::format("expected sqlite:PATH or postgresql://..., got '{}'", text));
        }
        s.store_url = text;
      } else if (key == "store.keep_succeeded") {
        s.keep_succeeded = ParseDurationOrThrow(text);
      } else if (key == "store.keep_failed") {
        s.keep_failed = ParseDurationOrThrow(text);
      } else if (key == "store.log_lines") {
        s.log_lines = ParseInt<size_t>(text, 0, 1'000'000);
      } else if (key == "api.max_body") {
        s.max_body = ParseInt<size_t>(text, 1024, size_t{1} << 30);
      } else if (key == "api.max_batch") {
        s.max_batch = ParseInt<size_t>(text, 1, 100'000);
      } else if (key == "api.header_timeout" || key == "api.request_timeout" || key == "api.idle_timeout") {
        const Duration d = ParseDurationOrThrow(text);
        if (d < std::chrono::milliseconds(100)) {
          throw std::invalid_argument("must be at least 100ms");
        }
        (key == "api.header_timeout" ? s.header_timeout : key == "api.request_timeout" ? s.request_timeout
                                                                                       : s.idle_timeout) = d;
      } else if (key == "api.max_connections") {
        s.max_connections = ParseInt<size_t>(text, 1, 1'000'000);
      } else if (key == "api.tokens") {
        s.tokens.clear();
        for (const auto& entry : SplitList(value.values)) {
          s.tokens.push_back(ParseToken(entry));
        }
      } else if (key == "api.insecure") {
        s.insecure = ParseBool(text);
      } else if (key == "api.job_types") {
        s.job_types = SplitList(value.values);
        for (const auto& t : s.job_types) {
          if (auto why = InvalidTypeName(t)) {
            throw std::invalid_argument(*why);
          }
        }
      } else if (key == "log.level") {
        static const std::set<std::string> kLevels{"trace", "debug", "info", "warn", "error", "off"};
        if (!kLevels.contains(text)) {
          throw std::invalid_argument(fmt::format("expected one of trace, debug, info, warn, error, off; got '{}'", text));
        }
        s.log_level = text;
      } else if (key == "log.format") {
        if (text != "text" && text != "json") {
          throw std::invalid_argument(fmt::format("expected text or json, got '{}'", text));
        }
        s.log_format = text;
      }
    } catch (const std::invalid_argument& e) {
      throw ConfigError(fmt::format("config: {} (from {}): {}", key, value.source, e.what()));
    }
  }
  for (const auto& [queue, priority] : s.queue_priorities) {
    if (std::find(s.queues.begin(), s.queues.end(), queue) == s.queues.end()) {
      throw ConfigError(fmt::format("config: work.queue_priorities names '{}', which is not one of work.queues ({})",
                                    queue, fmt::join(s.queues, ", ")));
    }
  }
  if (s.autoscale.max > 0 && s.autoscale.min > s.autoscale.max) {
    throw ConfigError(fmt::format("config: up.autoscale.min ({}) is more than up.autoscale.max ({})", s.autoscale.min,
                                  s.autoscale.max));
  }
  // A periodic job is enqueued as POST /v1/jobs would enqueue it: only a type the API accepts, and a
  // command type's max_attempts and timeout where the [[periodic]] table gives none.
  for (size_t i = 0; i < s.periodic.size(); ++i) {
    auto& job = s.periodic[i];
    if (!s.job_types.empty() &&
        std::find(s.job_types.begin(), s.job_types.end(), job.type) == s.job_types.end()) {
      throw ConfigError(fmt::format("config: periodic[{}].type: '{}' is not one of api.job_types ({})", i,
                                    job.type, fmt::join(s.job_types, ", ")));
    }
    if (auto it = s.command_jobs.find(job.type); it != s.command_jobs.end()) {
      job.max_attempts = job.max_attempts ? job.max_attempts : it->second.max_attempts;
      job.timeout = job.timeout ? job.timeout : it->second.timeout;
    }
  }
  return s;
}

}  // namespace warren
