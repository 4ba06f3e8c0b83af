#include "supervisor/process_tree.hpp"

#include <csignal>

#include <charconv>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <thread>

namespace warren::supervisor {
namespace {

struct StatFields {
  char state = '?';
  pid_t ppid = 0;
  unsigned long long start_time = 0;
};

// /proc/PID/stat is "pid (comm) state ppid ..."; comm may hold spaces and parentheses, so the fields
// are counted from the last ')'.
std::optional<StatFields> ReadStat(pid_t pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/stat");
  std::string text;
  if (!in || !std::getline(in, text)) {
    return std::nullopt;
  }
  const auto close = text.rfind(')');
  if (close == std::string::npos) {
    return std::nullopt;
  }
  std::istringstream fields(text.substr(close + 1));
  StatFields out;
  std::string skip;
  fields >> out.state >> out.ppid;
  // Fields 5..21 lie between ppid (4) and starttime (22).
  for (int i = 5; i <= 21; ++i) {
    fields >> skip;
  }
  fields >> out.start_time;
  if (!fields) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

std::optional<ProcessId> ReadProcessId(pid_t pid) {
  auto stat = ReadStat(pid);
  if (!stat || stat->state == 'Z' || stat->state == 'X') {
    return std::nullopt;
  }
  return ProcessId{pid, stat->start_time};
}

std::vector<ProcessId> Descendants(pid_t root) {
  std::multimap<pid_t, ProcessId> children;  // ppid -> process
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator("/proc", ec)) {
    const std::string name = entry.path().filename().string();
    pid_t pid = 0;
    auto [ptr, perr] = std::from_chars(name.data(), name.data() + name.size(), pid);
    if (perr != std::errc{} || ptr != name.data() + name.size()) {
      continue;
    }
    if (auto stat = ReadStat(pid); stat && stat->state != 'Z' && stat->state != 'X') {
      children.emplace(stat->ppid, ProcessId{pid, stat->start_time});
    }
  }
  std::vector<ProcessId> out;
  std::vector<pid_t> frontier{root};
  while (!frontier.empty()) {
    const pid_t parent = frontier.back();
    frontier.pop_back();
    auto [begin, end] = children.equal_range(parent);
    for (auto it = begin; it != end; ++it) {
      out.push_back(it->second);
      frontier.push_back(it->second.pid);
    }
  }
  return out;
}

bool IsAlive(const ProcessId& id) {
  auto now = ReadProcessId(id.pid);
  return now && now->start_time == id.start_time;
}

void SignalAll(const std::vector<ProcessId>& ids, int sig) {
  for (const auto& id : ids) {
    if (IsAlive(id)) {
      ::kill(id.pid, sig);
    }
  }
}

bool WaitGone(const std::vector<ProcessId>& ids, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (true) {
    bool any = false;
    for (const auto& id : ids) {
      any = any || IsAlive(id);
    }
    if (!any) {
      return true;
    }
    if (std::chrono::steady_clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

}  // namespace warren::supervisor
