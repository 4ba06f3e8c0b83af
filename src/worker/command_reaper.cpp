#include "worker/command_reaper.hpp"

#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <vector>

#include <spdlog/spdlog.h>

namespace warren::worker {
namespace {

// One message per change on a SOCK_SEQPACKET socket pair: records from several executor threads never
// interleave, a closed peer is end-of-file, and MSG_NOSIGNAL spares the worker a SIGPIPE should the
// watcher have been killed.
struct Record {
  int32_t op;  // '+' a group started, '-' it was reaped; 'r' (to the worker) the watcher is ready
  int32_t group;
};

int64_t NowMs() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return int64_t{ts.tv_sec} * 1000 + ts.tv_nsec / 1'000'000;
}

void SleepMs(long ms) {
  timespec ts{ms / 1000, (ms % 1000) * 1'000'000};
  while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
  }
}

void Say(const char* text) {
  const ssize_t ignored = write(STDERR_FILENO, text, std::strlen(text));
  (void)ignored;
}

// The watcher. Only async-signal-safe calls and no allocation (the group table was sized before the
// fork): the worker may have had other threads, whose locks the child inherits held.
[[noreturn]] void Watch(int fd, pid_t* groups, size_t capacity, long kill_grace_ms) {
  setpgid(0, 0);  // a signal to the worker's group (`up` stopping it, a Ctrl-C) must not reach us
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  for (const int sig : {SIGINT, SIGTERM, SIGHUP, SIGPIPE, SIGQUIT}) {
    sigaction(sig, &ignore, nullptr);
  }
  prctl(PR_SET_NAME, "warren-reaper", 0, 0, 0);
  // Hold nothing of the worker's: its sockets, its store, the other pipes' ends.
  if (fd > 3) {
    close_range(3, static_cast<unsigned>(fd) - 1, 0);
  }
  close_range(static_cast<unsigned>(fd) + 1, ~0U, 0);
  const Record ready{'r', 0};
  if (send(fd, &ready, sizeof ready, MSG_NOSIGNAL) != static_cast<ssize_t>(sizeof ready)) {
    _exit(1);
  }

  size_t count = 0;
  for (;;) {
    Record r{};
    const ssize_t n = recv(fd, &r, sizeof r, 0);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n != static_cast<ssize_t>(sizeof r)) {
      break;  // end of file: the worker is gone
    }
    if (r.op == '+' && count < capacity) {
      groups[count++] = r.group;
    } else if (r.op == '-') {
      for (size_t i = 0; i < count; ++i) {
        if (groups[i] == r.group) {
          groups[i] = groups[--count];
          break;
        }
      }
    }
  }
  if (count == 0) {
    _exit(0);
  }
  Say("warren: the worker is gone with command jobs still running; ending them (SIGTERM, then SIGKILL after "
      "the kill grace)\n");
  for (size_t i = 0; i < count; ++i) {
    kill(-groups[i], SIGTERM);
  }
  const int64_t deadline = NowMs() + kill_grace_ms;
  for (;;) {
    // A group seen gone is dropped: its number may be reused by someone else's before the SIGKILL.
    for (size_t i = 0; i < count;) {
      if (kill(-groups[i], 0) != 0 && errno == ESRCH) {
        groups[i] = groups[--count];
      } else {
        ++i;
      }
    }
    if (count == 0 || NowMs() >= deadline) {
      break;
    }
    SleepMs(50);
  }
  for (size_t i = 0; i < count; ++i) {
    kill(-groups[i], SIGKILL);
  }
  _exit(0);
}

}  // namespace

std::unique_ptr<CommandReaper> CommandReaper::Start(Duration kill_grace, size_t max_groups) {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0, fds) != 0) {
    spdlog::warn("command jobs run unwatched: socketpair: {}", std::strerror(errno));
    return nullptr;
  }
  UniqueFd watcher_end(fds[0]);
  UniqueFd worker_end(fds[1]);
  // The child's table, allocated before the fork.
  std::vector<pid_t> groups(max_groups == 0 ? 1 : max_groups);
  const pid_t pid = fork();
  if (pid < 0) {
    spdlog::warn("command jobs run unwatched: fork: {}", std::strerror(errno));
    return nullptr;
  }
  if (pid == 0) {
    worker_end.Reset();
    Watch(watcher_end.Get(), groups.data(), groups.size(), static_cast<long>(kill_grace.count()));
  }
  watcher_end.Reset();
  setpgid(pid, pid);  // as the child does: whichever runs first, the group is set before we go on
  // Wait for the watcher to be set up (signals ignored, descriptors closed) before any command starts.
  pollfd ready{worker_end.Get(), POLLIN, 0};
  Record r{};
  if (poll(&ready, 1, 5000) != 1 ||
      recv(worker_end.Get(), &r, sizeof r, 0) != static_cast<ssize_t>(sizeof r) || r.op != 'r') {
    spdlog::warn("command jobs run unwatched: the watcher did not start");
    worker_end.Reset();
    int status = 0;
    waitpid(pid, &status, 0);
    return nullptr;
  }
  return std::unique_ptr<CommandReaper>(new CommandReaper(std::move(worker_end), pid));
}

CommandReaper::~CommandReaper() {
  fd_.Reset();  // end-of-file for the watcher
  int status = 0;
  while (waitpid(watcher_, &status, 0) < 0 && errno == EINTR) {
  }
}

void CommandReaper::Track(pid_t group) { Send('+', group); }

void CommandReaper::Untrack(pid_t group) { Send('-', group); }

void CommandReaper::Send(char op, pid_t group) {
  const Record r{op, static_cast<int32_t>(group)};
  ssize_t n = -1;
  do {
    n = send(fd_.Get(), &r, sizeof r, MSG_NOSIGNAL);
  } while (n < 0 && errno == EINTR);
  if (n != static_cast<ssize_t>(sizeof r)) {
    spdlog::warn("command reaper: cannot record process group {}: {}", group, std::strerror(errno));
  }
}

}  // namespace warren::worker
