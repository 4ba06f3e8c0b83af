#include "api/http.hpp"

#include <atomic>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/job.hpp"

namespace warren::api {
namespace {
const std::string& EmptyString() {
  static const std::string empty;
  return empty;
}
}  // namespace

const std::string& Request::Param(std::string_view name) const {
  for (const auto& [key, value] : params) {
    if (key == name) {
      return value;
    }
  }
  return EmptyString();
}

const std::string& Request::Header(std::string_view lower_name) const {
  const auto it = headers.find(std::string(lower_name));
  return it == headers.end() ? EmptyString() : it->second;
}

Response TextResponse(int status, std::string body) {
  Response response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

Response JsonResponse(int status, std::string body) {
  Response response;
  response.status = status;
  response.content_type = kApplicationJson;
  response.body = std::move(body);
  return response;
}

Response ErrorResponse(int status, std::string_view code, std::string_view message) {
  const nlohmann::json body = {{"error", {{"code", code}, {"message", message}}}};
  // replace: a message quoting the client's bytes must not turn a 4xx into an exception.
  return JsonResponse(status, DumpJson(body));
}

struct Responder::State {
  explicit State(Sink s) : sink(std::move(s)) {}
  State(const State&) = delete;
  State& operator=(const State&) = delete;
  ~State() {
    if (!answered.exchange(true)) {
      // A handler lost its Responder without answering: a bug on our side, so a 500 is honest, and
      // far better than a client waiting until its timeout.
      spdlog::error("http: a handler dropped its request without answering");
      try {
        sink(ErrorResponse(500, "internal_error", "the server failed to answer this request"));
      } catch (const std::exception& e) {
        spdlog::error("http: answering a dropped request failed: {}", e.what());
      }
    }
  }

  Sink sink;
  std::atomic<bool> answered{false};
};

Responder::Responder(Sink sink) : state_(std::make_shared<State>(std::move(sink))) {}

void Responder::operator()(Response response) const {
  if (state_->answered.exchange(true)) {
    spdlog::warn("http: a handler answered one request twice; the second answer is dropped");
    return;
  }
  state_->sink(std::move(response));
}

bool Responder::Answered() const { return state_->answered.load(); }

}  // namespace warren::api
