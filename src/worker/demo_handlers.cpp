#include "worker/demo_handlers.hpp"

namespace warren::worker {

void RegisterDemoHandlers(HandlerRegistry& registry) {
  registry.Register("hey", [](JobContext& ctx) {
    ctx.Print("hey there");
    return HandlerResult{};
  });
  registry.Register("hello", [](JobContext& ctx) {
    ctx.Print("well hello there");
    return HandlerResult{};
  });
  registry.SetSeedFallback([](JobContext& ctx) {
    ctx.Print("sorry i did not understand " + ctx.job().type);
    return HandlerResult{};
  });
}

}  // namespace warren::worker
