#include "supervisor/child_process.hpp"

#include <fcntl.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <array>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <thread>

#include <fmt/format.h>

#include "core/spawn_attrs.hpp"

namespace warren::supervisor {
namespace {

std::vector<std::string> BuildEnvironment(const SpawnOptions& options) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    if (eq == std::string_view::npos) {
      continue;
    }
    std::string name(entry.substr(0, eq));
    bool dropped = false;
    for (const auto& prefix : options.drop_env_prefixes) {
      if (name.starts_with(prefix)) {
        dropped = true;
        break;
      }
    }
    if (!dropped) {
      vars.emplace(std::move(name), std::string(entry.substr(eq + 1)));
    }
  }
  for (const auto& [name, value] : options.env) {
    if (value) {
      vars[name] = *value;
    } else {
      vars.erase(name);
    }
  }
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) {
    out.push_back(name + "=" + value);
  }
  return out;
}

std::vector<char*> CPointers(std::vector<std::string>& strings) {
  std::vector<char*> out;
  out.reserve(strings.size() + 1);
  for (auto& s : strings) {
    out.push_back(s.data());
  }
  out.push_back(nullptr);
  return out;
}

void Check(int rc, const char* what, const std::string& program) {
  if (rc != 0) {
    throw SpawnError(fmt::format("cannot start {}: {}: {}", program, what, std::strerror(rc)));
  }
}

}  // namespace

ExitStatus ExitStatus::FromWaitStatus(int wait_status) {
  ExitStatus s;
  if (WIFSIGNALED(wait_status)) {
    s.signal = WTERMSIG(wait_status);
  } else {
    s.code = WEXITSTATUS(wait_status);
  }
  return s;
}

std::string ExitStatus::Describe() const {
  if (signal != 0) {
    return fmt::format("killed by signal {} ({})", signal, SignalName(signal));
  }
  return fmt::format("exited with code {}", code);
}

std::string SignalName(int sig) {
  if (const char* abbrev = sigabbrev_np(sig)) {
    return abbrev;
  }
  return std::to_string(sig);
}

ChildProcess ChildProcess::Spawn(const SpawnOptions& options) {
  if (options.argv.empty() || options.argv[0].empty() || options.argv[0][0] != '/') {
    throw SpawnError(fmt::format("cannot start '{}': the program needs an absolute path",
                                 options.argv.empty() ? "" : options.argv[0]));
  }
  const std::string& program = options.argv[0];
  SpawnAttrs sa;

  // Own process group: a signal to the group reaches everything the child starts, and the terminal's
  // Ctrl-C reaches only us, so we decide the order in which children stop.
  short flags = POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
  Check(posix_spawnattr_setpgroup(&sa.attr, 0), "setpgroup", program);
  // The supervisor blocks SIGINT/SIGTERM/SIGCHLD (signalfd) and ignores SIGPIPE; a child must start
  // with a clean mask and default dispositions or it would never see SIGTERM.
  sigset_t empty;
  sigemptyset(&empty);
  Check(posix_spawnattr_setsigmask(&sa.attr, &empty), "setsigmask", program);
  sigset_t all;
  sigfillset(&all);
  Check(posix_spawnattr_setsigdefault(&sa.attr, &all), "setsigdefault", program);
  Check(posix_spawnattr_setflags(&sa.attr, flags), "setflags", program);

  Check(posix_spawn_file_actions_addopen(&sa.actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0), "stdin",
        program);
  UniqueFd read_end;
  UniqueFd write_end;
  if (options.capture_output) {
    std::array<int, 2> fds{};
    if (pipe2(fds.data(), O_CLOEXEC) != 0) {
      throw SpawnError(fmt::format("cannot start {}: pipe: {}", program, std::strerror(errno)));
    }
    read_end.Reset(fds[0]);
    write_end.Reset(fds[1]);
    // Only our end is non-blocking; the child's stays blocking so its writes never fail with EAGAIN.
    fcntl(read_end.Get(), F_SETFL, fcntl(read_end.Get(), F_GETFL) | O_NONBLOCK);
    Check(posix_spawn_file_actions_adddup2(&sa.actions, write_end.Get(), STDOUT_FILENO), "stdout", program);
    Check(posix_spawn_file_actions_adddup2(&sa.actions, write_end.Get(), STDERR_FILENO), "stderr", program);
  }
  if (!options.cwd.empty()) {
    Check(posix_spawn_file_actions_addchdir_np(&sa.actions, options.cwd.c_str()), "chdir", program);
  }
  // Descriptors a library opened without O_CLOEXEC (sockets in a test process) must not leak into the
  // child: a leaked listening socket or pipe end keeps ports busy and EOFs from arriving.
  Check(posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3), "closefrom", program);

  std::vector<std::string> argv = options.argv;
  std::vector<std::string> env = BuildEnvironment(options);
  auto argv_ptrs = CPointers(argv);
  auto env_ptrs = CPointers(env);
  pid_t pid = -1;
  const int rc = posix_spawn(&pid, program.c_str(), &sa.actions, &sa.attr, argv_ptrs.data(), env_ptrs.data());
  if (rc != 0) {
    throw SpawnError(fmt::format("cannot start {}: {}", program, std::strerror(rc)));
  }
  ChildProcess child;
  child.pid_ = pid;
  child.output_ = std::move(read_end);
  return child;
}

