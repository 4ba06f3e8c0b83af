#include "api/blocking_pool.hpp"

#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

namespace warren::api {
namespace {

TEST(BlockingPool, RunsTasksOnItsThreads) {
  BlockingPool pool(2, 10);
  std::promise<std::thread::id> ran;
  ASSERT_TRUE(pool.TryPost([&] { ran.set_value(std::this_thread::get_id()); }));
  EXPECT_NE(ran.get_future().get(), std::this_thread::get_id());
}

TEST(BlockingPool, TryPostRefusesBeyondTheBoundButPostDoesNot) {
  BlockingPool pool(1, 2);
  std::promise<void> release;
  std::shared_future<void> gate = release.get_future().share();
  std::promise<void> started;
  ASSERT_TRUE(pool.TryPost([&, gate] {
    started.set_value();
    gate.wait();
  }));
  started.get_future().wait();  // the only thread is busy: what follows queues
  std::atomic<int> count{0};
  EXPECT_TRUE(pool.TryPost([&] { ++count; }));
  EXPECT_TRUE(pool.TryPost([&] { ++count; }));
  EXPECT_FALSE(pool.TryPost([&] { ++count; }));  // two wait already
  pool.Post([&] { ++count; });                   // an undo is never refused
  EXPECT_EQ(pool.Pending(), 3U);
  release.set_value();
  pool.Stop();
  EXPECT_EQ(count.load(), 3);
}

TEST(BlockingPool, StopRunsWhatIsQueuedAndWhatThoseTasksPost) {
  BlockingPool pool(1, 100);
  std::atomic<int> count{0};
  for (int i = 0; i < 10; ++i) {
    ASSERT_TRUE(pool.TryPost([&] {
      ++count;
      pool.Post([&] { ++count; });
    }));
  }
  pool.Stop();
  EXPECT_EQ(count.load(), 20);
  EXPECT_FALSE(pool.TryPost([] {}));
  bool inline_ran = false;
  pool.Post([&] { inline_ran = true; });  // after Stop: on the caller's thread
  EXPECT_TRUE(inline_ran);
  pool.Stop();  // idempotent
}

TEST(BlockingPool, AThrowingTaskDoesNotKillTheThread) {
  BlockingPool pool(1, 10);
  ASSERT_TRUE(pool.TryPost([] { throw std::runtime_error("boom"); }));
  std::promise<void> ran;
  ASSERT_TRUE(pool.TryPost([&] { ran.set_value(); }));
  ran.get_future().wait();
}

}  // namespace
}  // namespace warren::api
