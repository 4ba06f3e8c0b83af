// Runs one command job's program: posix_spawn (never a shell) in its own process group, the job's
// JSON on stdin, stdout as the result and stderr as the log, with a timeout, cancellation, resource
// limits and output caps. Safe to call from several executor threads at once: it keeps no state,
// reads `environ` only, and opens every descriptor with O_CLOEXEC.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <stop_token>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"

namespace warren::worker {

struct CommandRequest {
  std::vector<std::string> argv;           // argv[0] is an absolute path (see ExpandCommand)
  std::map<std::string, std::string> env;  // on top of the worker's environment
  std::optional<std::string> cwd;
  std::string stdin_data;  // the job as JSON; a child that does not read it is fine

  // Identity, passed as WARREN_JOB_ID, WARREN_JOB_TYPE, WARREN_QUEUE and WARREN_ATTEMPT (these win
  // over `env`).
  std::string job_id;
  std::string job_type;
  std::string queue;
  int attempt = 1;

  // On timeout or cancellation the whole process group gets SIGTERM, then SIGKILL `kill_grace` later.
  std::optional<Duration> timeout;
  Duration kill_grace{10'000};
  std::stop_token stop;  // checked at least every 100 ms

  // Applied with prlimit() right after the spawn: the child runs a few instructions (the dynamic
  // loader, at most) before they hold. posix_spawn has no hook to set them in between.
  std::optional<uint64_t> memory_limit;  // RLIMIT_AS, bytes
  std::optional<Duration> cpu_limit;     // RLIMIT_CPU, rounded up to whole seconds; SIGKILL 1 s later

  // Captured output beyond these is read and dropped, and the result says so.
  size_t max_stdout = size_t{1} << 20;
  size_t max_stderr = size_t{64} << 10;

  // A stdout line `::progress PERCENT [NOTE]` (PERCENT an integer 0..100) calls this and is not part of
  // the captured stdout. Other lines, including malformed progress lines, are.
  std::function<void(int percent, std::string_view note)> on_progress;
  // Each stderr line as it arrives, without its newline (a line longer than 64 KiB comes in pieces).
  std::function<void(std::string_view line)> on_log;
  // The program's process group right after the spawn, and again once the program has been reaped:
  // the worker's CommandReaper ends the group should the worker die in between.
  std::function<void(pid_t group)> on_spawned;
  std::function<void(pid_t group)> on_reaped;
};

struct CommandResult {
  std::optional<std::string> spawn_error;  // set when the program did not start; nothing else is then
  // The spawn failed for want of a resource that may come back (processes, descriptors, memory, a
  // program file being replaced): worth another attempt, unlike a missing program.
  bool spawn_retryable = false;
  pid_t pid = -1;                          // also the process group id
  std::optional<int> exit_code;            // set when the program exited
  std::optional<int> signal;               // set when a signal killed it
  bool timed_out = false;
  bool cancelled = false;
  std::optional<Duration> timeout;  // the request's, for messages
  std::string stdout_text;          // without progress lines
  std::string stderr_text;
  std::string stderr_last_line;  // the last non-empty one, however much stderr there was
  bool stdout_truncated = false;
  bool stderr_truncated = false;
  Duration elapsed{0};
};

CommandResult RunCommand(const CommandRequest& request);

enum class CommandVerdict {
  kSuccess,  // exit status 0, neither timed out nor cancelled
  kRetry,    // exit status 75 (EX_TEMPFAIL): the program asks to be tried again
  kFailure,  // anything else
};
struct CommandOutcome {
  CommandVerdict verdict = CommandVerdict::kFailure;
  std::string
      message;  // empty on success: "exit status 3: <last stderr line>", "killed by SIGKILL after timeout 2s"
};
CommandOutcome Classify(const CommandResult& result);

// The job's result from its stdout: the JSON value when stdout is valid JSON, else the text without
// one trailing newline, null when empty. Invalid UTF-8 is replaced (U+FFFD) so the result can always
// be serialized.
nlohmann::json ResultJson(std::string_view stdout_text);

}  // namespace warren::worker
