#include "supervisor/restart_backoff.hpp"

#include <gtest/gtest.h>

#include <vector>

namespace warren::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST(RestartBackoff, DoublesFromOneSecondUpToThirty) {
  RestartBackoff b;
  std::vector<long> delays;
  for (int i = 0; i < 8; ++i) {
    delays.push_back(std::chrono::duration_cast<seconds>(b.OnExit(milliseconds(100))).count());
  }
  EXPECT_EQ(delays, (std::vector<long>{1, 2, 4, 8, 16, 30, 30, 30}));
}

TEST(RestartBackoff, StartsOverAfterAHealthyRun) {
  RestartBackoff b;
  b.OnExit(seconds(1));
  b.OnExit(seconds(1));
  EXPECT_EQ(b.OnExit(seconds(1)), seconds(4));
  EXPECT_EQ(b.OnExit(RestartBackoff::kHealthyUptime), seconds(1));
  EXPECT_EQ(b.OnExit(seconds(1)), seconds(2));
}

TEST(RestartBackoff, ResetAndCustomLimits) {
  RestartBackoff b(milliseconds(100), milliseconds(250), seconds(10));
  EXPECT_EQ(b.OnExit(seconds(0)), milliseconds(100));
  EXPECT_EQ(b.OnExit(seconds(0)), milliseconds(200));
  EXPECT_EQ(b.OnExit(seconds(0)), milliseconds(250));
  b.Reset();
  EXPECT_EQ(b.OnExit(seconds(0)), milliseconds(100));
}

}  // namespace
}  // namespace warren::supervisor
