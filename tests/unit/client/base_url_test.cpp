#include "client/base_url.hpp"

#include <gtest/gtest.h>

#include "client/api_client.hpp"
#include "client/errors.hpp"

namespace warren::client {
namespace {

std::string Why(std::string_view url) {
  try {
    ParseBaseUrl(url);
  } catch (const ClientError& e) {
    return e.what();
  }
  return "<parsed>";
}

TEST(BaseUrl, ParsesHostPortAndPrefix) {
  auto url = ParseBaseUrl("http://127.0.0.1:5000");
  EXPECT_EQ(url.host, "127.0.0.1");
  EXPECT_EQ(url.port, 5000);
  EXPECT_EQ(url.prefix, "");
  EXPECT_EQ(url.ToString(), "http://127.0.0.1:5000");

  url = ParseBaseUrl("http://warren.internal/api/");
  EXPECT_EQ(url.host, "warren.internal");
  EXPECT_EQ(url.port, 80);
  EXPECT_EQ(url.prefix, "/api");
  EXPECT_EQ(url.HostHeader(), "warren.internal:80");

  url = ParseBaseUrl("http://[::1]:8080/");
  EXPECT_EQ(url.host, "::1");
  EXPECT_EQ(url.port, 8080);
  EXPECT_EQ(url.HostHeader(), "[::1]:8080");
}

TEST(BaseUrl, RejectsWhatItCannotSpeakWithOneLine) {
  EXPECT_EQ(Why("https://x:5000"),
            "https://x:5000: https is not supported; use http:// (behind a TLS proxy if needed)");
  EXPECT_EQ(Why("localhost:5000"), "localhost:5000: the URL must start with http://");
  EXPECT_EQ(Why("http://"), "http://: the URL has no host");
  EXPECT_EQ(Why("http://:5000"), "http://:5000: the URL has no host");
  EXPECT_EQ(Why("http://x:0"), "http://x:0: port '0' is not a number from 1 to 65535");
  EXPECT_EQ(Why("http://x:70000"), "http://x:70000: port '70000' is not a number from 1 to 65535");
  EXPECT_EQ(Why("http://x:5a"), "http://x:5a: port '5a' is not a number from 1 to 65535");
  EXPECT_EQ(Why("http://x:"), "http://x:: empty port");
  EXPECT_EQ(Why("http://u:p@x"), "http://u:p@x: credentials in the URL are not supported; use --token");
  EXPECT_EQ(Why("http://x/?a=1"), "http://x/?a=1: the URL must not have a query or fragment");
  EXPECT_EQ(Why("http://[::1"), "http://[::1: unclosed '[' in the host");
}

TEST(BaseUrl, RejectsAQueryOrFragmentRightAfterTheHostAndASecondPort) {
  EXPECT_EQ(Why("http://localhost?x"), "http://localhost?x: the URL must not have a query or fragment");
  EXPECT_EQ(Why("http://host#f"), "http://host#f: the URL must not have a query or fragment");
  EXPECT_EQ(Why("http://h:5000?x"), "http://h:5000?x: the URL must not have a query or fragment");
  EXPECT_EQ(Why("http://h:80:90"),
            "http://h:80:90: more than one ':' after the host (an IPv6 address goes in [])");
  EXPECT_EQ(Why("http://::1/"), "http://::1/: more than one ':' after the host (an IPv6 address goes in [])");
  EXPECT_EQ(ParseBaseUrl("http://h:80/api").ToString(), "http://h:80/api");
}

TEST(JobListQuery, CarriesTheFilterEncoded) {
  JobFilter filter;
  EXPECT_EQ(JobListQuery(filter), "?limit=50");
  filter.state = "dead";
  filter.type = "a b";
  filter.queue = "q:1";
  filter.limit = 7;
  filter.cursor = "c/+=";
  EXPECT_EQ(JobListQuery(filter), "?state=dead&type=a%20b&queue=q%3A1&limit=7&cursor=c%2F%2B%3D");
}

TEST(ErrorFromAnswer, ReadsTheApiErrorOrFallsBackToTheStatus) {
  HttpResult answer;
  answer.status = 404;
  answer.body = R"({"error":{"code":"not_found","message":"no job 'x'"}})";
  ApiError error = ErrorFromAnswer(answer);
  EXPECT_EQ(error.Status(), 404);
  EXPECT_EQ(error.Code(), "not_found");
  EXPECT_STREQ(error.what(), "no job 'x'");

  answer.status = 502;
  answer.body = "<html>Bad Gateway</html>\nmore";
  error = ErrorFromAnswer(answer);
  EXPECT_EQ(error.Code(), "http_502");
  EXPECT_STREQ(error.what(), "<html>Bad Gateway</html>");

  answer.body = "";
  EXPECT_STREQ(ErrorFromAnswer(answer).what(), "the server answered 502 without an error document");
}

}  // namespace
}  // namespace warren::client
