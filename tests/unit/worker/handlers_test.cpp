#include <gtest/gtest.h>

#include "worker/demo_handlers.hpp"
#include "worker/handler_registry.hpp"
#include "worker/job.hpp"

namespace warren::worker {
namespace {

amqp::Delivery Seed(const std::string& body) {
  amqp::Delivery d;
  d.queue = "task_queue";
  d.body = body;
  return d;
}

std::vector<std::string> RunHandler(const HandlerRegistry& registry, const Job& job) {
  std::vector<std::string> lines;
  const Handler* h = registry.Find(job);
  if (h == nullptr) {
    return {"<no handler>"};
  }
  JobContext ctx(job, [&](std::string_view line) { lines.emplace_back(line); });
  EXPECT_EQ((*h)(ctx).outcome, Outcome::kSucceeded);
  return lines;
}

TEST(JobFromDelivery, PlainBodyWithoutTypeIsSeedStyle) {
  const Job job = JobFromDelivery(Seed("hey"));
  EXPECT_TRUE(job.seed_style);
  EXPECT_EQ(job.type, "hey");
  EXPECT_TRUE(job.args.is_null());
  EXPECT_EQ(job.queue, "task_queue");
}

TEST(JobFromDelivery, TypedMessageCarriesJsonArgs) {
  amqp::Delivery d;
  d.type = "resize";
  d.message_id = "0190";
  d.body = R"({"src":"a.png"})";
  const Job job = JobFromDelivery(d);
  EXPECT_FALSE(job.seed_style);
  EXPECT_EQ(job.type, "resize");
  EXPECT_EQ(job.id, "0190");
  EXPECT_EQ(job.args["src"], "a.png");

  d.body = "not json";
  EXPECT_EQ(JobFromDelivery(d).args, "not json");
}

TEST(DemoHandlers, AnswerLikeTheClassicWorker) {
  HandlerRegistry registry;
  RegisterDemoHandlers(registry);
  EXPECT_EQ(RunHandler(registry, JobFromDelivery(Seed("hey"))), std::vector<std::string>{"hey there"});
  EXPECT_EQ(RunHandler(registry, JobFromDelivery(Seed("hello"))), std::vector<std::string>{"well hello there"});
  EXPECT_EQ(RunHandler(registry, JobFromDelivery(Seed("dance"))), std::vector<std::string>{"sorry i did not understand dance"});
  EXPECT_EQ(registry.Types(), (std::vector<std::string>{"hello", "hey"}));
}

TEST(HandlerRegistry, SeedFallbackNeverCatchesTypedJobs) {
  HandlerRegistry registry;
  RegisterDemoHandlers(registry);
  amqp::Delivery d;
  d.type = "unknown.type";
  d.body = "{}";
  EXPECT_EQ(registry.Find(JobFromDelivery(d)), nullptr);
}

TEST(HandlerRegistry, RegisterReplacesAnExistingHandler) {
  HandlerRegistry registry;
  RegisterDemoHandlers(registry);
  registry.Register("hey", [](JobContext& ctx) {
    ctx.Print("custom");
    return HandlerResult{};
  });
  EXPECT_EQ(RunHandler(registry, JobFromDelivery(Seed("hey"))), std::vector<std::string>{"custom"});
}

}  // namespace
}  // namespace warren::worker
