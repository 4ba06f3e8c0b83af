// The /v1 jobs API as a user meets it: the real `warren serve` binary, the real broker (TestBroker) and
// a real SQLite store in a temp dir. Every endpoint and every error the issue lists.
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
#include <future>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "amqp/topology.hpp"
#include "core/retry.hpp"
#include "support/postgres.hpp"
#include "support/support.hpp"

namespace warren::testing {
namespace {

using Clock = std::chrono::steady_clock;
using nlohmann::json;
using ::testing::HasSubstr;

const std::map<std::string, std::string> kJson = {{"Content-Type", "application/json"}};

// The store every Serve of the running test uses: the suite runs once per backend.
enum class Backend { kSqlite, kPostgres };
Backend& CurrentBackend() {
  static Backend backend = Backend::kSqlite;
  return backend;
}

// `warren serve` on a free port with a fresh store of the current backend (a SQLite file in a temp
// dir, or a new PostgreSQL database), ready (its "listening on" line seen).
class Serve {
 public:
  explicit Serve(std::vector<std::string> extra_args = {}, std::string amqp_url = TestBroker::Get().AmqpUrl())
      : dir_(MakeTempDir("jobs-api")),
        port_(FreePort()),
        process_(Argv(port_, amqp_url, dir_, std::move(extra_args))) {
    ready_ = process_.WaitForOutput("listening on http://127.0.0.1:" + std::to_string(port_), 20s);
  }
  bool Ready() const { return ready_; }
  unsigned short Port() const { return port_; }
  Process& Proc() { return process_; }
  const std::string& Dir() const { return dir_; }

  // Waits until /readyz says the broker and the store are reachable.
  bool WaitReady(std::chrono::milliseconds timeout = 30s) { return WaitForHttp(port_, "/readyz", timeout); }

 private:
  static std::vector<std::string> Argv(unsigned short port, const std::string& amqp_url,
                                       const std::string& dir, std::vector<std::string> extra_args) {
    std::vector<std::string> argv = {
        WarrenBinary(), "serve",  "--listen", "127.0.0.1:" + std::to_string(port),
        "--amqp-url",   amqp_url, "--store",
        CurrentBackend() == Backend::kPostgres ? TestPostgres::Get().CreateDatabase() : "sqlite:" + dir + "/w.db",
        "--log-level",  "debug"};
    argv.insert(argv.end(), extra_args.begin(), extra_args.end());
    return argv;
  }

