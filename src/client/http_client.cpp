#include "client/http_client.hpp"

#include <array>
#include <cstdint>
#include <limits>
#include <optional>

#include <fmt/format.h>

#include "core/asio.hpp"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.0.0"
#endif

namespace warren::client {
namespace {

std::string Lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

std::string Seconds(std::chrono::milliseconds d) {
  return d.count() % 1000 == 0 ? fmt::format("{}s", d.count() / 1000) : fmt::format("{}ms", d.count());
}

// Runs the io_context until the pending operation completed; the stream's own expiry (or, for the
// resolver, `limit`) bounds it.
void RunUntilDone(asio::io_context& io, const bool& done, std::optional<std::chrono::milliseconds> limit,
                  asio::ip::tcp::resolver* resolver) {
  io.restart();
  if (limit) {
    io.run_for(*limit);
    if (!done && resolver != nullptr) {
      resolver->cancel();
      io.restart();
      io.run();
    }
    return;
  }
  io.run();
}

template <class Fields>
HttpResult HeadOf(const http::header<false, Fields>& head) {
  HttpResult result;
  result.status = static_cast<int>(head.result_int());
  for (const auto& field : head) {
    result.headers.emplace_back(
        Lower(std::string_view(field.name_string().data(), field.name_string().size())),
        std::string(field.value()));
  }
  return result;
}

}  // namespace

std::string HttpResult::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

struct HttpClient::Connection {
  asio::io_context io;
  beast::tcp_stream stream{io};
};

HttpClient::HttpClient(BaseUrl url, HttpOptions options)
    : url_(std::move(url)), options_(std::move(options)) {}

HttpClient::~HttpClient() = default;

std::unique_ptr<HttpClient::Connection> HttpClient::Connect() {
  auto connection = std::make_unique<Connection>();
  const std::string where = url_.HostHeader();

  asio::ip::tcp::resolver resolver(connection->io);
  asio::ip::tcp::resolver::results_type endpoints;
  beast::error_code error = asio::error::timed_out;
  bool done = false;
  resolver.async_resolve(url_.host, std::to_string(url_.port),
                         [&](beast::error_code ec, asio::ip::tcp::resolver::results_type results) {
                           done = true;
                           error = ec;
                           endpoints = std::move(results);
                         });
  RunUntilDone(connection->io, done, options_.connect_timeout, &resolver);
  if (!done || error) {
    throw UnreachableError(fmt::format(
        "cannot reach {}: {}", where,
        !done || error == asio::error::operation_aborted ? "resolving the host timed out" : error.message()));
  }

  done = false;
  connection->stream.expires_after(options_.connect_timeout);
  connection->stream.async_connect(endpoints, [&](beast::error_code ec, const asio::ip::tcp::endpoint&) {
    done = true;
    error = ec;
  });
  RunUntilDone(connection->io, done, std::nullopt, nullptr);
  if (error) {
    throw UnreachableError(fmt::format("cannot reach {}: {}", where,
                                       error == beast::error::timeout
                                           ? "no connection within " + Seconds(options_.connect_timeout)
                                           : error.message()));
  }
  return connection;
}

void HttpClient::WriteRequest(Connection& connection, std::string_view method, std::string_view target,
                              std::string_view json_body, std::string_view accept) {
  http::request<http::string_body> request;
  request.method_string(beast::string_view(method.data(), method.size()));
  request.target(url_.prefix + std::string(target));
  request.version(11);
  request.set(http::field::host, url_.HostHeader());
  request.set(http::field::user_agent, "warren/" WARREN_VERSION);
  request.set(http::field::accept, beast::string_view(accept.data(), accept.size()));
  request.set(http::field::connection, "close");
  if (!options_.token.empty()) {
    request.set(http::field::authorization, "Bearer " + options_.token);
  }
  if (!json_body.empty() || method == "POST") {
    request.set(http::field::content_type, "application/json");
    request.body() = std::string(json_body);
  }
  request.prepare_payload();

  beast::error_code error;
  bool done = false;
  connection.stream.expires_after(options_.request_timeout);
  http::async_write(connection.stream, request, [&](beast::error_code ec, size_t /*bytes*/) {
    done = true;
    error = ec;
  });
  RunUntilDone(connection.io, done, std::nullopt, nullptr);
  if (error) {
    throw UnreachableError(fmt::format("{}: sending the request failed: {}", url_.HostHeader(),
                                       error == beast::error::timeout ? "timed out" : error.message()));
  }
}

HttpResult HttpClient::Send(std::string_view method, std::string_view target, std::string_view json_body) {
  auto connection = Connect();
  WriteRequest(*connection, method, target, json_body);

  beast::flat_buffer buffer;
  http::response_parser<http::string_body> parser;
  parser.body_limit(options_.max_body);
  beast::error_code error;
  bool done = false;
  // The deadline set by WriteRequest covers the answer too: one budget for the whole exchange.
  http::async_read(connection->stream, buffer, parser, [&](beast::error_code ec, size_t /*bytes*/) {
    done = true;
    error = ec;
  });
  RunUntilDone(connection->io, done, std::nullopt, nullptr);
  if (error == beast::error::timeout) {
    throw UnreachableError(
        fmt::format("{}: no answer within {}", url_.HostHeader(), Seconds(options_.request_timeout)));
  }
  if (error == http::error::body_limit) {
    throw ClientError(
        fmt::format("{}: the answer is larger than {} bytes", url_.HostHeader(), options_.max_body));
  }
  if (error == http::error::end_of_stream || error == asio::error::connection_reset ||
      error == asio::error::eof) {
    throw UnreachableError(
        fmt::format("{}: the server closed the connection without an answer", url_.HostHeader()));
  }
  if (error) {
    throw ClientError(fmt::format("{}: not an HTTP answer: {}", url_.HostHeader(), error.message()));
  }
  auto response = parser.release();
  HttpResult result = HeadOf(response);
  result.body = std::move(response.body());
  beast::error_code ignored;
  connection->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return result;
}

HttpResult HttpClient::Stream(std::string_view target, std::chrono::milliseconds idle_timeout,
                              const DataFn& on_data) {
  auto connection = Connect();
  WriteRequest(*connection, "GET", target, {}, "text/event-stream");
  const std::string where = url_.HostHeader();
  beast::flat_buffer buffer;
  http::response_parser<http::buffer_body> parser;
  // A stream has no length we could bound. Not boost::none: Boost 1.74 compares a Content-Length
  // against an empty optional as "too large" (basic_parser.ipp), so error answers would fail.
  parser.body_limit(std::numeric_limits<std::uint64_t>::max());
  beast::error_code error;
  bool done = false;
  // Reads the header, or whatever part of the body has arrived, within the stream's current deadline.
  const auto read = [&](bool header, std::chrono::milliseconds deadline) {
    done = false;
    const auto handler = [&](beast::error_code ec, size_t /*bytes*/) {
      done = true;
      error = ec;
    };
    if (header) {
      http::async_read_header(connection->stream, buffer, parser, handler);
    } else {
      http::async_read_some(connection->stream, buffer, parser, handler);
    }
    RunUntilDone(connection->io, done, std::nullopt, nullptr);
    if (error == beast::error::timeout) {
      throw UnreachableError(fmt::format("{}: nothing arrived within {}", where, Seconds(deadline)));
    }
    if (error && error != http::error::need_buffer) {
      throw UnreachableError(fmt::format("{}: the stream broke: {}", where, error.message()));
    }
  };
  read(true, options_.request_timeout);  // the deadline WriteRequest set covers the header
  HttpResult result = HeadOf(parser.get());
  // A non-2xx answer is an error document: read it whole (bounded) for the caller, not as a stream.
  const bool streaming = result.status >= 200 && result.status <= 299;
  std::array<char, 16384> piece{};
  while (!parser.is_done()) {
    parser.get().body().data = piece.data();
    parser.get().body().size = piece.size();
    const auto deadline = streaming ? idle_timeout : options_.request_timeout;
    connection->stream.expires_after(deadline);
    read(false, deadline);
    const std::string_view got(piece.data(), piece.size() - parser.get().body().size);
    if (!streaming) {
      result.body.append(got);
      if (result.body.size() > options_.max_body) {
        throw ClientError(fmt::format("{}: the answer is larger than {} bytes", where, options_.max_body));
      }
    } else if (!got.empty() && !on_data(got)) {
      break;
    }
  }
  beast::error_code ignored;
  connection->stream.socket().shutdown(asio::ip::tcp::socket::shutdown_both, ignored);
  return result;
}

}  // namespace warren::client
