// Typed calls of the jobs API v1 over HttpClient. Each returns the API's JSON document as is (the CLI
// prints it for --json and reads its fields for tables) and throws ApiError for an error answer,
// UnreachableError when no answer came.
#pragma once

#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "client/http_client.hpp"
#include "client/sse.hpp"

namespace warren::client {

struct JobFilter {
  std::optional<std::string> state;
  std::optional<std::string> type;
  std::optional<std::string> queue;
  size_t limit = 50;  // one page: 1..1000
  std::optional<std::string> cursor;
};

// The query string of GET /v1/jobs for a filter, starting with '?' (or empty). Pure: unit-tested.
std::string JobListQuery(const JobFilter& filter);

// The ApiError for a non-2xx answer: its {"error": {"code", "message"}}, or http_<status> and the
// first line of the body when the answer is not the API's error document (a proxy's page).
ApiError ErrorFromAnswer(const HttpResult& answer);

// GET /v1/events's filters; empty ones filter nothing.
struct EventFilter {
  std::string queue;
  std::string type;
  std::string job;
};
// Its query string, starting with '?' (or empty). Pure.
std::string EventQuery(const EventFilter& filter, const std::string& last_event_id);

class ApiClient {
 public:
  // Throws ClientError for a bad URL.
  ApiClient(std::string_view url, HttpOptions options);

  nlohmann::json Enqueue(const nlohmann::json& spec);  // POST /v1/jobs → the job
  nlohmann::json GetJob(const std::string& id);        // GET /v1/jobs/{id}
  nlohmann::json ListJobs(const JobFilter& filter);    // GET /v1/jobs → {"jobs", "next_cursor"}
  // GET /v1/jobs/{id}/logs → {"lines", "next"}; `after` is a cursor from a previous answer (or empty).
  nlohmann::json Logs(const std::string& id, const std::string& after, int attempt = 0);
  nlohmann::json Cancel(const std::string& id);        // POST /v1/jobs/{id}/cancel → the job
  nlohmann::json Retry(const std::string& id);         // POST /v1/jobs/{id}/retry → the job
  nlohmann::json RetryDead(const std::string& queue);  // POST /v1/queues/{q}/retry-dead
  nlohmann::json Queues();                             // GET /v1/queues → {"queues"}
  nlohmann::json Workers();                            // GET /v1/workers → {"workers"}
  // GET /v1/events: calls `on_event` for each event until the server ends the stream (returns) or
  // on_event returns false. Resumes after `last_event_id` when given. Throws ApiError for an error
  // answer, UnreachableError when the server cannot be reached or is silent for `idle_timeout`.
  void Events(const EventFilter& filter, const std::string& last_event_id, std::chrono::milliseconds idle_timeout,
              const std::function<bool(const SseEvent&)>& on_event);

  [[nodiscard]] const BaseUrl& Url() const { return http_.Url(); }

 private:
  nlohmann::json Call(std::string_view method, const std::string& target, const std::string& body = {});

  HttpClient http_;
};

}  // namespace warren::client
