// WAL checkpoints on a thread of their own. By default SQLite checkpoints inside the COMMIT that
// pushes the WAL past 1000 pages: that commit then copies pages into the database file and fsyncs
// it while holding the write lock, so one write in a few hundred takes milliseconds instead of tens
// of microseconds, and every writer queued behind it waits too. Here the commit only signals, and a
// PASSIVE checkpoint (which never blocks readers or writers) runs on a second connection.
#pragma once

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>

#include "store/sqlite/database.hpp"

namespace warren::store::sqlite {

class Checkpointer {
 public:
  // A checkpoint starts once the WAL holds this many pages (SQLite's own default threshold).
  static constexpr int kWalPages = 1000;

  // Opens its own connection to `path` and takes over `writer`'s WAL hook, which also turns off
  // SQLite's automatic checkpoints on that connection. `writer` must outlive the Checkpointer and
  // must not commit while it is being constructed or destroyed.
  Checkpointer(const std::string& path, Database& writer);
  ~Checkpointer();  // gives the hook back to SQLite's auto-checkpoint and joins the thread
  Checkpointer(const Checkpointer&) = delete;
  Checkpointer& operator=(const Checkpointer&) = delete;
  Checkpointer(Checkpointer&&) = delete;
  Checkpointer& operator=(Checkpointer&&) = delete;

  // Waits until at least `count` checkpoints have run; false on timeout.
  bool WaitForCheckpointsForTest(int count, std::chrono::milliseconds timeout);

 private:
  static int OnCommit(void* self, sqlite3* db, const char* schema, int wal_pages);
  void Loop();

  Database& writer_;
  Database db_;  // used by the thread only
  std::mutex mutex_;
  std::condition_variable wake_;  // the thread waits on it
  std::condition_variable done_;  // tests wait on it
  bool pending_ = false;          // guarded by mutex_: the WAL passed kWalPages since the last checkpoint
  bool stopping_ = false;         // guarded by mutex_
  int checkpoints_ = 0;           // guarded by mutex_
  std::thread thread_;            // last: starts once everything it uses is initialized
};

}  // namespace warren::store::sqlite
