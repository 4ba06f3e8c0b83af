#include "supervisor/net_probe.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>

#include <array>
#include <cerrno>

#include "core/unique_fd.hpp"

namespace warren::supervisor {
namespace {

sockaddr_in Loopback(unsigned short port) {
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  return addr;
}

}  // namespace

bool PortInUse(unsigned short port) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  if (!fd) {
    return false;
  }
  const int one = 1;
  ::setsockopt(fd.Get(), SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  auto addr = Loopback(port);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  return ::bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 && errno == EADDRINUSE;
}

namespace {

// A connected non-blocking socket to 127.0.0.1:port, or an empty one.
UniqueFd Connect(unsigned short port, std::chrono::milliseconds timeout) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return fd;
  }
  auto addr = Loopback(port);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
    return fd;
  }
  if (errno != EINPROGRESS) {
    return {};
  }
  pollfd pfd{fd.Get(), POLLOUT, 0};
  if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) {
    return {};
  }
  int err = 0;
  socklen_t len = sizeof err;
  ::getsockopt(fd.Get(), SOL_SOCKET, SO_ERROR, &err, &len);
  return err == 0 ? std::move(fd) : UniqueFd();
}

}  // namespace

bool TcpConnects(unsigned short port, std::chrono::milliseconds timeout) {
  return static_cast<bool>(Connect(port, timeout));
}

bool EpmdAnswers(unsigned short port, std::chrono::milliseconds timeout) {
  UniqueFd fd = Connect(port, timeout);
  if (!fd) {
    return false;
  }
  // NAMES_REQ: a 2-byte length, then 'n'. The reply starts with epmd's 4-byte port number.
  static constexpr std::array<char, 3> kNamesReq{0, 1, 'n'};
  if (::send(fd.Get(), kNamesReq.data(), kNamesReq.size(), MSG_NOSIGNAL) !=
      static_cast<ssize_t>(kNamesReq.size())) {
    return false;
  }
  std::array<char, 4> reply{};
  size_t got = 0;
  while (got < reply.size()) {
    pollfd pfd{fd.Get(), POLLIN, 0};
    if (::poll(&pfd, 1, static_cast<int>(timeout.count())) != 1) {
      return false;
    }
    const ssize_t n = ::recv(fd.Get(), reply.data() + got, reply.size() - got, 0);
    if (n <= 0) {
      return false;
    }
    got += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace warren::supervisor
