#include "api/api_routes.hpp"

#include <algorithm>
#include <utility>

#include "amqp/topology.hpp"
#include "api/demo_routes.hpp"
#include "api/events_routes.hpp"
#include "api/openapi.hpp"
#include "api/request_validation.hpp"
#include "api/ui_routes.hpp"

namespace warren::api {

std::vector<std::string> KnownQueues(const Settings& settings) {
  std::vector<std::string> queues = {"default", std::string(amqp::kDemoQueue)};
  for (const auto& queue : settings.queues) {
    if (std::find(queues.begin(), queues.end(), queue) == queues.end()) {
      queues.push_back(queue);
    }
  }
  // Warren's own queues last: dead jobs, and jobs waiting for the relay to put them back (decision 78),
  // which an operator should see when they pile up.
  queues.emplace_back(amqp::kDeadQueue);
  queues.emplace_back(amqp::kUnroutedQueue);
  return queues;
}

SubmitFn AddApiRoutes(Router& router, const Settings& settings, ApiDeps deps) {
  AddDemoRoutes(router, deps.publish);
  std::function<std::string()> supervisor_metrics;
  if (deps.supervisor) {
    supervisor_metrics = [supervisor = deps.supervisor] { return SupervisorMetrics(supervisor); };
  }
  AddSystemRoutes(router, SystemApi{deps.store, deps.tasks, deps.broker_state, deps.queue_stats,
                                    KnownQueues(settings), settings.job_types, deps.workers, deps.metrics,
                                    std::move(supervisor_metrics)});
  AddOpenApiRoute(router);
  AddUiRoutes(router);
  if (deps.events != nullptr) {
    AddEventRoutes(router, *deps.events);
  }
  AddScaleRoute(router, deps.tasks, std::move(deps.supervisor));

  JobsApi jobs;
  jobs.store = deps.store;
  jobs.tasks = deps.tasks;
  jobs.publish = std::move(deps.publish);
  jobs.publish_batch = std::move(deps.publish_batch);
  jobs.clock = std::move(deps.clock);
  jobs.max_batch = settings.max_batch;
  jobs.job_types = settings.job_types;
  jobs.type_defaults = settings.command_jobs;
  jobs.metrics = deps.metrics;
  jobs.on_change = std::move(deps.on_change);
  jobs.published = std::move(deps.published);
  SubmitFn submit = AddJobsRoutes(router, std::move(jobs));

  if (deps.metrics != nullptr) {
    // Counted here, by route pattern, rather than around Dispatch: only the router knows the pattern.
    router.SetAnswerObserver(
        [metrics = deps.metrics](std::string_view method, std::string_view pattern, int status) {
          metrics->CountRequest(Metrics::RouteLabel(method, pattern), status);
        });
  }

  auto auth = std::make_shared<const Authenticator>(settings.tokens);
  router.SetGuard([auth](const Request& request, std::string_view pattern) -> std::optional<Response> {
    const Access access = RouteAccess(request.method, pattern);
    if (auto refused = Authenticator::Refusal(auth->Check(request, access), access)) {
      return refused;
    }
    // Only POST routes take a body; a stray body on a GET is ignored, as the demo's Flask app does.
    return request.method == "POST" ? CheckBodyContentType(request) : std::nullopt;
  });
  return submit;
}

}  // namespace warren::api
