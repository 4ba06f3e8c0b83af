#include "amqp/waker.hpp"

#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <system_error>

#include "amqp/connection.hpp"

namespace warren::amqp {

Waker::Waker() : fd_(eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK)) {
  if (fd_ < 0) {
    throw std::system_error(errno, std::generic_category(), "eventfd");
  }
}

Waker::~Waker() { ::close(fd_); }

void Waker::Wake() {
  const uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the thread will wake anyway.
  [[maybe_unused]] auto n = ::write(fd_, &one, sizeof one);
}

void Waker::Drain() {
  uint64_t value = 0;
  [[maybe_unused]] auto n = ::read(fd_, &value, sizeof value);
}

bool Waker::WaitReadable(const Connection* conn, std::chrono::milliseconds timeout, bool or_writable) {
  if (conn != nullptr && conn->HasBuffered()) {
    return true;
  }
  const short events = static_cast<short>(POLLIN | (or_writable ? POLLOUT : 0));
  pollfd fds[2] = {{fd_, POLLIN, 0}, {conn != nullptr ? conn->Fd() : -1, events, 0}};
  const int n = ::poll(fds, conn != nullptr ? 2 : 1, static_cast<int>(timeout.count()));
  if (n <= 0) {
    return false;
  }
  if ((fds[0].revents & POLLIN) != 0) {
    Drain();
  }
  return conn != nullptr && fds[1].revents != 0;
}

}  // namespace warren::amqp
