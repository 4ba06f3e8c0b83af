// A child process started with posix_spawn (argv, never a shell) in its own process group, so that
// one signal reaches everything it started; stdout and stderr merged into one pipe we read.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <map>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "core/unique_fd.hpp"

namespace warren::supervisor {

class SpawnError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// How a child ended, from waitpid's status.
struct ExitStatus {
  int code = 0;    // exit code when it exited
  int signal = 0;  // the signal that killed it, 0 when it exited
  static ExitStatus FromWaitStatus(int wait_status);
  bool Success() const { return signal == 0 && code == 0; }
  int ShellCode() const { return signal != 0 ? 128 + signal : code; }  // as a shell's $? shows it
  std::string Describe() const;  // "exited with code 1", "killed by signal 9 (KILL)"
};

struct SpawnOptions {
  std::vector<std::string> argv;  // argv[0] is an absolute path: no PATH search
  // Changes to the inherited environment: a value sets the variable, nullopt removes it.
  std::map<std::string, std::optional<std::string>> env;
  // Inherited variables whose names start with one of these are dropped before `env` applies.
  std::vector<std::string> drop_env_prefixes;
  bool capture_output = true;  // stdout+stderr into one pipe (OutputFd); otherwise inherited
  std::string cwd;             // working directory; empty: ours
};

class ChildProcess {
 public:
  // Throws SpawnError with one line naming the program and the reason.
  static ChildProcess Spawn(const SpawnOptions& options);

  ChildProcess() = default;
  ChildProcess(ChildProcess&& other) noexcept;
  ChildProcess& operator=(ChildProcess&& other) noexcept;
  ChildProcess(const ChildProcess&) = delete;
  ChildProcess& operator=(const ChildProcess&) = delete;
  // Owners stop their children explicitly; this is the backstop: a child still running is killed
  // (its whole group, SIGKILL) and reaped, so it can never outlive its owner unnoticed.
  ~ChildProcess();

  pid_t Pid() const { return pid_; }
  bool Started() const { return pid_ > 0; }
  bool Running() const { return pid_ > 0 && !status_; }
  const std::optional<ExitStatus>& Status() const { return status_; }

  // Read end of the merged stdout/stderr pipe (O_NONBLOCK), -1 when not captured or taken.
  int OutputFd() const { return output_.Get(); }
  UniqueFd TakeOutput() { return std::move(output_); }
  void CloseOutput() { output_.Reset(); }

  // Signals the child's process group. Does nothing once the child has been reaped.
  void Signal(int sig) const;
  // Reaps the child if it has exited; nullopt while it runs.
  std::optional<ExitStatus> TryWait();
  // Waits up to `timeout` for the child to exit; nullopt when it still runs.
  std::optional<ExitStatus> WaitFor(std::chrono::milliseconds timeout);
  // SIGTERM to the group, up to `grace` for it to exit, then SIGKILL; always reaps.
  ExitStatus Terminate(std::chrono::milliseconds grace);
  ExitStatus Kill();  // SIGKILL to the group and reap

 private:
  void Reset();
  pid_t pid_ = -1;
  std::optional<ExitStatus> status_;
  UniqueFd output_;
};

// The running executable (/proc/self/exe resolved), so `up` starts the very binary it is.
std::string SelfExe();

// First executable named `name` in `dirs`, then in $PATH; nullopt when none.
std::optional<std::string> FindExecutable(const std::string& name, const std::vector<std::string>& dirs = {});

// Signal name without the SIG prefix ("TERM"), or the number.
std::string SignalName(int sig);

}  // namespace warren::supervisor
