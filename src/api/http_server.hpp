// The HTTP/1.1 server under the API: Boost.Beast on Asio, asynchronous, no thread per connection.
//
// Every connection is a small state machine on its own strand (wait for a request → read it → hand it
// to the handler → write the answer → again), so a few io threads serve thousands of keep-alive
// connections. Beast lives only in http_server.cpp; callers see the plain Request/Response of http.hpp.
//
// Limits, each with the status a client sees: request line + headers over `header_limit` → 431, a
// body over `body_limit` → 413 (refused from Content-Length before any of it is read), a chunk's size
// line (its extensions) or a trailer that does not fit the read buffer (`header_limit` + 4 KiB) → 431,
// a malformed request → 400; a connection idle longer than `idle_timeout`, a request whose headers take
// longer than `header_timeout` (from its first byte) or which as a whole takes longer than `request_timeout`
// to arrive, is closed, so slow or silent clients cannot hold resources forever; past
// `max_connections` open connections, new ones are closed as soon as they are accepted.
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>

#include "api/http.hpp"
#include "core/config.hpp"

namespace warren::api {

struct ServerOptions {
  HostPort listen{"127.0.0.1", 5000};
  int threads = 2;
  size_t header_limit = size_t{8} * 1024;
  uint64_t body_limit = uint64_t{1024} * 1024;
  std::chrono::milliseconds idle_timeout{60'000};     // keep-alive connection waiting for a request
  std::chrono::milliseconds header_timeout{10'000};   // from a request's first byte to its last header
  std::chrono::milliseconds request_timeout{30'000};  // from a request's first byte to its last
  size_t max_connections = 10'000;
  std::chrono::milliseconds write_timeout{30'000};    // a client that stops reading its answer
  // After an error that leaves request bytes unread (413, 431, 400) the server half-closes and reads
  // and discards for up to this long before closing: closing a socket with unread input sends a
  // reset, which can destroy the error response before the client has read it.
  std::chrono::milliseconds linger_timeout{2'000};
  std::string server_name = "warren";
  // A streamed body (SSE) whose client reads slower than it is fed is cut off past this many unsent bytes.
  size_t stream_backlog = size_t{1024} * 1024;
};

// Binding failed: the message is the one line to show, e.g.
// "serve.listen 127.0.0.1:5000: address already in use".
class ListenError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class HttpServer {
 public:
  explicit HttpServer(ServerOptions options);
  // Stop(). Every Responder handed out must be answered or dropped before this runs (stop whatever
  // answers asynchronously, such as the publisher, first).
  ~HttpServer();
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // Binds and listens (port 0: the kernel picks one). Throws ListenError.
  void Listen();
  // The bound address: the real port when listening on port 0.
  [[nodiscard]] HostPort LocalEndpoint() const;
  // Accepts connections on `options.threads` io threads; each request goes to `handler` on its
  // connection's strand. The handler must not block: it answers through the Responder, now or later.
  void Start(Handler handler);

  // Graceful stop, step 1: stop accepting, close idle keep-alive connections, and let requests in
  // progress finish; their answers carry `Connection: close`.
  void BeginShutdown();
  // Step 2: wait until every connection is gone or the timeout passes; true when none is left.
  bool WaitIdle(std::chrono::milliseconds timeout);
  [[nodiscard]] size_t ConnectionCount() const;
  // Step 3: stop the io threads and join them; connections still open are dropped. Idempotent.
  void Stop();

  class Impl;

 private:
  std::unique_ptr<Impl> impl_;
};

// One request's bytes parsed as a connection parses them (the same Beast parser, limits and error
// answers), without a socket: the Request the handler would get, the error answer the client would
// get (400, 413, 431), or nullopt when the bytes end before the request does. For the fuzzer and tests.
std::optional<std::variant<Request, Response>> ParseRequestForTest(std::string_view bytes,
                                                                   const ServerOptions& options);

}  // namespace warren::api
