#include "worker/command_runner.hpp"

#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <spawn.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <array>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <utility>

#include <fmt/format.h>

#include "core/job.hpp"
#include "core/spawn_attrs.hpp"
#include "core/unique_fd.hpp"

namespace warren::worker {
namespace {

using Clock = std::chrono::steady_clock;

// How often the loop wakes up when nothing happens: the cancellation check, and exit detection
// where pidfd_open is missing.
constexpr std::chrono::milliseconds kTick{100};
// After the program exits and its group is killed, output still in the pipes is read for at most
// this long: a grandchild that escaped the group (setsid) could hold them open forever.
constexpr std::chrono::milliseconds kDrain{250};
// Lines longer than this go on in pieces, so a child that never writes a newline cannot make us
// buffer without bound. A progress line is never this long.
constexpr size_t kMaxLine = size_t{64} * 1024;
constexpr int kTempFail = 75;  // EX_TEMPFAIL from <sysexits.h>
constexpr size_t kMaxMessageLine = 500;
constexpr int kMaxResultDepth = 64;

// O_CLOEXEC from the start: another thread's posix_spawn must never inherit our ends.
bool MakePipe(UniqueFd& read_end, UniqueFd& write_end) {
  std::array<int, 2> fds{};
  if (pipe2(fds.data(), O_CLOEXEC) != 0) {
    return false;
  }
  read_end = UniqueFd(fds[0]);
  write_end = UniqueFd(fds[1]);
  return true;
}

void SetNonBlocking(const UniqueFd& fd) { fcntl(fd.Get(), F_SETFL, fcntl(fd.Get(), F_GETFL) | O_NONBLOCK); }

// Writing the job to a child that stopped reading raises SIGPIPE, which would kill the whole worker
// unless blocked. Blocks it in this thread only (no process-wide state), and on the way out takes
// away a SIGPIPE our writes left pending.
class SigpipeBlock {
 public:
  SigpipeBlock() {
    sigemptyset(&pipe_);
    sigaddset(&pipe_, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_, &old_);
    sigset_t pending;
    sigpending(&pending);
    was_pending_ = sigismember(&pending, SIGPIPE) == 1;
  }
  ~SigpipeBlock() {
    sigset_t pending;
    sigpending(&pending);
    if (!was_pending_ && sigismember(&pending, SIGPIPE) == 1) {
      const timespec zero{};
      sigtimedwait(&pipe_, nullptr, &zero);
    }
    pthread_sigmask(SIG_SETMASK, &old_, nullptr);
  }
  SigpipeBlock(const SigpipeBlock&) = delete;
  SigpipeBlock& operator=(const SigpipeBlock&) = delete;

 private:
  sigset_t pipe_{};
  sigset_t old_{};
  bool was_pending_ = false;
};

// Kills and reaps the child if we leave early (a callback threw, a limit could not be set).
struct ChildGuard {
  pid_t pid = -1;
  bool reaped = false;
  std::function<void(pid_t)> on_reaped;
  ChildGuard() = default;
  ChildGuard(const ChildGuard&) = delete;
  ChildGuard& operator=(const ChildGuard&) = delete;
  int Reap() {
    int status = 0;
    while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    reaped = true;
    if (on_reaped) {
      on_reaped(pid);
    }
    return status;
  }
  ~ChildGuard() {
    if (pid > 0 && !reaped) {
      kill(-pid, SIGKILL);
      Reap();
    }
  }
};

// Splits pipe chunks into lines. `on_piece(text, newline, whole)`: `text` has no '\n'; `newline`
// says one followed it; `whole` says the piece is an entire line (false for pieces of an over-long
// line).
class LineBuffer {
 public:
  template <typename F>
  void Feed(std::string_view chunk, F&& on_piece) {
    while (!chunk.empty()) {
      const size_t nl = chunk.find('\n');
      if (nl == std::string_view::npos) {
        partial_.append(chunk);
        if (partial_.size() >= kMaxLine) {
          on_piece(std::string_view(partial_), false, false);
          partial_.clear();
          continued_ = true;
        }
        return;
      }
      if (partial_.empty()) {
        on_piece(chunk.substr(0, nl), true, !continued_);
      } else {
        partial_.append(chunk.substr(0, nl));
        on_piece(std::string_view(partial_), true, !continued_);
        partial_.clear();
      }
      continued_ = false;
      chunk.remove_prefix(nl + 1);
    }
  }
  template <typename F>
  void Finish(F&& on_piece) {
    if (!partial_.empty()) {
      on_piece(std::string_view(partial_), false, !continued_);
    }
    partial_.clear();
    continued_ = false;
  }

