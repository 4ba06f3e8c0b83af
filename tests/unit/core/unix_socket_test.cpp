#include "core/unix_socket.hpp"

#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <thread>

#include <gtest/gtest.h>

namespace warren {
namespace {

using namespace std::chrono_literals;

TEST(UnixSocket, APathLongerThanASocketAddressHoldsStillWorks) {
  // `warren up --data-dir` of a deep directory: its warren-up.sock is past the 107 bytes of sun_path.
  const std::string root = ::testing::TempDir() + "/warren-socket-" + std::to_string(::getpid());
  std::string dir = root;
  while (dir.size() < 120) {
    dir += "/a-directory-with-a-long-name";
  }
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/warren-up.sock";
  ASSERT_GT(path.size(), 110U);

  UniqueFd listener = ListenUnix(path);
  EXPECT_TRUE(std::filesystem::is_socket(path));
  std::jthread server([&listener] {
    if (!WaitFd(listener.Get(), POLLIN, std::chrono::steady_clock::now() + 10s)) {
      return;
    }
    UniqueFd client(::accept4(listener.Get(), nullptr, nullptr, SOCK_CLOEXEC));
    const auto line = ReadLine(client.Get(), 10s);
    WriteAll(client.Get(), "got " + line.value_or("nothing") + "\n", 10s);
  });
  std::string error;
  const auto answer = UnixRequest(path, "status", 10s, &error);
  ASSERT_TRUE(answer.has_value()) << error;
  EXPECT_EQ(*answer, "got status");
  server.join();
  std::filesystem::remove_all(root);
}

}  // namespace
}  // namespace warren
