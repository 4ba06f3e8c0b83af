#include "worker/queue_gate.hpp"

#include <gtest/gtest.h>

namespace warren::worker {
namespace {

using Ready = std::map<std::string, uint64_t>;

// A ReadyCount over a fixed table that also records which queues were asked.
ReadyCount From(const Ready& ready, std::vector<std::string>* asked = nullptr) {
  return [ready, asked](const std::string& queue) -> std::optional<uint64_t> {
    if (asked != nullptr) {
      asked->push_back(queue);
    }
    const auto it = ready.find(queue);
    return it == ready.end() ? std::nullopt : std::optional<uint64_t>(it->second);
  };
}

const std::vector<std::string> kQueues = {"bulk", "default", "critical", "urgent"};
const std::map<std::string, int> kPriorities = {{"critical", 5}, {"urgent", 5}, {"default", 1}};  // bulk: 0

TEST(PausedQueues, AllLevelsRunWhileEveryHigherQueueIsEmpty) {
  const auto paused = PausedQueues(kQueues, kPriorities, From({{"critical", 0}, {"urgent", 0}, {"default", 0}}));
  ASSERT_TRUE(paused);
  EXPECT_TRUE(paused->empty());
}

TEST(PausedQueues, AReadyMessageAboveHoldsBackEveryLevelBelow) {
  auto paused = PausedQueues(kQueues, kPriorities, From({{"critical", 0}, {"urgent", 3}, {"default", 0}}));
  ASSERT_TRUE(paused);
  EXPECT_EQ(*paused, (std::set<std::string>{"default", "bulk"})) << "urgent's level shares, the rest waits";
  paused = PausedQueues(kQueues, kPriorities, From({{"critical", 0}, {"urgent", 0}, {"default", 7}}));
  ASSERT_TRUE(paused);
  EXPECT_EQ(*paused, (std::set<std::string>{"bulk"}));
}

TEST(PausedQueues, AsksOnlyWhatDecidesAndKeepsTheStateWhenACountIsUnknown) {
  std::vector<std::string> asked;
  PausedQueues(kQueues, kPriorities, From({{"critical", 1}, {"urgent", 0}, {"default", 0}}, &asked));
  EXPECT_EQ(asked, (std::vector<std::string>{"critical"})) << "the top level was busy: nothing below matters";
  asked.clear();
  PausedQueues(kQueues, kPriorities, From({{"critical", 0}, {"urgent", 0}, {"default", 0}, {"bulk", 9}}, &asked));
  EXPECT_EQ(std::count(asked.begin(), asked.end(), "bulk"), 0) << "the lowest level's count decides nothing";
  EXPECT_FALSE(PausedQueues(kQueues, kPriorities, From({{"critical", 0}})));
}

TEST(PausedQueues, OneLevelIsNeverGated) {
  EXPECT_FALSE(HasPriorityLevels({"default", "task_queue"}, {}));
  EXPECT_FALSE(HasPriorityLevels({"default", "task_queue"}, {{"default", 2}, {"task_queue", 2}}));
  EXPECT_TRUE(HasPriorityLevels({"default", "task_queue"}, {{"default", 1}}));
  const auto paused = PausedQueues({"default", "task_queue"}, {}, From({}));
  ASSERT_TRUE(paused);
  EXPECT_TRUE(paused->empty());
}

TEST(QueueGate, StartsWithOnlyTheHighestLevel) {
  EXPECT_EQ(QueueGate::InitialPaused(kQueues, kPriorities), (std::vector<std::string>{"bulk", "default"}));
  EXPECT_TRUE(QueueGate::InitialPaused({"default"}, {}).empty());
}

}  // namespace
}  // namespace warren::worker
