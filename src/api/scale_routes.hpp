// POST /v1/workers/scale {"workers": N}: when serve runs under `warren up`, asks the supervisor (over
// its control socket) to run N workers; removed workers drain before they go. Without a supervisor it
// answers 409 not_supervised: scale with whatever runs the workers (systemd, Kubernetes, …).
#pragma once

#include <functional>
#include <optional>
#include <string>

#include "api/blocking_pool.hpp"
#include "api/router.hpp"

namespace warren::api {

// Sends one control line and returns the supervisor's JSON answer, or nullopt with *error. Blocking.
using SupervisorFn = std::function<std::optional<std::string>(const std::string& line, std::string* error)>;

// POST /v1/workers/scale, and GET /v1/workers/scale: the supervisor's status (its children, and the
// autoscaler's bounds and latest decisions when it runs). `supervisor` empty: not under `warren up`.
void AddScaleRoute(Router& router, TaskRunner* tasks, SupervisorFn supervisor);

// Prometheus lines for /metrics from the supervisor's status: warren_supervised_workers and
// warren_autoscale_decisions_total{direction}. Empty when there is no supervisor or it does not answer.
// Blocking.
std::string SupervisorMetrics(const SupervisorFn& supervisor);

}  // namespace warren::api
