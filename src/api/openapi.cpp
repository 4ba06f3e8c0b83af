#include "api/openapi.hpp"

#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "api/auth.hpp"
#include "core/job.hpp"

#ifndef WARREN_VERSION
#define WARREN_VERSION "0.0.0"
#endif

namespace warren::api {
namespace {

using nlohmann::json;

json Ref(std::string_view schema) { return {{"$ref", "#/components/schemas/" + std::string(schema)}}; }

json JsonContent(const json& schema) { return {{"application/json", {{"schema", schema}}}}; }

json ErrorReply(std::string_view description) {
  return {{"description", description}, {"content", JsonContent(Ref("Error"))}};
}

struct Reply {
  int status;
  std::string description;
  json schema;                  // null: no body described; a string schema with `media_type` when that is set
  std::string_view media_type;  // empty: JSON
};

struct Operation {
  std::string_view method;
  std::string_view path;
  std::string_view id;
  std::string_view summary;
  std::vector<Reply> replies;
  json request_schema;  // null: no request body
  json extra_parameters = json::array();
  bool uses_store = false;  // may answer 503 store_unavailable / overloaded
};

json Schemas() {
  const json time = {{"type", "string"}, {"format", "date-time"}};
  const json nullable_time = {{"type", {"string", "null"}}, {"format", "date-time"}};
  const json duration = {
      {"oneOf",
       {{{"type", "number"}, {"minimum", 0}}, {{"type", "string"}, {"examples", {"250ms", "1.5s", "10m"}}}}},
      {"description", "seconds, or a duration with a unit (ms, s, m, h)"}};
  const json name = {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.:-]{1,128}$"}};
  const JobLimits limits;

  json schemas;
  schemas["Error"] = {
      {"type", "object"},
      {"required", {"error"}},
      {"properties",
       {{"error",
         {{"type", "object"},
          {"required", {"code", "message"}},
          {"properties",
           {{"code", {{"type", "string"}, {"description", "stable, machine-readable, snake_case"}}},
            {"message", {{"type", "string"}, {"description", "for people; may change"}}}}}}}}}};
  schemas["JobSpec"] = {
      {"type", "object"},
      {"required", {"type"}},
      {"additionalProperties", false},
      {"properties",
       {{"type", name},
        {"queue", {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.:-]{1,128}$"}, {"default", "default"}}},
        {"args", {{"description", "any JSON value, passed to the handler"}}},
        {"priority",
         {{"type", "integer"},
          {"minimum", 0},
          {"maximum", limits.max_priority},
          {"default", 0},
          {"description", "higher first: orders the queue's waiting jobs when amqp.queue_type is priority"}}},
        {"max_attempts",
         {{"type", "integer"},
          {"minimum", 1},
          {"maximum", limits.max_attempts_limit},
          {"default", limits.default_max_attempts}}},
        {"timeout", duration},
        {"delay", duration},
        {"run_at", time},
        {"deadline", time},
        {"idempotency_key",
         {{"type", "string"}, {"minLength", 1}, {"maxLength", limits.max_idempotency_key_length}}},
        {"tags",
         {{"type", "array"},
          {"maxItems", limits.max_tags},
          {"items", {{"type", "string"}, {"pattern", "^[A-Za-z0-9_.:-]{1,64}$"}}}}}}}};
  schemas["JobState"] = {
      {"type", "string"},
      {"enum", {"scheduled", "queued", "running", "succeeded", "failed", "dead", "cancelled", "expired"}}};
  schemas["Attempt"] = {{"type", "object"},
                        {"properties",
                         {{"number", {{"type", "integer"}}},
                          {"worker", {{"type", {"string", "null"}}}},
                          {"started_at", nullable_time},
                          {"finished_at", nullable_time},
                          {"outcome", {{"type", "string"}}},
                          {"error", {{"type", {"string", "null"}}}}}}};
  schemas["Job"] = {
      {"type", "object"},
      {"required", {"id", "type", "queue", "state", "attempt", "created_at", "updated_at"}},
      {"properties",
       {{"id", {{"type", "string"}, {"format", "uuid"}, {"description", "UUIDv7: sorts by creation time"}}},
        {"type", {{"type", "string"}}},
        {"queue", {{"type", "string"}}},
        {"args", json::object()},
        {"priority", {{"type", "integer"}}},
        {"max_attempts", {{"type", "integer"}}},
        {"timeout", {{"type", {"number", "null"}}, {"description", "seconds"}}},
        {"deadline", nullable_time},
        {"run_at", nullable_time},
        {"idempotency_key", {{"type", {"string", "null"}}}},
        {"tags", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"state", Ref("JobState")},
        {"attempt", {{"type", "integer"}}},
        {"attempts", {{"type", "array"}, {"items", Ref("Attempt")}}},
        {"result", json::object()},
        {"error", {{"type", {"string", "null"}}}},
        {"progress",
         {{"type", {"object", "null"}},
          {"properties",
           {{"percent", {{"type", "integer"}}}, {"note", {{"type", "string"}}}, {"at", nullable_time}}}}},
        {"created_at", time},
        {"updated_at", time},
        {"started_at", nullable_time},
        {"finished_at", nullable_time}}}};
  schemas["JobList"] = {
      {"type", "object"},
      {"required", {"jobs", "next_cursor"}},
      {"properties",
       {{"jobs", {{"type", "array"}, {"items", Ref("Job")}}},
        {"next_cursor",
         {{"type", {"string", "null"}}, {"description", "pass as ?cursor= for the next (older) page"}}}}}};
  schemas["LogLine"] = {
      {"type", "object"},
      {"required", {"attempt", "seq", "at", "line", "cursor"}},
      {"properties",
       {{"attempt", {{"type", "integer"}, {"minimum", 1}}},
        {"seq", {{"type", "integer"}, {"minimum", 1}, {"description", "1, 2, ... within the attempt"}}},
        {"at", time},
        {"line", {{"type", "string"}}},
        {"cursor", {{"type", "string"}, {"description", "ATTEMPT.SEQ: pass as ?after= for the lines after this one"}}}}}};
  schemas["LogList"] = {
      {"type", "object"},
      {"required", {"lines", "next"}},
      {"properties",
       {{"lines", {{"type", "array"}, {"items", Ref("LogLine")}}},
        {"next",
         {{"type", {"string", "null"}},
          {"description",
           "pass as ?after= for the next page; null when this page reached the end (follow a running job "
           "with the last line's cursor)"}}}}}};
  schemas["BatchRequest"] = {
      {"type", "object"},
      {"required", {"jobs"}},
      {"additionalProperties", false},
      {"properties", {{"jobs", {{"type", "array"}, {"minItems", 1}, {"items", Ref("JobSpec")}}}}}};
  schemas["BatchResponse"] = {
      {"type", "object"},
      {"required", {"jobs", "existing"}},
      {"properties",
       {{"jobs", {{"type", "array"}, {"items", Ref("Job")}, {"description", "in the order of the request"}}},
        {"existing",
         {{"type", "array"},
          {"items", {{"type", "integer"}}},
          {"description", "indexes of jobs whose idempotency key was already known: not created again"}}}}}};
  schemas["Deleted"] = {{"type", "object"},
                        {"properties", {{"id", {{"type", "string"}}}, {"deleted", {{"type", "boolean"}}}}}};
  schemas["Queue"] = {{"type", "object"},
                      {"properties",
                       {{"name", {{"type", "string"}}},
                        {"depth", {{"type", {"integer", "null"}}}},
                        {"ready", {{"type", {"integer", "null"}}}},
                        {"unacked", {{"type", {"integer", "null"}}}},
                        {"consumers", {{"type", {"integer", "null"}}}},
                        {"rates", {{"type", {"object", "null"}}}}}}};
  schemas["QueueList"] = {{"type", "object"},
                          {"properties", {{"queues", {{"type", "array"}, {"items", Ref("Queue")}}}}}};
  schemas["RetryDead"] = {
      {"type", "object"},
      {"required", {"retried", "ids", "more"}},
      {"properties",
       {{"retried", {{"type", "integer"}, {"description", "jobs queued again by this call"}}},
        {"ids", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"more",
         {{"type", "boolean"},
          {"description", "true: the queue had more dead jobs than one call retries; call again"}}}}}};
  schemas["JobTypes"] = {
      {"type", "object"},
      {"properties",
       {{"job_types", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"any", {{"type", "boolean"}, {"description", "true: no list is configured, any type is accepted"}}},
        {"handled",
         {{"type", "object"},
          {"additionalProperties", {{"type", "integer"}}},
          {"description", "the types running workers handle, with how many workers handle each"}}}}}};
  schemas["Worker"] = {
      {"type", "object"},
      {"properties",
       {{"id", {{"type", "string"}}},
        {"host", {{"type", "string"}}},
        {"pid", {{"type", "integer"}}},
        {"queues", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"queue_priorities",
         {{"type", "object"},
          {"additionalProperties", {{"type", "integer"}}},
          {"description", "the priorities set with --queue-priority (queues not named have 0)"}}},
        {"concurrency", {{"type", "integer"}}},
        {"busy", {{"type", "integer"}, {"description", "jobs running now"}}},
        {"jobs_done", {{"type", "integer"}}},
        {"types", {{"type", "array"}, {"items", {{"type", "string"}}}}},
        {"started_at", {{"type", "string"}, {"format", "date-time"}}},
        {"last_seen", {{"type", "string"}, {"format", "date-time"}}},
        {"state", {{"type", "string"}, {"enum", {"running", "draining", "stopped", "gone"}}}}}}};
  schemas["WorkerList"] = {{"type", "object"},
                           {"properties", {{"workers", {{"type", "array"}, {"items", Ref("Worker")}}}}}};
  const json names = {{"type", "array"}, {"items", {{"type", "string"}}}};
  schemas["ScaleRequest"] = {{"type", "object"},
                             {"required", {"workers"}},
                             {"additionalProperties", false},
                             {"properties", {{"workers", {{"type", "integer"}, {"minimum", 0}, {"maximum", 256}}}}}};
  schemas["ScaleResult"] = {{"type", "object"},
                            {"properties",
                             {{"workers", {{"type", "integer"}}},
                              {"previous", {{"type", "integer"}}},
                              {"started", names},
                              {"draining", names}}}};
  schemas["Status"] = {{"type", "object"},
                       {"properties", {{"status", {{"type", "string"}}}, {"checks", {{"type", "object"}}}}}};
  return schemas;
}

std::vector<Operation> Operations() {
  const json text = {{"type", "string"}};
  const json idempotency_header = {
      {"name", "Idempotency-Key"},
      {"in", "header"},
      {"required", false},
      {"description",
       "a request repeated with the same key returns the first job (200) instead of a new one"},
      {"schema", {{"type", "string"}, {"minLength", 1}, {"maxLength", 255}}}};
  const auto query = [](std::string_view name, const json& schema, std::string_view description) {
    return json{{"name", name},
                {"in", "query"},
                {"required", false},
                {"schema", schema},
                {"description", description}};
  };
  const json list_parameters = {
      query("state", Ref("JobState"), "only jobs in this state"),
      query("type", {{"type", "string"}}, "only jobs of this type"),
      query("queue", {{"type", "string"}}, "only jobs in this queue"),
      query("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 50}}, "page size"),
      query("cursor", {{"type", "string"}}, "next_cursor of the previous page"),
  };
  const Reply bad{400, "invalid input", nullptr};
  const Reply not_found{404, "no such job", nullptr};
  const Reply conflict{409, "the job's state does not allow this", nullptr};
  const Reply too_large{413, "the body exceeds api.max_body", nullptr};
  const Reply media{415, "a body that is not application/json", nullptr};
  const Reply unknown_type{422, "a job type not in api.job_types", nullptr};
  const Reply broker{503, "RabbitMQ did not take the job (Retry-After)", nullptr};
  const Reply queue_mismatch{409, "the job's queue exists on RabbitMQ with other arguments (queue_mismatch)",
                             nullptr};
  const Reply batch_conflict{
      409,
      "a job's queue exists on RabbitMQ with other arguments (queue_mismatch), or another "
      "request is enqueueing one of the batch's idempotency keys (idempotency_key_in_use, "
      "Retry-After)",
      nullptr};

  return {
      {"GET",
       "/",
       "demoRoot",
       "The demo's health answer: OK",
       {{200, "OK", text, "text/plain"}},
       nullptr,
       json::array(),
       false},
      {"HEAD",
       "/",
       "demoRootHead",
       "GET / without the body, for load balancers",
       {{200, "OK", nullptr}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/add-job",
       "demoAddJobEmpty",
       "The demo's route without a command: 400",
       {bad},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/add-job/{cmd}",
       "demoAddJob",
       "Queue a seed-style job to task_queue, as the demo's Flask producer does",
       {{200, " [x] Sent: <cmd>", text, "text/plain"}, bad, broker},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/healthz",
       "healthz",
       "Liveness: the process serves HTTP",
       {{200, "alive", Ref("Status")}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/readyz",
       "readyz",
       "Readiness: RabbitMQ and the store are reachable",
       {{200, "ready", Ref("Status")}, {503, "not ready; checks says what is missing", nullptr}},
       nullptr,
       json::array(),
       true},
      {"GET",
       "/ui",
       "dashboard",
       "The web dashboard (HTML; its data comes from this API with the same token)",
       {{200, "the dashboard page", text, "text/html"}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/ui/{asset}",
       "dashboardAsset",
       "A file of the dashboard (app.js, style.css)",
       {{200, "the file", text, "text/plain"}, {404, "no such file", nullptr}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/v1/openapi.json",
       "openapi",
       "This document",
       {{200, "the OpenAPI 3.1 document", json::object()}},
       nullptr,
       json::array(),
       false},
      {"POST",
       "/v1/jobs",
       "createJob",
       "Enqueue a job; answers once RabbitMQ has confirmed it",
       {{200, "the idempotency key was known: the existing job", Ref("Job")},
        {202, "accepted: RabbitMQ holds the job (or it is stored for its run_at)", Ref("Job")},
        bad,
        too_large,
        media,
        unknown_type,
        queue_mismatch,
        broker},
       Ref("JobSpec"),
       json::array({idempotency_header}),
       true},
      {"GET",
       "/v1/jobs",
       "listJobs",
       "Jobs, newest first, in keyset pages",
       {{200, "a page of jobs", Ref("JobList")}, bad},
       nullptr,
       list_parameters,
       true},
      {"POST",
       "/v1/jobs/batch",
       "createJobs",
       "Enqueue up to api.max_batch jobs, validated all-or-nothing, confirmed together",
       {{200, "every idempotency key was known: nothing new", Ref("BatchResponse")},
        {202, "accepted", Ref("BatchResponse")},
        bad,
        too_large,
        media,
        unknown_type,
        batch_conflict,
        broker},
       Ref("BatchRequest"),
       json::array(),
       true},
      {"GET",
       "/v1/jobs/{id}",
       "getJob",
       "One job",
       {{200, "the job", Ref("Job")}, not_found},
       nullptr,
       json::array(),
       true},
      {"GET",
       "/v1/jobs/{id}/logs",
       "getJobLogs",
       "The job's own log lines (command stderr, JobContext::log), oldest first; the newest store.log_lines "
       "lines per job are kept",
       {{200, "a page of log lines", Ref("LogList")}, bad, not_found},
       nullptr,
       json::array({query("attempt", {{"type", "integer"}, {"minimum", 1}}, "only this attempt's lines"),
                    query("after", {{"type", "string"}}, "a cursor (ATTEMPT.SEQ) from a previous answer"),
                    query("limit", {{"type", "integer"}, {"minimum", 1}, {"maximum", 1000}, {"default", 500}},
                          "page size")}),
       true},
      {"DELETE",
       "/v1/jobs/{id}",
       "deleteJob",
       "Delete a finished job (succeeded, dead, cancelled, expired)",
       {{200, "deleted", Ref("Deleted")}, not_found, conflict},
       nullptr,
       json::array(),
       true},
      {"POST",
       "/v1/jobs/{id}/cancel",
       "cancelJob",
       "Cancel a job that has not finished",
       {{200, "cancelled", Ref("Job")},
        {202, "the job is running: cancel requested", Ref("Job")},
        not_found,
        conflict},
       nullptr,
       json::array(),
       true},
      {"POST",
       "/v1/jobs/{id}/retry",
       "retryJob",
       "Run a dead, failed, cancelled or expired job again, as a new attempt",
       {{202, "queued again", Ref("Job")}, not_found, conflict, broker},
       nullptr,
       json::array(),
       true},
      {"GET",
       "/v1/queues",
       "listQueues",
       "The job queues and their depth",
       {{200, "queues", Ref("QueueList")}},
       nullptr,
       json::array(),
       true},
      {"POST",
       "/v1/queues/{queue}/retry-dead",
       "retryDeadJobs",
       "Run every dead job of a queue again (up to 1000 per call; more: true when some remain)",
       {{200, "the jobs queued again", Ref("RetryDead")}, {400, "an invalid queue name", nullptr}, broker},
       nullptr,
       json::array(),
       true},
      {"GET",
       "/v1/job-types",
       "listJobTypes",
       "The job types POST /v1/jobs accepts",
       {{200, "job types", Ref("JobTypes")}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/metrics",
       "metrics",
       "Prometheus metrics in the text exposition format",
       {{200, "metrics", {{"type", "string"}}, "text/plain"}},
       nullptr,
       json::array(),
       false},
      {"GET",
       "/v1/events",
       "streamEvents",
       "Live job changes as Server-Sent Events (event: enqueued, started, progress, succeeded, failed, "
       "retrying, dead, cancelled, expired, retried, deleted, or reset when a resume cannot be gapless); "
       "data: JSON with job_id, queue, type, state, attempt, at",
       {{200, "an event stream that stays open", {{"type", "string"}}, "text/event-stream"}, bad},
       nullptr,
       json::array({query("queue", {{"type", "string"}}, "only changes of jobs in this queue"),
                    query("type", {{"type", "string"}}, "only changes of jobs of this type"),
                    query("job", {{"type", "string"}}, "only changes of this job"),
                    query("last_event_id", {{"type", "string"}},
                          "resume after this event id (the Last-Event-ID header wins when both are given)")}),
       false},
      {"GET",
       "/v1/workers/scale",
       "getScale",
       "warren up's children and, when it autoscales, its bounds and latest decisions with their reasons",
       {{200, "the supervisor's status", {{"type", "object"}}},
        {409, "not under warren up (not_supervised)", nullptr},
        {503, "the supervisor did not answer", nullptr}},
       nullptr,
       json::array(),
       false},
      {"POST",
       "/v1/workers/scale",
       "scaleWorkers",
       "Run N worker processes (only when serve runs under `warren up`); removed workers drain first",
       {{200, "scaled", Ref("ScaleResult")},
        bad,
        media,
        {409, "not under warren up (not_supervised), or the supervisor refused", nullptr},
        {503, "the supervisor did not answer", nullptr}},
       Ref("ScaleRequest"),
       json::array(),
       false},
      {"GET",
       "/v1/workers",
       "listWorkers",
       "The workers that announced themselves, with their heartbeats; silent ones are shown as gone",
       {{200, "workers", Ref("WorkerList")}},
       nullptr,
       json::array(),
       false},
  };
}

std::string Lower(std::string_view text) {
  std::string out(text);
  for (auto& c : out) {
    c = static_cast<char>(c >= 'A' && c <= 'Z' ? c - 'A' + 'a' : c);
  }
  return out;
}

json PathParameters(std::string_view path) {
  json parameters = json::array();
  for (size_t open = path.find('{'); open != std::string_view::npos; open = path.find('{', open + 1)) {
    const size_t close = path.find('}', open);
    const std::string name(path.substr(open + 1, close - open - 1));
    parameters.push_back(
        {{"name", name}, {"in", "path"}, {"required", true}, {"schema", {{"type", "string"}}}});
  }
  return parameters;
}

json Build() {
  json paths = json::object();
  for (const auto& op : Operations()) {
    const Access access = RouteAccess(op.method, op.path);
    json responses = json::object();
    for (const auto& reply : op.replies) {
      json r = {{"description", reply.description}};
      if (!reply.media_type.empty()) {
        r["content"] = {{std::string(reply.media_type), {{"schema", reply.schema}}}};
      } else if (!reply.schema.is_null()) {
        r["content"] = JsonContent(reply.schema);
      } else if (reply.status >= 400) {
        r["content"] = JsonContent(Ref("Error"));
      }
      responses[std::to_string(reply.status)] = std::move(r);
    }
    if (access != Access::kOpen) {
      responses["401"] = ErrorReply("no token, or an unknown one (when tokens are configured)");
      responses["403"] = ErrorReply("the token lacks the scope");
    }
    if (op.uses_store && !responses.contains("503")) {
      responses["503"] = ErrorReply("the store is unreachable or the server is overloaded (Retry-After)");
    }
    json operation = {{"operationId", op.id},
                      {"summary", op.summary},
                      {"responses", std::move(responses)},
                      {"x-warren-scope", ToString(access)}};
    json parameters = PathParameters(op.path);
    for (const auto& p : op.extra_parameters) {
      parameters.push_back(p);
    }
    if (!parameters.empty()) {
      operation["parameters"] = std::move(parameters);
    }
    if (!op.request_schema.is_null()) {
      operation["requestBody"] = {{"required", true}, {"content", JsonContent(op.request_schema)}};
    }
    // Open routes need nothing; the others a bearer token (with the scope in x-warren-scope: OpenAPI
    // has scopes for OAuth2 only). With no token configured the server does not check.
    operation["security"] =
        access == Access::kOpen ? json::array() : json::array({{{"bearer", json::array()}}});
    paths[std::string(op.path)][Lower(op.method)] = std::move(operation);
  }
  return {
      {"openapi", "3.1.0"},
      {"info",
       {{"title", "Warren"},
        {"version", WARREN_VERSION},
        {"description",
         R"(Durable background jobs on RabbitMQ. Every error body is {"error": {"code", "message"}}.)"}}},
      {"paths", std::move(paths)},
      {"components",
       {{"schemas", Schemas()},
        {"securitySchemes",
         {{"bearer",
           {{"type", "http"},
            {"scheme", "bearer"},
            {"description",
             "api.tokens: scopes read (GET), enqueue (POST jobs), admin (cancel, retry, retry-dead, delete)"}}}}}}},
  };
}

}  // namespace

const json& OpenApiDocument() {
  static const json document = Build();
  return document;
}

void AddOpenApiRoute(Router& router) {
  auto body = std::make_shared<const std::string>(OpenApiDocument().dump());
  router.Add("GET", "/v1/openapi.json", [body](const Request& /*request*/, const Responder& respond) {
    respond(JsonResponse(200, *body));
  });
}

}  // namespace warren::api