  std::string dir_;
  unsigned short port_;
  Process process_;
  bool ready_ = false;
};

json Body(const HttpResponse& response) { return json::parse(response.body, nullptr, false); }

std::string ErrorCode(const HttpResponse& response) {
  const json body = Body(response);
  if (body.is_discarded() || !body.contains("error") || !body["error"].contains("code")) {
    return "<not an error body: " + response.body.substr(0, 200) + ">";
  }
  return body["error"]["code"].get<std::string>();
}

HttpResponse PostJson(unsigned short port, const std::string& target, const std::string& body,
                      std::map<std::string, std::string> headers = {}) {
  headers.insert(kJson.begin(), kJson.end());
  return HttpRequest(port, "POST", target, body, headers, 10s);
}

// Messages ready in `queue` as a passive queue.declare reports them (exact, unlike the periodically
// refreshed figures of `rabbitmqctl list_queues` for quorum queues), or -1 when the queue is absent.
// Runs `use` on channel 1 of a fresh connection to the test broker; false when that could not open.
template <typename Use>
bool WithChannel(Use use) {
  bool opened = false;
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  timeval timeout{5, 0};
  if (socket != nullptr &&
      amqp_socket_open_noblock(socket, "127.0.0.1", TestBroker::Get().AmqpPort(), &timeout) ==
          AMQP_STATUS_OK &&
      amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type ==
          AMQP_RESPONSE_NORMAL &&
      amqp_channel_open(conn, 1) != nullptr && amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL) {
    opened = true;
    if (use(conn)) {
      amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    }
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  return opened;
}

int QueueDepth(const std::string& queue) {
  int depth = -1;
  WithChannel([&](amqp_connection_state_t conn) {
    const amqp_queue_declare_ok_t* ok = amqp_queue_declare(conn, 1, amqp_cstring_bytes(queue.c_str()),
                                                           /*passive=*/1, 0, 0, 0, amqp_empty_table);
    if (ok != nullptr) {
      depth = static_cast<int>(ok->message_count);
    }
    return ok != nullptr;  // a 404 closed the channel
  });
  return depth;
}

// Deletes the queue at once (rabbitmqctl takes seconds to start). True when the broker did.
bool DeleteQueue(const std::string& queue) {
  bool deleted = false;
  WithChannel([&](amqp_connection_state_t conn) {
    deleted = amqp_queue_delete(conn, 1, amqp_cstring_bytes(queue.c_str()), /*if_unused=*/0,
                                /*if_empty=*/0) != nullptr;
    return deleted;
  });
  return deleted;
}

// Declares `queue` as another application might: a priority queue, which Warren's classic declaration
// of the name clashes with.
void DeclareForeignQueue(const std::string& queue) {
  amqp::ConnectionOptions options;
  options.url = TestBroker::Get().AmqpUrl();
  amqp::Connection connection(options);
  connection.DeclareQueue(amqp::JobQueueSpec(queue, QueueType::kPriority));  // throws when refused
}

// Polls the depth until it equals `want` (a confirm means the message is safe, and it is counted by
// the time the next declare-ok is built, but allow for a slow broker).
int WaitDepth(const std::string& queue, int want, std::chrono::milliseconds timeout = 10s) {
  const auto deadline = Clock::now() + timeout;
  int depth = QueueDepth(queue);
  while (depth != want && Clock::now() < deadline) {
    std::this_thread::sleep_for(100ms);
    depth = QueueDepth(queue);
  }
  return depth;
}

// Sends raw bytes and reads until the server closes or the timeout passes: for a chunked body, which
// the test client does not send.
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
  // NOLINTNEXTLINE(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
  if (::connect(fd, reinterpret_cast<sockaddr*>(&address), sizeof(address)) == 0) {
    size_t sent = 0;
    while (sent < request.size()) {
      const ssize_t n = ::send(fd, request.data() + sent, request.size() - sent, MSG_NOSIGNAL);
      if (n <= 0) {
        break;  // the server may answer and stop reading before taking it all
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

void Purge(const std::string& queue) { TestBroker::Get().Ctl({"purge_queue", queue}); }

struct Message {
  std::string body;
  std::string type;
  std::string message_id;
  std::string content_type;
  int delivery_mode = 0;
};

// basic.get with rabbitmq-c directly (auto-ack), so the check does not depend on Warren's consumer.
std::vector<Message> DrainQueue(const std::string& queue) {
  std::vector<Message> out;
  amqp_connection_state_t conn = amqp_new_connection();
  amqp_socket_t* socket = amqp_tcp_socket_new(conn);
  timeval timeout{5, 0};
  if (socket != nullptr &&
      amqp_socket_open_noblock(socket, "127.0.0.1", TestBroker::Get().AmqpPort(), &timeout) ==
          AMQP_STATUS_OK &&
      amqp_login(conn, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest").reply_type ==
          AMQP_RESPONSE_NORMAL &&
      amqp_channel_open(conn, 1) != nullptr && amqp_get_rpc_reply(conn).reply_type == AMQP_RESPONSE_NORMAL) {
    const auto text = [](const amqp_bytes_t& bytes) {
      return std::string(static_cast<const char*>(bytes.bytes), bytes.len);
    };
    for (;;) {
      const amqp_rpc_reply_t reply = amqp_basic_get(conn, 1, amqp_cstring_bytes(queue.c_str()), /*no_ack=*/1);
      if (reply.reply_type != AMQP_RESPONSE_NORMAL || reply.reply.id != AMQP_BASIC_GET_OK_METHOD) {
        break;
      }
      amqp_message_t message;
      if (amqp_read_message(conn, 1, &message, 0).reply_type != AMQP_RESPONSE_NORMAL) {
        break;
      }
      Message got;
      got.body = text(message.body);
      const auto flags = message.properties._flags;
      if ((flags & AMQP_BASIC_TYPE_FLAG) != 0) {
        got.type = text(message.properties.type);
      }
      if ((flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
        got.message_id = text(message.properties.message_id);
      }
      if ((flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0) {
        got.content_type = text(message.properties.content_type);
      }
      if ((flags & AMQP_BASIC_DELIVERY_MODE_FLAG) != 0) {
        got.delivery_mode = message.properties.delivery_mode;
      }
      out.push_back(std::move(got));
      amqp_destroy_message(&message);
    }
    amqp_channel_close(conn, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(conn);
  return out;
}

// Every job of `type` through the list endpoint, newest first (walks all pages).
std::vector<json> AllJobs(unsigned short port, const std::string& query) {
  std::vector<json> jobs;
  std::string cursor;
  for (int page = 0; page < 100; ++page) {
    const auto response =
        HttpGet(port, "/v1/jobs?" + query + (cursor.empty() ? "" : "&cursor=" + cursor), 10s);
    EXPECT_EQ(response.status, 200) << response.body;
    const json body = Body(response);
    if (body.is_discarded()) {
      break;
    }
    for (const auto& job : body["jobs"]) {
      jobs.push_back(job);
    }
    if (body["next_cursor"].is_null()) {
      break;
    }
    cursor = body["next_cursor"].get<std::string>();
  }
  return jobs;
}

// Every endpoint and error against both store backends.
class JobsApiIt : public ::testing::TestWithParam<Backend> {
 protected:
  static void SetUpTestSuite() { TestBroker::Get(); }
  void SetUp() override { CurrentBackend() = GetParam(); }
  void TearDown() override { CurrentBackend() = Backend::kSqlite; }
};

INSTANTIATE_TEST_SUITE_P(Stores, JobsApiIt, ::testing::Values(Backend::kSqlite, Backend::kPostgres),
                         [](const ::testing::TestParamInfo<Backend>& backend) {
                           return backend.param == Backend::kPostgres ? "Postgres" : "Sqlite";
                         });

TEST_P(JobsApiIt, EnqueueAnswers202AfterTheConfirmAndTheJobIsReadableAtOnce) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");

  const auto created =
      PostJson(serve.Port(), "/v1/jobs", R"({"type":"send_email","args":{"to":"a@b.c"},"tags":["x"]})");
  ASSERT_EQ(created.status, 202) << created.body;
  const json job = Body(created);
  const std::string id = job["id"];
  EXPECT_EQ(job["state"], "queued");
  EXPECT_EQ(job["queue"], "default");
  EXPECT_EQ(created.headers.at("location"), "/v1/jobs/" + id);
  EXPECT_THAT(created.headers.at("content-type"), HasSubstr("application/json"));

  // Read-your-writes: no waiting, no polling.
  const auto got = HttpGet(serve.Port(), "/v1/jobs/" + id);
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(Body(got), job);

  // RabbitMQ holds it, as DESIGN decision 4 describes.
  ASSERT_EQ(WaitDepth("default", 1), 1);
  const auto messages = DrainQueue("default");
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].message_id, id);
  EXPECT_EQ(messages[0].type, "send_email");
  EXPECT_EQ(messages[0].content_type, "application/json");
  EXPECT_EQ(messages[0].delivery_mode, 2);
  EXPECT_EQ(json::parse(messages[0].body), json({{"to", "a@b.c"}}));
}

TEST_P(JobsApiIt, ReadYourWritesForEveryEnqueue) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  for (int i = 0; i < 20; ++i) {
    const auto created = PostJson(serve.Port(), "/v1/jobs", R"({"type":"ryw"})");
    ASSERT_EQ(created.status, 202) << created.body;
    const auto got = HttpGet(serve.Port(), "/v1/jobs/" + Body(created)["id"].get<std::string>());
    EXPECT_EQ(got.status, 200) << got.body;
  }
  Purge("default");
}

TEST_P(JobsApiIt, EightConcurrentIdenticalRequestsMakeOneJob) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");

  std::vector<std::future<HttpResponse>> requests;
  std::promise<void> go;
  std::shared_future<void> start = go.get_future().share();
  for (int i = 0; i < 8; ++i) {
    requests.push_back(std::async(std::launch::async, [&, start] {
      start.wait();
      return PostJson(serve.Port(), "/v1/jobs", R"({"type":"charge","args":{"cents":100}})",
                      {{"Idempotency-Key", "order-42"}});
    }));
  }
  go.set_value();
  std::multiset<int> statuses;
  std::set<std::string> ids;
  for (auto& request : requests) {
    const auto response = request.get();
    statuses.insert(response.status);
    ids.insert(Body(response).value("id", "?"));
  }
  EXPECT_EQ(statuses.count(202), 1U) << ::testing::PrintToString(statuses);
  EXPECT_EQ(statuses.count(200), 7U) << ::testing::PrintToString(statuses);
  EXPECT_EQ(ids.size(), 1U);
  EXPECT_EQ(AllJobs(serve.Port(), "type=charge").size(), 1U);
  EXPECT_EQ(WaitDepth("default", 1), 1);

  // The body field works like the header; a later repeat is still the same job.
  const auto again = PostJson(serve.Port(), "/v1/jobs", R"({"type":"charge","idempotency_key":"order-42"})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Body(again)["id"], *ids.begin());
  EXPECT_EQ(WaitDepth("default", 1), 1);
  Purge("default");
}

TEST_P(JobsApiIt, ListIsNewestFirstAcrossStablePages) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  std::vector<std::string> ids;
  for (int i = 0; i < 7; ++i) {
    const auto created = PostJson(serve.Port(), "/v1/jobs", R"({"type":"paged"})");
    ASSERT_EQ(created.status, 202) << created.body;
    ids.push_back(Body(created)["id"]);
  }
  auto page = Body(HttpGet(serve.Port(), "/v1/jobs?type=paged&limit=3"));
  ASSERT_EQ(page["jobs"].size(), 3U);
  EXPECT_EQ(page["jobs"][0]["id"], ids[6]);
  EXPECT_EQ(page["jobs"][2]["id"], ids[4]);
  const std::string cursor = page["next_cursor"];

  // Inserts between pages do not shift what follows.
  ASSERT_EQ(PostJson(serve.Port(), "/v1/jobs", R"({"type":"paged"})").status, 202);
  page = Body(HttpGet(serve.Port(), "/v1/jobs?type=paged&limit=3&cursor=" + cursor));
  ASSERT_EQ(page["jobs"].size(), 3U);
  EXPECT_EQ(page["jobs"][0]["id"], ids[3]);
  EXPECT_EQ(page["jobs"][2]["id"], ids[1]);
  page = Body(
      HttpGet(serve.Port(), "/v1/jobs?type=paged&limit=3&cursor=" + page["next_cursor"].get<std::string>()));
  ASSERT_EQ(page["jobs"].size(), 1U);
  EXPECT_EQ(page["jobs"][0]["id"], ids[0]);
  EXPECT_TRUE(page["next_cursor"].is_null());

  const auto all = AllJobs(serve.Port(), "type=paged&state=queued&queue=default&limit=2");
  ASSERT_EQ(all.size(), 8U);
  for (size_t i = 1; i < all.size(); ++i) {
    EXPECT_GT(all[i - 1]["id"].get<std::string>(), all[i]["id"].get<std::string>());
  }
  EXPECT_EQ(ErrorCode(HttpGet(serve.Port(), "/v1/jobs?cursor=nonsense")), "invalid_cursor");
  EXPECT_EQ(ErrorCode(HttpGet(serve.Port(), "/v1/jobs?state=sleeping")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(HttpGet(serve.Port(), "/v1/jobs?limit=5000")), "invalid_parameter");
  Purge("default");
}

TEST_P(JobsApiIt, CancelRetryAndDelete) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");
  const auto created = PostJson(serve.Port(), "/v1/jobs", R"({"type":"lifecycle"})");
  ASSERT_EQ(created.status, 202);
  const std::string id = Body(created)["id"];
  const std::string job = "/v1/jobs/" + id;

  auto response = HttpRequest(serve.Port(), "DELETE", job);
  EXPECT_EQ(response.status, 409) << response.body;  // not finished yet
  EXPECT_EQ(ErrorCode(response), "conflict");

  response = HttpRequest(serve.Port(), "POST", job + "/retry");
  EXPECT_EQ(response.status, 409) << response.body;  // queued: nothing to retry

  response = HttpRequest(serve.Port(), "POST", job + "/cancel");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response)["state"], "cancelled");
  EXPECT_EQ(Body(HttpGet(serve.Port(), job))["state"], "cancelled");
  EXPECT_EQ(HttpRequest(serve.Port(), "POST", job + "/cancel").status, 409);

  Purge("default");
  response = HttpRequest(serve.Port(), "POST", job + "/retry");
  ASSERT_EQ(response.status, 202) << response.body;
  EXPECT_EQ(Body(response)["state"], "queued");
  EXPECT_EQ(Body(response)["attempt"], 1);
  ASSERT_EQ(WaitDepth("default", 1), 1);
  const auto messages = DrainQueue("default");
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].message_id, id);

  ASSERT_EQ(HttpRequest(serve.Port(), "POST", job + "/cancel").status, 200);
  response = HttpRequest(serve.Port(), "DELETE", job);
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response)["deleted"], true);
  EXPECT_EQ(HttpGet(serve.Port(), job).status, 404);
  EXPECT_EQ(HttpRequest(serve.Port(), "DELETE", job).status, 404);
  EXPECT_EQ(HttpRequest(serve.Port(), "POST", job + "/cancel").status, 404);
  EXPECT_EQ(HttpRequest(serve.Port(), "POST", job + "/retry").status, 404);
}

