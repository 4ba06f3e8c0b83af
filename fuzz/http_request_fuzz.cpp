// Fuzz target `http_request`: raw bytes from a client, through what `warren serve` does with them: the
// Beast parser with the server's limits (ParseRequestForTest shares the connection's code), then the
// Router with every route of the API and its guard, over the unit tests' fakes (a store in memory, a
// broker that confirms everything). For every input: no crash, no exception, no undefined behaviour;
// every request gets exactly one answer; no 5xx (the fakes never fail, so a 5xx would be our bug);
// every 4xx is in the API's error shape.
//
// A request with an Authorization header goes to a router with API tokens (the guard's paths); one
// without, to an open router (the handlers' paths).
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

#include "api/api_routes.hpp"
#include "api/event_hub.hpp"
#include "api/http_server.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "api/worker_registry.hpp"
#include "fuzz_check.hpp"
#include "unit/api/fakes.hpp"

namespace {

using warren::api::Request;
using warren::api::Response;

// A job every request can find (seeds use its id), so the routes of one job reach the store.
constexpr std::string_view kKnownJobId = "019a9b2e-6f00-7000-8000-000000000001";

class Collect final : public warren::api::BodyStream {
 public:
  bool Send(std::string bytes) override {
    sent_ += bytes.size();
    return sent_ < 64 * 1024;
  }

 private:
  size_t sent_ = 0;
};

// The API of one `serve`, fresh for each input so inputs cannot affect each other.
struct Stack {
  explicit Stack(bool with_tokens) {
    warren::Settings settings;
    settings.queues = {"default", "emails"};
    if (with_tokens) {
      settings.tokens = {{"read-token-0123456789", {warren::Scope::kRead}},
                         {"enqueue-token-0123456789", {warren::Scope::kEnqueue}},
                         {"admin-token-0123456789", {warren::Scope::kAdmin}}};
    }
    warren::api::ApiDeps deps;
    deps.store = &store;
    deps.tasks = &runner;
    deps.publish = [this](warren::amqp::OutgoingMessage m, warren::amqp::PublishCallback done) {
      publisher.Publish(std::move(m), std::move(done));
    };
    deps.publish_batch = [this](std::vector<warren::amqp::OutgoingMessage> m, warren::amqp::PublishCallback done) {
      publisher.PublishBatch(std::move(m), std::move(done));
    };
    deps.broker_state = [] { return warren::amqp::PublisherState::kReady; };
    deps.clock = [this] { return now; };
    deps.events = &events;
    deps.metrics = &metrics;
    deps.workers = &workers;
    // `warren up` answering on its control socket, so the scale routes go past their 409.
    deps.supervisor = [](const std::string& line, std::string* /*error*/) -> std::optional<std::string> {
      if (line.starts_with("scale workers=")) {
        return R"({"ok":true,"workers":)" + line.substr(14) + R"(,"previous":2,"started":1,"draining":0})";
      }
      return R"({"ok":true,"workers":2,"autoscale":{"scaled_up":1,"scaled_down":0}})";
    };
    warren::api::AddApiRoutes(router, settings, std::move(deps));

    warren::JobSpec spec;
    spec.type = "hello";
    store.Put(warren::NewJobRecord(std::string(kKnownJobId), spec, now));
  }

  warren::TimePoint now = *warren::ParseTime("2026-11-26T12:00:00Z");
  warren::api::testing::FakeStore store;
  warren::api::testing::FakePublisher publisher;
  warren::api::testing::ManualRunner runner;
  warren::api::EventHub events;
  warren::api::Metrics metrics;
  warren::api::WorkerRegistry workers{[this] { return now; }};
  warren::api::Router router;
};

void CheckAnswer(const Response& response, const std::string& what) {
  WARREN_FUZZ_CHECK(response.status >= 100 && response.status < 500, what + " -> " + std::to_string(response.status) + " " + response.body);
  if (response.status >= 400) {
    WARREN_FUZZ_CHECK(warren::fuzz::IsErrorBody(response.body), what + " -> " + response.body);
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  warren::api::ServerOptions options;
  options.body_limit = warren::Settings{}.max_body;  // as serve sets it
  const std::string_view bytes(reinterpret_cast<const char*>(data), size);
  auto parsed = warren::api::ParseRequestForTest(bytes, options);
  if (!parsed) {
    return 0;  // the bytes end mid-request: the server closes without an answer
  }
  if (const auto* refused = std::get_if<Response>(&*parsed)) {
    WARREN_FUZZ_CHECK(refused->status == 400 || refused->status == 413 || refused->status == 431, refused->body);
    CheckAnswer(*refused, "parse");
    return 0;
  }
  Request request = std::get<Request>(std::move(*parsed));
  const std::string what = request.method + " " + request.target;
  Stack stack(request.headers.contains("authorization"));
  auto answer = std::make_shared<std::optional<Response>>();
  auto answers = std::make_shared<int>(0);
  stack.router.Dispatch(std::move(request), warren::api::Responder([answer, answers](Response response) {
                          ++*answers;
                          *answer = std::move(response);
                        }));
  stack.runner.RunAll();
  while (!answer->has_value() && stack.publisher.Resolve(warren::amqp::PublishOutcome::kConfirmed)) {
    stack.runner.RunAll();
  }
  WARREN_FUZZ_CHECK(answer->has_value(), what + ": not answered");
  WARREN_FUZZ_CHECK(*answers == 1, what + ": answered more than once");
  CheckAnswer(**answer, what);
  if ((*answer)->stream) {
    (*answer)->stream(std::make_shared<Collect>());
  }
  return 0;
}
