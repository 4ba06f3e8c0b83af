// A small blocking HTTP/1.1 client for tests: one request per connection (Connection: close).
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cctype>
#include <cerrno>
#include <thread>

#include <fmt/format.h>

#include "core/unique_fd.hpp"
#include "core/unix_socket.hpp"
#include "support/support.hpp"

namespace warren::testing {
namespace {

using Clock = std::chrono::steady_clock;

std::string Lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return std::string(s);
}

// Decodes a chunked body; nullopt while incomplete.
std::optional<std::string> Dechunk(std::string_view raw) {
  std::string out;
  while (true) {
    const auto eol = raw.find("\r\n");
    if (eol == std::string_view::npos) {
      return std::nullopt;
    }
    const size_t size = std::strtoul(std::string(raw.substr(0, eol)).c_str(), nullptr, 16);
    raw.remove_prefix(eol + 2);
    if (size == 0) {
      return out;
    }
    if (raw.size() < size + 2) {
      return std::nullopt;
    }
    out.append(raw.substr(0, size));
    raw.remove_prefix(size + 2);
  }
}

}  // namespace

// Connects to 127.0.0.1:port and sends `request` whole; an invalid fd when either fails in time.
UniqueFd SendRequest(unsigned short port, const std::string& request,
                     std::chrono::steady_clock::time_point deadline) {
  UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0));
  if (!fd) {
    return {};
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(port);
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    if (errno != EINPROGRESS || !WaitFd(fd.Get(), POLLOUT, deadline)) {
      return {};
    }
    int err = 0;
    socklen_t len = sizeof err;
    ::getsockopt(fd.Get(), SOL_SOCKET, SO_ERROR, &err, &len);
    if (err != 0) {
      return {};
    }
  }

  std::string_view to_send(request);
  while (!to_send.empty()) {
    const ssize_t n = ::send(fd.Get(), to_send.data(), to_send.size(), MSG_NOSIGNAL);
    if (n > 0) {
      to_send.remove_prefix(static_cast<size_t>(n));
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFd(fd.Get(), POLLOUT, deadline)) {
        return {};
      }
    } else {
      return {};
    }
  }

  return fd;
}

EventStream::EventStream(unsigned short port, const std::string& target,
                         const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds timeout) {
  std::string request =
      fmt::format("GET {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\n", target, port);
  for (const auto& [name, value] : headers) {
    request += fmt::format("{}: {}\r\n", name, value);
  }
  request += "\r\n";
  const auto deadline = Clock::now() + timeout;
  fd_ = SendRequest(port, request, deadline);
  // The head: status line and fields, up to the blank line.
  while (fd_ && buffer_.find("\r\n\r\n") == std::string::npos) {
    if (!Fill(deadline)) {
      return;
    }
  }
  const auto end = buffer_.find("\r\n\r\n");
  if (end == std::string::npos) {
    return;
  }
  head_ = buffer_.substr(0, end);
  buffer_.erase(0, end + 4);
  if (head_.size() > 12) {
    status_ = std::atoi(head_.substr(9, 3).c_str());
  }
}

bool EventStream::Fill(Clock::time_point deadline) {
  if (!fd_ || !WaitFd(fd_.Get(), POLLIN, deadline)) {
    return false;
  }
  std::array<char, 16384> buf{};
  const ssize_t n = ::recv(fd_.Get(), buf.data(), buf.size(), 0);
  if (n <= 0) {
    if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      closed_ = true;
      fd_ = UniqueFd();
    }
    return false;
  }
  buffer_.append(buf.data(), static_cast<size_t>(n));
  return true;
}

std::optional<SseEvent> EventStream::Next(std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  for (;;) {
    decoder_.Feed(std::exchange(buffer_, {}), [this](const client::SseEvent& e) {
      ready_.push_back(SseEvent{e.id, e.event, e.data});
    });
    if (!ready_.empty()) {
      SseEvent event = std::move(ready_.front());
      ready_.pop_front();
      return event;
    }
    if (Clock::now() >= deadline || (!Fill(deadline) && (Clock::now() >= deadline || closed_))) {
      return std::nullopt;
    }
  }
}

