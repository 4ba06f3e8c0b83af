// `warren serve` as a user runs it: the real binary against the real broker.
// The broker restart test is last in this file and leaves the broker running.
#include <amqp.h>
#include <amqp_tcp_socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <filesystem>
#include <fstream>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "support/support.hpp"

namespace warren::testing {
namespace {

using Clock = std::chrono::steady_clock;
using ::testing::HasSubstr;

constexpr const char* kQueue = "task_queue";

// `warren serve` on a free port, ready (its "listening on" line seen) when constructed.
class Serve {
 public:
  explicit Serve(const std::string& amqp_url, std::vector<std::string> extra_args = {})
      : port_(FreePort()), process_(Argv(port_, amqp_url, std::move(extra_args))) {
    ready_ = process_.WaitForOutput("listening on http://127.0.0.1:" + std::to_string(port_), 15s);
  }
  bool Ready() const { return ready_; }
  unsigned short Port() const { return port_; }
  Process& Proc() { return process_; }

 private:
  static std::vector<std::string> Argv(unsigned short port, const std::string& amqp_url,
                                       std::vector<std::string> extra_args) {
    std::vector<std::string> argv = {
        WarrenBinary(), "serve",  "--listen",    "127.0.0.1:" + std::to_string(port),
        "--amqp-url",   amqp_url, "--log-level", "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    return argv;
  }

  unsigned short port_;
  Process process_;
  bool ready_ = false;
};

std::string ErrorCode(const HttpResponse& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded() || !body.contains("error") || !body["error"].contains("code")) {
    return "<not an error body: " + response.body + ">";
  }
  return body["error"]["code"].get<std::string>();
}

// Sends raw bytes to 127.0.0.1:port and reads until the server closes or the timeout passes: for what
// a well-behaved client cannot send (oversized or malformed requests, pipelining).
std::string RawExchange(unsigned short port, const std::string& request,
                        std::chrono::milliseconds timeout = 5s) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) {
    return "";
  }
  sockaddr_in address{};
  address.sin_family = AF_INET;
  address.sin_port = htons(port);
  address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  std::string received;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        break;  // the server may answer and close before taking it all
      }
      sent += static_cast<size_t>(n);
    }
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (Clock::now() < deadline) {
      pollfd pfd{fd, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) {
        break;
      }
      const ssize_t n = ::recv(fd, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      received.append(buffer, static_cast<size_t>(n));
    }
  }
  ::close(fd);
  return received;
}

