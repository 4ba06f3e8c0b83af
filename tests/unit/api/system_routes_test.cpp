#include "api/system_routes.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
#include <sstream>
#include <string>

#include "api_test_support.hpp"

namespace warren::api {
namespace {

using nlohmann::json;
using testing::ApiFixture;
using testing::ErrorCode;
using testing::Json;

class SystemRoutes : public ApiFixture {
 protected:
  void SetUp() override {
    Settings settings;
    settings.queues = {"task_queue", "emails"};
    Build(settings);
  }
};

TEST_F(SystemRoutes, HealthzIsAlwaysOk) {
  broker_state_ = amqp::PublisherState::kConnecting;
  store_.down = true;
  const auto slot = Send("GET", "/healthz");
  ASSERT_TRUE(slot->has_value());  // answered on the io thread: no dependency involved
  EXPECT_EQ((*slot)->status, 200);
  EXPECT_EQ(Json(**slot)["status"], "ok");
}

TEST_F(SystemRoutes, ReadyzNeedsBrokerAndStore) {
  Response response = Call("GET", "/readyz");
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Json(response)["checks"], json({{"broker", "ready"}, {"store", "ok"}}));

  broker_state_ = amqp::PublisherState::kBlocked;
  response = Call("GET", "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(ErrorCode(response), "not_ready");
  EXPECT_EQ(Json(response)["checks"]["broker"], "blocked");

  broker_state_ = amqp::PublisherState::kReady;
  store_.down = true;
  response = Call("GET", "/readyz");
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(Json(response)["checks"]["store"], "unreachable");

  store_.down = false;
  store_.FailNext();  // a ping that throws is "unreachable", not a crash
  EXPECT_EQ(Call("GET", "/readyz").status, 503);
}

TEST_F(SystemRoutes, QueuesListsTheKnownQueuesWithoutInventingNumbers) {
  const Response response = Call("GET", "/v1/queues");
  EXPECT_EQ(response.status, 200);
  const json queues = Json(response)["queues"];
  ASSERT_EQ(queues.size(), 5U);
  EXPECT_EQ(queues[0]["name"], "default");
  EXPECT_EQ(queues[1]["name"], "task_queue");
  EXPECT_EQ(queues[2]["name"], "emails");
  EXPECT_EQ(queues[3]["name"], "warren.dead");
  EXPECT_EQ(queues[4]["name"], "warren.unrouted");
  EXPECT_TRUE(queues[0]["depth"].is_null());
  EXPECT_TRUE(queues[0]["unacked"].is_null());
}

TEST(SystemRoutesStats, QueuesReportWhatAPassiveDeclareTells) {
  testing::FakeStore store;
  testing::ManualRunner runner;
  Router router;
  SystemApi api;
  api.store = &store;
  api.tasks = &runner;
  api.queues = {"default", "missing"};
  api.queue_stats = [](const std::string& name) -> std::optional<QueueStats> {
    if (name == "default") {
      return QueueStats{12, 2};
    }
    return std::nullopt;
  };
  AddSystemRoutes(router, api);
  std::optional<Response> got;
  Request request;
  request.method = "GET";
  request.target = "/v1/queues";
  router.Dispatch(request, Responder([&](Response r) { got = std::move(r); }));
  runner.RunAll();
  ASSERT_TRUE(got);
  const json queues = json::parse(got->body)["queues"];
  EXPECT_EQ(queues[0]["depth"], 12);
  EXPECT_EQ(queues[0]["ready"], 12);
  EXPECT_EQ(queues[0]["consumers"], 2);
  EXPECT_TRUE(queues[0]["unacked"].is_null());
  EXPECT_TRUE(queues[1]["depth"].is_null());
}

class RequestMetrics : public ApiFixture {
 protected:
  void SetUp() override {
    Settings settings;
    settings.tokens = {{kToken, {Scope::kRead, Scope::kEnqueue, Scope::kAdmin}}};
    Build(settings);
  }

  // The route and status labels of warren_http_requests_total, as GET /metrics shows them.
  std::set<std::string> RequestSeries() {
    const Response response = Call("GET", "/metrics", "", Auth());
    EXPECT_EQ(response.status, 200) << response.body;
    std::set<std::string> series;
    std::istringstream lines(response.body);
    for (std::string line; std::getline(lines, line);) {
      if (line.starts_with("warren_http_requests_total{")) {
        series.insert(line.substr(0, line.rfind('}') + 1));  // the value after it changes
      }
    }
    return series;
  }

  static std::map<std::string, std::string> Auth() { return {{"authorization", "Bearer " + kToken}}; }

  // Requests a client can vary at will: a bad percent-encoding (400 before any route), a known route
  // with a bad query (400 from its handler), no token (401), no route (404), an invented method (405).
  void SendVaried(int n) {
    const std::string suffix = std::to_string(n);
    EXPECT_EQ(Call("GET", "/%zz" + suffix, "", Auth()).status, 400);
    EXPECT_EQ(Call("GET", "/v1/jobs/x" + suffix + "/logs?bad=" + suffix, "", Auth()).status, 400);
    EXPECT_EQ(Call("GET", "/v1/jobs/x" + suffix).status, 401);
    EXPECT_EQ(Call("GET", "/no/such/" + suffix, "", Auth()).status, 404);
    EXPECT_EQ(Call("FOO" + suffix, "/", "", Auth()).status, 405);
  }

  inline static const std::string kToken = "metrics-test-token-0123456789";
};

// Each distinct bad path or method used to add a series for good: a scraper's memory, and serve's,
// grew with whatever clients sent.
TEST_F(RequestMetrics, BadPathsMethodsAndTokensAddNoNewSeries) {
  SendVaried(0);
  const std::set<std::string> first = RequestSeries();
  EXPECT_TRUE(first.contains(R"x(warren_http_requests_total{route="GET (unmatched)",status="400"})x"));
  EXPECT_TRUE(first.contains(R"x(warren_http_requests_total{route="GET /v1/jobs/{id}/logs",status="400"})x"));
  EXPECT_TRUE(first.contains(R"x(warren_http_requests_total{route="GET /v1/jobs/{id}",status="401"})x"));
  EXPECT_TRUE(first.contains(R"x(warren_http_requests_total{route="GET (unmatched)",status="404"})x"));
  EXPECT_TRUE(first.contains(R"x(warren_http_requests_total{route="other (unmatched)",status="405"})x"));
  for (int n = 1; n <= 50; ++n) {
    SendVaried(n);
  }
  const std::set<std::string> after = RequestSeries();
  // The only new series is the scrape's own, answered after the first rendering.
  std::set<std::string> expected = first;
  expected.insert(R"x(warren_http_requests_total{route="GET /metrics",status="200"})x");
  EXPECT_EQ(after, expected);
}

TEST_F(SystemRoutes, JobTypesWithoutAListAcceptAny) {
  const Response response = Call("GET", "/v1/job-types");
  EXPECT_EQ(Json(response), json({{"job_types", json::array()}, {"any", true}, {"handled", json::object()}}));
}

}  // namespace
}  // namespace warren::api
