// A thread that reads one pipe and hands each whole line to a callback. For output nobody polls in a
// loop (the managed broker's, a test's child): a pipe left unread fills up at 64 KiB and then blocks
// the writer, which for RabbitMQ means a broker that silently stops.
#pragma once

#include <chrono>
#include <functional>
#include <string_view>
#include <thread>

#include "core/unique_fd.hpp"

namespace warren::supervisor {

class LineReaderThread {
 public:
  using LineHandler = std::function<void(std::string_view line)>;

  // `handler` runs on the reader thread; it must be thread-safe with respect to its captures.
  LineReaderThread(UniqueFd fd, LineHandler handler);
  ~LineReaderThread();  // Stop(0)
  LineReaderThread(const LineReaderThread&) = delete;
  LineReaderThread& operator=(const LineReaderThread&) = delete;

  // Waits up to `drain` for end of file (the writers gone), then stops reading, passes on a last
  // partial line and joins. A grandchild that inherited the pipe can keep it open forever, so
  // the wait is bounded.
  void Stop(std::chrono::milliseconds drain);

 private:
  void Run();
  UniqueFd fd_;
  UniqueFd wake_;  // eventfd: Stop() wakes the poll
  LineHandler handler_;
  std::thread thread_;
};

}  // namespace warren::supervisor
