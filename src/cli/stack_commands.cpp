#include "cli/stack_commands.hpp"

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "client/base_url.hpp"
#include "client/http_client.hpp"
#include "core/spawn_attrs.hpp"
#include "core/unix_socket.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/control.hpp"

extern char** environ;

namespace warren::cli {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;
using supervisor::PathsFor;

constexpr auto kStartTimeout = 180s;  // a first broker boot on a slow disk takes a while
constexpr auto kControlTimeout = 5s;

void Fail(const std::string& message) { std::fprintf(stderr, "warren: %s\n", message.c_str()); }

std::string LastLines(const std::string& path, size_t count) {
  std::ifstream in(path);
  std::deque<std::string> lines;
  std::string line;
  while (std::getline(in, line)) {
    lines.push_back(line);
    if (lines.size() > count) {
      lines.pop_front();
    }
  }
  std::string out;
  for (const auto& l : lines) {
    out += "  " + l + "\n";
  }
  return out;
}

std::optional<nlohmann::json> Ask(const std::string& socket, const std::string& line, std::string* error) {
  const auto answer = UnixRequest(socket, line, kControlTimeout, error);
  if (!answer) {
    return std::nullopt;
  }
  auto json = nlohmann::json::parse(*answer, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    *error = "the control socket answered something that is not JSON";
    return std::nullopt;
  }
  return json;
}

bool Alive(pid_t pid) { return ::kill(pid, 0) == 0; }

// serve answers GET /readyz with 200 once its publisher and store are up: "ready" for the caller too.
bool ApiReady(const Settings& settings) {
  HostPort where = settings.listen;
  if (where.host == "0.0.0.0" || where.host == "::" || where.host.empty()) {
    where.host = "127.0.0.1";  // listening everywhere: ask on loopback
  }
  try {
    client::HttpOptions options;
    options.connect_timeout = 1s;
    options.request_timeout = 2s;
    client::HttpClient http(client::ParseBaseUrl("http://" + where.ToString()), options);
    return http.Send("GET", "/readyz").status == 200;
  } catch (const std::exception&) {
    return false;
  }
}

}  // namespace

int RunUpDetached(const Settings& settings, const std::vector<std::string>& up_args) {
  const auto paths = PathsFor(settings);
  if (const int other = supervisor::RunningStackPid(paths.pid_file); other != 0) {
    Fail(fmt::format("warren up already runs for {} (pid {}); stop it with `warren down`", settings.data_dir,
                     other));
    return 1;
  }
  std::error_code ignored;
  std::filesystem::create_directories(settings.data_dir, ignored);

  std::vector<std::string> args{supervisor::SelfExe()};
  args.insert(args.end(), up_args.begin(), up_args.end());
  std::vector<char*> argv;
  for (auto& a : args) {
    argv.push_back(a.data());
  }
  argv.push_back(nullptr);
  // The command line keeps --detach (spelt --detach=true, -d, ... as the user chose): the mark is what
  // tells the background `up` not to detach again.
  const std::string mark = fmt::format("{}=1", supervisor::kDetachedEnv);
  std::vector<std::string> env_strings{mark};
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    if (!std::string_view(*e).starts_with(std::string(supervisor::kDetachedEnv) + "=")) {
      env_strings.emplace_back(*e);
    }
  }
  std::vector<char*> envp;
  for (auto& e : env_strings) {
    envp.push_back(e.data());
  }
  envp.push_back(nullptr);
  SpawnAttrs spawn;
  // Its own session: no terminal, no SIGHUP or Ctrl-C from the shell that started it.
  posix_spawnattr_setflags(&spawn.attr, POSIX_SPAWN_SETSID);
  posix_spawn_file_actions_addopen(&spawn.actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_addopen(&spawn.actions, 1, paths.log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0644);
  posix_spawn_file_actions_adddup2(&spawn.actions, 1, 2);
  pid_t pid = 0;
  if (const int rc = posix_spawn(&pid, argv[0], &spawn.actions, &spawn.attr, argv.data(), envp.data());
      rc != 0) {
    Fail(fmt::format("cannot start {}: {}", argv[0], std::strerror(rc)));
    return 1;
  }
  const auto deadline = Clock::now() + kStartTimeout;
  while (Clock::now() < deadline) {
    int status = 0;
    if (::waitpid(pid, &status, WNOHANG) == pid) {
      Fail(
          fmt::format("warren up stopped while starting ({}); the end of {}:\n{}",
                      WIFEXITED(status) ? fmt::format("exit {}", WEXITSTATUS(status)) : std::string("killed"),
                      paths.log, LastLines(paths.log, 20)));
      return 1;
    }
    std::string error;
    if (const auto status_json = Ask(paths.socket, "status", &error);
        status_json && status_json->value("ready", false) && status_json->value("pid", 0) == pid &&
        ApiReady(settings)) {
      std::printf("warren up is running in the background (pid %d): API http://%s, %d worker(s)\n", pid,
                  settings.listen.ToString().c_str(), status_json->value("workers", 0));
      std::printf("logs: %s\nstop it with `warren down`; scale with `warren scale workers=N`\n",
                  paths.log.c_str());
      return 0;
    }
    std::this_thread::sleep_for(200ms);
  }
  ::kill(pid, SIGTERM);
  Fail(fmt::format("warren up was not ready after {}s; stopping it. The end of {}:\n{}",
                   kStartTimeout.count(), paths.log, LastLines(paths.log, 20)));
  return 1;
}

