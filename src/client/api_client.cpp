#include "client/api_client.hpp"

#include <fmt/format.h>

#include "core/percent_encode.hpp"

namespace warren::client {
namespace {

using nlohmann::json;

constexpr size_t kMaxShown = 200;

std::string FirstLine(std::string_view text) {
  const size_t eol = text.find_first_of("\r\n");
  return std::string(text.substr(0, std::min(eol, kMaxShown)));
}

}  // namespace

std::string JobListQuery(const JobFilter& filter) {
  std::string query;
  const auto add = [&query](std::string_view name, const std::string& value) {
    query += query.empty() ? '?' : '&';
    query += fmt::format("{}={}", name, PercentEncode(value));
  };
  if (filter.state) {
    add("state", *filter.state);
  }
  if (filter.type) {
    add("type", *filter.type);
  }
  if (filter.queue) {
    add("queue", *filter.queue);
  }
  add("limit", std::to_string(filter.limit));
  if (filter.cursor) {
    add("cursor", *filter.cursor);
  }
  return query;
}

ApiError ErrorFromAnswer(const HttpResult& answer) {
  const json body = json::parse(answer.body, nullptr, false);
  if (body.is_object() && body.contains("error") && body["error"].is_object() &&
      body["error"].value("code", json()).is_string() && body["error"].value("message", json()).is_string()) {
    return {answer.status, body["error"]["code"].get<std::string>(),
            body["error"]["message"].get<std::string>()};
  }
  const std::string line = FirstLine(answer.body);
  return {
      answer.status, fmt::format("http_{}", answer.status),
      line.empty() ? fmt::format("the server answered {} without an error document", answer.status) : line};
}

ApiClient::ApiClient(std::string_view url, HttpOptions options)
    : http_(ParseBaseUrl(url), std::move(options)) {}

json ApiClient::Call(std::string_view method, const std::string& target, const std::string& body) {
  const HttpResult answer = http_.Send(method, target, body);
  if (answer.status < 200 || answer.status > 299) {
    throw ErrorFromAnswer(answer);
  }
  json document = json::parse(answer.body, nullptr, false);
  if (document.is_discarded()) {
    throw ClientError(fmt::format("{} {}: the answer ({}) is not JSON: {}", method, target, answer.status,
                                  FirstLine(answer.body)));
  }
  return document;
}

std::string EventQuery(const EventFilter& filter, const std::string& last_event_id) {
  std::string query;
  const auto add = [&query](std::string_view name, const std::string& value) {
    if (!value.empty()) {
      query += query.empty() ? '?' : '&';
      query += fmt::format("{}={}", name, PercentEncode(value));
    }
  };
  add("queue", filter.queue);
  add("type", filter.type);
  add("job", filter.job);
  add("last_event_id", last_event_id);
  return query;
}

void ApiClient::Events(const EventFilter& filter, const std::string& last_event_id,
                       std::chrono::milliseconds idle_timeout, const std::function<bool(const SseEvent&)>& on_event) {
  SseDecoder decoder;
  bool go_on = true;
  const HttpResult answer =
      http_.Stream("/v1/events" + EventQuery(filter, last_event_id), idle_timeout, [&](std::string_view data) {
        decoder.Feed(data, [&](const SseEvent& event) { go_on = go_on && on_event(event); });
        return go_on;
      });
  if (answer.status < 200 || answer.status >= 300) {
    throw ErrorFromAnswer(answer);
  }
}

json ApiClient::Enqueue(const json& spec) { return Call("POST", "/v1/jobs", spec.dump()); }

json ApiClient::GetJob(const std::string& id) { return Call("GET", "/v1/jobs/" + PercentEncode(id)); }

json ApiClient::ListJobs(const JobFilter& filter) { return Call("GET", "/v1/jobs" + JobListQuery(filter)); }

json ApiClient::Logs(const std::string& id, const std::string& after, int attempt) {
  std::string target = "/v1/jobs/" + PercentEncode(id) + "/logs?limit=1000";
  if (!after.empty()) {
    target += "&after=" + PercentEncode(after);
  }
  if (attempt > 0) {
    target += "&attempt=" + std::to_string(attempt);
  }
  return Call("GET", target);
}

json ApiClient::Cancel(const std::string& id) {
  return Call("POST", "/v1/jobs/" + PercentEncode(id) + "/cancel");
}

json ApiClient::Retry(const std::string& id) {
  return Call("POST", "/v1/jobs/" + PercentEncode(id) + "/retry");
}

json ApiClient::RetryDead(const std::string& queue) {
  return Call("POST", "/v1/queues/" + PercentEncode(queue) + "/retry-dead");
}

json ApiClient::Queues() { return Call("GET", "/v1/queues"); }

json ApiClient::Workers() { return Call("GET", "/v1/workers"); }

}  // namespace warren::client
