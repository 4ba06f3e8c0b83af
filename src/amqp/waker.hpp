// An eventfd that lets other threads wake an AMQP I/O thread blocked in poll() on its socket.
#pragma once

#include <chrono>

namespace warren::amqp {

class Connection;

class Waker {
 public:
  Waker();
  ~Waker();
  Waker(const Waker&) = delete;
  Waker& operator=(const Waker&) = delete;

  void Wake();   // thread-safe
  void Drain();  // I/O thread: clear the pending wake-up

  // I/O thread: waits until the connection has data (true) or the waker fired or the timeout passed
  // (false). Data rabbitmq-c already buffered counts as readable without touching the socket. With
  // `or_writable`, a socket that can take more data ends the wait too (true).
  bool WaitReadable(const Connection* conn, std::chrono::milliseconds timeout, bool or_writable = false);

 private:
  int fd_ = -1;
};

}  // namespace warren::amqp
