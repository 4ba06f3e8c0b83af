#include "store/sqlite/checkpointer.hpp"

#include <cstdlib>
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace warren::store::sqlite {
namespace {

class CheckpointerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    char pattern[] = "/tmp/warren-checkpointer-XXXXXX";
    ASSERT_NE(::mkdtemp(pattern), nullptr);
    dir_ = pattern;
    path_ = dir_ + "/test.db";
  }
  void TearDown() override {
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }
  std::string dir_;
  std::string path_;
};

TEST_F(CheckpointerTest, CheckpointsOffTheCommittingThread) {
  Database writer = Database::Open(path_, Database::Mode::kReadWrite);
  ASSERT_EQ(writer.QueryText("PRAGMA journal_mode = WAL"), "wal");
  writer.Exec("CREATE TABLE t (k INTEGER PRIMARY KEY, v TEXT NOT NULL)");
  {
    Checkpointer checkpointer(path_, writer);
    // About 2 pages per commit: the WAL passes kWalPages well before the loop ends.
    const std::string value(6000, 'x');
    for (int i = 0; i < Checkpointer::kWalPages; ++i) {
      auto insert = writer.Prepare("INSERT INTO t (v) VALUES (?1)");
      insert->Bind(1, value);
      insert->Run();
    }
    ASSERT_TRUE(checkpointer.WaitForCheckpointsForTest(1, std::chrono::seconds(30)));
    // The checkpoint copied the pages back into the database file (it had only its first page).
    EXPECT_GT(std::filesystem::file_size(path_), 100U * 4096U);
  }
  // Writes after the Checkpointer is gone still work (SQLite's own auto-checkpoint is back).
  writer.Exec("INSERT INTO t (v) VALUES ('after')");
  EXPECT_EQ(writer.QueryText("SELECT count(*) FROM t"), std::to_string(Checkpointer::kWalPages + 1));
}

TEST_F(CheckpointerTest, StopsPromptlyWhenIdle) {
  Database writer = Database::Open(path_, Database::Mode::kReadWrite);
  ASSERT_EQ(writer.QueryText("PRAGMA journal_mode = WAL"), "wal");
  const auto started = std::chrono::steady_clock::now();
  { Checkpointer checkpointer(path_, writer); }
  EXPECT_LT(std::chrono::steady_clock::now() - started, std::chrono::seconds(5));
}

}  // namespace
}  // namespace warren::store::sqlite
