#include "amqp/management.hpp"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/percent_encode.hpp"
#include "core/unique_fd.hpp"

namespace warren::amqp {
namespace {

constexpr size_t kMaxResponse = 1 << 20;

int MillisLeft(std::chrono::steady_clock::time_point deadline) {
  const auto left =
      std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
  return left.count() > 0 ? static_cast<int>(left.count()) : 0;
}

std::optional<double> Rate(const nlohmann::json& stats, const char* name) {
  if (!stats.is_object() || !stats.contains(name) || !stats[name].is_object()) {
    return 0.0;  // no such traffic yet: the plugin omits the entry
  }
  const auto& details = stats[name];
  return details.contains("rate") && details["rate"].is_number()
             ? std::optional<double>(details["rate"].get<double>())
             : std::nullopt;
}

}  // namespace

std::string Base64(const std::string& text) {
  static constexpr char kAlphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  size_t i = 0;
  for (; i + 2 < text.size(); i += 3) {
    const uint32_t n = (static_cast<unsigned char>(text[i]) << 16) |
                       (static_cast<unsigned char>(text[i + 1]) << 8) |
                       static_cast<unsigned char>(text[i + 2]);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += kAlphabet[n & 63];
  }
  if (i + 1 == text.size()) {
    const uint32_t n = static_cast<unsigned char>(text[i]) << 16;
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += "==";
  } else if (i + 2 == text.size()) {
    const uint32_t n =
        (static_cast<unsigned char>(text[i]) << 16) | (static_cast<unsigned char>(text[i + 1]) << 8);
    out += kAlphabet[(n >> 18) & 63];
    out += kAlphabet[(n >> 12) & 63];
    out += kAlphabet[(n >> 6) & 63];
    out += '=';
  }
  return out;
}

std::optional<std::pair<int, std::string>> ManagementClient::Get(const std::string& path) {
  const auto deadline = std::chrono::steady_clock::now() + options_.timeout;
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* found = nullptr;
  if (getaddrinfo(options_.host.c_str(), std::to_string(options_.port).c_str(), &hints, &found) != 0) {
    return std::nullopt;
  }
  std::unique_ptr<addrinfo, decltype(&freeaddrinfo)> addresses(found, &freeaddrinfo);
  UniqueFd fd(::socket(found->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (fd.Get() < 0) {
    return std::nullopt;
  }
  if (::connect(fd.Get(), found->ai_addr, found->ai_addrlen) != 0 && errno != EINPROGRESS) {
    return std::nullopt;
  }
  pollfd p{fd.Get(), POLLOUT, 0};
  if (::poll(&p, 1, MillisLeft(deadline)) != 1) {
    return std::nullopt;
  }
  int error = 0;
  socklen_t len = sizeof error;
  if (::getsockopt(fd.Get(), SOL_SOCKET, SO_ERROR, &error, &len) != 0 || error != 0) {
    return std::nullopt;
  }
  const std::string request = fmt::format(
      "GET {} HTTP/1.0\r\nHost: {}:{}\r\nAuthorization: Basic {}\r\nAccept: application/json\r\n\r\n", path,
      options_.host, options_.port, Base64(options_.user + ":" + options_.password));
  size_t sent = 0;
  while (sent < request.size()) {
    p = {fd.Get(), POLLOUT, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) != 1) {
      return std::nullopt;
    }
    const ssize_t n = ::send(fd.Get(), request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
    if (n <= 0) {
      return std::nullopt;
    }
    sent += static_cast<size_t>(n);
  }
  std::string response;
  char buffer[16384];
  for (;;) {
    p = {fd.Get(), POLLIN, 0};
    if (::poll(&p, 1, MillisLeft(deadline)) != 1) {
      return std::nullopt;
    }
    const ssize_t n = ::recv(fd.Get(), buffer, sizeof buffer, 0);
    if (n < 0) {
      return std::nullopt;
    }
    if (n == 0) {
      break;  // HTTP/1.0: the server closes after the body
    }
    response.append(buffer, static_cast<size_t>(n));
    if (response.size() > kMaxResponse) {
      return std::nullopt;
    }
  }
  const size_t body = response.find("\r\n\r\n");
  if (!response.starts_with("HTTP/1.") || response.size() < 12 || body == std::string::npos) {
    return std::nullopt;
  }
  return std::pair<int, std::string>{std::atoi(response.substr(9, 3).c_str()), response.substr(body + 4)};
}

std::optional<ManagementQueueStats> ManagementClient::Queue(const std::string& name) {
  if (options_.port == 0) {
    return std::nullopt;
  }
  {
    std::lock_guard lock(mu_);
    if (std::chrono::steady_clock::now() < quiet_until_) {
      return std::nullopt;
    }
  }
  const auto answer =
      Get(fmt::format("/api/queues/{}/{}", PercentEncode(options_.vhost), PercentEncode(name)));
  if (!answer) {
    std::lock_guard lock(mu_);
    quiet_until_ = std::chrono::steady_clock::now() + options_.retry_after_failure;
    return std::nullopt;
  }
  if (answer->first != 200) {
    return std::nullopt;  // no such queue (404), or not allowed: that queue only
  }
  const auto json = nlohmann::json::parse(answer->second, nullptr, /*allow_exceptions=*/false);
  if (!json.is_object()) {
    return std::nullopt;
  }
  ManagementQueueStats stats;
  if (json.contains("messages_unacknowledged") && json["messages_unacknowledged"].is_number_unsigned()) {
    stats.unacked = json["messages_unacknowledged"].get<uint64_t>();
  }
  // Set when the message at the head carries a timestamp property (Warren's job messages do).
  if (json.contains("head_message_timestamp") && json["head_message_timestamp"].is_number_integer()) {
    stats.head_timestamp = json["head_message_timestamp"].get<int64_t>();
  }
  const auto& message_stats = json.contains("message_stats") ? json["message_stats"] : nlohmann::json();
  stats.publish_rate = Rate(message_stats, "publish_details");
  stats.deliver_rate = Rate(message_stats, "deliver_get_details");
  stats.ack_rate = Rate(message_stats, "ack_details");
  return stats;
}

}  // namespace warren::amqp
