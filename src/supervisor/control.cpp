#include "supervisor/control.hpp"

#include <signal.h>

#include <algorithm>
#include <charconv>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

namespace warren::supervisor {

StackPaths PathsFor(const Settings& settings) {
  const auto dir = std::filesystem::absolute(settings.data_dir).lexically_normal();
  return {(dir / "warren-up.pid").string(), (dir / "warren-up.sock").string(),
          (dir / "warren-up.log").string()};
}

std::variant<int, std::string> ParseScaleArgument(std::string_view argument) {
  constexpr std::string_view kPrefix = "workers=";
  if (!argument.starts_with(kPrefix)) {
    return fmt::format("expected workers=N, got '{}'", argument.substr(0, 40));
  }
  const std::string_view number = argument.substr(kPrefix.size());
  int workers = -1;
  const auto [ptr, ec] = std::from_chars(number.data(), number.data() + number.size(), workers);
  if (ec != std::errc() || ptr != number.data() + number.size() || number.empty() || workers < 0 ||
      workers > kMaxWorkers) {
    return fmt::format("workers: expected a whole number 0..{}, got '{}'", kMaxWorkers, number.substr(0, 40));
  }
  return workers;
}

std::variant<ControlCommand, std::string> ParseControlLine(std::string_view line) {
  while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) {
    line.remove_suffix(1);
  }
  if (line == "status") {
    return ControlCommand{StatusCommand{}};
  }
  if (line.starts_with("scale ")) {
    auto parsed = ParseScaleArgument(line.substr(6));
    if (const auto* error = std::get_if<std::string>(&parsed)) {
      return *error;
    }
    return ControlCommand{ScaleCommand{std::get<int>(parsed)}};
  }
  return fmt::format("unknown command '{}': expected 'status' or 'scale workers=N'", line.substr(0, 40));
}

int RunningStackPid(const std::string& pid_file) {
  std::ifstream in(pid_file);
  int pid = 0;
  if (!(in >> pid) || pid <= 1 || ::kill(pid, 0) != 0) {
    return 0;
  }
  // A recycled pid belongs to some other program: only a `warren ... up` counts.
  std::ifstream cmdline(fmt::format("/proc/{}/cmdline", pid), std::ios::binary);
  std::stringstream text;
  text << cmdline.rdbuf();
  std::string args = text.str();
  std::replace(args.begin(), args.end(), '\0', ' ');
  return args.find("warren") != std::string::npos && args.find(" up") != std::string::npos ? pid : 0;
}

}  // namespace warren::supervisor