 private:
  std::string partial_;
  bool continued_ = false;  // partial_ continues a line already passed on in pieces
};

void Capture(std::string& out, std::string_view text, size_t cap, bool& truncated) {
  const size_t room = out.size() < cap ? cap - out.size() : 0;
  if (text.size() > room) {
    truncated = true;
  }
  out.append(text.substr(0, room));
}

std::string_view DropCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  return line;
}

// `::progress 40 resizing` → {40, "resizing"}.
std::optional<std::pair<int, std::string_view>> ParseProgress(std::string_view line) {
  constexpr std::string_view kPrefix = "::progress ";
  line = DropCr(line);
  if (!line.starts_with(kPrefix)) {
    return std::nullopt;
  }
  line.remove_prefix(kPrefix.size());
  const size_t space = line.find(' ');
  const std::string_view number = line.substr(0, space);
  if (number.empty() || number.size() > 3 ||
      number.find_first_not_of("0123456789") != std::string_view::npos) {
    return std::nullopt;
  }
  const int percent = std::stoi(std::string(number));
  if (percent > 100) {
    return std::nullopt;
  }
  return std::pair{percent, space == std::string_view::npos ? std::string_view{} : line.substr(space + 1)};
}

std::vector<std::string> BuildEnvironment(const CommandRequest& request) {
  std::map<std::string, std::string> vars;
  for (char** e = environ; e != nullptr && *e != nullptr; ++e) {
    const std::string_view entry(*e);
    const auto eq = entry.find('=');
    // The worker's own WARREN_* settings stay with it: WARREN_AMQP_URL carries the broker's password,
    // WARREN_TOKENS the API's tokens. A command gets only the WARREN_* variables set below.
    if (eq != std::string_view::npos && !entry.starts_with("WARREN_")) {
      vars.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
    }
  }
  for (const auto& [name, value] : request.env) {
    vars[name] = value;
  }
  vars["WARREN_JOB_ID"] = request.job_id;
  vars["WARREN_JOB_TYPE"] = request.job_type;
  vars["WARREN_QUEUE"] = request.queue;
  vars["WARREN_ATTEMPT"] = std::to_string(request.attempt);
  std::vector<std::string> out;
  out.reserve(vars.size());
  for (const auto& [name, value] : vars) {
    out.push_back(fmt::format("{}={}", name, value));
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

bool HasNul(std::string_view s) { return s.find('\0') != std::string_view::npos; }

// Why the request cannot be spawned as given, before touching anything.
std::optional<std::string> InvalidRequest(const CommandRequest& request) {
  if (request.argv.empty() || !request.argv[0].starts_with('/')) {
    return fmt::format("cannot start '{}': the program needs an absolute path",
                       request.argv.empty() ? "" : request.argv[0]);
  }
  for (const auto& arg : request.argv) {
    if (HasNul(arg)) {
      return fmt::format("cannot start {}: an argument contains a NUL byte", request.argv[0]);
    }
  }
  for (const auto& [name, value] : request.env) {
    if (name.empty() || name.find('=') != std::string::npos || HasNul(name) || HasNul(value)) {
      return fmt::format("cannot start {}: invalid environment variable '{}'", request.argv[0], name);
    }
  }
  if (request.cwd && HasNul(*request.cwd)) {
    return fmt::format("cannot start {}: the working directory contains a NUL byte", request.argv[0]);
  }
  return std::nullopt;
}

// Lowers a limit of the running child, never above the worker's own hard limit (raising a hard
// limit needs privileges). Soft `soft`, hard `hard`.
int ApplyLimit(pid_t pid, __rlimit_resource resource, rlim_t soft, rlim_t hard) {
  rlimit current{};
  if (prlimit(pid, resource, nullptr, &current) != 0) {
    return errno;
  }
  const rlimit wanted{std::min(soft, current.rlim_max), std::min(hard, current.rlim_max)};
  if (prlimit(pid, resource, &wanted, nullptr) != 0) {
    return errno;
  }
  return 0;
}

// glibc 2.36's <sys/pidfd.h> lacks extern "C", so the wrapper cannot be linked from C++: the syscall.
// pidfds are always close-on-exec. -1 where the kernel is older than 5.3.
int PidFd(pid_t pid) {
#ifdef SYS_pidfd_open
  return static_cast<int>(syscall(SYS_pidfd_open, pid, 0));
#else
  (void)pid;
  return -1;
#endif
}

int ToPollTimeout(Clock::duration d) {
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(d).count();
  return static_cast<int>(std::clamp<int64_t>(ms, 0, kTick.count()));
}

std::string SignalName(int sig) {
  if (const char* abbrev = sigabbrev_np(sig)) {
    return fmt::format("SIG{}", abbrev);
  }
  return fmt::format("signal {}", sig);
}

// Errors of a spawn (or its pipes) that a later attempt may not meet: the process or descriptor
// table was full, memory was short, or the program file was open for writing (being replaced).
bool Transient(int error) {
  return error == EAGAIN || error == EMFILE || error == ENFILE || error == ENOMEM || error == ETXTBSY;
}

// Makes any bytes a valid UTF-8 string (U+FFFD for bad sequences), so it can go into JSON.
std::string ValidUtf8(std::string_view text) {
  const auto dumped = DumpJson(nlohmann::json(std::string(text)));
  return nlohmann::json::parse(dumped).get<std::string>();
}

std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == '\r' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  const size_t nl = text.rfind('\n');
  if (nl != std::string_view::npos) {
    text.remove_prefix(nl + 1);
  }
  return ValidUtf8(text.substr(0, kMaxMessageLine));
}

// Nesting depth of a JSON text, counted outside strings; deep input would recurse in dump().
bool ShallowEnough(std::string_view text) {
  int depth = 0;
  bool in_string = false;
  for (size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (in_string) {
      if (c == '\\') {
        ++i;
      } else if (c == '"') {
        in_string = false;
      }
    } else if (c == '"') {
      in_string = true;
    } else if (c == '[' || c == '{') {
      if (++depth > kMaxResultDepth) {
        return false;
      }
    } else if (c == ']' || c == '}') {
      --depth;
    }
  }
  return true;
}

// Reads what is there (one chunk) from an output pipe. False at end of file or on an error.
bool ReadChunk(const UniqueFd& fd, std::array<char, 65536>& buffer, std::string_view& chunk) {
  while (true) {
    const ssize_t n = read(fd.Get(), buffer.data(), buffer.size());
    if (n > 0) {
      chunk = std::string_view(buffer.data(), static_cast<size_t>(n));
      return true;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    chunk = {};
    return n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK);
  }
}

}  // namespace

CommandResult RunCommand(const CommandRequest& request) {
  CommandResult result;
  result.timeout = request.timeout;
  const auto start = Clock::now();
  if (auto why = InvalidRequest(request)) {
    result.spawn_error = std::move(why);
    return result;
  }
  const std::string& program = request.argv[0];

  UniqueFd in_read;
  UniqueFd in_write;
  UniqueFd out_read;
  UniqueFd out_write;
  UniqueFd err_read;
  UniqueFd err_write;
  if (!MakePipe(in_read, in_write) || !MakePipe(out_read, out_write) || !MakePipe(err_read, err_write)) {
    result.spawn_error = fmt::format("cannot start {}: pipe: {}", program, std::strerror(errno));
    result.spawn_retryable = Transient(errno);
    return result;
  }
  // Only our ends are non-blocking: the child's stay blocking, as programs expect.
  SetNonBlocking(in_write);
  SetNonBlocking(out_read);
  SetNonBlocking(err_read);

  SpawnAttrs sa;
  // Own process group (pgid = pid): one kill(-pid) reaches everything the program starts.
  posix_spawnattr_setpgroup(&sa.attr, 0);
  // The worker blocks SIGTERM/SIGINT/SIGPIPE in its threads and may ignore some; the program must
  // start with an empty mask and default dispositions, or it would never see our SIGTERM.
  sigset_t empty;
  sigemptyset(&empty);
  posix_spawnattr_setsigmask(&sa.attr, &empty);
  sigset_t defaults;
  sigfillset(&defaults);
  posix_spawnattr_setsigdefault(&sa.attr, &defaults);
  posix_spawnattr_setflags(&sa.attr, POSIX_SPAWN_SETPGROUP | POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
  posix_spawn_file_actions_adddup2(&sa.actions, in_read.Get(), STDIN_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, out_write.Get(), STDOUT_FILENO);
  posix_spawn_file_actions_adddup2(&sa.actions, err_write.Get(), STDERR_FILENO);
  // Descriptors a library opened without O_CLOEXEC must not reach the program either.
  posix_spawn_file_actions_addclosefrom_np(&sa.actions, 3);
  if (request.cwd) {
    posix_spawn_file_actions_addchdir_np(&sa.actions, request.cwd->c_str());
  }

  std::vector<std::string> argv = request.argv;
  std::vector<std::string> env = BuildEnvironment(request);
  auto argv_ptrs = CPointers(argv);
  auto env_ptrs = CPointers(env);

  ChildGuard child;
  {
    // glibc's posix_spawn returns after the exec, with the exec's or a file action's error.
    const int rc =
        posix_spawn(&child.pid, program.c_str(), &sa.actions, &sa.attr, argv_ptrs.data(), env_ptrs.data());
    if (rc != 0) {
      child.pid = -1;
      if (request.cwd && access(request.cwd->c_str(), X_OK) != 0) {
        result.spawn_error = fmt::format("cannot start {}: working directory {}: {}", program, *request.cwd,
                                         std::strerror(errno));
      } else {
        result.spawn_error = fmt::format("cannot start {}: {}", program, std::strerror(rc));
        result.spawn_retryable = Transient(rc);
      }
      return result;
    }
  }
  result.pid = child.pid;
  if (request.on_spawned) {
    request.on_spawned(child.pid);
    child.on_reaped = request.on_reaped;
  }
  in_read.Reset();
  out_write.Reset();
  err_write.Reset();

  // The tiny race: the program has already exec'd, so its loader runs before these hold.
  if (request.memory_limit) {
    const auto bytes = static_cast<rlim_t>(*request.memory_limit);
    if (const int err = ApplyLimit(child.pid, RLIMIT_AS, bytes, bytes); err != 0 && err != ESRCH) {
      result.spawn_error = fmt::format("cannot apply memory_limit to {}: {}", program, std::strerror(err));
      return result;  // ChildGuard kills and reaps it
    }
  }
  if (request.cpu_limit) {
    // SIGXCPU at the soft limit; the kernel sends SIGKILL at the hard one, a second later.
    const auto seconds = static_cast<rlim_t>(std::max<int64_t>(1, (request.cpu_limit->count() + 999) / 1000));
    if (const int err = ApplyLimit(child.pid, RLIMIT_CPU, seconds, seconds + 1); err != 0 && err != ESRCH) {
      result.spawn_error = fmt::format("cannot apply cpu_limit to {}: {}", program, std::strerror(err));
      return result;
    }
  }

  // A pidfd turns the exit into a poll event; without one (old kernels) the tick finds it.
  UniqueFd exit_fd(PidFd(child.pid));

  SigpipeBlock sigpipe_block;
  size_t stdin_offset = 0;
  if (request.stdin_data.empty()) {
    in_write.Reset();
  }
  LineBuffer out_lines;
  LineBuffer err_lines;
  auto on_stdout = [&](std::string_view text, bool newline, bool whole) {
    if (whole) {
      if (auto progress = ParseProgress(text)) {
        if (request.on_progress) {
          request.on_progress(progress->first, progress->second);
        }
        return;
      }
    }
    Capture(result.stdout_text, text, request.max_stdout, result.stdout_truncated);
    if (newline) {
      Capture(result.stdout_text, "\n", request.max_stdout, result.stdout_truncated);
    }
  };
  auto on_stderr = [&](std::string_view text, bool, bool) {
    text = DropCr(text);
    if (text.find_first_not_of(" \t") != std::string_view::npos) {
      result.stderr_last_line.assign(text.substr(0, kMaxMessageLine));
    }
    if (request.on_log) {
      request.on_log(text);
    }
  };
  std::array<char, 65536> buffer{};

  const std::optional<Clock::time_point> deadline =
      request.timeout ? std::optional(start + *request.timeout) : std::nullopt;
  std::optional<Clock::time_point> kill_at;  // set once SIGTERM went out
  bool kill_sent = false;
  std::optional<Clock::time_point> drain_until;  // set once the program exited
  bool exit_unknown = false;                     // someone else reaped it (SIGCHLD ignored)

  while (true) {
    const auto now = Clock::now();
    if (!drain_until) {
      // WNOWAIT: the zombie keeps the pid, and so the process group id, from being reused while we
      // kill what the program left behind.
      siginfo_t info{};
      const int rc = waitid(P_PID, static_cast<id_t>(child.pid), &info, WEXITED | WNOHANG | WNOWAIT);
      if ((rc == 0 && info.si_pid == child.pid) || (rc != 0 && errno == ECHILD)) {
        exit_unknown = rc != 0;
        kill(-child.pid, SIGKILL);
        drain_until = now + kDrain;
        in_write.Reset();
        exit_fd.Reset();
      }
    }
    if (!drain_until && !kill_at) {
      const bool late = deadline && now >= *deadline;
      if (late || request.stop.stop_requested()) {
        (late ? result.timed_out : result.cancelled) = true;
        kill(-child.pid, SIGTERM);
        kill_at = now + request.kill_grace;
      }
    }
    if (!drain_until && kill_at && !kill_sent && now >= *kill_at) {
      kill(-child.pid, SIGKILL);
      kill_sent = true;
    }
    if (drain_until && ((!out_read && !err_read) || now >= *drain_until)) {
      break;
    }

    Clock::duration wait = kTick;
    if (deadline && !kill_at) {
      wait = std::min(wait, *deadline - now);
    }
    if (kill_at && !kill_sent) {
      wait = std::min(wait, *kill_at - now);
    }
    if (drain_until) {
      wait = std::min(wait, *drain_until - now);
    }
    std::array<pollfd, 4> fds{};
    nfds_t count = 0;
    auto add = [&](const UniqueFd& fd, short events) -> pollfd* {
      if (!fd) {
        return nullptr;
      }
      fds[count] = pollfd{fd.Get(), events, 0};
      return &fds[count++];
    };
    const pollfd* in_poll = add(in_write, POLLOUT);
    const pollfd* out_poll = add(out_read, POLLIN);
    const pollfd* err_poll = add(err_read, POLLIN);
    add(exit_fd, POLLIN);
    if (poll(fds.data(), count, ToPollTimeout(wait)) < 0) {
      continue;  // EINTR; nothing else can fail with valid descriptors
    }

    if (in_poll != nullptr && in_poll->revents != 0) {
      bool through = false;  // all written, or the program closed stdin without reading it all (EPIPE)
      while (true) {
        if (stdin_offset == request.stdin_data.size()) {
          through = true;
          break;
        }
        const ssize_t n = write(in_write.Get(), request.stdin_data.data() + stdin_offset,
                                request.stdin_data.size() - stdin_offset);
        if (n > 0) {
          stdin_offset += static_cast<size_t>(n);
        } else if (n < 0 && errno == EINTR) {
          continue;
        } else {
          through = !(n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK));
          break;
        }
      }
      if (through) {
        in_write.Reset();  // the program sees end of file
      }
    }
    std::string_view chunk;
    if (out_poll != nullptr && out_poll->revents != 0) {
      if (ReadChunk(out_read, buffer, chunk)) {
        out_lines.Feed(chunk, on_stdout);
      } else {
        out_lines.Finish(on_stdout);
        out_read.Reset();
      }
    }
    if (err_poll != nullptr && err_poll->revents != 0) {
      if (ReadChunk(err_read, buffer, chunk)) {
        Capture(result.stderr_text, chunk, request.max_stderr, result.stderr_truncated);
        err_lines.Feed(chunk, on_stderr);
      } else {
        err_lines.Finish(on_stderr);
        err_read.Reset();
      }
    }
  }
  // Output cut off by the drain limit still counts.
  out_lines.Finish(on_stdout);
  err_lines.Finish(on_stderr);

  if (exit_unknown) {
    child.reaped = true;
    if (child.on_reaped) {
      child.on_reaped(child.pid);  // gone all the same: the reaper must stop tracking its group
    }
  } else {
    const int status = child.Reap();
    if (WIFEXITED(status)) {
      result.exit_code = WEXITSTATUS(status);
    } else if (WIFSIGNALED(status)) {
      result.signal = WTERMSIG(status);
    }
  }
  result.elapsed = std::chrono::duration_cast<Duration>(Clock::now() - start);
  return result;
}

CommandOutcome Classify(const CommandResult& result) {
  if (result.spawn_error) {
    return {CommandVerdict::kFailure, *result.spawn_error};
  }
  std::string status = "exit status unknown";
  if (result.exit_code) {
    status = fmt::format("exit status {}", *result.exit_code);
  } else if (result.signal) {
    status = fmt::format("killed by {}", SignalName(*result.signal));
    if (*result.signal == SIGXCPU) {
      status += " (cpu_limit reached)";
    }
  }
  if (result.cancelled) {
    return {CommandVerdict::kFailure, fmt::format("cancelled ({})", status)};
  }
  if (result.timed_out) {
    return {CommandVerdict::kFailure,
            fmt::format("{} after timeout {}", status, FormatDuration(result.timeout.value_or(Duration{0})))};
  }
  if (result.exit_code == 0) {
    return {CommandVerdict::kSuccess, {}};
  }
  const std::string last = LastLine(result.stderr_last_line);
  std::string message = last.empty() ? status : fmt::format("{}: {}", status, last);
  return {result.exit_code == kTempFail ? CommandVerdict::kRetry : CommandVerdict::kFailure,
          std::move(message)};
}

nlohmann::json ResultJson(std::string_view stdout_text) {
  if (stdout_text.empty()) {
    return nullptr;
  }
  if (ShallowEnough(stdout_text)) {
    auto parsed = nlohmann::json::parse(stdout_text, nullptr, false);
    if (!parsed.is_discarded()) {
      return parsed;
    }
  }
  if (stdout_text.ends_with('\n')) {
    stdout_text.remove_suffix(1);
  }
  return ValidUtf8(stdout_text);
}

}  // namespace warren::worker
