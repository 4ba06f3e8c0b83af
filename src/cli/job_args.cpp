#include "cli/job_args.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace warren::cli {

using nlohmann::json;

json ParseArgs(std::string_view text, const std::function<std::string()>& read_stdin) {
  std::string content;
  std::string source = "--args";
  if (text == "@-") {
    content = read_stdin();
    source = "--args @- (stdin)";
  } else if (text.starts_with("@")) {
    const std::string path(text.substr(1));
    std::ifstream file(path, std::ios::binary);
    if (!file) {
      throw UsageError(fmt::format("--args @{}: cannot read the file", path));
    }
    std::ostringstream buffer;
    buffer << file.rdbuf();
    content = buffer.str();
    source = "--args @" + path;
  } else {
    content = std::string(text);
  }
  try {
    return json::parse(content);
  } catch (const json::parse_error& e) {
    // nlohmann's message: "[json.exception.parse_error.101] parse error at line 1, column 2: ..."
    std::string why = e.what();
    if (const size_t at = why.find("parse error"); at != std::string::npos) {
      why = why.substr(at);
    }
    throw UsageError(fmt::format("{}: not valid JSON: {}", source, why));
  }
}

json JobSpecJson(const EnqueueOptions& options, const std::function<std::string()>& read_stdin) {
  json spec = {{"type", options.type}};
  if (options.args) {
    spec["args"] = ParseArgs(*options.args, read_stdin);
  }
  if (options.queue) {
    spec["queue"] = *options.queue;
  }
  if (options.delay) {
    spec["delay"] = *options.delay;
  }
  if (options.timeout) {
    spec["timeout"] = *options.timeout;
  }
  if (options.max_attempts) {
    spec["max_attempts"] = *options.max_attempts;
  }
  if (options.priority) {
    spec["priority"] = *options.priority;
  }
  if (options.idempotency_key) {
    spec["idempotency_key"] = *options.idempotency_key;
  }
  return spec;
}

}  // namespace warren::cli
