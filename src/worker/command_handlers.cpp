#include "worker/command_handlers.hpp"

#include <fmt/format.h>

#include "worker/command_runner.hpp"
#include "worker/command_template.hpp"

namespace warren::worker {

nlohmann::json CommandInput(const Job& job) {
  nlohmann::json input = {{"id", job.id},           {"type", job.type},
                          {"queue", job.queue},     {"attempt", job.attempt},
                          {"max_attempts", job.max_attempts}, {"args", job.args}};
  if (job.deadline) {
    input["deadline"] = FormatTime(*job.deadline);
  }
  return input;
}

void RegisterCommandHandlers(HandlerRegistry& registry, const std::map<std::string, CommandJob>& jobs,
                             Duration kill_grace, CommandReaper* reaper) {
  // Named references, not a structured binding: clang 14 (the fuzz build) cannot capture one.
  for (const auto& entry : jobs) {
    const std::string& type = entry.first;
    const CommandJob& spec = entry.second;
    registry.Register(type, [spec, kill_grace, reaper](JobContext& ctx) {
      const Job& job = ctx.job();
      auto argv = ExpandCommand(spec.command, CommandVars{job.id, job.type, job.queue, job.attempt, job.args});
      if (const auto* error = std::get_if<TemplateError>(&argv)) {
        return HandlerResult::Fatal(fmt::format("command template: {}", error->message));
      }
      CommandRequest request;
      request.argv = std::move(std::get<std::vector<std::string>>(argv));
      request.env = spec.env;
      request.cwd = spec.cwd;
      request.stdin_data = DumpJson(CommandInput(job));
      request.job_id = job.id;
      request.job_type = job.type;
      request.queue = job.queue;
      request.attempt = job.attempt;
      // The job's own timeout wins; the worker's watchdog enforces that one through the stop token too.
      request.timeout = job.timeout ? job.timeout : spec.timeout;
      request.kill_grace = kill_grace;
      request.stop = ctx.stop_token();
      request.memory_limit = spec.memory_limit;
      request.cpu_limit = spec.cpu_limit;
      request.on_progress = [&ctx](int percent, std::string_view note) { ctx.Progress(percent, std::string(note)); };
      request.on_log = [&ctx](std::string_view line) { ctx.Log(line); };
      if (reaper != nullptr) {
        request.on_spawned = [reaper](pid_t group) { reaper->Track(group); };
        request.on_reaped = [reaper](pid_t group) { reaper->Untrack(group); };
      }
      const CommandResult result = RunCommand(request);
      if (result.stdout_truncated) {
        // Still a success (the exit status says so), but the result is only the start of stdout.
        ctx.Log(
            fmt::format("warren: stdout was longer than {} bytes; the result is its first {} bytes as text",
                        request.max_stdout, request.max_stdout));
      }
      const CommandOutcome outcome = Classify(result);
      switch (outcome.verdict) {
        case CommandVerdict::kSuccess:
          return HandlerResult::Success(ResultJson(result.stdout_text));
        case CommandVerdict::kRetry:
          return HandlerResult::Failure(outcome.message);
        case CommandVerdict::kFailure:
          break;
      }
      if (result.spawn_error) {
        return result.spawn_retryable ? HandlerResult::Failure(outcome.message)
                                      : HandlerResult::Fatal(outcome.message);
      }
      const bool interrupted = result.timed_out || result.cancelled || result.signal.has_value();
      return interrupted ? HandlerResult::Failure(outcome.message) : HandlerResult::Fatal(outcome.message);
    });
  }
}

}  // namespace warren::worker