TEST_P(JobsApiIt, RetryDeadRetriesEveryDeadJobOfAQueue) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const unsigned short port = serve.Port();
  const std::string queue = "it.retry-dead." + std::to_string(port);
  Process worker({WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(), "--queue", queue});
  ASSERT_TRUE(worker.WaitForOutput("consuming " + queue, 15s)) << worker.Output();
  ASSERT_TRUE(worker.WaitForOutput("consuming warren.control.", 15s)) << worker.Output();

  const auto wait_dead = [&](const std::string& id, size_t attempts) {
    const auto deadline = Clock::now() + 20s;
    json job;
    do {
      job = Body(HttpGet(port, "/v1/jobs/" + id));
      if (job.value("state", "") == "dead" && job["attempts"].size() == attempts) {
        return true;
      }
      std::this_thread::sleep_for(50ms);
    } while (Clock::now() < deadline);
    ADD_FAILURE() << job.dump();
    return false;
  };
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    const auto created = PostJson(
        port, "/v1/jobs",
        json{{"type", "warren.fail"}, {"queue", queue}, {"max_attempts", 1}, {"args", {{"error", "boom"}}}}.dump());
    ASSERT_EQ(created.status, 202) << created.body;
    ids.push_back(Body(created)["id"]);
  }
  // A job of another queue is not touched.
  const auto other = PostJson(port, "/v1/jobs", R"({"type":"other","queue":"default"})");
  ASSERT_EQ(other.status, 202);
  for (const auto& id : ids) {
    ASSERT_TRUE(wait_dead(id, 1));
  }

  auto response = PostJson(port, "/v1/queues/" + queue + "/retry-dead", "");
  ASSERT_EQ(response.status, 200) << response.body;
  json answer = Body(response);
  EXPECT_EQ(answer["retried"], 3);
  EXPECT_EQ(answer["more"], false);
  std::vector<std::string> retried = answer["ids"];
  std::vector<std::string> expected = ids;
  std::sort(expected.begin(), expected.end());
  EXPECT_EQ(retried, expected);
  for (const auto& id : ids) {
    ASSERT_TRUE(wait_dead(id, 2));  // ran again, died again
  }
  EXPECT_EQ(Body(HttpGet(port, "/v1/jobs/" + Body(other)["id"].get<std::string>()))["attempt"], 0);

  response = PostJson(port, "/v1/queues/no-such-queue/retry-dead", "");
  ASSERT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Body(response), (json{{"retried", 0}, {"ids", json::array()}, {"more", false}}));

  for (const std::string& bad : std::vector<std::string>{"bad%20name", "amq.reserved", "caf%C3%A9", std::string(129, 'q')}) {
    response = PostJson(port, "/v1/queues/" + bad + "/retry-dead", "");
    EXPECT_EQ(response.status, 400) << bad << ": " << response.body;
    EXPECT_EQ(ErrorCode(response), "invalid_queue") << bad;
  }
  EXPECT_EQ(HttpGet(port, "/v1/queues/" + queue + "/retry-dead").status, 405);
  Purge(queue);
  Purge("default");
}