// A raw client connection for step-by-step exchanges (a request sent in pieces, an idle keep-alive).
class RawConnection {
 public:
  explicit RawConnection(unsigned short port) : fd_(::socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in address{};
    address.sin_family = AF_INET;
    address.sin_port = htons(port);
    address.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    connected_ = fd_ >= 0 && ::connect(fd_, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0;
  }
  ~RawConnection() {
    if (fd_ >= 0) {
      ::close(fd_);
    }
  }
  RawConnection(const RawConnection&) = delete;
  RawConnection& operator=(const RawConnection&) = delete;

  bool Connected() const { return connected_; }
  bool Send(const std::string& data) {
    return ::send(fd_, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  }
  // Reads until the peer closes or the timeout passes.
  std::string ReadToEnd(std::chrono::milliseconds timeout) {
    std::string received;
    const auto deadline = Clock::now() + timeout;
    char buffer[4096];
    while (Clock::now() < deadline) {
      pollfd pfd{fd_, POLLIN, 0};
      const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - Clock::now());
      if (::poll(&pfd, 1, static_cast<int>(std::max<int64_t>(left.count(), 1))) <= 0) {
        break;
      }
      const ssize_t n = ::recv(fd_, buffer, sizeof(buffer), 0);
      if (n <= 0) {
        break;
      }
      received.append(buffer, static_cast<size_t>(n));
    }
    return received;
  }

 private:
  int fd_;
  bool connected_ = false;
};

size_t CountOf(const std::string& haystack, const std::string& needle) {
  size_t count = 0;
  for (size_t at = haystack.find(needle); at != std::string::npos; at = haystack.find(needle, at + 1)) {
    ++count;
  }
  return count;
}

// What a consumer of task_queue receives, read with rabbitmq-c directly (basic.get, auto-ack) so the
// check does not depend on Warren's own consumer.
struct QueuedMessage {
  std::string body;
  int delivery_mode = 0;
  bool has_content_type = false;
  bool has_type = false;
};

std::optional<QueuedMessage> BasicGet(unsigned short port, const std::string& queue) {
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  timeval connect_timeout{5, 0};
  std::optional<QueuedMessage> result;
  if (socket != nullptr &&
      amqp_socket_open_noblock(socket, "127.0.0.1", port, &connect_timeout) == AMQP_STATUS_OK &&
      amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type ==
          AMQP_RESPONSE_NORMAL &&
      amqp_channel_open(conn, 1) != nullptr && amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL) {
    const amqp_rpc_reply_t reply = amqp_basic_get(conn, 1, amqp_cstring_bytes(queue.c_str()), /*no_ack=*/1);
    if (reply.reply_type == AMQP_RESPONSE_NORMAL && reply.reply.id == AMQP_BASIC_GET_OK_METHOD) {
      amqp_message_t message;
      if (amqp_read_message(conn, 1, &message, 0).reply_type == AMQP_RESPONSE_NORMAL) {
        QueuedMessage got;
        got.body.assign(static_cast<const char*>(message.body.bytes), message.body.len);
        const auto flags = message.properties._flags;
        got.delivery_mode =
            (flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0 ? message.properties.delivery_mode : 0;
        got.has_content_type = (flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0;
        got.has_type = (flags & AMQP_BASIC_TYPE_FLAG) != 0;
        result = std::move(got);
        amqp_destroy_message(&message);
      }
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  return result;
}

// Messages in task_queue, or -1 when the broker cannot say (or the queue does not exist yet).
int QueueDepth() {
  std::string out;
  if (TestBroker::Get().Ctl({"list_queues", "name", "messages"}, &out) != 0) {
    return -1;
  }
  const std::string prefix = std::string(kQueue) + "\t";
  for (size_t start = 0; start < out.size();) {
    size_t end = out.find('\n', start);
    end = end == std::string::npos ? out.size() : end;
    const std::string line = out.substr(start, end - start);
    if (line.rfind(prefix, 0) == 0) {
      return std::stoi(line.substr(prefix.size()));
    }
    start = end + 1;
  }
  return -1;
}

void PurgeQueue() { TestBroker::Get().Ctl({"purge_queue", kQueue}); }  // fails harmlessly if absent

// Polls `target` until it answers `status`; returns the last answer.
HttpResponse PollUntil(unsigned short port, const std::string& target, int status,
                       std::chrono::milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  HttpResponse last;
  do {
    last = HttpGet(port, target, 10s);
    if (last.status == status) {
      return last;
    }
    std::this_thread::sleep_for(200ms);
  } while (Clock::now() < deadline);
  return last;
}

class ServeIt : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { TestBroker::Get(); }  // start the broker once, outside any test's timing
};

TEST_F(ServeIt, RootAnswersOk) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  auto response = HttpGet(serve.Port(), "/");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(response.body, "OK");
  EXPECT_EQ(response.headers["server"], "warren");
  EXPECT_EQ(response.headers["content-length"], "2");
  EXPECT_THAT(response.headers["content-type"], HasSubstr("text/plain"));
}

TEST_F(ServeIt, AddJobPublishesAPersistentSeedMessage) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  // The first publish may race the publisher's connect and get a 503: wait for a 200 on a warm-up
  // job, then purge so the queue holds only what this test sends.
  ASSERT_EQ(PollUntil(serve.Port(), "/add-job/warm-up", 200, 20s).status, 200) << serve.Proc().Output();
  PurgeQueue();

  auto response = HttpGet(serve.Port(), "/add-job/hey");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, " [x] Sent: hey");
  EXPECT_THAT(response.headers["content-type"], HasSubstr("text/plain"));
  EXPECT_EQ(QueueDepth(), 1);

  const auto message = BasicGet(TestBroker::Get().AmqpPort(), kQueue);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "hey");
  EXPECT_EQ(message->delivery_mode, 2);     // persistent
  EXPECT_FALSE(message->has_content_type);  // exactly what the demo's pika producer sends
  EXPECT_FALSE(message->has_type);
}

