// `warren enqueue`'s flags, turned into the JSON body of POST /v1/jobs. Pure apart from reading the
// file of `--args @FILE`.
#pragma once

#include <functional>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace warren::cli {

// A usage error: bad flags or arguments (exit code 2).
class UsageError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// `--args`: a JSON literal, `@FILE` (the file's content), or `@-` (standard input, read by
// `read_stdin`). Throws UsageError with a one-line reason when the text is not JSON or nests deeper
// than the server accepts (JobLimits::max_json_depth).
nlohmann::json ParseArgs(std::string_view text, const std::function<std::string()>& read_stdin);

struct EnqueueOptions {
  std::string type;
  std::optional<std::string> args;  // as given to --args
  std::optional<std::string> queue;
  std::optional<std::string> delay;    // a duration: 10s, 1.5m (the API checks it)
  std::optional<std::string> timeout;  // a duration
  std::optional<int> max_attempts;
  std::optional<int> priority;  // the API checks the range (0..9)
  std::optional<std::string> idempotency_key;
};

// The body of POST /v1/jobs. Fields left out are left to the server's defaults.
nlohmann::json JobSpecJson(const EnqueueOptions& options, const std::function<std::string()>& read_stdin);

}  // namespace warren::cli
