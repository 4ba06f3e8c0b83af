// Where the API is: `http://host[:port][/prefix]`.
#pragma once

#include <string>
#include <string_view>

namespace warren::client {

struct BaseUrl {
  std::string host;  // a name, an IPv4 address, or an IPv6 address without brackets
  unsigned short port = 80;
  std::string prefix;  // a path before /v1/..., without a trailing '/'; usually empty

  // "host:port" as the Host header wants it (IPv6 in brackets).
  [[nodiscard]] std::string HostHeader() const;
  [[nodiscard]] std::string ToString() const;  // http://host:port/prefix
};

// Parses `http://host[:port][/prefix]`. Throws ClientError with a one-line reason for anything else
// (https: is named: the client speaks plain HTTP; put a TLS proxy in front of it if needed).
BaseUrl ParseBaseUrl(std::string_view text);

}  // namespace warren::client
