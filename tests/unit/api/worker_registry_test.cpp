#include "api/worker_registry.hpp"

#include <limits>

#include <gtest/gtest.h>

namespace warren::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

json Heartbeat(const std::string& id, const std::string& state, std::vector<std::string> types) {
  return {{"id", id},       {"state", state}, {"types", types}, {"interval_ms", 1000},
          {"busy", 1},      {"started_at", "2026-11-26T12:00:00.000Z"}};
}

TEST(WorkerRegistry, ListsWorkersAndMarksSilentOnesGone) {
  TimePoint now = *ParseTime("2026-11-26T12:00:00.000Z");
  WorkerRegistry registry([&] { return now; });
  registry.Observe(Heartbeat("a:1", "running", {"resize", "warren.noop"}));
  registry.Observe(Heartbeat("b:2", "running", {"resize"}));
  registry.Observe(json::array());            // not a heartbeat: ignored
  registry.Observe(json{{"state", "running"}});  // no id: ignored
  // Fields of the wrong type (a foreign publisher): dropped whole, since reading them would throw.
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"state", 7}}));
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"busy", "many"}}));
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"started_at", json::array()}}));
  // Counts out of range: the interval is multiplied and busy slots summed, which would overflow.
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"interval_ms", std::numeric_limits<int64_t>::max()}}));
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"interval_ms", 0}}));
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"busy", -1}}));
  EXPECT_FALSE(registry.Observe(json{{"id", "c:3"}, {"concurrency", std::numeric_limits<uint64_t>::max()}}));
  ASSERT_EQ(registry.List().size(), 2U);
  EXPECT_EQ(registry.HandledTypes(), (std::map<std::string, int>{{"resize", 2}, {"warren.noop", 1}}));

  now += 2s;
  registry.Observe(Heartbeat("b:2", "running", {"resize"}));
  now += 2s;  // a:1 silent for 4 s, three intervals are 3 s: gone
  for (const auto& worker : registry.List()) {
    EXPECT_EQ(worker["state"], worker["id"] == "a:1" ? "gone" : "running") << worker;
    EXPECT_TRUE(worker.contains("last_seen"));
  }
  EXPECT_EQ(registry.HandledTypes(), (std::map<std::string, int>{{"resize", 1}}));

  registry.Observe(Heartbeat("b:2", "stopped", {"resize"}));
  EXPECT_TRUE(registry.HandledTypes().empty()) << "a stopped worker handles nothing";
  now += 2h;
  EXPECT_TRUE(registry.List().empty()) << "forgotten after an hour";
}

}  // namespace
}  // namespace warren::api
