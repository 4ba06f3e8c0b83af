// A small blocking HTTP/1.1 client: one connection per request, a deadline on every step (resolve,
// connect, write, read), `Authorization: Bearer` when a token is set. Beast stays inside the .cpp.
//
// Streaming (for `warren tail`, GET /v1/events): the connection steps are separate private functions
// (Connect, WriteRequest) so a second entry point can send the request the same way and then read the
// body piece by piece with a buffer_body parser (Beast decodes chunked transfer encoding), splitting
// it into lines for the caller. See docs/architecture.md, "The CLI client".
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "client/base_url.hpp"
#include "client/errors.hpp"

namespace warren::client {

struct HttpOptions {
  std::string token;  // empty: no Authorization header
  std::chrono::milliseconds connect_timeout{5000};
  std::chrono::milliseconds request_timeout{30000};  // write the request and read the whole answer
  size_t max_body = size_t{64} << 20;
};

struct HttpResult {
  int status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-case, in order
  std::string body;

  // The first header of that (lower-case) name, or "".
  [[nodiscard]] std::string Header(std::string_view name) const;
};

class HttpClient {
 public:
  HttpClient(BaseUrl url, HttpOptions options);
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;

  // `target` starts with '/' and is already percent-encoded; the URL's prefix goes before it. A JSON
  // body is sent as application/json. Throws UnreachableError when no answer came (resolve, connect,
  // timeout, connection lost), ClientError for an answer that is not HTTP or is too large.
  HttpResult Send(std::string_view method, std::string_view target, std::string_view json_body = {});

  [[nodiscard]] const BaseUrl& Url() const { return url_; }

 private:
  struct Connection;
  std::unique_ptr<Connection> Connect();
  void WriteRequest(Connection& connection, std::string_view method, std::string_view target,
                    std::string_view json_body);

  BaseUrl url_;
  HttpOptions options_;
};

}  // namespace warren::client
