#include "worker/builtin_handlers.hpp"

#include <chrono>

namespace warren::worker {

void RegisterBuiltinHandlers(HandlerRegistry& registry) {
  registry.Register("warren.noop", [](JobContext&) { return HandlerResult::Success(); });
  registry.Register("warren.echo", [](JobContext& ctx) { return HandlerResult::Success(ctx.job().args); });
  registry.Register("warren.sleep", [](JobContext& ctx) {
    const auto& args = ctx.job().args;
    const double seconds = args.is_object() && args.contains("seconds") && args["seconds"].is_number()
                               ? args["seconds"].get<double>()
                               : 1.0;
    if (seconds < 0 || seconds > 24 * 3600) {
      return HandlerResult::Fatal("args.seconds must be between 0 and 86400");
    }
    if (!ctx.SleepFor(std::chrono::duration_cast<Duration>(std::chrono::duration<double>(seconds)))) {
      return HandlerResult::Failure("stopped while sleeping");
    }
    return HandlerResult::Success();
  });
  registry.Register("warren.fail", [](JobContext& ctx) {
    const auto& args = ctx.job().args;
    return HandlerResult::Failure(args.is_object() && args.contains("error") && args["error"].is_string()
                                      ? args["error"].get<std::string>()
                                      : "warren.fail was asked to fail");
  });
  // Fails its first `fail_attempts` attempts (default 1), then succeeds; logs a line per attempt. For
  // trying retries, logs and the dashboard's retry of a dead job.
  registry.Register("warren.flaky", [](JobContext& ctx) {
    const auto& args = ctx.job().args;
    const int fail_attempts = args.is_object() && args.contains("fail_attempts") && args["fail_attempts"].is_number_integer()
                                  ? args["fail_attempts"].get<int>()
                                  : 1;
    ctx.Log("warren.flaky: attempt " + std::to_string(ctx.attempt()));
    if (ctx.attempt() <= fail_attempts) {
      return HandlerResult::Failure("warren.flaky: attempt " + std::to_string(ctx.attempt()) + " fails on purpose");
    }
    return HandlerResult::Success(nlohmann::json{{"attempt", ctx.attempt()}});
  });
}

}  // namespace warren::worker
