// Finding and killing what a child started outside its process group. The Erlang VM's helpers
// (erl_child_setup, inet_gethost) call setsid(), so a signal to the broker's group misses them; we
// record them by pid and start time (which tells a reused pid apart) and kill them by that record.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <optional>
#include <vector>

namespace warren::supervisor {

struct ProcessId {
  pid_t pid = 0;
  unsigned long long start_time = 0;  // field 22 of /proc/PID/stat, clock ticks since boot
};

// Nullopt when the process does not exist (or is a zombie: gone for our purposes).
std::optional<ProcessId> ReadProcessId(pid_t pid);
// Every live descendant of `root` (children, grandchildren, ...), from one scan of /proc.
std::vector<ProcessId> Descendants(pid_t root);
// True while that very process (same pid and start time) exists and is not a zombie.
bool IsAlive(const ProcessId& id);
void SignalAll(const std::vector<ProcessId>& ids, int sig);
// Waits until none of `ids` is alive; false when some still are after `timeout`.
bool WaitGone(const std::vector<ProcessId>& ids, std::chrono::milliseconds timeout);

}  // namespace warren::supervisor
