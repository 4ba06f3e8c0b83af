// Fuzz target `job_spec`: the bodies of POST /v1/jobs and POST /v1/jobs/batch, through the steps
// jobs_routes.cpp takes before the store (ParseJsonBody, ParseJobSpec, CheckJobType, the error
// answers), then what enqueueing does with an accepted job (the record, its JSON, the first message).
// For every input: no crash, no exception, no undefined behaviour; a refusal is a 4xx in the API's
// error shape; an accepted job is within the limits and its record round-trips through JSON exactly.
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "amqp/topology.hpp"
#include "api/request_validation.hpp"
#include "core/job.hpp"
#include "fuzz_check.hpp"

namespace {

using nlohmann::json;
using warren::api::Response;

void CheckRefusal(const Response& response, int status) {
  WARREN_FUZZ_CHECK(response.status == status, response.body);
  WARREN_FUZZ_CHECK(warren::fuzz::IsErrorBody(response.body), response.body);
}

void CheckJob(const json& body, const std::optional<std::string>& header_key, std::string_view where) {
  const warren::JobLimits limits;
  const auto now = *warren::ParseTime("2026-11-26T12:00:00Z");
  auto parsed = warren::ParseJobSpec(body, limits, now, header_key);
  if (const auto* error = std::get_if<warren::FieldError>(&parsed)) {
    CheckRefusal(warren::api::FieldErrorResponse(*error, where), 400);
    return;
  }
  const auto& spec = std::get<warren::JobSpec>(parsed);
  WARREN_FUZZ_CHECK(!spec.type.empty() && spec.type.size() <= 128, spec.type);
  WARREN_FUZZ_CHECK(spec.priority >= 0 && spec.priority <= limits.max_priority, "priority");
  WARREN_FUZZ_CHECK(spec.max_attempts >= 1 && spec.max_attempts <= limits.max_attempts_limit, "max_attempts");
  WARREN_FUZZ_CHECK(spec.tags.size() <= limits.max_tags, "tags");
  WARREN_FUZZ_CHECK(!spec.timeout || spec.timeout->count() > 0, "timeout");
  WARREN_FUZZ_CHECK(!spec.deadline || !spec.run_at || *spec.deadline > *spec.run_at, "deadline");
  if (auto refused = warren::api::CheckJobType(spec.type, {"hello", "send_email"}, where)) {
    CheckRefusal(*refused, 422);
  }

  const warren::JobRecord record = warren::NewJobRecord(warren::NewJobId(now), spec, now);
  const std::string text = warren::ToJson(record).dump();  // strict: the store and the API dump it so
  const warren::JobRecord back = warren::JobRecordFromJson(json::parse(text));
  WARREN_FUZZ_CHECK(back == record, text);
  const auto message = warren::amqp::EncodeFirstMessage(record, now);
  WARREN_FUZZ_CHECK(message.message_id == record.id, text);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  auto parsed = warren::api::ParseJsonBody(body);
  if (const auto* error = std::get_if<Response>(&parsed)) {
    CheckRefusal(*error, 400);
    return 0;
  }
  const json& doc = std::get<json>(parsed);
  // A batch body ({"jobs": [...]}) is checked job by job, as CreateBatch does; any other body is one
  // job, once as it is and once with an Idempotency-Key header taken from its "key" member.
  if (doc.is_object() && doc.size() == 1 && doc.contains("jobs") && doc["jobs"].is_array()) {
    const json& jobs = doc["jobs"];
    for (size_t i = 0; i < jobs.size() && i < 100; ++i) {
      CheckJob(jobs[i], std::nullopt, "jobs[" + std::to_string(i) + "]: ");
    }
    return 0;
  }
  CheckJob(doc, std::nullopt, "");
  if (doc.is_object() && doc.contains("idempotency_key") && doc["idempotency_key"].is_string()) {
    CheckJob(doc, doc["idempotency_key"].get<std::string>() + "-h", "");
  }
  return 0;
}
