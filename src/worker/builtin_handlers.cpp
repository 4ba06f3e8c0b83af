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
}

}  // namespace warren::worker
