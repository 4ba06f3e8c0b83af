#include "client/base_url.hpp"

#include <charconv>

#include <fmt/format.h>

#include "client/errors.hpp"

namespace warren::client {

std::string BaseUrl::HostHeader() const {
  const bool v6 = host.find(':') != std::string::npos;
  return v6 ? fmt::format("[{}]:{}", host, port) : fmt::format("{}:{}", host, port);
}

std::string BaseUrl::ToString() const { return "http://" + HostHeader() + prefix; }

BaseUrl ParseBaseUrl(std::string_view text) {
  const std::string shown(text.substr(0, 200));
  constexpr std::string_view kHttp = "http://";
  if (text.starts_with("https://")) {
    throw ClientError(
        fmt::format("{}: https is not supported; use http:// (behind a TLS proxy if needed)", shown));
  }
  if (!text.starts_with(kHttp)) {
    throw ClientError(fmt::format("{}: the URL must start with http://", shown));
  }
  std::string_view rest = text.substr(kHttp.size());
  // Checked before the authority is cut out: a '?' or '#' ends the host as a '/' does ("http://h?x").
  if (rest.find_first_of("?#") != std::string_view::npos) {
    throw ClientError(fmt::format("{}: the URL must not have a query or fragment", shown));
  }
  BaseUrl url;
  const size_t slash = rest.find('/');
  std::string_view authority = rest.substr(0, slash);
  if (slash != std::string_view::npos) {
    std::string_view path = rest.substr(slash);
    while (!path.empty() && path.back() == '/') {
      path.remove_suffix(1);
    }
    url.prefix = std::string(path);
  }
  if (authority.find('@') != std::string_view::npos) {
    throw ClientError(fmt::format("{}: credentials in the URL are not supported; use --token", shown));
  }
  std::string_view port_text;
  if (authority.starts_with("[")) {
    const size_t close = authority.find(']');
    if (close == std::string_view::npos) {
      throw ClientError(fmt::format("{}: unclosed '[' in the host", shown));
    }
    url.host = std::string(authority.substr(1, close - 1));
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after.front() != ':') {
        throw ClientError(fmt::format("{}: expected ':' after ']'", shown));
      }
      port_text = after.substr(1);
      if (port_text.empty()) {
        throw ClientError(fmt::format("{}: empty port", shown));
      }
    }
  } else {
    const size_t colon = authority.find(':');
    if (colon != std::string_view::npos && authority.find(':', colon + 1) != std::string_view::npos) {
      // "h:80:90" is no host and port, and an IPv6 address goes in brackets.
      throw ClientError(
          fmt::format("{}: more than one ':' after the host (an IPv6 address goes in [])", shown));
    }
    url.host = std::string(authority.substr(0, colon));
    if (colon != std::string_view::npos) {
      port_text = authority.substr(colon + 1);
      if (port_text.empty()) {
        throw ClientError(fmt::format("{}: empty port", shown));
      }
    }
  }
  if (url.host.empty()) {
    throw ClientError(fmt::format("{}: the URL has no host", shown));
  }
  if (!port_text.empty()) {
    unsigned value = 0;
    const auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), value);
    if (ec != std::errc() || end != port_text.data() + port_text.size() || value == 0 || value > 65535) {
      throw ClientError(fmt::format("{}: port '{}' is not a number from 1 to 65535", shown, port_text));
    }
    url.port = static_cast<unsigned short>(value);
  }
  return url;
}

}  // namespace warren::client
