#include "core/retry.hpp"

#include <gtest/gtest.h>

namespace warren {
namespace {

using std::chrono::milliseconds;

TEST(RetryDelay, DoublesFromTheBaseUpToTheCap) {
  const RetryPolicy policy{milliseconds(1000), milliseconds(10'000), 0.0};
  EXPECT_EQ(RetryDelay(policy, 1, 0.5), milliseconds(1000));
  EXPECT_EQ(RetryDelay(policy, 2, 0.5), milliseconds(2000));
  EXPECT_EQ(RetryDelay(policy, 4, 0.5), milliseconds(8000));
  EXPECT_EQ(RetryDelay(policy, 5, 0.5), milliseconds(10'000));
  EXPECT_EQ(RetryDelay(policy, 1000, 0.5), milliseconds(10'000));  // no overflow for huge attempts
}

TEST(RetryDelay, JitterOnlyShortensWithinItsFraction) {
  const RetryPolicy policy{milliseconds(1000), milliseconds(60'000), 0.25};
  EXPECT_EQ(RetryDelay(policy, 3, 0.0), milliseconds(4000));
  EXPECT_EQ(RetryDelay(policy, 3, 0.5), milliseconds(3500));
  EXPECT_EQ(RetryDelay(policy, 3, 0.999999), milliseconds(3000));
  EXPECT_EQ(RetryDelay(policy, 3, 7.0), milliseconds(3000));  // out-of-range draws are clamped
}

TEST(DelayTiers, AreAscendingPowersOfTwoOf100Ms) {
  const auto& tiers = DelayTiers();
  ASSERT_EQ(tiers.size(), 25u);
  EXPECT_EQ(tiers.front(), milliseconds(100));
  for (size_t i = 1; i < tiers.size(); ++i) {
    EXPECT_EQ(tiers[i], tiers[i - 1] * 2);
  }
}

TEST(DelayTiers, PickNeverOvershootsAndConverges) {
  EXPECT_EQ(PickDelayTier(milliseconds(99)), milliseconds(0));
  EXPECT_EQ(PickDelayTier(milliseconds(100)), milliseconds(100));
  EXPECT_EQ(PickDelayTier(milliseconds(1500)), milliseconds(800));
  EXPECT_EQ(PickDelayTier(milliseconds(100LL << 30)), DelayTiers().back());
  // Any wait is spent in a handful of hops and leaves less than the shortest tier.
  for (long long total : {150LL, 1000LL, 12'345LL, 3'600'000LL, 86'400'000LL}) {
    milliseconds left(total);
    int hops = 0;
    while (PickDelayTier(left) > milliseconds(0)) {
      left -= PickDelayTier(left);
      ++hops;
    }
    EXPECT_LT(left, milliseconds(100));
    EXPECT_LE(hops, 25);
  }
}

}  // namespace
}  // namespace warren
