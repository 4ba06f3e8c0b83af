// Command jobs: job types that run a program, registered in the TOML file's [jobs] table:
//
//   [jobs.resize]
//   command = ["/usr/bin/convert", "{args.src}", "-resize", "{args.size}", "{args.dst}"]
//   timeout = "30s"
//   memory_limit = "512MiB"
//
// Only the file can set them: a program to run is too much power for a flag or an environment variable.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/duration.hpp"

// toml.h is large and only command_config.cpp and config.cpp need it; config.hpp includes this header.
namespace toml {
inline namespace v3 {
class table;
}  // namespace v3
}  // namespace toml

namespace warren {

struct CommandJob {
  std::string type;                      // the key under [jobs]
  std::vector<std::string> command;      // argv template, see core/command_template_syntax.hpp
  std::optional<Duration> timeout;       // > 0
  std::optional<int> max_attempts;       // 1..100
  std::optional<uint64_t> memory_limit;  // bytes of address space (RLIMIT_AS), at least 1 MiB
  std::optional<Duration> cpu_limit;     // CPU time (RLIMIT_CPU), rounded up to whole seconds when applied
  std::map<std::string, std::string> env;
  std::optional<std::string> cwd;  // absolute
};

// Parses the [jobs] table. Throws ConfigError with one line naming the key, such as
// `jobs.resize.timeout: "abc" is not a duration`.
std::map<std::string, CommandJob> ParseCommandJobs(const toml::table& jobs_table);

// "512MiB" → 536870912. Suffixes K M G are powers of 1000, KiB MiB GiB powers of 1024; none means bytes.
std::optional<uint64_t> ParseByteSize(std::string_view text);

}  // namespace warren
