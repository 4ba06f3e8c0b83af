#include "store/sqlite/checkpointer.hpp"

#include <spdlog/spdlog.h>

#include "core/thread_name.hpp"

namespace warren::store::sqlite {

Checkpointer::Checkpointer(const std::string& path, Database& writer)
    : writer_(writer), db_(Database::Open(path, Database::Mode::kReadWrite)) {
  // A connection learns that the database is in WAL mode only when it first reads it. Until then a
  // checkpoint on it is a no-op that reports success (with -1 frames): the WAL was never copied back
  // and grew without bound under load (20 GB in five minutes, found by the soak).
  db_.QueryText("SELECT count(*) FROM sqlite_master");
  thread_ = std::thread([this] {
    NameThisThread("wal-checkpoint");
    Loop();
  });
  sqlite3_wal_hook(writer_.Handle(), &Checkpointer::OnCommit, this);
}

Checkpointer::~Checkpointer() {
  // Back to SQLite's default, so the writer's last commits are still checkpointed.
  sqlite3_wal_autocheckpoint(writer_.Handle(), kWalPages);
  {
    std::lock_guard lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

int Checkpointer::OnCommit(void* self, sqlite3* /*db*/, const char* /*schema*/, int wal_pages) {
  // Runs inside the writer's COMMIT, on the writer's thread: signal and return at once.
  if (wal_pages >= kWalPages) {
    auto* checkpointer = static_cast<Checkpointer*>(self);
    {
      std::lock_guard lock(checkpointer->mutex_);
      checkpointer->pending_ = true;
    }
    checkpointer->wake_.notify_one();
  }
  return SQLITE_OK;
}

bool Checkpointer::WaitForCheckpointsForTest(int count, std::chrono::milliseconds timeout) {
  std::unique_lock lock(mutex_);
  return done_.wait_for(lock, timeout, [&] { return checkpoints_ >= count; });
}

void Checkpointer::Loop() {
  while (true) {
    {
      std::unique_lock lock(mutex_);
      wake_.wait(lock, [this] { return pending_ || stopping_; });
      if (stopping_) {
        return;
      }
      pending_ = false;
    }
    int wal_frames = 0;
    int checkpointed = 0;
    // PASSIVE copies what no reader still needs and never waits. The next commit after a complete
    // checkpoint starts the WAL over from its beginning (and journal_size_limit trims the file).
    const int rc = sqlite3_wal_checkpoint_v2(db_.Handle(), nullptr, SQLITE_CHECKPOINT_PASSIVE, &wal_frames,
                                             &checkpointed);
    if (rc != SQLITE_OK && rc != SQLITE_BUSY) {  // BUSY: another checkpoint runs; the next commit retries
      spdlog::warn("sqlite: WAL checkpoint failed: {} (code {})", sqlite3_errmsg(db_.Handle()), rc);
    }
    {
      std::lock_guard lock(mutex_);
      ++checkpoints_;
    }
    done_.notify_all();
  }
}

}  // namespace warren::store::sqlite
