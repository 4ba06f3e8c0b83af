// Ends the command jobs of a worker that cannot end them itself. A command runs in a process group of
// its own (so a timeout reaches everything it starts), which also means nothing stops it when its
// worker is SIGKILLed or crashes: its job is redelivered and runs again elsewhere while the old run
// goes on, a second concurrent run of the same job. PR_SET_PDEATHSIG cannot be set through
// posix_spawn, and would reach only the group's first process anyway.
//
// So `warren work` forks a small watcher at start-up, in a process group of its own, holding one end of
// a socket pair whose other end only the worker holds. The worker tells it each command's process
// group as it starts and again once it is reaped. When its end reads end-of-file — the worker is
// gone, however it went — the watcher sends SIGTERM to every group still running, SIGKILL to those
// left after the kill grace, and exits. It ignores SIGINT, SIGTERM and SIGHUP (a Ctrl-C reaches the
// worker's whole foreground group, and the worker must drain first); only end-of-file ends it.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <memory>
#include <utility>

#include "core/duration.hpp"
#include "core/unique_fd.hpp"

namespace warren::worker {

class CommandReaper {
 public:
  // Forks the watcher, which tracks up to `max_groups` groups at once (the worker's concurrency) and
  // gives them `kill_grace` between SIGTERM and SIGKILL. The child makes only async-signal-safe calls,
  // so other threads may exist. Returns nullptr (and logs why) when the socket pair or the fork fails:
  // commands then run unwatched.
  static std::unique_ptr<CommandReaper> Start(Duration kill_grace, size_t max_groups);

  // Closes the worker's end and reaps the watcher, which ends whatever is still tracked first.
  ~CommandReaper();
  CommandReaper(const CommandReaper&) = delete;
  CommandReaper& operator=(const CommandReaper&) = delete;

  // Thread-safe: each is one message of a few bytes.
  void Track(pid_t group);
  void Untrack(pid_t group);

  pid_t WatcherPid() const { return watcher_; }

 private:
  CommandReaper(UniqueFd fd, pid_t watcher) : fd_(std::move(fd)), watcher_(watcher) {}
  void Send(char op, pid_t group);

  UniqueFd fd_;
  pid_t watcher_;
};

}  // namespace warren::worker
