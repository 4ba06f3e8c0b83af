// HttpClient::Stream against a scripted server on loopback: the body is handed over as it arrives
// (chunked encoding undone), an idle stream times out, an error answer comes back whole. What
// `warren tail` will stand on.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <functional>
#include <string>
#include <thread>

#include <gtest/gtest.h>

#include "client/http_client.hpp"
#include "core/unique_fd.hpp"

namespace warren::client {
namespace {

using Clock = std::chrono::steady_clock;
using namespace std::chrono_literals;

// Accepts one connection, reads the request head, then runs `script` with the connection's fd.
class ScriptedServer {
 public:
  explicit ScriptedServer(std::function<void(int fd, const std::string& request)> script) {
    listener_ = UniqueFd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    EXPECT_EQ(::bind(listener_.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
    EXPECT_EQ(::getsockname(listener_.Get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    EXPECT_EQ(::listen(listener_.Get(), 1), 0);
    port_ = ntohs(addr.sin_port);
    thread_ = std::thread([this, script = std::move(script)] {
      UniqueFd connection(::accept(listener_.Get(), nullptr, nullptr));
      std::string request;
      char c = 0;
      while (request.find("\r\n\r\n") == std::string::npos && ::read(connection.Get(), &c, 1) == 1) {
        request.push_back(c);
      }
      script(connection.Get(), request);
    });
  }
  ~ScriptedServer() { thread_.join(); }
  ScriptedServer(const ScriptedServer&) = delete;
  ScriptedServer& operator=(const ScriptedServer&) = delete;

  [[nodiscard]] BaseUrl Url() const { return {"127.0.0.1", port_, ""}; }

 private:
  UniqueFd listener_;
  unsigned short port_ = 0;
  std::thread thread_;
};

void Send(int fd, const std::string& text) {
  EXPECT_EQ(::send(fd, text.data(), text.size(), MSG_NOSIGNAL), static_cast<ssize_t>(text.size()));
}

std::string Chunk(const std::string& data) {
  char size[16];
  std::snprintf(size, sizeof size, "%zx", data.size());
  return std::string(size) + "\r\n" + data + "\r\n";
}

const std::string kStreamHead =
    "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nTransfer-Encoding: chunked\r\n\r\n";

TEST(HttpStream, HandsOverEachPieceAsItArrives) {
  Clock::time_point second_sent;
  std::string seen_request;
  ScriptedServer server([&](int fd, const std::string& request) {
    seen_request = request;
    Send(fd, kStreamHead + Chunk("event: job.started\ndata: {\"id\":1}\n\n"));
    std::this_thread::sleep_for(300ms);
    second_sent = Clock::now();
    Send(fd, Chunk("data: two\n\n") + "0\r\n\r\n");
  });
  HttpOptions options;
  options.token = "secret-token";
  HttpClient client(server.Url(), options);
  std::string body;
  Clock::time_point first_seen;
  const HttpResult head = client.Stream("/v1/events", 5s, [&](std::string_view data) {
    if (body.empty()) {
      first_seen = Clock::now();
    }
    body.append(data);
    return true;
  });
  EXPECT_EQ(head.status, 200);
  EXPECT_EQ(head.Header("content-type"), "text/event-stream");
  EXPECT_EQ(body, "event: job.started\ndata: {\"id\":1}\n\ndata: two\n\n");
  EXPECT_LT(first_seen, second_sent);  // the first event came before the server sent the second
  EXPECT_NE(seen_request.find("GET /v1/events HTTP/1.1\r\n"), std::string::npos) << seen_request;
  EXPECT_NE(seen_request.find("Accept: text/event-stream\r\n"), std::string::npos) << seen_request;
  EXPECT_NE(seen_request.find("Authorization: Bearer secret-token\r\n"), std::string::npos) << seen_request;
}

TEST(HttpStream, StopsWhenTheCallerSaysSo) {
  ScriptedServer server([](int fd, const std::string& /*request*/) {
    Send(fd, kStreamHead + Chunk("data: one\n\n"));
    std::this_thread::sleep_for(1500ms);  // never ends by itself within the test's patience
  });
  HttpClient client(server.Url(), {});
  const auto start = Clock::now();
  client.Stream("/v1/events", 10s, [](std::string_view /*data*/) { return false; });
  EXPECT_LT(Clock::now() - start, 1s);
}

TEST(HttpStream, ASilentStreamTimesOut) {
  ScriptedServer server([](int fd, const std::string& /*request*/) {
    Send(fd, kStreamHead);
    std::this_thread::sleep_for(1500ms);
  });
  HttpClient client(server.Url(), {});
  const auto start = Clock::now();
  EXPECT_THROW(client.Stream("/v1/events", 300ms, [](std::string_view /*data*/) { return true; }),
               UnreachableError);
  EXPECT_LT(Clock::now() - start, 1200ms);
}

TEST(HttpStream, AnErrorAnswerComesBackWhole) {
  ScriptedServer server([](int fd, const std::string& /*request*/) {
    const std::string body = R"({"error":{"code":"unauthorized","message":"no"}})";
    Send(fd, "HTTP/1.1 401 Unauthorized\r\nContent-Type: application/json\r\nContent-Length: " +
                 std::to_string(body.size()) + "\r\n\r\n" + body);
  });
  HttpClient client(server.Url(), {});
  bool called = false;
  const HttpResult answer = client.Stream("/v1/events", 5s, [&](std::string_view /*data*/) {
    called = true;
    return true;
  });
  EXPECT_EQ(answer.status, 401);
  EXPECT_EQ(answer.body, R"({"error":{"code":"unauthorized","message":"no"}})");
  EXPECT_FALSE(called);
}

}  // namespace
}  // namespace warren::client
