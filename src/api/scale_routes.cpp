#include "api/scale_routes.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "api/jobs_routes.hpp"
#include "api/request_validation.hpp"
#include "core/config.hpp"

namespace warren::api {
namespace {

using nlohmann::json;

constexpr int kMaxWorkers = kMaxUpWorkers;  // the supervisor's own bound

}  // namespace

namespace {

json AskStatus(const SupervisorFn& supervisor, std::string* error) {
  const auto answer = supervisor("status", error);
  auto reply = answer ? json::parse(*answer, nullptr, /*allow_exceptions=*/false) : json();
  if (answer && !reply.is_object()) {
    *error = "not JSON";
  }
  return reply.is_object() ? reply : json();
}

}  // namespace

std::string SupervisorMetrics(const SupervisorFn& supervisor) {
  if (!supervisor) {
    return {};
  }
  std::string error;
  const json status = AskStatus(supervisor, &error);
  if (!status.is_object()) {
    return {};
  }
  std::string out = fmt::format(
      "# HELP warren_supervised_workers Workers warren up runs now (draining ones not counted).\n"
      "# TYPE warren_supervised_workers gauge\nwarren_supervised_workers {}\n",
      status.value("workers", 0));
  if (status.contains("autoscale")) {
    const json& a = status["autoscale"];
    out += fmt::format(
        "# HELP warren_autoscale_decisions_total Worker count changes the autoscaler made, by direction.\n"
        "# TYPE warren_autoscale_decisions_total counter\n"
        "warren_autoscale_decisions_total{{direction=\"up\"}} {}\n"
        "warren_autoscale_decisions_total{{direction=\"down\"}} {}\n",
        a.value("scaled_up", 0), a.value("scaled_down", 0));
  }
  return out;
}

void AddScaleRoute(Router& router, TaskRunner* tasks, SupervisorFn supervisor) {
  router.Add("GET", "/v1/workers/scale",
             [tasks, supervisor](const Request& /*request*/, const Responder& respond) {
               if (!supervisor) {
                 respond(ErrorResponse(409, "not_supervised", "this serve does not run under `warren up`"));
                 return;
               }
               auto task = [supervisor, respond] {
                 std::string error;
                 json status = AskStatus(supervisor, &error);
                 if (!status.is_object()) {
                   respond(ErrorResponse(503, "supervisor_unavailable",
                                         fmt::format("warren up did not answer: {}", error)));
                   return;
                 }
                 status.erase("ok");
                 respond(JsonResponse(200, status.dump()));
               };
               if (!tasks->TryPost(std::move(task))) {
                 respond(BusyResponse());
               }
             });
  router.Add(
      "POST", "/v1/workers/scale", [tasks, supervisor](const Request& request, const Responder& respond) {
        auto parsed = ParseJsonBody(request.body);
        if (auto* error = std::get_if<Response>(&parsed)) {
          respond(std::move(*error));
          return;
        }
        const json& body = std::get<json>(parsed);
        if (!body.is_object() || body.size() != 1 || !body.contains("workers") ||
            !body["workers"].is_number_integer() || body["workers"].get<int64_t>() < 0 ||
            body["workers"].get<int64_t>() > kMaxWorkers) {
          respond(ErrorResponse(
              400, "invalid_field",
              fmt::format("the body must be {{\"workers\": N}} with N a whole number 0..{}", kMaxWorkers)));
          return;
        }
        if (!supervisor) {
          respond(ErrorResponse(
              409, "not_supervised",
              "this serve does not run under `warren up`: scale the workers with what runs them"));
          return;
        }
        const auto workers = body["workers"].get<int64_t>();
        auto task = [supervisor, workers, respond] {
          std::string error;
          const auto answer = supervisor(fmt::format("scale workers={}", workers), &error);
          const auto reply = answer ? json::parse(*answer, nullptr, /*allow_exceptions=*/false) : json();
          if (!reply.is_object()) {
            respond(ErrorResponse(503, "supervisor_unavailable",
                                  fmt::format("warren up did not answer: {}", answer ? "not JSON" : error)));
            return;
          }
          if (!reply.value("ok", false)) {
            respond(ErrorResponse(409, "scale_refused",
                                  reply.value("error", std::string("the supervisor refused"))));
            return;
          }
          json out{{"workers", reply["workers"]},
                   {"previous", reply["previous"]},
                   {"started", reply["started"]},
                   {"draining", reply["draining"]}};
          respond(JsonResponse(200, out.dump()));
        };
        if (!tasks->TryPost(std::move(task))) {
          respond(BusyResponse());
        }
      });
}

}  // namespace warren::api
