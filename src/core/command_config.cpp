#include "core/command_config.hpp"

#include <array>
#include <charconv>
#include <limits>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "core/command_template_syntax.hpp"
#include "core/config.hpp"
#include "core/names.hpp"

namespace warren {
namespace {

// Matches JobLimits::max_attempts_limit's default, so a command job asks for nothing the API refuses.
constexpr int kMaxAttempts = 100;
// Below this a program cannot even be loaded; a bare `512` almost surely meant 512MiB.
constexpr uint64_t kMinMemoryLimit = uint64_t{1} << 20;

// The variables the runner sets itself; a config must not pretend to set them.
constexpr std::array<std::string_view, 4> kReservedEnv = {"WARREN_JOB_ID", "WARREN_JOB_TYPE", "WARREN_QUEUE",
                                                          "WARREN_ATTEMPT"};

[[noreturn]] void Fail(std::string_view key, std::string_view why) {
  throw ConfigError(fmt::format("{}: {}", key, why));
}

// A value as the user wrote it, for error messages: strings quoted, the rest as TOML prints it.
std::string Show(const toml::node& node) {
  if (const auto* s = node.as_string()) {
    return fmt::format("\"{}\"", s->get());
  }
  if (const auto* i = node.as_integer()) {
    return std::to_string(i->get());
  }
  if (const auto* f = node.as_floating_point()) {
    return fmt::format("{}", f->get());
  }
  if (const auto* b = node.as_boolean()) {
    return b->get() ? "true" : "false";
  }
  if (node.is_array()) {
    return "an array";
  }
  if (node.is_table()) {
    return "a table";
  }
  return "a date or time";
}

std::string String(const toml::node& node, const std::string& key) {
  const auto* s = node.as_string();
  if (s == nullptr) {
    Fail(key, fmt::format("{} is not a string", Show(node)));
  }
  if (s->get().find('\0') != std::string::npos) {
    Fail(key, "contains a NUL byte");
  }
  return s->get();
}

Duration PositiveDuration(const toml::node& node, const std::string& key) {
  std::optional<Duration> d;
  if (const auto* s = node.as_string()) {
    d = ParseDuration(s->get());
  } else if (const auto* i = node.as_integer()) {
    d = DurationFromSeconds(static_cast<double>(i->get()));
  } else if (const auto* f = node.as_floating_point()) {
    d = DurationFromSeconds(f->get());
  }
  if (!d) {
    Fail(key,
         fmt::format(
             "{} is not a duration (a number of seconds, or such as \"250ms\", \"1.5s\", \"10m\", \"2h\")",
             Show(node)));
  }
  if (d->count() <= 0) {
    Fail(key, "must be more than 0");
  }
  return *d;
}

std::vector<std::string> Command(const toml::node& node, const std::string& key) {
  const auto* arr = node.as_array();
  if (arr == nullptr || arr->empty()) {
    Fail(key, "must be a non-empty array of strings, the program (an absolute path) first");
  }
  std::vector<std::string> command;
  for (size_t i = 0; i < arr->size(); ++i) {
    command.push_back(String(*arr->get(i), fmt::format("{}[{}]", key, i)));
  }
  if (auto why = ValidateTemplate(command)) {
    // `key` is "jobs.T.command" and ValidateTemplate's messages start with "command[i]: ".
    throw ConfigError(key.substr(0, key.size() - std::string_view("command").size()) + *why);
  }
  return command;
}

std::map<std::string, std::string> Env(const toml::node& node, const std::string& key) {
  const auto* table = node.as_table();
  if (table == nullptr) {
    Fail(key, fmt::format("{} is not a table of strings, such as {{ LANG = \"C\" }}", Show(node)));
  }
  std::map<std::string, std::string> env;
  for (const auto& [name_key, value] : *table) {
    const std::string name(name_key.str());
    const std::string item_key = fmt::format("{}.{}", key, name);
    if (name.empty() || name.find_first_of(std::string_view("=\0", 2)) != std::string::npos) {
      Fail(item_key, "an environment variable name must be non-empty, without = or NUL");
    }
    for (const auto reserved : kReservedEnv) {
      if (name == reserved) {
        Fail(item_key, "is set by the worker for every job");
      }
    }
    env[name] = String(value, item_key);
  }
  return env;
}

CommandJob ParseJob(const std::string& type, const toml::node& node) {
  const std::string prefix = "jobs." + type;
  if (auto why = InvalidTypeName(type)) {
    Fail(prefix, *why);
  }
  const auto* table = node.as_table();
  if (table == nullptr) {
    Fail(prefix, fmt::format("{} is not a table: write [jobs.{}] with a command", Show(node), type));
  }
  CommandJob job;
  job.type = type;
  for (const auto& [name_key, value] : *table) {
    const std::string name(name_key.str());
    const std::string key = fmt::format("{}.{}", prefix, name);
    if (name == "command") {
      job.command = Command(value, key);
    } else if (name == "timeout") {
      job.timeout = PositiveDuration(value, key);
    } else if (name == "max_attempts") {
      const auto* i = value.as_integer();
      if (i == nullptr || i->get() < 1 || i->get() > kMaxAttempts) {
        Fail(key, fmt::format("{} is not an integer from 1 to {}", Show(value), kMaxAttempts));
      }
      job.max_attempts = static_cast<int>(i->get());
    } else if (name == "memory_limit") {
      std::optional<uint64_t> bytes;
      if (const auto* i = value.as_integer()) {
        if (i->get() > 0) {
          bytes = static_cast<uint64_t>(i->get());
        }
      } else if (const auto* s = value.as_string()) {
        bytes = ParseByteSize(s->get());
      }
      if (!bytes) {
        Fail(key, fmt::format("{} is not a size (bytes, or such as \"512MiB\", \"2G\")", Show(value)));
      }
      if (*bytes < kMinMemoryLimit) {
        Fail(key, fmt::format("{} is less than 1MiB", Show(value)));
      }
      job.memory_limit = bytes;
    } else if (name == "cpu_limit") {
      job.cpu_limit = PositiveDuration(value, key);
    } else if (name == "env") {
      job.env = Env(value, key);
    } else if (name == "cwd") {
      job.cwd = String(value, key);
      if (!job.cwd->starts_with('/')) {
        Fail(key, fmt::format("\"{}\" is not an absolute path", *job.cwd));
      }
    } else {
      Fail(key, "unknown key (known: command, timeout, max_attempts, memory_limit, cpu_limit, env, cwd)");
    }
  }
  if (job.command.empty()) {
    Fail(prefix + ".command", "is required");
  }
  return job;
}

}  // namespace

std::optional<uint64_t> ParseByteSize(std::string_view text) {
  uint64_t value = 0;
  const auto* end = text.data() + text.size();
  auto [ptr, ec] = std::from_chars(text.data(), end, value);
  if (ec != std::errc{} || ptr == text.data() || value == 0) {
    return std::nullopt;
  }
  const std::string_view unit(ptr, static_cast<size_t>(end - ptr));
  uint64_t factor = 0;
  if (unit.empty()) {
    factor = 1;
  } else if (unit == "K") {
    factor = 1000;
  } else if (unit == "M") {
    factor = uint64_t{1000} * 1000;
  } else if (unit == "G") {
    factor = uint64_t{1000} * 1000 * 1000;
  } else if (unit == "KiB") {
    factor = uint64_t{1} << 10;
  } else if (unit == "MiB") {
    factor = uint64_t{1} << 20;
  } else if (unit == "GiB") {
    factor = uint64_t{1} << 30;
  } else {
    return std::nullopt;
  }
  if (value > std::numeric_limits<uint64_t>::max() / factor) {
    return std::nullopt;
  }
  return value * factor;
}

std::map<std::string, CommandJob> ParseCommandJobs(const toml::table& jobs_table) {
  std::map<std::string, CommandJob> jobs;
  for (const auto& [type, node] : jobs_table) {
    const std::string name(type.str());
    jobs[name] = ParseJob(name, node);
  }
  return jobs;
}

}  // namespace warren
