// The HTTP vocabulary of the API, free of Beast: requests, responses and the Responder that a handler
// answers through, from any thread and at any time. Only http_server.cpp knows about Beast; routes,
// handlers and their unit tests see these plain structs, so they compile in a fraction of the time.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace warren::api {

inline constexpr std::string_view kTextPlain = "text/plain; charset=utf-8";
inline constexpr std::string_view kApplicationJson = "application/json";

struct Request {
  std::string method;  // as sent: "GET", "POST", also unknown verbs ("PURGE")
  std::string target;  // the raw request-target: "/add-job/hello%20world?x=1"
  std::string path;    // the target's path, still percent-encoded: "/add-job/hello%20world"
  std::string query;   // after '?', still encoded, without the '?'
  std::map<std::string, std::string> headers;  // lower-case names; repeated fields joined with ", "
  std::string body;
  std::string remote;  // peer "IP:PORT", for logs
  // Filled by the Router: pattern parameters, percent-decoded ("{cmd}" → "hello world").
  std::vector<std::pair<std::string, std::string>> params;

  // The decoded value of a path parameter; empty when the route has no such parameter.
  [[nodiscard]] const std::string& Param(std::string_view name) const;
  // A header by lower-case name; empty when absent.
  [[nodiscard]] const std::string& Header(std::string_view lower_name) const;
};

// The writing end of a streamed response body (Server-Sent Events). Thread-safe, and Send never
// blocks: it queues the bytes on the connection, which writes them in order. Send returns false once
// the client has gone, the server is shutting down, or the client fell more than the server's stream
// backlog behind (its connection is then closed): the producer should forget the stream then.
class BodyStream {
 public:
  virtual ~BodyStream() = default;
  virtual bool Send(std::string bytes) = 0;
};

struct Response {
  int status = 200;
  std::string content_type{kTextPlain};
  std::vector<std::pair<std::string, std::string>> headers;  // extra fields (Allow, Retry-After, ...)
  std::string body;
  // The server closes the connection after this response (used after errors that leave the
  // request stream unusable, such as an unread oversized body).
  bool close = false;
  // When set, the body is a stream: the server sends the status and headers without a length and with
  // `Connection: close`, then calls this with the stream's writer (once, on the connection's thread;
  // it must not block). The body ends when the client or the server closes the connection.
  std::function<void(std::shared_ptr<BodyStream>)> stream;
};

Response TextResponse(int status, std::string body);
Response JsonResponse(int status, std::string body);
// The one error shape of the API: {"error": {"code": "...", "message": "..."}}, application/json.
// `code` is a stable machine-readable token (snake_case); `message` is for people and may change.
// Invalid UTF-8 in the message (it may quote client input) is replaced, never thrown on.
Response ErrorResponse(int status, std::string_view code, std::string_view message);

// How a handler answers. Copyable and thread-safe: call it exactly once, from any thread, now or
// later (the /add-job handler answers from the publisher's thread). Later calls are ignored. If every
// copy is destroyed unanswered, the client gets a 500 instead of a connection that hangs forever.
class Responder {
 public:
  using Sink = std::function<void(Response)>;
  explicit Responder(Sink sink);

  void operator()(Response response) const;
  [[nodiscard]] bool Answered() const;

 private:
  struct State;
  std::shared_ptr<State> state_;
};

using Handler = std::function<void(Request, Responder)>;

}  // namespace warren::api
