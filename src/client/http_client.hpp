// A small blocking HTTP/1.1 client: one connection per request, a deadline on every step (resolve,
// connect, write, read), `Authorization: Bearer` when a token is set. Beast stays inside the .cpp.
//
// Stream() is the same exchange for a body that arrives over time (`text/event-stream`): the body is
// handed over piece by piece as it arrives, chunked transfer encoding already undone.
#pragma once

#include <chrono>
#include <functional>
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

  // A GET whose body arrives over time (GET /v1/events for `warren tail`): reads the status and
  // headers within the request timeout, then calls `on_data` with each piece of the body as it
  // arrives until the server ends the body (returns normally) or on_data returns false. Each piece
  // must come within `idle_timeout` (an SSE server sends a comment line now and then to keep the
  // stream alive), else UnreachableError. A non-2xx answer is read whole into the result's body and
  // on_data is never called. Pieces are not aligned to lines: split them (LineSplitter) yourself.
  using DataFn = std::function<bool(std::string_view data)>;
  HttpResult Stream(std::string_view target, std::chrono::milliseconds idle_timeout, const DataFn& on_data);

  [[nodiscard]] const BaseUrl& Url() const { return url_; }

 private:
  struct Connection;
  std::unique_ptr<Connection> Connect();
  void WriteRequest(Connection& connection, std::string_view method, std::string_view target,
                    std::string_view json_body, std::string_view accept = "application/json");

  BaseUrl url_;
  HttpOptions options_;
};

}  // namespace warren::client
