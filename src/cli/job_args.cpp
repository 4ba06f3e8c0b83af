#include "cli/job_args.hpp"

#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "core/job.hpp"
#include "core/json_depth.hpp"

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
  // The server's own limit: deeper args would be refused anyway, and dumping a document nested
  // 100,000 deep to send it would overflow the stack.
  const size_t max_depth = JobLimits{}.max_json_depth;
  auto parsed = ParseBoundedJson(content, max_depth);
  if (parsed.too_deep) {
    throw UsageError(fmt::format("{}: nests deeper than {} levels", source, max_depth));
  }
  if (!parsed.value) {
    // nlohmann's message: "parse error at line 1, column 2: ..."
    std::string why = parsed.error;
    if (const size_t at = why.find("parse error"); at != std::string::npos) {
      why = why.substr(at);
    }
    throw UsageError(fmt::format("{}: not valid JSON: {}", source, why));
  }
  return std::move(*parsed.value);
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
