#include "supervisor/line_reader_thread.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstdint>
#include <optional>

#include "core/thread_name.hpp"
#include "supervisor/line_splitter.hpp"

namespace warren::supervisor {

LineReaderThread::LineReaderThread(UniqueFd fd, LineHandler handler)
    : fd_(std::move(fd)), wake_(::eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)), handler_(std::move(handler)) {
  if (fd_) {
    ::fcntl(fd_.Get(), F_SETFL, ::fcntl(fd_.Get(), F_GETFL) | O_NONBLOCK);
  }
  thread_ = std::thread([this] {
    NameThisThread("child-output");
    Run();
  });
}

LineReaderThread::~LineReaderThread() { Stop(std::chrono::milliseconds(0)); }

void LineReaderThread::Stop(std::chrono::milliseconds drain) {
  if (!thread_.joinable()) {
    return;
  }
  // The wake value carries the drain time: the thread keeps reading until EOF or that deadline.
  const uint64_t value = static_cast<uint64_t>(drain.count()) + 1;
  [[maybe_unused]] auto n = ::write(wake_.Get(), &value, sizeof value);
  thread_.join();
}

void LineReaderThread::Run() {
  LineSplitter splitter;
  std::array<char, 16384> buf{};
  std::optional<std::chrono::steady_clock::time_point> deadline;
  while (true) {
    int timeout_ms = -1;
    if (deadline) {
      const auto left =
          std::chrono::duration_cast<std::chrono::milliseconds>(*deadline - std::chrono::steady_clock::now());
      if (left.count() <= 0) {
        break;
      }
      timeout_ms = static_cast<int>(left.count());
    }
    std::array<pollfd, 2> fds{{{fd_.Get(), POLLIN, 0}, {wake_.Get(), POLLIN, 0}}};
    const nfds_t count = deadline ? 1 : 2;
    const int r = ::poll(fds.data(), count, timeout_ms);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r < 0) {
      break;
    }
    if (count == 2 && (fds[1].revents & POLLIN) != 0) {
      uint64_t value = 0;
      if (::read(wake_.Get(), &value, sizeof value) == sizeof value) {
        deadline = std::chrono::steady_clock::now() + std::chrono::milliseconds(value - 1);
      }
    }
    if ((fds[0].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      const ssize_t n = ::read(fd_.Get(), buf.data(), buf.size());
      if (n > 0) {
        splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), handler_);
      } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
        break;  // EOF: every writer has closed the pipe
      }
    }
  }
  // Stopping early: pass on whatever is already in the pipe without waiting for more.
  while (true) {
    const ssize_t n = ::read(fd_.Get(), buf.data(), buf.size());
    if (n <= 0) {
      break;
    }
    splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), handler_);
  }
  splitter.Finish(handler_);
}

}  // namespace warren::supervisor