TEST_P(JobsApiIt, RetryDeadNeedsTheAdminScope) {
  const std::string reader = "reader-token-aaaaaaaaaaaa";
  const std::string admin = "admin-token-cccccccccccccc";
  Serve serve({"--token", reader + ":read+enqueue", "--token", admin + ":admin"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  const auto post = [&](const std::string& token) {
    return HttpRequest(serve.Port(), "POST", "/v1/queues/default/retry-dead", "",
                       {{"Authorization", "Bearer " + token}}, 10s);
  };
  EXPECT_EQ(HttpRequest(serve.Port(), "POST", "/v1/queues/default/retry-dead").status, 401);
  auto response = post(reader);
  EXPECT_EQ(response.status, 403) << response.body;
  EXPECT_EQ(ErrorCode(response), "forbidden");
  response = post(admin);
  EXPECT_EQ(response.status, 200) << response.body;
}

TEST_P(JobsApiIt, BatchIsAllOrNothingWithOneConfirmRound) {
  Serve serve({"--max-batch", "3"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");

  auto response =
      PostJson(serve.Port(), "/v1/jobs/batch",
               R"({"jobs":[{"type":"b1"},{"type":"b2","args":[1,2]},{"type":"b3","delay":"1h"}]})");
  ASSERT_EQ(response.status, 202) << response.body;
  const json body = Body(response);
  ASSERT_EQ(body["jobs"].size(), 3U);
  EXPECT_EQ(body["jobs"][2]["state"], "scheduled");
  for (const auto& job : body["jobs"]) {
    EXPECT_EQ(HttpGet(serve.Port(), "/v1/jobs/" + job["id"].get<std::string>()).status, 200);
  }
  EXPECT_EQ(WaitDepth("default", 2), 2);  // the scheduled one waits for the scheduler

  response =
      PostJson(serve.Port(), "/v1/jobs/batch", R"({"jobs":[{"type":"b4"},{"type":"b5","priority":"x"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("jobs[1]"));
  response = PostJson(serve.Port(), "/v1/jobs/batch",
                      R"({"jobs":[{"type":"b4"},{"type":"b4"},{"type":"b4"},{"type":"b4"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "batch_too_large");
  EXPECT_TRUE(AllJobs(serve.Port(), "type=b4").empty());
  EXPECT_EQ(WaitDepth("default", 2), 2);
  Purge("default");
}

TEST_P(JobsApiIt, AScheduledJobWaitsInADelayTierNotInItsQueue) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");
  const auto response =
      PostJson(serve.Port(), "/v1/jobs", R"({"type":"later","run_at":"2099-01-01T00:00:00Z"})");
  ASSERT_EQ(response.status, 202) << response.body;
  EXPECT_EQ(Body(response)["state"], "scheduled");
  EXPECT_EQ(QueueDepth("default"), 0);
  const std::string top_tier = amqp::DelayTierName(DelayTiers().back());
  EXPECT_GE(QueueDepth(top_tier), 1) << "decades away: it waits in the longest tier";
  Purge(top_tier);
}

// Decision 78: a tier dead-letters through warren.due, whose alternate exchange keeps what it cannot
// route; serve puts it back. Through the default exchange, as before, the broker dropped the job.
TEST_P(JobsApiIt, AScheduledJobWhoseQueueWasDeletedMeanwhileIsPutBackAndRuns) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const std::string queue = "it.vanishing." + std::to_string(serve.Port());
  const auto created = PostJson(serve.Port(), "/v1/jobs",
                                json{{"type", "warren.noop"}, {"queue", queue}, {"delay", "5s"}}.dump());
  ASSERT_EQ(created.status, 202) << created.body;
  const std::string id = Body(created)["id"];
  // It waits 3.2 s in a tier from its publish (the 202 came up to a second later: its queue was new,
  // decision 76); the queue, declared and bound by the enqueue, goes meanwhile.
  ASSERT_TRUE(DeleteQueue(queue));
  ASSERT_EQ(QueueDepth(queue), -1);

  EXPECT_EQ(WaitDepth(queue, 1, 20s), 1) << "the job is back in its queue, declared again\n"
                                         << serve.Proc().Output();
  EXPECT_TRUE(serve.Proc().WaitForOutput("fell due with no queue '" + queue + "'", 5s))
      << serve.Proc().Output();
  EXPECT_EQ(WaitDepth(std::string(amqp::kUnroutedQueue), 0), 0);

  Process worker({WarrenBinary(), "work", "--amqp-url", TestBroker::Get().AmqpUrl(), "--queue", queue});
  const auto deadline = Clock::now() + 20s;
  json job;
  do {
    std::this_thread::sleep_for(50ms);
    job = Body(HttpGet(serve.Port(), "/v1/jobs/" + id));
  } while (job.value("state", "") != "succeeded" && Clock::now() < deadline);
  EXPECT_EQ(job["state"], "succeeded") << job.dump() << "\n" << worker.Output();
  EXPECT_EQ(job["attempts"].size(), 1U) << "the same attempt, put back: not a retry";
  worker.Signal(SIGTERM);
  (void)worker.Wait(15s);
  DeleteQueue(queue);
}

// The relay's copy refused (the job's queue exists as another type, unbound from warren.due, and the
// relay's publisher has not declared it yet) is tried again with doubling waits, its delivery held,
// and put in once the stray queue is gone. The store plays no part: SQLite only.
TEST_P(JobsApiIt, AJobWhoseQueueExistsAsAnotherTypeWaitsUntilTheQueueIsFixed) {
  if (GetParam() == Backend::kPostgres) {
    GTEST_SKIP() << "the relay does not touch the store";
  }
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const std::string queue = "it.retyped." + std::to_string(serve.Port());
  DeclareForeignQueue(queue);
  // A job in the shortest tier, bound for that queue, as a worker's retry or another serve would send it.
  const std::string tier = amqp::DelayTierName(DelayTiers().front());
  ASSERT_TRUE(WithChannel([&](amqp_connection_state_t conn) {
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG | AMQP_BASIC_TYPE_FLAG;
    props.delivery_mode = 2;
    props.message_id = amqp_cstring_bytes("it-retyped-job");
    props.type = amqp_cstring_bytes("warren.noop");
    return amqp_basic_publish(conn, 1, amqp_cstring_bytes(tier.c_str()), amqp_cstring_bytes(queue.c_str()),
                              /*mandatory=*/0, /*immediate=*/0, &props,
                              amqp_cstring_bytes("{}")) == AMQP_STATUS_OK;
  }));
  // Refused: the copy waits, unacked, 1 s, then 2 s … (a warning at the 1st, 2nd, 4th … failure).
  ASSERT_TRUE(serve.Proc().WaitForOutput("(queue refused, 2 time(s)); trying again in 2000 ms", 20s))
      << serve.Proc().Output();
  EXPECT_EQ(serve.Proc().Output().find("publisher lost the broker"), std::string::npos)
      << serve.Proc().Output();
  EXPECT_EQ(QueueDepth(queue), 0);
  // The operator removes the stray queue: the next try declares Warren's and puts the job in.
  ASSERT_TRUE(DeleteQueue(queue));
  EXPECT_EQ(WaitDepth(queue, 1, 20s), 1) << serve.Proc().Output();
  EXPECT_TRUE(serve.Proc().WaitForOutput("job it-retyped-job fell due with no queue '" + queue + "'", 5s))
      << serve.Proc().Output();
  EXPECT_EQ(WaitDepth(std::string(amqp::kUnroutedQueue), 0), 0);
  DeleteQueue(queue);
}

TEST_P(JobsApiIt, AQueueThatClashesOrIsWarrensOwnIsRefusedAndChangesNothing) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const std::string clash = "it.clash." + std::to_string(serve.Port());
  // Another application's queue of that name, of another type.
  DeclareForeignQueue(clash);
  auto response = PostJson(serve.Port(), "/v1/jobs", json{{"type", "t"}, {"queue", clash}}.dump());
  EXPECT_EQ(response.status, 409) << response.body;
  EXPECT_EQ(ErrorCode(response), "queue_mismatch");
  EXPECT_THAT(response.body, HasSubstr(clash));
  EXPECT_TRUE(AllJobs(serve.Port(), "queue=" + clash).empty()) << "no record stays behind";
  EXPECT_EQ(QueueDepth(clash), 0);

  response = PostJson(serve.Port(), "/v1/jobs", R"({"type":"t","queue":"warren.events.recorder"})");
  EXPECT_EQ(response.status, 400) << response.body;
  EXPECT_EQ(ErrorCode(response), "invalid_field");

  // Other enqueues were not disturbed: the publisher kept its connection.
  EXPECT_EQ(serve.Proc().Output().find("publisher lost the broker"), std::string::npos)
      << serve.Proc().Output();
  Purge("default");
  EXPECT_EQ(PostJson(serve.Port(), "/v1/jobs", R"({"type":"t"})").status, 202);
  EXPECT_EQ(WaitDepth("default", 1), 1);
  Purge("default");
  DeleteQueue(clash);
}

TEST_P(JobsApiIt, ANamedQueueIsDeclaredAndUsed) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const auto response =
      PostJson(serve.Port(), "/v1/jobs", R"({"type":"resize","queue":"jobs-api-it.images"})");
  // The publisher declares a job's queue before its first publish there.
  ASSERT_EQ(response.status, 202) << response.body;
  EXPECT_EQ(WaitDepth("jobs-api-it.images", 1), 1);
  TestBroker::Get().Ctl({"delete_queue", "jobs-api-it.images"});
}

TEST_P(JobsApiIt, BadInputGetsAClearErrorAndChangesNothing) {
  Serve serve({"--job-type", "known_a", "--job-type", "known_b"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");
  const unsigned short port = serve.Port();

  // 413 with a 2 MiB body, sent in full.
  auto response =
      PostJson(port, "/v1/jobs", R"({"type":"known_a","args":")" + std::string(2 << 20, 'x') + "\"}");
  EXPECT_EQ(response.status, 413);
  EXPECT_EQ(ErrorCode(response), "body_too_large");

  // The same limit for a chunked body, which announces no length: refused once the limit is crossed.
  std::string chunked =
      "POST /v1/jobs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
      "Transfer-Encoding: chunked\r\n\r\n";
  const std::string chunk(64 * 1024, ' ');
  for (int i = 0; i < 32; ++i) {
    chunked += "10000\r\n" + chunk + "\r\n";
  }
  chunked += "0\r\n\r\n";
  const std::string answer = RawExchange(port, chunked);
  EXPECT_THAT(answer, HasSubstr("HTTP/1.1 413 "));
  EXPECT_THAT(answer, HasSubstr("body_too_large"));

  response = HttpRequest(port, "POST", "/v1/jobs", R"({"type":"known_a"})", {{"Content-Type", "text/plain"}});
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(ErrorCode(response), "unsupported_media_type");
  response = HttpRequest(port, "POST", "/v1/jobs", R"({"type":"known_a"})");
  EXPECT_EQ(response.status, 415);

  const std::vector<std::pair<std::string, std::string>> bad_bodies = {
      {"{\"type\":", "invalid_json"},
      {"{\"type\":\"known_a\",\"args\":\"\xc3\x28\"}", "invalid_utf8"},
      {std::string(100'000, '[') + std::string(100'000, ']'), "too_deep"},
      {R"({"type":42})", "invalid_field"},
      {R"({"type":"known_a","surprise":1})", "unknown_field"},
      {R"({"queue":"q"})", "missing_field"},
  };
  for (const auto& [body, code] : bad_bodies) {
    response = PostJson(port, "/v1/jobs", body);
    EXPECT_EQ(response.status, 400) << code << ": " << response.body;
    EXPECT_EQ(ErrorCode(response), code);
  }

  response = PostJson(port, "/v1/jobs", R"({"type":"unknown_c"})");
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(ErrorCode(response), "unknown_job_type");
  EXPECT_THAT(response.body, HasSubstr("known_a, known_b"));

  response = HttpRequest(port, "PUT", "/v1/jobs", "{}", kJson);
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(response.headers["allow"], "POST, GET");
  EXPECT_EQ(ErrorCode(response), "method_not_allowed");
  response = HttpGet(port, "/v1/nothing-here");
  EXPECT_EQ(response.status, 404);
  EXPECT_EQ(ErrorCode(response), "not_found");
  EXPECT_EQ(HttpGet(port, "/v1/jobs/01900000-0000-7000-8000-000000000000").status, 404);

  // Nothing was stored or queued, and the server is fine.
  EXPECT_TRUE(AllJobs(port, "limit=1000").empty());
  EXPECT_EQ(QueueDepth("default"), 0);
  EXPECT_EQ(PostJson(port, "/v1/jobs", R"({"type":"known_b"})").status, 202);
  const auto types = Body(HttpGet(port, "/v1/job-types"));
  EXPECT_EQ(types["job_types"], json({"known_a", "known_b"}));
  Purge("default");
}

TEST_P(JobsApiIt, TokensGuardTheApi) {
  const std::string reader = "reader-token-aaaaaaaaaaaa";
  const std::string enqueuer = "enqueue-token-bbbbbbbbbbbb";
  const std::string admin = "admin-token-cccccccccccccc";
  Serve serve(
      {"--token", reader + ":read", "--token", enqueuer + ":read+enqueue", "--token", admin + ":admin"});
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  Purge("default");
  Purge("task_queue");
  const unsigned short port = serve.Port();
  const auto bearer = [](const std::string& token) {
    return std::map<std::string, std::string>{{"Authorization", "Bearer " + token}};
  };

  // Open: the demo root, probes, the OpenAPI document.
  EXPECT_EQ(HttpGet(port, "/").status, 200);
  EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  EXPECT_EQ(HttpGet(port, "/readyz").status, 200);
  EXPECT_EQ(HttpGet(port, "/v1/openapi.json").status, 200);

  auto response = HttpGet(port, "/v1/jobs");
  EXPECT_EQ(response.status, 401);
  EXPECT_THAT(response.headers["www-authenticate"], HasSubstr("Bearer"));
  EXPECT_EQ(ErrorCode(response), "unauthorized");
  response = HttpRequest(port, "GET", "/v1/jobs", "", bearer("not-a-known-token-at-all"));
  EXPECT_EQ(response.status, 401);
  EXPECT_THAT(response.headers["www-authenticate"], HasSubstr("invalid_token"));
  EXPECT_EQ(HttpRequest(port, "GET", "/v1/jobs", "", {{"Authorization", "Basic " + admin}}).status, 401);
  EXPECT_EQ(HttpGet(port, "/add-job/hey").status, 401);  // the demo's enqueue too, once tokens exist

  EXPECT_EQ(HttpRequest(port, "GET", "/v1/jobs", "", bearer(reader)).status, 200);
  EXPECT_EQ(HttpRequest(port, "GET", "/v1/queues", "", bearer(reader)).status, 200);
  auto headers = bearer(reader);
  headers.insert(kJson.begin(), kJson.end());
  response = HttpRequest(port, "POST", "/v1/jobs", R"({"type":"a"})", headers, 10s);
  EXPECT_EQ(response.status, 403);
  EXPECT_EQ(ErrorCode(response), "forbidden");

  headers = bearer(enqueuer);
  headers.insert(kJson.begin(), kJson.end());
  response = HttpRequest(port, "POST", "/v1/jobs", R"({"type":"a"})", headers, 10s);
  ASSERT_EQ(response.status, 202) << response.body;
  const std::string id = Body(response)["id"];
  EXPECT_EQ(HttpRequest(port, "GET", "/add-job/hey", "", bearer(enqueuer)).status, 200);
  EXPECT_EQ(HttpRequest(port, "POST", "/v1/jobs/" + id + "/cancel", "", bearer(enqueuer)).status, 403);
  EXPECT_EQ(HttpRequest(port, "POST", "/v1/jobs/" + id + "/cancel", "", bearer(admin)).status, 200);
  EXPECT_EQ(HttpRequest(port, "DELETE", "/v1/jobs/" + id, "", bearer(admin)).status, 200);

  // Secrets never reach the log.
  const std::string log = serve.Proc().Output();
  for (const auto& secret : {reader, enqueuer, admin}) {
    EXPECT_EQ(log.find(secret), std::string::npos) << secret;
  }
  Purge("default");
  Purge("task_queue");
}

TEST_P(JobsApiIt, NoTokensMeansLoopbackOnlyUnlessInsecure) {
  const unsigned short port = FreePort();
  const std::string dir = MakeTempDir("jobs-api-listen");
  const std::vector<std::string> base = {WarrenBinary(), "serve",
                                         "--amqp-url",   TestBroker::Get().AmqpUrl(),
                                         "--store",      "sqlite:" + dir + "/w.db",
                                         "--listen",     "0.0.0.0:" + std::to_string(port)};
  {
    Process refused(base);
    EXPECT_EQ(refused.Wait(10s), 2) << refused.Output();
    EXPECT_THAT(refused.Output(), HasSubstr("--insecure"));
    EXPECT_THAT(refused.Output(), HasSubstr("serve.listen 0.0.0.0:" + std::to_string(port)));
    EXPECT_EQ(HttpGet(port, "/healthz", 1s).status, 0);
  }
  {
    auto argv = base;
    argv.push_back("--insecure");
    Process insecure(argv);
    EXPECT_TRUE(insecure.WaitForOutput("listening on", 15s)) << insecure.Output();
    EXPECT_EQ(HttpGet(port, "/healthz").status, 200);
  }
  {
    auto argv = base;
    argv.insert(argv.end(), {"--token", "some-long-enough-secret:admin"});
    Process with_tokens(argv);
    EXPECT_TRUE(with_tokens.WaitForOutput("listening on", 15s)) << with_tokens.Output();
    EXPECT_EQ(HttpGet(port, "/v1/jobs").status, 401);
  }
}

TEST_P(JobsApiIt, HealthzReadyzQueuesOpenApi) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  EXPECT_EQ(HttpGet(serve.Port(), "/healthz").status, 200);
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  const auto ready = Body(HttpGet(serve.Port(), "/readyz"));
  EXPECT_EQ(ready["checks"], json({{"broker", "ready"}, {"store", "ok"}}));

  const auto queues = HttpGet(serve.Port(), "/v1/queues");
  EXPECT_EQ(queues.status, 200);
  std::map<std::string, json> by_name;
  const json listed = Body(queues);
  for (const auto& q : listed["queues"]) {
    by_name[q["name"].get<std::string>()] = q;
  }
  ASSERT_TRUE(by_name.contains("default")) << listed;
  ASSERT_TRUE(by_name.contains("task_queue")) << listed;
  ASSERT_TRUE(by_name.contains("warren.dead")) << listed;
  ASSERT_TRUE(by_name.contains("warren.unrouted")) << listed;
  EXPECT_TRUE(by_name["warren.unrouted"]["depth"].is_number()) << "serve declares it: " << listed;
  // Depth and consumers come from the broker (a passive declare): the queue exists, so they are numbers.
  EXPECT_TRUE(by_name["default"]["depth"].is_number()) << listed;
  EXPECT_TRUE(by_name["default"]["consumers"].is_number()) << listed;
  EXPECT_EQ(by_name["task_queue"]["depth"], QueueDepth("task_queue")) << listed;

  const auto doc = HttpGet(serve.Port(), "/v1/openapi.json");
  EXPECT_EQ(doc.status, 200);
  EXPECT_EQ(Body(doc)["openapi"], "3.1.0");
  EXPECT_TRUE(Body(doc)["paths"].contains("/v1/jobs/{id}/retry"));
  EXPECT_EQ(HttpGet(serve.Port(), "/v1/job-types").status, 200);
}

TEST_P(JobsApiIt, ReadyzIs503WithoutABrokerWhileHealthzStays200) {
  const std::string nowhere = "amqp://guest:guest@127.0.0.1:" + std::to_string(FreePort()) + "/";
  Serve serve({}, nowhere);
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  EXPECT_EQ(HttpGet(serve.Port(), "/healthz").status, 200);
  const auto response = HttpGet(serve.Port(), "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(ErrorCode(response), "not_ready");
  EXPECT_EQ(Body(response)["checks"]["broker"], "connecting");
  EXPECT_EQ(Body(response)["checks"]["store"], "ok");

  // An enqueue now is a prompt 503 and leaves no job behind.
  const auto start = Clock::now();
  const auto created = PostJson(serve.Port(), "/v1/jobs", R"({"type":"a"})");
  EXPECT_LT(Clock::now() - start, 3s);
  EXPECT_EQ(created.status, 503);
  EXPECT_EQ(ErrorCode(created), "broker_unavailable");
  EXPECT_EQ(created.headers.at("retry-after"), "1");
  EXPECT_TRUE(AllJobs(serve.Port(), "limit=10").empty());
}

TEST_P(JobsApiIt, TheStoreDirectoryIsCreatedAndJobsSurviveARestart) {
  if (GetParam() == Backend::kPostgres) {
    GTEST_SKIP() << "about the SQLite file's directory";
  }
  const std::string dir = MakeTempDir("jobs-api-store") + "/nested/deeper";
  const std::vector<std::string> extra = {"--store", "sqlite:" + dir + "/w.db"};
  std::string id;
  {
    Serve serve(extra);  // the later --store wins over the fixture's
    ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
    ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
    const auto created = PostJson(serve.Port(), "/v1/jobs", R"({"type":"durable"})");
    ASSERT_EQ(created.status, 202) << created.body;
    id = Body(created)["id"];
    EXPECT_TRUE(std::filesystem::exists(dir + "/w.db"));
  }
  Serve again(extra);
  ASSERT_TRUE(again.Ready()) << again.Proc().Output();
  EXPECT_EQ(HttpGet(again.Port(), "/v1/jobs/" + id).status, 200);
  Purge("default");
}

TEST_P(JobsApiIt, SigtermStopsCleanlyWithTheStoreOpen) {
  Serve serve;
  ASSERT_TRUE(serve.Ready()) << serve.Proc().Output();
  ASSERT_TRUE(serve.WaitReady()) << serve.Proc().Output();
  ASSERT_EQ(PostJson(serve.Port(), "/v1/jobs", R"({"type":"a"})").status, 202);
  serve.Proc().Signal(SIGTERM);
  EXPECT_EQ(serve.Proc().Wait(10s), 0) << serve.Proc().Output();
  Purge("default");
}

}  // namespace
}  // namespace warren::testing