HttpResponse HttpRequest(unsigned short port, const std::string& method, const std::string& target,
                         const std::string& body, const std::map<std::string, std::string>& headers,
                         std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  HttpResponse response;
  std::string request =
      fmt::format("{} {} HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nConnection: close\r\n", method, target, port);
  bool has_length = false;
  for (const auto& [name, value] : headers) {
    has_length = has_length || Lower(name) == "content-length";
    request += fmt::format("{}: {}\r\n", name, value);
  }
  if (!has_length && (!body.empty() || (method != "GET" && method != "HEAD"))) {
    request += fmt::format("Content-Length: {}\r\n", body.size());
  }
  request += "\r\n";
  request += body;
  UniqueFd fd = SendRequest(port, request, deadline);
  if (!fd) {
    return response;
  }
  std::string raw;
  std::array<char, 16384> buf{};
  size_t header_end = std::string::npos;
  std::optional<size_t> content_length;
  bool chunked = false;
  HttpResponse parsed;
  while (true) {
    if (header_end == std::string::npos && (header_end = raw.find("\r\n\r\n")) != std::string::npos) {
      // Status line and headers.
      std::string_view head(raw.data(), header_end);
      const auto first_eol = head.find("\r\n");
      const std::string_view status_line = head.substr(0, first_eol);
      const auto sp = status_line.find(' ');
      if (sp == std::string_view::npos) {
        return response;
      }
      parsed.status = std::atoi(std::string(status_line.substr(sp + 1, 3)).c_str());
      std::string_view rest = first_eol == std::string_view::npos ? "" : head.substr(first_eol + 2);
      while (!rest.empty()) {
        const auto eol = rest.find("\r\n");
        const std::string_view line = rest.substr(0, eol);
        const auto colon = line.find(':');
        if (colon != std::string_view::npos) {
          parsed.headers[Lower(std::string(line.substr(0, colon)))] = Trim(line.substr(colon + 1));
        }
        if (eol == std::string_view::npos) {
          break;
        }
        rest.remove_prefix(eol + 2);
      }
      if (auto it = parsed.headers.find("content-length"); it != parsed.headers.end()) {
        content_length = std::strtoul(it->second.c_str(), nullptr, 10);
      }
      if (auto it = parsed.headers.find("transfer-encoding"); it != parsed.headers.end()) {
        chunked = Lower(it->second).find("chunked") != std::string::npos;
      }
      if (method == "HEAD" || parsed.status == 204 || parsed.status == 304) {
        content_length = 0;
      }
    }
    if (header_end != std::string::npos) {
      const std::string_view body_raw = std::string_view(raw).substr(header_end + 4);
      if (chunked) {
        if (auto decoded = Dechunk(body_raw)) {
          parsed.body = std::move(*decoded);
          return parsed;
        }
      } else if (content_length && body_raw.size() >= *content_length) {
        parsed.body = std::string(body_raw.substr(0, *content_length));
        return parsed;
      }
    }
    if (!WaitFd(fd.Get(), POLLIN, deadline)) {
      return response;  // timeout
    }
    const ssize_t n = ::recv(fd.Get(), buf.data(), buf.size(), 0);
    if (n > 0) {
      raw.append(buf.data(), static_cast<size_t>(n));
    } else if (n == 0) {
      // EOF: a body without length ends here; anything else is a truncated response.
      if (header_end != std::string::npos && !chunked && !content_length) {
        parsed.body = raw.substr(header_end + 4);
        return parsed;
      }
      return response;
    } else if (errno != EAGAIN && errno != EINTR) {
      return response;
    }
  }
}

bool WaitForHttp(unsigned short port, const std::string& target, std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  while (true) {
    const auto left =
        std::max(std::chrono::milliseconds(0),
                 std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now()));
    if (HttpGet(port, target, std::min<std::chrono::milliseconds>(left, std::chrono::seconds(2))).status ==
        200) {
      return true;
    }
    if (Clock::now() >= deadline) {
      return false;
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(200));
  }
}

}  // namespace warren::testing
