#include "core/thread_name.hpp"

#include <pthread.h>

#include <string>
#include <string_view>
#include <thread>

#include <gtest/gtest.h>

namespace warren {
namespace {

std::string ThisThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

// The name a new thread reads back after NameThisThread(name).
std::string NamedInANewThread(std::string_view name) {
  std::string seen;
  std::thread([&] {
    NameThisThread(name);
    seen = ThisThreadName();
  }).join();
  return seen;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = ThisThreadName();
  EXPECT_EQ(NamedInANewThread("recorder"), "recorder");
  EXPECT_EQ(ThisThreadName(), before);
}

TEST(ThreadName, NamesAreCutToTheKernelsLimit) {
  EXPECT_EQ(NamedInANewThread("a-name-longer-than-fifteen"), "a-name-longer-t");
}

}  // namespace
}  // namespace warren
