#include "core/unix_socket.hpp"

#include <fcntl.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include <array>
#include <cerrno>
#include <cstring>
#include <stdexcept>

#include <fmt/format.h>

namespace warren {
namespace {

using Clock = std::chrono::steady_clock;

// The address of the socket at `path`. sun_path holds 107 bytes, and a data dir can be deeper than that:
// then the socket is named through its directory, "/proc/self/fd/N/NAME", with N an O_PATH descriptor
// of the directory that `dir` keeps open until the bind or connect is done (the kernel resolves the
// path then, so the socket file is still at `path`). nullopt with *why set when neither fits.
std::optional<sockaddr_un> AddressOf(const std::string& path, UniqueFd& dir, std::string* why) {
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  std::string name = path;
  if (path.size() >= sizeof addr.sun_path) {
    const size_t slash = path.rfind('/');
    if (slash == std::string::npos) {
      *why = fmt::format("{}: too long for a Unix socket path", path);
      return std::nullopt;
    }
    const std::string parent = slash == 0 ? "/" : path.substr(0, slash);
    dir.Reset(::open(parent.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
    if (!dir) {
      *why = fmt::format("{}: {}", parent, std::strerror(errno));
      return std::nullopt;
    }
    name = fmt::format("/proc/self/fd/{}/{}", dir.Get(), path.substr(slash + 1));
  }
  if (name.empty() || name.size() >= sizeof addr.sun_path) {
    *why = fmt::format("{}: not a usable Unix socket path", path);
    return std::nullopt;
  }
  std::memcpy(addr.sun_path, name.data(), name.size());
  return addr;
}

}  // namespace

bool WaitFd(int fd, short events, std::chrono::steady_clock::time_point deadline) {
  for (;;) {
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()).count();
    pollfd pfd{fd, events, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(std::max<long long>(left, 0)));
    if (r > 0) {
      return true;
    }
    if (r == 0 || errno != EINTR) {
      return false;
    }
  }
}

std::optional<std::string> ReadLine(int fd, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  std::string line;
  std::array<char, 4096> buf{};
  while (line.find('\n') == std::string::npos && line.size() < 65536) {
    if (!WaitFd(fd, POLLIN, deadline)) {
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd, buf.data(), buf.size(), 0);
    if (n == 0) {
      break;
    }
    if (n < 0) {
      if (errno == EINTR || errno == EAGAIN) {
        continue;
      }
      return std::nullopt;
    }
    line.append(buf.data(), static_cast<size_t>(n));
  }
  const auto eol = line.find('\n');
  if (eol == std::string::npos) {
    return line.empty() ? std::nullopt : std::optional<std::string>(line);
  }
  return line.substr(0, eol);
}

bool WriteAll(int fd, std::string_view text, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (!text.empty()) {
    const ssize_t n = ::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
    if (n > 0) {
      text.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFd(fd, POLLOUT, deadline)) {
        return false;
      }
    } else {
      return false;
    }
  }
  return true;
}

std::optional<std::string> UnixRequest(const std::string& path, std::string_view line,
                                       std::chrono::milliseconds timeout, std::string* error) {
  UniqueFd dir;
  const auto addr = AddressOf(path, dir, error);
  if (!addr) {
    return std::nullopt;
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0));
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (!fd || ::connect(fd.Get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0) {
    *error = fmt::format("cannot connect to {}: {}", path, std::strerror(errno));
    return std::nullopt;
  }
  if (!WriteAll(fd.Get(), std::string(line) + "\n", timeout)) {
    *error = fmt::format("{}: the request could not be sent", path);
    return std::nullopt;
  }
  auto answer = ReadLine(fd.Get(), timeout);
  if (!answer) {
    *error = fmt::format("{}: no answer within {} ms", path, timeout.count());
  }
  return answer;
}

UniqueFd ListenUnix(const std::string& path) {
  UniqueFd dir;
  std::string why;
  const auto addr = AddressOf(path, dir, &why);
  if (!addr) {
    throw std::runtime_error(why);
  }
  UniqueFd fd(::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    throw std::runtime_error(fmt::format("socket: {}", std::strerror(errno)));
  }
  ::unlink(path.c_str());  // a socket file outlives its process; the caller checked no owner is alive
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::bind(fd.Get(), reinterpret_cast<const sockaddr*>(&*addr), sizeof *addr) != 0 ||
      ::listen(fd.Get(), 16) != 0) {
    throw std::runtime_error(fmt::format("{}: {}", path, std::strerror(errno)));
  }
  return fd;
}

}  // namespace warren
