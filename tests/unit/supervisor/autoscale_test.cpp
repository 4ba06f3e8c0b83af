// The autoscaler's decisions: up on a long wait or a backlog, down after an idle cool-down, within
// min..max, and never in the moments right after a change.
#include "supervisor/autoscale.hpp"

#include <gtest/gtest.h>

namespace warren::supervisor {
namespace {

using namespace std::chrono_literals;
using Clock = std::chrono::steady_clock;

Settings::Autoscale Policy() {
  Settings::Autoscale p;
  p.min = 1;
  p.max = 5;
  p.target_wait = 10s;
  p.cooldown = 60s;
  return p;
}

const Clock::time_point kNow = Clock::time_point() + 1h;
const Clock::time_point kLongAgo = kNow - 10min;

LoadSample Load(uint64_t ready, uint64_t unacked, std::optional<Duration> oldest = std::nullopt) {
  LoadSample s;
  s.ready = ready;
  s.unacked = unacked;
  s.unacked_known = true;
  s.oldest_wait = oldest;
  return s;
}

TEST(Autoscale, ABacklogAddsWorkersForEveryWaitingJobUpToTheMax) {
  auto d = DecideScale(Policy(), 2, 1, Load(5, 2), kNow, kNow, kLongAgo);
  EXPECT_EQ(d.workers, 4) << d.reason;  // 7 jobs, 2 slots each
  EXPECT_NE(d.reason.find("5 jobs waiting"), std::string::npos) << d.reason;
  EXPECT_EQ(DecideScale(Policy(), 1, 2, Load(100, 2), kNow, kNow, kLongAgo).workers, 5);
}

TEST(Autoscale, ALongWaitAddsAWorkerEvenWithoutABacklog) {
  const auto d = DecideScale(Policy(), 4, 2, Load(1, 0, 30s), kNow, kNow, kLongAgo);
  EXPECT_EQ(d.workers, 3);
  EXPECT_NE(d.reason.find("waited 30s"), std::string::npos) << d.reason;
  EXPECT_TRUE(DecideScale(Policy(), 4, 2, Load(1, 0, 5s), kNow, kNow, kLongAgo).reason.empty())
      << "within the target and enough slots: nothing to do";
}

TEST(Autoscale, IdleWorkersGoOnlyAfterTheCooldownAndNeverBelowTheMin) {
  EXPECT_TRUE(DecideScale(Policy(), 1, 4, Load(0, 0), kNow, kNow - 30s, kLongAgo).reason.empty());
  auto d = DecideScale(Policy(), 1, 4, Load(0, 2), kNow, kNow - 61s, kLongAgo);
  EXPECT_EQ(d.workers, 2) << "the running jobs keep their slots";
  EXPECT_EQ(DecideScale(Policy(), 1, 4, Load(0, 0), kNow, kNow - 61s, kLongAgo).workers, 1);
  LoadSample unknown = Load(0, 0);
  unknown.unacked_known = false;
  EXPECT_EQ(DecideScale(Policy(), 1, 4, unknown, kNow, kNow - 61s, kLongAgo).workers, 1)
      << "not knowing what runs, it goes to the minimum: removed workers drain first";
}

TEST(Autoscale, BoundsWinAndAChangeSettlesFirst) {
  EXPECT_EQ(DecideScale(Policy(), 1, 0, Load(0, 0), kNow, kNow, kNow).workers, 1);
  EXPECT_EQ(DecideScale(Policy(), 1, 9, Load(0, 0), kNow, kNow, kNow).workers, 5);
  EXPECT_TRUE(DecideScale(Policy(), 1, 1, Load(50, 1), kNow, kNow, kNow - 2s).reason.empty())
      << "a worker started 2 s ago has not connected yet";
}

}  // namespace
}  // namespace warren::supervisor