TEST_F(ServeIt, AddJobPercentDecodesTheCommand) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_EQ(PollUntil(serve.Port(), "/add-job/warm-up", 200, 20s).status, 200) << serve.Proc().Output();
  PurgeQueue();

  auto response = HttpGet(serve.Port(), "/add-job/hello%20world?not=part");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(response.body, " [x] Sent: hello world");
  const auto message = BasicGet(TestBroker::Get().AmqpPort(), kQueue);
  ASSERT_TRUE(message);
  EXPECT_EQ(message->body, "hello world");
}

TEST_F(ServeIt, BadRequestsGetJsonErrorsAndPublishNothing) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_EQ(PollUntil(serve.Port(), "/add-job/warm-up", 200, 20s).status, 200) << serve.Proc().Output();
  PurgeQueue();

  auto response = HttpGet(serve.Port(), "/nope");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(ErrorCode(response), "not_found");
  EXPECT_THAT(response.headers["content-type"], HasSubstr("application/json"));

  response = HttpRequest(serve.Port(), "POST", "/add-job/x", "payload");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(ErrorCode(response), "method_not_allowed");
  EXPECT_EQ(response.headers["allow"], "GET");

  response = HttpGet(serve.Port(), "/add-job/%zz");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "bad_path");

  response = HttpGet(serve.Port(), "/add-job/");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "empty_command");

  EXPECT_EQ(QueueDepth(), 0);
  // The server is still fine.
  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);
}

TEST_F(ServeIt, LimitsAndMalformedRequests) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();

  const std::string big_header =
      "GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + std::string(10'000, 'a') + "\r\n\r\n";
  std::string answer = RawExchange(serve.Port(), big_header);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 431 "));
  EXPECT_THAT(answer, HasSubstr("\"header_too_large\""));

  // Refused from Content-Length alone: the body is never sent, let alone buffered.
  answer = RawExchange(serve.Port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 413 "));
  EXPECT_THAT(answer, HasSubstr("\"body_too_large\""));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));

  // A body that is actually sent, larger than the limit: still a clean 413, not a reset.
  const std::string body(2 * 1024 * 1024, 'b');
  answer = RawExchange(serve.Port(), "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: " +
                                         std::to_string(body.size()) + "\r\n\r\n" + body);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 413 "));

  answer = RawExchange(serve.Port(), "NOT AN HTTP REQUEST\r\n\r\n");
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 400 "));
  EXPECT_THAT(answer, HasSubstr("\"bad_request\""));

  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);
}

// Beast 1.74 caps neither a chunk's extensions nor the trailer: without a bound on the connection's
// read buffer, both were buffered until memory ran out (300+ MB), with no answer.
TEST_F(ServeIt, AnEndlessChunkExtensionOrTrailerGets431AndTheConnectionCloses) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  const std::string head =
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";

  std::string answer = RawExchange(serve.Port(), head + "2;" + std::string(size_t{1} << 20, 'a'));
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 431 "));
  EXPECT_THAT(answer, HasSubstr("\"header_too_large\""));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));

  std::string trailers = head + "2\r\n{}\r\n0\r\n";
  for (int i = 0; i < 100'000; ++i) {
    trailers += "X-Trailer: a\r\n";
  }
  answer = RawExchange(serve.Port(), trailers);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 431 "));
  EXPECT_THAT(answer, HasSubstr("\"header_too_large\""));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));

  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);
}

