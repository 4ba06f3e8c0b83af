// ParseRequestForTest: a connection's parsing (the Beast parser, the limits, the error answers) without
// a socket, as the http_request fuzz target uses it.
#include <gtest/gtest.h>

#include <string>

#include "api/http_server.hpp"

namespace warren::api {
namespace {

ServerOptions Options() {
  ServerOptions options;
  options.header_limit = 256;
  options.body_limit = 16;
  return options;
}

Request Parsed(const std::string& bytes) {
  auto parsed = ParseRequestForTest(bytes, Options());
  EXPECT_TRUE(parsed.has_value()) << bytes;
  if (!parsed || !std::holds_alternative<Request>(*parsed)) {
    ADD_FAILURE() << "not a request: " << bytes;
    return {};
  }
  return std::get<Request>(std::move(*parsed));
}

int RefusedStatus(const std::string& bytes) {
  auto parsed = ParseRequestForTest(bytes, Options());
  if (!parsed || !std::holds_alternative<Response>(*parsed)) {
    ADD_FAILURE() << "not refused: " << bytes;
    return 0;
  }
  return std::get<Response>(*parsed).status;
}

TEST(ParseRequest, GivesTheHandlersViewOfARequest) {
  const Request request = Parsed(
      "POST /v1/jobs?x=1 HTTP/1.1\r\nHost: a\r\nX-Tag: 1\r\nx-tag: 2\r\nContent-Length: 5\r\n\r\nhello");
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.target, "/v1/jobs?x=1");
  EXPECT_EQ(request.Header("host"), "a");
  EXPECT_EQ(request.Header("x-tag"), "1, 2");  // repeated fields joined, names lower-cased
  EXPECT_EQ(request.body, "hello");
}

TEST(ParseRequest, DecodesAChunkedBody) {
  const Request request =
      Parsed("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n");
  EXPECT_EQ(request.body, "abcde");
}

TEST(ParseRequest, RefusesWhatAConnectionRefuses) {
  EXPECT_EQ(RefusedStatus("POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n"), 413);
  EXPECT_EQ(RefusedStatus("GET / HTTP/1.1\r\nX: " + std::string(300, 'a') + "\r\n\r\n"), 431);
  EXPECT_EQ(RefusedStatus("GET /\x01 HTTP/1.1\r\n\r\n"), 400);
  EXPECT_EQ(RefusedStatus("POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n"), 400);
}

// Beast caps neither chunk extensions nor trailers: the connection's read buffer does, at the header
// limit plus some slack, so a chunk header or trailer without an end is refused, not buffered forever.
TEST(ParseRequest, AnEndlessChunkExtensionOrTrailerIsRefusedAs431) {
  // Not RefusedStatus: a failure would print the megabyte.
  const auto status = [](const std::string& bytes) {
    const auto parsed = ParseRequestForTest(bytes, Options());
    return parsed && std::holds_alternative<Response>(*parsed) ? std::get<Response>(*parsed).status : 0;
  };
  const std::string head = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  EXPECT_EQ(status(head + "2;" + std::string(size_t{1} << 20, 'a')), 431);
  std::string trailers = head + "2\r\n{}\r\n0\r\n";
  for (int i = 0; i < 100'000; ++i) {
    trailers += "X-T: a\r\n";
  }
  EXPECT_EQ(status(trailers), 431);
  // Short extensions and trailers are still fine.
  EXPECT_EQ(Parsed(head + "2;name=value\r\n{}\r\n0\r\nX-T: a\r\n\r\n").body, "{}");
}

TEST(ParseRequest, BytesEndingMidRequestGetNoAnswer) {
  EXPECT_FALSE(ParseRequestForTest("GET / HTTP/1.1\r\nHost: a\r\n", Options()).has_value());
  EXPECT_FALSE(ParseRequestForTest("POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nabc", Options()).has_value());
  EXPECT_FALSE(ParseRequestForTest("", Options()).has_value());
}

}  // namespace
}  // namespace warren::api