ChildProcess::ChildProcess(ChildProcess&& other) noexcept
    : pid_(std::exchange(other.pid_, -1)),
      status_(std::exchange(other.status_, std::nullopt)),
      output_(std::move(other.output_)) {}

ChildProcess& ChildProcess::operator=(ChildProcess&& other) noexcept {
  if (this != &other) {
    Reset();
    pid_ = std::exchange(other.pid_, -1);
    status_ = std::exchange(other.status_, std::nullopt);
    output_ = std::move(other.output_);
  }
  return *this;
}

ChildProcess::~ChildProcess() { Reset(); }

void ChildProcess::Reset() {
  if (Running()) {
    Kill();
  }
  pid_ = -1;
  status_.reset();
  output_.Reset();
}

void ChildProcess::Signal(int sig) const {
  if (Running()) {
    // The group first; the pid as a fallback in case the child left its group (setsid).
    if (::kill(-pid_, sig) != 0) {
      ::kill(pid_, sig);
    }
  }
}

std::optional<ExitStatus> ChildProcess::TryWait() {
  if (!Running()) {
    return status_;
  }
  int wait_status = 0;
  pid_t r = 0;
  do {
    r = ::waitpid(pid_, &wait_status, WNOHANG);
  } while (r < 0 && errno == EINTR);
  if (r == pid_) {
    status_ = ExitStatus::FromWaitStatus(wait_status);
  } else if (r < 0 && errno == ECHILD) {
    // Someone else reaped it (should not happen: we never wait for -1). Treat it as gone.
    status_ = ExitStatus{-1, 0};
  }
  return status_;
}

std::optional<ExitStatus> ChildProcess::WaitFor(std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  auto pause = std::chrono::milliseconds(2);
  while (true) {
    if (auto s = TryWait()) {
      return s;
    }
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) {
      return std::nullopt;
    }
    std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    pause = std::min(pause * 2, std::chrono::milliseconds(50));
  }
}

ExitStatus ChildProcess::Terminate(std::chrono::milliseconds grace) {
  if (!Started()) {
    return {};
  }
  Signal(SIGTERM);
  if (auto s = WaitFor(grace)) {
    // The leader is gone; anything else left in its group is killed too.
    ::kill(-pid_, SIGKILL);
    return *s;
  }
  return Kill();
}

ExitStatus ChildProcess::Kill() {
  if (!Started()) {
    return {};
  }
  Signal(SIGKILL);
  while (Running()) {
    int wait_status = 0;
    const pid_t r = ::waitpid(pid_, &wait_status, 0);
    if (r == pid_) {
      status_ = ExitStatus::FromWaitStatus(wait_status);
    } else if (r < 0 && errno != EINTR) {
      status_ = ExitStatus{-1, 0};
    }
  }
  return *status_;
}

std::string SelfExe() {
  std::error_code ec;
  auto path = std::filesystem::read_symlink("/proc/self/exe", ec);
  if (ec) {
    throw SpawnError(fmt::format("cannot resolve /proc/self/exe: {}", ec.message()));
  }
  return path.string();
}

std::optional<std::string> FindExecutable(const std::string& name, const std::vector<std::string>& dirs) {
  std::vector<std::string> search = dirs;
  if (const char* path = std::getenv("PATH")) {
    std::string_view rest(path);
    while (!rest.empty()) {
      const auto colon = rest.find(':');
      const auto dir = rest.substr(0, colon);
      if (!dir.empty()) {
        search.emplace_back(dir);
      }
      if (colon == std::string_view::npos) {
        break;
      }
      rest.remove_prefix(colon + 1);
    }
  }
  for (const auto& dir : search) {
    if (dir.empty() || dir[0] != '/') {
      continue;  // a relative PATH entry would make the result depend on our cwd
    }
    const std::string candidate = dir + "/" + name;
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0) {
      return candidate;
    }
  }
  return std::nullopt;
}

}  // namespace warren::supervisor
