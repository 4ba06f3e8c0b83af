#include <algorithm>
#include <set>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "core/job.hpp"

namespace warren {
namespace {

using std::chrono::milliseconds;

TimePoint Ms(int64_t ms) { return TimePoint{milliseconds{ms}}; }

TEST(JobIdUuid, IsAVersion7Rfc9562UuidCarryingTheTime) {
  JobIdGenerator generator(42);
  const std::string id = generator.Next(Ms(1'795'694'400'123));  // 0x01a217ba127b
  ASSERT_TRUE(IsJobId(id)) << id;
  EXPECT_EQ(id.substr(0, 13), "01a217ba-127b") << id;
  EXPECT_EQ(id[14], '7') << id;                                          // version 7
  EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;  // variant 10
  EXPECT_EQ(JobIdTime(id), Ms(1'795'694'400'123));
}

TEST(JobIdUuid, AscendsWithinOneMillisecondAndWhenTheClockGoesBack) {
  JobIdGenerator generator(7);
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) {
    ids.push_back(generator.Next(Ms(1'000'000)));
  }
  ids.push_back(generator.Next(Ms(999'000)));  // clock went back a second
  ids.push_back(generator.Next(Ms(999'000)));
  ids.push_back(generator.Next(Ms(1'000'001)));
  for (size_t i = 1; i < ids.size(); ++i) {
    EXPECT_LT(ids[i - 1], ids[i]) << i;
  }
  // Ids made while the clock was behind keep the last timestamp.
  EXPECT_EQ(JobIdTime(ids[1000]), Ms(1'000'000));
  EXPECT_EQ(JobIdTime(ids.back()), Ms(1'000'001));
}

TEST(JobIdUuid, SortsByCreationTimeAcrossMilliseconds) {
  JobIdGenerator generator(1);
  const std::string a = generator.Next(Ms(1'000));
  const std::string b = generator.Next(Ms(1'001));
  const std::string c = generator.Next(Ms(5'000'000'000'000));
  EXPECT_LT(a, b);
  EXPECT_LT(b, c);
}

TEST(JobIdUuid, CountsThroughTheRandomBitsWithoutRepeating) {
  JobIdGenerator generator(3);
  std::set<std::string> seen;
  for (int i = 0; i < 10'000; ++i) {
    EXPECT_TRUE(seen.insert(generator.Next(Ms(77))).second);
  }
}

TEST(JobIdUuid, DiffersBetweenGeneratorsAndStaysUniqueAcrossThreads) {
  JobIdGenerator a;
  JobIdGenerator b;
  EXPECT_NE(a.Next(Ms(5)), b.Next(Ms(5)));

  JobIdGenerator shared;
  constexpr int kThreads = 4;
  constexpr int kPerThread = 2000;
  std::vector<std::vector<std::string>> made(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        made[static_cast<size_t>(t)].push_back(shared.Next(Ms(1'700'000'000'000 + i / 100)));
      }
    });
  }
  for (auto& thread : threads) {
    thread.join();
  }
  std::set<std::string> all;
  for (const auto& ids : made) {
    EXPECT_TRUE(std::is_sorted(ids.begin(), ids.end()));  // each thread sees ascending ids
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), size_t{kThreads * kPerThread});
}

TEST(JobIdUuid, NewJobIdUsesOneProcessWideGenerator) {
  const std::string a = NewJobId(Ms(1'700'000'000'000));
  const std::string b = NewJobId(Ms(1'700'000'000'000));
  EXPECT_TRUE(IsJobId(a));
  EXPECT_LT(a, b);
}

TEST(JobIdUuid, IsJobIdAcceptsOnlyCanonicalLowerCase) {
  EXPECT_TRUE(IsJobId("01a217ba-127b-7abc-8def-0123456789ab"));
  EXPECT_TRUE(IsJobId("00000000-0000-0000-0000-000000000000"));
  for (const char* bad : {"", "01A217BA-127B-7ABC-8DEF-0123456789AB", "01a217ba127b7abc8def0123456789ab",
                          "{01a217ba-127b-7abc-8def-0123456789ab}", "01a217ba-127b-7abc-8def-0123456789a",
                          "01a217ba-127b-7abc-8def-0123456789abc", "01a217ba-127b-7abc-8def_0123456789ab",
                          "01a217ba-127b-7abc-8def-0123456789ag", "p1.5"}) {
    EXPECT_FALSE(IsJobId(bad)) << bad;
  }
  EXPECT_EQ(JobIdTime("01a217ba-127b-4abc-8def-0123456789ab"), std::nullopt);  // a v4 UUID carries no time
  EXPECT_EQ(JobIdTime("nope"), std::nullopt);
}

}  // namespace
}  // namespace warren
