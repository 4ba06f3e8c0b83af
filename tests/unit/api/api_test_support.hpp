// The whole route table of `warren serve` over fakes, for unit tests: requests go through the Router
// (guard included) and store calls queue on a ManualRunner until the test runs them.
#pragma once

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>

#include "api/api_routes.hpp"
#include "api/metrics.hpp"
#include "api/router.hpp"
#include "fakes.hpp"

namespace warren::api::testing {

inline std::string HeaderValue(const Response& response, const std::string& name) {
  for (const auto& [key, value] : response.headers) {
    if (key == name) {
      return value;
    }
  }
  return "";
}

inline std::string ErrorCode(const Response& response) {
  const auto body = nlohmann::json::parse(response.body, nullptr, false);
  if (body.is_discarded() || !body.contains("error")) {
    return "<not an error: " + response.body + ">";
  }
  return body["error"]["code"].get<std::string>();
}

inline nlohmann::json Json(const Response& response) { return nlohmann::json::parse(response.body); }

class ApiFixture : public ::testing::Test {
 protected:
  using Slot = std::shared_ptr<std::optional<Response>>;

  // Call once per test, before any request.
  void Build(Settings settings = {}) {
    settings_ = std::move(settings);
    ApiDeps deps;
    deps.store = &store_;
    deps.tasks = &runner_;
    deps.publish = [this](amqp::OutgoingMessage m, amqp::PublishCallback done) {
      publisher_.Publish(std::move(m), std::move(done));
    };
    deps.publish_batch = [this](std::vector<amqp::OutgoingMessage> m, amqp::PublishCallback done) {
      publisher_.PublishBatch(std::move(m), std::move(done));
    };
    deps.broker_state = [this] { return broker_state_; };
    deps.clock = [this] { return now_; };
    deps.events = &events_;
    deps.metrics = &metrics_;
    deps.on_change = [this](std::string_view kind, const JobRecord& record) {
      changes_.emplace_back(kind, record.id);
    };
    AddApiRoutes(router_, settings_, std::move(deps));
  }

  // Dispatches a request; the slot fills when it is answered (perhaps only after RunAll / Resolve).
  Slot Send(const std::string& method, const std::string& target, const std::string& body = "",
            std::map<std::string, std::string> headers = {}) {
    auto slot = std::make_shared<std::optional<Response>>();
    Request request;
    request.method = method;
    request.target = target;
    request.body = body;
    request.headers = std::move(headers);
    router_.Dispatch(std::move(request),
                     Responder([slot](Response response) { *slot = std::move(response); }));
    return slot;
  }

  // A JSON POST (Content-Type set unless headers say otherwise).
  Slot Post(const std::string& target, const std::string& body,
            std::map<std::string, std::string> headers = {}) {
    headers.try_emplace("content-type", "application/json");
    return Send("POST", target, body, std::move(headers));
  }

  // Sends, runs the store calls, and returns the answer (which must be there by then).
  Response Call(const std::string& method, const std::string& target, const std::string& body = "",
                std::map<std::string, std::string> headers = {}) {
    if (method == "POST" && !body.empty()) {
      headers.try_emplace("content-type", "application/json");
    }
    auto slot = Send(method, target, body, std::move(headers));
    runner_.RunAll();
    EXPECT_TRUE(slot->has_value()) << method << " " << target << " was not answered";
    return slot->value_or(Response{});
  }

  // POST /v1/jobs, confirmed by the fake broker: the answer.
  Response Enqueue(const std::string& body, std::map<std::string, std::string> headers = {}) {
    auto slot = Post("/v1/jobs", body, std::move(headers));
    runner_.RunAll();
    while (!slot->has_value() && publisher_.Resolve(amqp::PublishOutcome::kConfirmed)) {
      runner_.RunAll();
    }
    EXPECT_TRUE(slot->has_value());
    return slot->value_or(Response{});
  }

  // A POST whose first publish the fake broker refuses with `outcome`: the answer, once given.
  Response PostRefused(const std::string& target, const std::string& body, amqp::PublishOutcome outcome) {
    auto slot = Post(target, body);
    runner_.RunAll();
    EXPECT_TRUE(publisher_.Resolve(outcome)) << target << ": nothing was published";
    runner_.RunAll();  // the undo goes back to the pool
    EXPECT_TRUE(slot->has_value()) << target << " was not answered";
    return slot->value_or(Response{});
  }

  std::string EnqueueId(const std::string& body) {
    const Response response = Enqueue(body);
    EXPECT_EQ(response.status, 202) << response.body;
    return Json(response).value("id", "");
  }

  // A stored job in `state`, with its attempt history as workers would have reported it.
  JobRecord PutJob(JobState state, const std::string& type = "hello") {
    JobSpec spec;
    spec.type = type;
    JobRecord record = NewJobRecord(NewJobId(now_), spec, now_);
    if (state != JobState::kQueued && state != JobState::kScheduled) {
      JobEvent event;
      event.job_id = record.id;
      event.kind = EventKind::kStarted;
      event.attempt = 1;
      event.at = now_;
      event.worker = "w1";
      ApplyEvent(record, event);
      if (state != JobState::kRunning) {
        event.at = now_ + std::chrono::milliseconds(5);
        event.kind = state == JobState::kSucceeded   ? EventKind::kSucceeded
                     : state == JobState::kFailed    ? EventKind::kFailed
                     : state == JobState::kDead      ? EventKind::kDead
                     : state == JobState::kCancelled ? EventKind::kCancelled
                                                     : EventKind::kExpired;
        event.error = state == JobState::kSucceeded ? "" : "boom";
        ApplyEvent(record, event);
      }
    } else {
      record.state = state;
    }
    EXPECT_EQ(record.state, state);
    store_.Put(record);
    return record;
  }

  Settings settings_;
  Router router_;
  FakeStore store_;
  FakePublisher publisher_;
  ManualRunner runner_;
  amqp::PublisherState broker_state_ = amqp::PublisherState::kReady;
  EventHub events_;
  Metrics metrics_;
  std::vector<std::pair<std::string, std::string>> changes_;  // (kind, job id) told to on_change
  TimePoint now_ = *ParseTime("2026-11-26T12:00:00Z");
};

}  // namespace warren::api::testing
