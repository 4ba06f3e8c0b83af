#include "api/system_routes.hpp"

#include <exception>
#include <memory>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "api/jobs_routes.hpp"

namespace warren::api {
namespace {

using nlohmann::json;

std::string_view BrokerStateName(amqp::PublisherState state) {
  switch (state) {
    case amqp::PublisherState::kConnecting:
      return "connecting";
    case amqp::PublisherState::kReady:
      return "ready";
    case amqp::PublisherState::kBlocked:
      return "blocked";
    case amqp::PublisherState::kStopped:
      return "stopped";
  }
  return "unknown";
}

}  // namespace

namespace {

// What the broker tells of a queue, for /v1/queues and /metrics alike; nullopt when it cannot say.
std::optional<QueueStats> StatsOf(const SystemApi& api, const std::string& queue) {
  if (!api.queue_stats) {
    return std::nullopt;
  }
  try {
    return api.queue_stats(queue);
  } catch (const std::exception& e) {
    spdlog::warn("queues: {}: {}", queue, e.what());
    return std::nullopt;
  }
}

}  // namespace

void AddSystemRoutes(Router& router, SystemApi api) {
  auto shared = std::make_shared<const SystemApi>(std::move(api));

  router.Add("GET", "/healthz", [](const Request& /*request*/, const Responder& respond) {
    respond(JsonResponse(200, R"({"status":"ok"})"));
  });

  router.Add("GET", "/readyz", [shared](const Request& /*request*/, const Responder& respond) {
    const auto broker = shared->broker_state ? shared->broker_state() : amqp::PublisherState::kConnecting;
    auto task = [shared, broker, respond] {
      std::string store = "ok";
      try {
        if (!shared->store->Ping()) {
          store = "unreachable";
        }
      } catch (const std::exception& e) {
        spdlog::warn("readyz: store ping failed: {}", e.what());
        store = "unreachable";
      }
      const bool ready = broker == amqp::PublisherState::kReady && store == "ok";
      const json checks = {{"broker", BrokerStateName(broker)}, {"store", store}};
      if (ready) {
        respond(JsonResponse(200, DumpJson(json{{"status", "ready"}, {"checks", checks}})));
        return;
      }
      json body = {
          {"error",
           {{"code", "not_ready"},
            {"message", fmt::format("not ready: broker {}, store {}", BrokerStateName(broker), store)}}},
          {"checks", checks}};
      Response response = JsonResponse(503, DumpJson(body));
      response.headers.emplace_back("Retry-After", "1");
      respond(std::move(response));
    };
    if (!shared->tasks->TryPost(std::move(task))) {
      respond(BusyResponse());
    }
  });

  router.Add("GET", "/v1/queues", [shared](const Request& /*request*/, const Responder& respond) {
    auto task = [shared, respond] {
      json queues = json::array();
      for (const auto& name : shared->queues) {
        const std::optional<QueueStats> stats = StatsOf(*shared, name);
        // ready and consumers come from a passive queue.declare; unacked and rates need the
        // management API, which Warren does not use: null, not a guess.
        auto optional = [](const auto& value) { return value ? json(*value) : json(); };
        json rates;
        if (stats && (stats->publish_rate || stats->deliver_rate || stats->ack_rate)) {
          rates = {{"publish", optional(stats->publish_rate)},
                   {"deliver", optional(stats->deliver_rate)},
                   {"ack", optional(stats->ack_rate)}};
        }
        // depth = ready + unacked when the plugin told us unacked; ready alone otherwise.
        const json depth = stats ? json(stats->ready + stats->unacked.value_or(0)) : json();
        queues.push_back({{"name", name},
                          {"depth", depth},
                          {"ready", stats ? json(stats->ready) : json()},
                          {"unacked", stats ? optional(stats->unacked) : json()},
                          {"consumers", stats ? json(stats->consumers) : json()},
                          {"rates", rates}});
      }
      respond(JsonResponse(200, DumpJson(json{{"queues", std::move(queues)}})));
    };
    if (!shared->tasks->TryPost(std::move(task))) {
      respond(BusyResponse());
    }
  });

  router.Add("GET", "/v1/job-types", [shared](const Request& /*request*/, const Responder& respond) {
    json handled = json::object();
    if (shared->workers != nullptr) {
      for (const auto& [type, count] : shared->workers->HandledTypes()) {
        handled[type] = count;
      }
    }
    respond(JsonResponse(200, DumpJson(json{{"job_types", shared->job_types},
                                            {"any", shared->job_types.empty()},
                                            {"handled", std::move(handled)}})));
  });

  // Prometheus text format: the counters and histograms, then gauges read now (the queues from the
  // broker, hence on the TaskRunner).
  router.Add("GET", "/metrics", [shared](const Request& /*request*/, const Responder& respond) {
    auto task = [shared, respond] {
      std::string gauges;
      gauges += "# HELP warren_queue_depth Messages ready in the queue.\n# TYPE warren_queue_depth gauge\n";
      std::string consumers =
          "# HELP warren_queue_consumers Consumers of the queue.\n# TYPE warren_queue_consumers gauge\n";
      for (const auto& name : shared->queues) {
        const std::optional<QueueStats> stats = StatsOf(*shared, name);
        if (stats) {
          gauges += fmt::format("warren_queue_depth{{queue=\"{}\"}} {}\n", name, stats->ready);
          consumers += fmt::format("warren_queue_consumers{{queue=\"{}\"}} {}\n", name, stats->consumers);
        }
      }
      gauges += consumers;
      int live = 0;
      int64_t busy = 0;
      int64_t slots = 0;
      if (shared->workers != nullptr) {
        for (const auto& w : shared->workers->List()) {
          const std::string state = w.value("state", "");
          if (state == "running" || state == "draining") {
            ++live;
            busy += w.value("busy", int64_t{0});
            slots += w.value("concurrency", int64_t{0});
          }
        }
      }
      gauges += fmt::format(
          "# HELP warren_workers Workers heard from in the last three heartbeats.\n# TYPE warren_workers gauge\n"
          "warren_workers {}\n"
          "# HELP warren_worker_busy_slots Jobs running on those workers.\n# TYPE warren_worker_busy_slots gauge\n"
          "warren_worker_busy_slots {}\n"
          "# HELP warren_worker_slots Their concurrency, summed.\n# TYPE warren_worker_slots gauge\n"
          "warren_worker_slots {}\n",
          live, busy, slots);
      const bool connected = shared->broker_state && shared->broker_state() == amqp::PublisherState::kReady;
      gauges += fmt::format(
          "# HELP warren_broker_connected 1 while the API's publisher is connected and not blocked.\n"
          "# TYPE warren_broker_connected gauge\nwarren_broker_connected {}\n",
          connected ? 1 : 0);
      if (shared->extra_metrics) {
        gauges += shared->extra_metrics();
      }
      Response response;
      response.status = 200;
      response.content_type = "text/plain; version=0.0.4; charset=utf-8";
      response.body = shared->metrics != nullptr ? shared->metrics->Render(gauges) : gauges;
      respond(std::move(response));
    };
    if (!shared->tasks->TryPost(std::move(task))) {
      respond(BusyResponse());
    }
  });

  router.Add("GET", "/v1/workers", [shared](const Request& /*request*/, const Responder& respond) {
    respond(JsonResponse(200, DumpJson(json{{"workers", shared->workers != nullptr ? shared->workers->List()
                                                                                   : json::array()}})));
  });
}

}  // namespace warren::api
