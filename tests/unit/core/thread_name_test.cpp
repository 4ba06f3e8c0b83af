#include "core/thread_name.hpp"

#include <pthread.h>

#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace warren {
namespace {

std::string ThisThreadName() {
  char name[16] = {};
  pthread_getname_np(pthread_self(), name, sizeof(name));
  return name;
}

TEST(ThreadName, NamesTheCallingThreadOnly) {
  const std::string before = ThisThreadName();
  std::string name;
  std::thread([&] {
    NameThisThread("recorder");
    name = ThisThreadName();
  }).join();
  EXPECT_EQ(name, "recorder");
  EXPECT_EQ(ThisThreadName(), before);
}

TEST(ThreadName, NamesAreCutToTheKernelsLimit) {
  std::string name;
  std::thread([&] {
    NameThisThread("a-name-longer-than-fifteen");
    name = ThisThreadName();
  }).join();
  EXPECT_EQ(name, "a-name-longer-t");
}

}  // namespace
}  // namespace warren