bool IsDetachedUp() { return ProcessEnv(std::string(supervisor::kDetachedEnv)).value_or("") == "1"; }

int RunDown(const Settings& settings) {
  const auto paths = PathsFor(settings);
  const int pid = supervisor::RunningStackPid(paths.pid_file);
  if (pid == 0) {
    std::printf("no warren up is running for %s\n", settings.data_dir.c_str());
    return 0;
  }
  ::kill(pid, SIGTERM);
  std::printf("stopping warren up (pid %d): workers drain (up to %s), then serve and rabbitmq stop\n", pid,
              FormatDuration(settings.grace).c_str());
  std::fflush(stdout);
  // Not our child: watch the pid. The ordered shutdown takes the workers' grace plus a broker stop.
  const auto patience = std::chrono::duration_cast<std::chrono::milliseconds>(settings.grace) + 60s;
  const auto deadline = Clock::now() + patience;
  while (Alive(pid) && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
  }
  if (Alive(pid)) {
    ::kill(pid, SIGTERM);  // the second signal: `up` kills everything at once
    const auto last = Clock::now() + 15s;
    while (Alive(pid) && Clock::now() < last) {
      std::this_thread::sleep_for(100ms);
    }
  }
  if (Alive(pid)) {
    Fail(fmt::format("warren up (pid {}) is still running; see {}", pid, paths.log));
    return 1;
  }
  std::printf("stopped\n");
  return 0;
}

int RunScale(const Settings& settings, const std::string& argument) {
  auto parsed = supervisor::ParseScaleArgument(argument);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    Fail(*error);
    return 2;
  }
  const auto paths = PathsFor(settings);
  std::string error;
  const auto answer = Ask(paths.socket, fmt::format("scale workers={}", std::get<int>(parsed)), &error);
  if (!answer) {
    Fail(fmt::format("no warren up is running for {} ({})", settings.data_dir, error));
    return 1;
  }
  if (!answer->value("ok", false)) {
    Fail(answer->value("error", std::string("the supervisor refused")));
    return 1;
  }
  std::string detail;
  if (const auto& started = (*answer)["started"]; started.is_array() && !started.empty()) {
    detail += fmt::format("; started {}", fmt::join(started.get<std::vector<std::string>>(), ", "));
  }
  if (const auto& draining = (*answer)["draining"]; draining.is_array() && !draining.empty()) {
    detail += fmt::format("; draining {} (they finish their jobs first)",
                          fmt::join(draining.get<std::vector<std::string>>(), ", "));
  }
  std::printf("workers: %d -> %d%s\n", answer->value("previous", 0), answer->value("workers", 0),
              detail.c_str());
  return 0;
}

}  // namespace warren::cli
