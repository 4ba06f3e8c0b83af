#include <gtest/gtest.h>

#include "core/job.hpp"

namespace warren {
namespace {

using nlohmann::json;
using std::chrono::milliseconds;

const std::string kId = "01a217ba-127b-7abc-8def-0123456789ab";
TimePoint T(const char* text) { return ParseTime(text).value(); }

JobRecord FullRecord() {
  JobRecord r;
  r.id = kId;
  r.spec.type = "send_email";
  r.spec.queue = "emails";
  r.spec.args = {{"to", "a@b.c"}, {"n", {1, 2.5, nullptr}}};
  r.spec.priority = 4;
  r.spec.max_attempts = 5;
  r.spec.timeout = milliseconds(1500);
  r.spec.deadline = T("2026-11-27T00:00:00Z");
  r.spec.run_at = T("2026-11-26T12:00:00.250Z");
  r.spec.idempotency_key = "order-42";
  r.spec.tags = {"billing", "eu"};
  r.state = JobState::kSucceeded;
  r.attempt = 2;
  r.attempts = {Attempt{1, "w1", T("2026-11-26T12:00:01Z"), T("2026-11-26T12:00:02Z"), "failed", "smtp 451"},
                Attempt{2, "", std::nullopt, T("2026-11-26T12:00:09Z"), "succeeded", ""}};
  r.result = json{{"sent", true}};
  r.progress = Progress{60, "sending", T("2026-11-26T12:00:08Z")};
  r.created_at = T("2026-11-26T11:59:59Z");
  r.updated_at = T("2026-11-26T12:00:09Z");
  r.started_at = T("2026-11-26T12:00:01Z");
  r.finished_at = T("2026-11-26T12:00:09Z");
  return r;
}

TEST(JobCodec, RecordHasThePublicShape) {
  const json j = ToJson(FullRecord());
  const json expected = json::parse(R"({
    "id": "01a217ba-127b-7abc-8def-0123456789ab", "type": "send_email", "queue": "emails",
    "args": {"to": "a@b.c", "n": [1, 2.5, null]}, "priority": 4, "max_attempts": 5, "timeout": 1.5,
    "deadline": "2026-11-27T00:00:00.000Z", "run_at": "2026-11-26T12:00:00.250Z",
    "idempotency_key": "order-42", "tags": ["billing", "eu"], "state": "succeeded", "attempt": 2,
    "attempts": [
      {"number": 1, "worker": "w1", "started_at": "2026-11-26T12:00:01.000Z",
       "finished_at": "2026-11-26T12:00:02.000Z", "outcome": "failed", "error": "smtp 451"},
      {"number": 2, "worker": null, "started_at": null, "finished_at": "2026-11-26T12:00:09.000Z",
       "outcome": "succeeded", "error": null}],
    "result": {"sent": true}, "error": null,
    "progress": {"percent": 60, "note": "sending", "at": "2026-11-26T12:00:08.000Z"},
    "created_at": "2026-11-26T11:59:59.000Z", "updated_at": "2026-11-26T12:00:09.000Z",
    "started_at": "2026-11-26T12:00:01.000Z", "finished_at": "2026-11-26T12:00:09.000Z"})");
  EXPECT_EQ(j, expected) << j.dump(2);
}

TEST(JobCodec, NullsForAbsentValues) {
  JobRecord r;
  r.id = kId;
  r.spec.type = "x";
  const json j = ToJson(r);
  for (const char* key : {"args", "timeout", "deadline", "run_at", "idempotency_key", "result", "error",
                          "progress", "started_at", "finished_at"}) {
    EXPECT_TRUE(j.at(key).is_null()) << key;
  }
  EXPECT_EQ(j["tags"], json::array());
  EXPECT_EQ(j["attempts"], json::array());
  EXPECT_EQ(j["state"], "queued");
  EXPECT_EQ(j["queue"], "default");
  EXPECT_EQ(j["timeout"], nullptr);
  r.spec.timeout = milliseconds(30'000);
  EXPECT_TRUE(ToJson(r)["timeout"].is_number_integer());  // whole seconds print as 30, not 30.0
  EXPECT_EQ(ToJson(r)["timeout"], 30);
}

TEST(JobCodec, RecordRoundTripsExactly) {
  const JobRecord full = FullRecord();
  EXPECT_EQ(JobRecordFromJson(ToJson(full)), full);
  EXPECT_EQ(JobRecordFromJson(json::parse(ToJson(full).dump())), full);

  JobRecord sparse;
  sparse.id = kId;
  sparse.spec.type = "x";
  EXPECT_EQ(JobRecordFromJson(ToJson(sparse)), sparse);

  JobRecord odd = full;
  odd.spec.timeout = milliseconds(1);
  odd.spec.idempotency_key = "";
  odd.spec.args = json::array();
  odd.progress = Progress{};
  odd.state = JobState::kScheduled;
  for (const int64_t ms : {int64_t{1}, int64_t{999}, int64_t{123'456'789}, int64_t{3'000'000'000'001}}) {
    odd.spec.timeout = milliseconds(ms);
    EXPECT_EQ(JobRecordFromJson(json::parse(ToJson(odd).dump())), odd) << ms;
  }
}

// ToJsonText is the fast writer of the same text: it must equal the json object's dump exactly,
// for every field, escaping and invalid UTF-8 included.
std::string Dumped(const JobRecord& r) { return ToJson(r).dump(-1, ' ', false, json::error_handler_t::replace); }

TEST(JobCodec, TextEqualsTheJsonObjectsDump) {
  EXPECT_EQ(ToJsonText(FullRecord()), Dumped(FullRecord()));
  JobRecord bare;
  bare.id = kId;
  bare.spec.type = "t";
  EXPECT_EQ(ToJsonText(bare), Dumped(bare));
  JobRecord whole_seconds = FullRecord();
  whole_seconds.spec.timeout = milliseconds(30'000);
  EXPECT_EQ(ToJsonText(whole_seconds), Dumped(whole_seconds));
}

TEST(JobCodec, TextEscapesLikeTheJsonObjectsDump) {
  const std::vector<std::string> texts = {
      "quote \" and backslash \\", "tab\tnewline\ncr\r", std::string("nul\0byte", 8), "\x01\x1f\x7f",
      "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x87", "bad \xff\xfe utf-8", "cut \xe2\x82", "</script>"};
  for (const auto& text : texts) {
    JobRecord r = FullRecord();
    r.error = text;
    r.attempts[0].worker = text;
    r.attempts[0].error = text;
    r.progress->note = text;
    r.spec.tags = {text, "ok"};
    r.spec.idempotency_key = text;
    r.spec.args = {{text, text}};
    r.result = json::array({text});
    EXPECT_EQ(ToJsonText(r), Dumped(r)) << text;
  }
}

TEST(JobCodec, MissingOptionalFieldsReadAsDefaults) {
  const JobRecord r = JobRecordFromJson(json::parse(R"({"id": "j1", "type": "x", "state": "queued",
      "created_at": "2026-11-26T12:00:00Z", "updated_at": "2026-11-26T12:00:00+00:00", "future_field": 1})"));
  EXPECT_EQ(r.spec.queue, "default");
  EXPECT_EQ(r.spec.max_attempts, 3);
  EXPECT_TRUE(r.attempts.empty());
  EXPECT_EQ(r.updated_at, T("2026-11-26T12:00:00Z"));
}

TEST(JobCodec, RecordRejectsBadInputWithAClearMessage) {
  const json good = ToJson(FullRecord());
  const auto expect_throw = [&](const json& j, const std::string& needle) {
    try {
      JobRecordFromJson(j);
      ADD_FAILURE() << "accepted " << j.dump();
    } catch (const std::invalid_argument& e) {
      EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
    }
  };
  expect_throw(json::array(), "object");
  auto with = [&](const char* key, json value) {
    json j = good;
    j[key] = std::move(value);
    return j;
  };
  auto without = [&](const char* key) {
    json j = good;
    j.erase(key);
    return j;
  };
  expect_throw(without("id"), "'id'");
  expect_throw(without("type"), "'type'");
  expect_throw(without("state"), "'state'");
  expect_throw(without("created_at"), "'created_at'");
  expect_throw(with("state", "done"), "'state'");
  expect_throw(with("priority", "high"), "'priority'");
  expect_throw(with("priority", 1.5), "'priority'");
  expect_throw(with("timeout", "30s"), "'timeout'");
  expect_throw(with("timeout", -1), "'timeout'");
  expect_throw(with("deadline", "yesterday"), "'deadline'");
  expect_throw(with("tags", {1}), "'tags'");
  expect_throw(with("attempts", {{{"number", 1}, {"outcome", "exploded"}}}), "'outcome'");
  expect_throw(with("attempts", {{{"outcome", "running"}}}), "'number'");
  expect_throw(
      with("attempts", json::parse(R"([{"number":2,"outcome":"running"},{"number":1,"outcome":"running"}])")),
      "ascending");
  expect_throw(with("progress", {{"percent", 101}}), "'percent'");
  expect_throw(with("updated_at", 5), "'updated_at'");
  expect_throw(with("attempt", -1), "'attempt'");
}

TEST(JobCodec, EventOmitsEmptyFieldsAndRoundTrips) {
  JobEvent started;
  started.job_id = kId;
  started.kind = EventKind::kStarted;
  started.attempt = 1;
  started.at = T("2026-11-26T12:00:01.5Z");
  started.worker = "host:42";
  EXPECT_EQ(ToJson(started),
            json::parse(R"({"job_id": "01a217ba-127b-7abc-8def-0123456789ab", "kind": "started",
      "attempt": 1, "at": "2026-11-26T12:00:01.500Z", "worker": "host:42"})"));

  JobEvent progress = started;
  progress.kind = EventKind::kProgress;
  progress.worker.clear();
  EXPECT_EQ(ToJson(progress)["percent"], 0);  // 0% is a value for progress events
  EXPECT_FALSE(ToJson(progress).contains("note"));

  JobEvent succeeded = started;
  succeeded.kind = EventKind::kSucceeded;
  succeeded.result = {{"a", 1}};
  JobEvent failed = started;
  failed.kind = EventKind::kRetrying;
  failed.error = "boom";
  JobEvent cancel;
  cancel.job_id = kId;
  cancel.kind = EventKind::kCancelled;
  cancel.at = T("2026-11-26T12:00:00Z");
  JobEvent noted = progress;
  noted.percent = 42;
  noted.note = "halfway";
  JobEvent stored = started;
  stored.stored = true;
  EXPECT_EQ(ToJson(stored)["stored"], true);
  EXPECT_FALSE(ToJson(started).contains("stored"));
  for (const JobEvent& e : {started, progress, succeeded, failed, cancel, noted, stored}) {
    EXPECT_EQ(JobEventFromJson(json::parse(ToJson(e).dump())), e) << ToJson(e).dump();
  }
  EXPECT_EQ(ToJson(cancel), json::parse(R"({"job_id": "01a217ba-127b-7abc-8def-0123456789ab",
      "kind": "cancelled", "attempt": 0, "at": "2026-11-26T12:00:00.000Z"})"));
}

// The latest event a worker can report, then the API's retry (attempt + 1, updated_at + 1 ms): the
// record still reads back.
TEST(JobCodec, ARecordRetriedAfterTheLatestPossibleEventReadsBack) {
  const JobEvent latest = JobEventFromJson(json::parse(
      R"({"job_id": "j", "kind": "dead", "attempt": 1000000000, "at": "8999-12-31T23:59:59.999Z"})"));
  JobRecord record;
  record.id = "j";
  record.spec.type = "t";
  record.created_at = *ParseTime("2026-11-26T12:00:00Z");
  record.updated_at = record.created_at;
  ApplyEvent(record, latest);
  record.attempt += 1;
  record.updated_at += std::chrono::milliseconds(1);
  EXPECT_EQ(JobRecordFromJson(ToJson(record)), record);
}

TEST(JobCodec, EventRejectsBadInput) {
  const auto bad = [](const char* text) {
    EXPECT_THROW(JobEventFromJson(json::parse(text)), std::invalid_argument) << text;
  };
  bad(R"([])");
  bad(R"({"kind": "started", "attempt": 1, "at": "2026-11-26T12:00:00Z"})");
  bad(R"({"job_id": "j", "kind": "begun", "attempt": 1, "at": "2026-11-26T12:00:00Z"})");
  bad(R"({"job_id": "j", "kind": "started", "attempt": 1})");
  bad(R"({"job_id": "j", "kind": "started", "attempt": 0, "at": "2026-11-26T12:00:00Z"})");
  bad(R"({"job_id": "j", "kind": "started", "at": "2026-11-26T12:00:00Z"})");
  bad(R"({"job_id": "j", "kind": "started", "attempt": -1, "at": "2026-11-26T12:00:00Z"})");
  bad(R"({"job_id": "j", "kind": "progress", "attempt": 1, "at": "2026-11-26T12:00:00Z", "percent": 101})");
  bad(R"({"job_id": "j", "kind": "failed", "attempt": 1, "at": "2026-11-26T12:00:00Z", "error": 5})");
  bad(R"({"job_id": "j", "kind": "started", "attempt": 1, "at": "2026-11-26T12:00:00Z", "stored": 1})");
  // A worker's clock off by millennia: a record stamped after it (a retry adds 1 ms) could not be read back.
  bad(R"({"job_id": "j", "kind": "started", "attempt": 1, "at": "9999-12-31T23:59:59.999Z"})");
  // A cancel or expiry before any start carries attempt 0, or none.
  EXPECT_EQ(
      JobEventFromJson(json::parse(R"({"job_id": "j", "kind": "expired", "at": "2026-11-26T12:00:00Z"})"))
          .attempt,
      0);
}

}  // namespace
}  // namespace warren