TEST_F(ServeIt, HeaderTimeoutAndConnectionLimit) {
  Serve serve(TestBroker::Get().AmqpUrl(), {"--header-timeout", "1s", "--max-connections", "3"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();

  // Headers begun and never finished: closed a second after their first byte, not after the request
  // timeout (30 s).
  {
    RawConnection slow(serve.Port());
    ASSERT_TRUE(slow.Connected());
    const auto start = Clock::now();
    ASSERT_TRUE(slow.Send("GET / HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    EXPECT_EQ(slow.ReadToEnd(10s), "");
    EXPECT_GT(Clock::now() - start, 500ms) << "accepted, then closed by the header timeout";
    EXPECT_LT(Clock::now() - start, 8s) << "closed by the header timeout, not the request timeout";
  }

  // Three keep-alive connections that each had an answer (so the server counts them; the slow one may
  // take a moment to go): a fourth is closed at once, unanswered; once one ends, requests go through.
  std::vector<std::unique_ptr<RawConnection>> held;
  for (int attempt = 0; held.size() < 3 && attempt < 50; ++attempt) {
    auto connection = std::make_unique<RawConnection>(serve.Port());
    if (connection->Send("GET / HTTP/1.1\r\nHost: x\r\n\r\n") &&
        connection->ReadToEnd(300ms).find("HTTP/1.1 200") != std::string::npos) {
      held.push_back(std::move(connection));
    } else {
      std::this_thread::sleep_for(100ms);
    }
  }
  ASSERT_EQ(held.size(), 3U) << serve.Proc().Output();
  EXPECT_EQ(RawExchange(serve.Port(), "GET / HTTP/1.1\r\nHost: x\r\n\r\n", 3s), "") << serve.Proc().Output();
  EXPECT_TRUE(serve.Proc().WaitForOutput("api.max_connections", 5s)) << serve.Proc().Output();
  held.pop_back();
  EXPECT_EQ(PollUntil(serve.Port(), "/", 200, 10s).status, 200);
}

TEST_F(ServeIt, KeepAliveAndPipelining) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  const std::string answer = RawExchange(serve.Port(),
                                         "GET / HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "HEAD / HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n"
                                         "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
  // One connection, four answers, in order: 200 (GET), 200 (HEAD), 404, 200.
  EXPECT_EQ(CountOf(answer, "HTTP/1.1 200 OK"), 3U) << answer;
  EXPECT_EQ(CountOf(answer, "HTTP/1.1 404 "), 1U) << answer;
  // The HEAD answer announces the body's length but sends no body: the 404 follows its blank line.
  EXPECT_THAT(answer, HasSubstr("Content-Length: 2\r\n\r\nOKHTTP/1.1 200 OK"));
  EXPECT_THAT(answer, HasSubstr("Content-Length: 2\r\n\r\nHTTP/1.1 404 "));
  EXPECT_LT(answer.find("HTTP/1.1 404"), answer.rfind("HTTP/1.1 200"));
}

TEST_F(ServeIt, ThreadsAreNamedForTheirWork) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  const std::vector<std::string> expected{
      "http-io",     "amqp-publisher", "blocking-pool", "recorder", "recorder-amqp",  "change-feed",
      "serve-feeds", "wal-checkpoint", "outbox",        "pruner",   "unrouted-relay", "unrouted-retry"};
  // Each thread names itself first thing, but may not have run yet when serve answers (under ASan).
  const auto all_named = [&](const std::multiset<std::string>& names) {
    return names.count("http-io") == 2 &&  // --threads defaults to 2
           std::all_of(expected.begin(), expected.end(),
                       [&](const auto& name) { return names.contains(name); });
  };
  auto names = ThreadNames(serve.Proc().Pid());
  for (const auto deadline = Clock::now() + 5s; !all_named(names) && Clock::now() < deadline;) {
    std::this_thread::sleep_for(50ms);
    names = ThreadNames(serve.Proc().Pid());
  }
  for (const auto& name : expected) {
    EXPECT_TRUE(names.contains(name)) << name;
  }
  EXPECT_EQ(names.count("http-io"), 2U);
}

TEST_F(ServeIt, PortInUseFailsAtStartUp) {
  Serve first(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(first.Ready()) << first.Proc().Output();
  const std::string listen = "127.0.0.1:" + std::to_string(first.Port());
  Process second({WarrenBinary(), "serve", "--listen", listen, "--amqp-url", TestBroker::Get().AmqpUrl()});
  EXPECT_EQ(second.Wait(10s), 1);
  EXPECT_THAT(second.Output(), HasSubstr("serve.listen " + listen + ": address already in use"));
  EXPECT_EQ(HttpGet(first.Port(), "/").status, 200);
}

TEST_F(ServeIt, SigtermStopsCleanly) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_EQ(HttpGet(serve.Port(), "/").status, 200);
  const auto start = Clock::now();
  serve.Proc().Signal(SIGTERM);
  EXPECT_EQ(serve.Proc().Wait(10s), 0) << serve.Proc().Output();
  EXPECT_LT(Clock::now() - start, 5s);
  EXPECT_EQ(HttpGet(serve.Port(), "/", 1s).status, 0);  // no longer listening
}

TEST_F(ServeIt, SigtermFinishesRequestsInProgressAndClosesIdleConnections) {
  Serve serve(TestBroker::Get().AmqpUrl());
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  RawConnection idle(serve.Port());
  RawConnection in_progress(serve.Port());
  ASSERT_TRUE(idle.Connected());
  ASSERT_TRUE(in_progress.Connected());
  ASSERT_TRUE(in_progress.Send("GET / HTTP/1.1\r\nHost: x\r\n"));  // half a request
  std::this_thread::sleep_for(200ms);

  const auto start = Clock::now();
  serve.Proc().Signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  ASSERT_TRUE(in_progress.Send("\r\n"));  // the rest of it, after the signal
  const std::string answer = in_progress.ReadToEnd(5s);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 200 OK"));
  EXPECT_THAT(answer, HasSubstr("Connection: close"));
  EXPECT_EQ(idle.ReadToEnd(5s), "");  // closed without a word: it had asked nothing

  EXPECT_EQ(serve.Proc().Wait(10s), 0) << serve.Proc().Output();
  EXPECT_LT(Clock::now() - start, 3s);
}

TEST_F(ServeIt, StartsWithoutABrokerAndAnswers503Promptly) {
  // Nothing listens on this port: the broker is "not up yet".
  const std::string nowhere = "amqp://guest:guest@127.0.0.1:" + std::to_string(FreePort()) + "/";
  Serve serve(nowhere);
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();

  const auto start = Clock::now();
  auto response = HttpGet(serve.Port(), "/add-job/x");
  EXPECT_LT(Clock::now() - start, 2s);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(response.headers["retry-after"], "1");
  EXPECT_EQ(ErrorCode(response), "broker_unavailable");

  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);
}

TEST_F(ServeIt, MemoryAlarmAnswers503ThenRecovers) {
  Serve serve(TestBroker::Get().AmqpUrl(), {"--publish-timeout", "2s"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_EQ(PollUntil(serve.Port(), "/add-job/warm-up", 200, 20s).status, 200) << serve.Proc().Output();

  struct ResetWatermark {
    ~ResetWatermark() { TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"}); }
  } reset;
  ASSERT_EQ(TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.000001"}), 0);

  const auto start = Clock::now();
  auto blocked = PollUntil(serve.Port(), "/add-job/while-blocked", 503, 10s);
  EXPECT_EQ(blocked.status, 503) << serve.Proc().Output();
  EXPECT_LT(Clock::now() - start, 6s);
  EXPECT_EQ(blocked.headers["retry-after"], "1");
  EXPECT_THAT(ErrorCode(blocked), ::testing::AnyOf("broker_blocked", "publish_timeout"));
  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);  // the API itself stays up

  ASSERT_EQ(TestBroker::Get().Ctl({"set_vm_memory_high_watermark", "0.4"}), 0);
  auto recovered = PollUntil(serve.Port(), "/add-job/after-alarm", 200, 30s);
  EXPECT_EQ(recovered.status, 200) << serve.Proc().Output();
  EXPECT_EQ(recovered.body, " [x] Sent: after-alarm");
  PurgeQueue();
}

// Last: it kills the broker. It starts it again whatever happens.
TEST_F(ServeIt, BrokerRestartAnswers503ThenRecoversWithoutRestartingServe) {
  Serve serve(TestBroker::Get().AmqpUrl(), {"--publish-timeout", "2s", "--reconnect-max", "1s"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_EQ(PollUntil(serve.Port(), "/add-job/before", 200, 20s).status, 200) << serve.Proc().Output();

  struct RestartBroker {
    bool started = false;
    ~RestartBroker() {
      if (!started) {
        TestBroker::Get().Start();
      }
    }
  } restart;
  TestBroker::Get().Kill();

  auto down = PollUntil(serve.Port(), "/add-job/while-down", 503, 10s);
  EXPECT_EQ(down.status, 503) << serve.Proc().Output();
  EXPECT_EQ(down.headers["retry-after"], "1");
  // Each answer while down is prompt.
  const auto start = Clock::now();
  EXPECT_EQ(HttpGet(serve.Port(), "/add-job/while-down").status, 503);
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(HttpGet(serve.Port(), "/").status, 200);

  TestBroker::Get().Start();
  restart.started = true;
  auto up = PollUntil(serve.Port(), "/add-job/after", 200, 60s);
  EXPECT_EQ(up.status, 200) << serve.Proc().Output();
  EXPECT_EQ(up.body, " [x] Sent: after");
  PurgeQueue();
}

}  // namespace
}  // namespace warren::testing
