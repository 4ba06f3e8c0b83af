// The `warren up` control channel: its commands, paths and the pid-file check.
#include "supervisor/control.hpp"

#include <unistd.h>

#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

namespace warren::supervisor {
namespace {

TEST(ControlLine, ScaleAndStatusAreCommands) {
  const auto scale = ParseControlLine("scale workers=4\r");
  ASSERT_TRUE(std::holds_alternative<ControlCommand>(scale));
  EXPECT_EQ(std::get<ScaleCommand>(std::get<ControlCommand>(scale)).workers, 4);
  EXPECT_TRUE(std::holds_alternative<StatusCommand>(std::get<ControlCommand>(ParseControlLine("status"))));
  EXPECT_EQ(std::get<ScaleCommand>(std::get<ControlCommand>(ParseControlLine("scale workers=0"))).workers, 0);
}

TEST(ControlLine, AnythingElseIsARefusalThatSaysWhy) {
  for (const char* bad : {"", "stop", "scale", "scale workers=", "scale workers=-1", "scale workers=257",
                          "scale workers=2x", "scale servers=2", "scale workers=99999999999"}) {
    const auto parsed = ParseControlLine(bad);
    ASSERT_TRUE(std::holds_alternative<std::string>(parsed)) << bad;
    EXPECT_FALSE(std::get<std::string>(parsed).empty()) << bad;
  }
}

TEST(StackPaths, LiveInTheDataDir) {
  Settings settings;
  settings.data_dir = "relative/dir";
  const auto paths = PathsFor(settings);
  const auto dir = std::filesystem::absolute("relative/dir").lexically_normal();
  EXPECT_EQ(paths.pid_file, (dir / "warren-up.pid").string());
  EXPECT_EQ(paths.socket, (dir / "warren-up.sock").string());
  EXPECT_EQ(paths.log, (dir / "warren-up.log").string());
}

TEST(RunningStackPid, OnlyALiveWarrenUpCounts) {
  const auto file =
      std::filesystem::temp_directory_path() / ("warren-pid-test-" + std::to_string(::getpid()));
  EXPECT_EQ(RunningStackPid(file.string()), 0) << "no file";
  std::ofstream(file) << "garbage\n";
  EXPECT_EQ(RunningStackPid(file.string()), 0);
  std::ofstream(file) << ::getpid() << "\n";  // alive, but this test binary is not `warren up`
  EXPECT_EQ(RunningStackPid(file.string()), 0);
  std::ofstream(file) << 999999999 << "\n";
  EXPECT_EQ(RunningStackPid(file.string()), 0);
  std::filesystem::remove(file);
}

}  // namespace
}  // namespace warren::supervisor
