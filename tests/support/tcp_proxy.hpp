// A TCP proxy for fault tests (userver's basic_chaos idea): put it between Warren and RabbitMQ, then
// drop every connection at once, or stall them (stop forwarding without closing, as a dead network
// path does) and resume. Listens on 127.0.0.1, on a free port; runs one io thread of its own.
#pragma once

#include <cstddef>
#include <memory>
#include <string>

namespace warren::testing {

class TcpProxy {
 public:
  TcpProxy(std::string target_host, unsigned short target_port);
  ~TcpProxy();  // closes everything and joins its thread
  TcpProxy(const TcpProxy&) = delete;
  TcpProxy& operator=(const TcpProxy&) = delete;

  unsigned short Port() const;
  // Closes every proxied connection, both sides (the peers see a reset); new ones are still accepted.
  void DropAll();
  // Stops forwarding in both directions: bytes wait in the kernel's buffers, connections stay open,
  // new connections are accepted but not connected on. Resume() forwards again.
  void Stall();
  void Resume();
  size_t Connections() const;  // proxied connections open now
  size_t Accepted() const;     // connections accepted so far

 private:
  class Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace warren::testing
