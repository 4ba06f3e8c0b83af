#include "api/jobs_routes.hpp"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <set>

#include "amqp/topology.hpp"
#include "api/demo_routes.hpp"
#include "api_test_support.hpp"
#include "core/retry.hpp"

namespace warren::api {
namespace {

using amqp::PublishOutcome;
using nlohmann::json;
using testing::ApiFixture;
using testing::ErrorCode;
using ::testing::HasSubstr;
using testing::HeaderValue;
using testing::Json;

class JobsRoutes : public ApiFixture {
 protected:
  void SetUp() override { Build(); }

  // A batch with key "k-batch" waiting for its confirm, then a POST /v1/jobs with that key: their slots.
  std::pair<Slot, Slot> BatchAndAKeyedRequestWaitingForIt() {
    auto batch =
        Post("/v1/jobs/batch", R"({"jobs":[{"type":"a","idempotency_key":"k-batch"},{"type":"b"}]})");
    runner_.RunAll();
    EXPECT_EQ(publisher_.PendingCount(), 1U);
    auto single = Post("/v1/jobs", R"({"type":"a"})", {{"idempotency-key", "k-batch"}});
    runner_.RunAll();
    EXPECT_FALSE(single->has_value()) << "answered before the batch's job was confirmed";
    return {batch, single};
  }
};

// ---- POST /v1/jobs ---------------------------------------------------------------------------------

TEST_F(JobsRoutes, EnqueueStoresAndPublishesAtOnceAndAnswers202AfterBoth) {
  auto slot = Post("/v1/jobs", R"({"type":"send_email","args":{"to":"a@b"},"priority":2})");
  // Without an idempotency key the message goes out while the insert waits for the pool (decision 77).
  ASSERT_EQ(publisher_.PendingCount(), 1U);
  EXPECT_EQ(store_.Size(), 0U);
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  EXPECT_FALSE(slot->has_value()) << "answered before the record was stored";
  runner_.RunAll();
  EXPECT_EQ(store_.Size(), 1U);  // readable as soon as the POST returns
  ASSERT_TRUE(slot->has_value());
  const Response& response = **slot;
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(response.content_type, "application/json");
  const json job = Json(response);
  EXPECT_EQ(job["type"], "send_email");
  EXPECT_EQ(job["queue"], "default");
  EXPECT_EQ(job["state"], "queued");
  EXPECT_EQ(job["args"], json({{"to", "a@b"}}));
  EXPECT_EQ(HeaderValue(response, "Location"), "/v1/jobs/" + job["id"].get<std::string>());

  const auto messages = publisher_.Messages();
  ASSERT_EQ(messages.size(), 1U);
  EXPECT_EQ(messages[0].routing_key, "default");
  EXPECT_EQ(messages[0].type, "send_email");
  EXPECT_EQ(messages[0].message_id, job["id"]);
  EXPECT_EQ(messages[0].headers.at(std::string(amqp::kAttemptHeader)), "1");

  // Read-your-writes.
  const Response got = Call("GET", "/v1/jobs/" + job["id"].get<std::string>());
  EXPECT_EQ(got.status, 200);
  EXPECT_EQ(Json(got), job);
}

// What the API changes reaches the live event stream. An enqueue is told once stored, before its
// publish, so no worker's report of the job can come first; one RabbitMQ refused is told deleted.
TEST_F(JobsRoutes, EveryChangeTheApiMakesIsTold) {
  auto refused = Post("/v1/jobs", R"({"type":"t"})");
  runner_.RunAll();
  ASSERT_EQ(changes_.size(), 1U);
  EXPECT_EQ(changes_[0].first, "enqueued");
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kUnavailable));
  runner_.RunAll();
  ASSERT_EQ(changes_.size(), 2U);
  EXPECT_EQ(changes_[1], std::make_pair(std::string("deleted"), changes_[0].second));
  changes_.clear();

  auto slot = Post("/v1/jobs", R"({"type":"t"})");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  const std::string id = Json(**slot)["id"];
  ASSERT_EQ(Call("POST", "/v1/jobs/" + id + "/cancel").status, 200);
  auto retried = Send("POST", "/v1/jobs/" + id + "/retry");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));  // the cancel's control message
  while (!retried->has_value() && publisher_.Resolve(PublishOutcome::kConfirmed)) {
    runner_.RunAll();
  }
  ASSERT_EQ(Call("POST", "/v1/jobs/" + id + "/cancel").status, 200);
  publisher_.Resolve(PublishOutcome::kConfirmed);
  ASSERT_EQ(Call("DELETE", "/v1/jobs/" + id).status, 200);
  using Told = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(changes_, (Told{{"enqueued", id}, {"cancelled", id}, {"retried", id}, {"cancelled", id}, {"deleted", id}}));
}

TEST_F(JobsRoutes, TheEventsRouteAnswersAStreamOrA400) {
  const Response stream = Call("GET", "/v1/events?queue=emails");
  EXPECT_EQ(stream.status, 200);
  EXPECT_EQ(stream.content_type, "text/event-stream");
  EXPECT_TRUE(static_cast<bool>(stream.stream));
  EXPECT_EQ(Call("GET", "/v1/events?queue=no%20spaces").status, 400);
  EXPECT_EQ(Call("GET", "/v1/events?job=x").status, 400);
}

TEST_F(JobsRoutes, ScalingWorkersNeedsWarrenUp) {
  const Response refused = Call("POST", "/v1/workers/scale", R"({"workers":2})");
  EXPECT_EQ(refused.status, 409);
  EXPECT_EQ(ErrorCode(refused), "not_supervised");
  for (const char* bad : {R"({"workers":-1})", R"({"workers":257})", R"({"workers":"2"})", R"({"workers":2,"x":1})", "[]"}) {
    const Response r = Call("POST", "/v1/workers/scale", bad);
    EXPECT_EQ(r.status, 400) << bad;
    EXPECT_EQ(ErrorCode(r), "invalid_field") << bad;
  }
}

TEST_F(JobsRoutes, EnqueueNamesItsQueue) {
  const Response response = Enqueue(R"({"type":"resize","queue":"images"})");
  ASSERT_EQ(response.status, 202);
  EXPECT_EQ(publisher_.Messages().at(0).routing_key, "images");
}

TEST_F(JobsRoutes, EveryPublishFailureIs503AndLeavesNoJob) {
  for (const auto outcome :
       {PublishOutcome::kUnavailable, PublishOutcome::kBlocked, PublishOutcome::kTimeout,
        PublishOutcome::kStopped, PublishOutcome::kRejected, PublishOutcome::kUnroutable}) {
    auto slot = Post("/v1/jobs", R"({"type":"hello"})");
    runner_.RunAll();
    ASSERT_TRUE(publisher_.Resolve(outcome));
    EXPECT_FALSE(slot->has_value()) << "answered before the record was deleted";
    runner_.RunAll();  // the undo runs on the pool, not the publisher's thread
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->status, 503) << amqp::ToString(outcome);
    EXPECT_EQ(HeaderValue(**slot, "Retry-After"), "1");
    EXPECT_EQ(ErrorCode(**slot), ErrorCode(PublishFailureResponse(outcome, "default")));
    EXPECT_EQ(store_.Size(), 0U) << amqp::ToString(outcome);
  }
}

TEST_F(JobsRoutes, AScheduledJobGoesThroughTheDelayTiersToItsQueue) {
  auto slot = Post("/v1/jobs", R"({"type":"report","delay":"1h"})");
  runner_.RunAll();
  EXPECT_FALSE(slot->has_value()) << "answered before the broker confirmed";
  ASSERT_EQ(publisher_.publishes, 1);
  const auto message = publisher_.Messages().at(0);
  // The longest tier that fits in the hour, never one that overshoots; the job keeps its queue as
  // routing key, which the tier's dead-lettering uses.
  EXPECT_EQ(message.exchange, amqp::DelayTierName(PickDelayTier(std::chrono::hours(1))));
  EXPECT_EQ(message.routing_key, "default");
  EXPECT_EQ(message.headers.at(std::string(amqp::kNotBeforeHeader)), "2026-11-26T13:00:00.000Z");
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 202);
  EXPECT_EQ(Json(**slot)["state"], "scheduled");
  EXPECT_EQ(Json(**slot)["run_at"], "2026-11-26T13:00:00.000Z");
  EXPECT_EQ(store_.Size(), 1U);
}

TEST_F(JobsRoutes, WhileInsertsPileUpEnqueuesStoreFirst) {
  // No store call runs until RunAll: the inserts wait, and past a group commit's worth of them new
  // enqueues stop publishing ahead of their insert (a store that hangs publishes no more than that).
  std::vector<Slot> slots;
  for (int i = 0; i < 300; ++i) {
    slots.push_back(Post("/v1/jobs", R"({"type":"a"})"));
  }
  EXPECT_EQ(publisher_.publishes, 256);
  runner_.RunAll();
  EXPECT_EQ(publisher_.publishes, 300);
  while (publisher_.Resolve(PublishOutcome::kConfirmed)) {
    runner_.RunAll();
  }
  for (const auto& slot : slots) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->status, 202);
  }
  EXPECT_EQ(store_.Size(), 300U);
}

TEST_F(JobsRoutes, AJobWithAnIdempotencyKeyIsStoredBeforeItIsPublished) {
  // The insert decides whether the key is new, so nothing is published before it commits.
  auto slot = Post("/v1/jobs", R"({"type":"a"})", {{"idempotency-key", "k-first"}});
  EXPECT_EQ(publisher_.PendingCount(), 0U);
  runner_.RunAll();
  EXPECT_EQ(store_.Size(), 1U);
  ASSERT_EQ(publisher_.PendingCount(), 1U);
  EXPECT_FALSE(slot->has_value()) << "answered before RabbitMQ confirmed";
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 202);
}

TEST_F(JobsRoutes, AKnownIdempotencyKeyAnswers200WithTheSameJobAndPublishesNothing) {
  const Response first = Enqueue(R"({"type":"hello","idempotency_key":"k-1"})");
  ASSERT_EQ(first.status, 202);
  const Response again = Enqueue(R"({"type":"hello"})", {{"idempotency-key", "k-1"}});
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(Json(again)["id"], Json(first)["id"]);
  EXPECT_EQ(publisher_.publishes, 1);
  EXPECT_EQ(store_.Size(), 1U);
}

TEST_F(JobsRoutes, ConcurrentIdenticalRequestsMakeOneJob) {
  std::vector<std::shared_ptr<std::optional<Response>>> slots;
  for (int i = 0; i < 8; ++i) {
    slots.push_back(Post("/v1/jobs", R"({"type":"hello"})", {{"idempotency-key", "same"}}));
  }
  runner_.RunAll();
  EXPECT_EQ(store_.insert_calls, 1);  // the seven followers wait on the leader, not on the store
  ASSERT_EQ(publisher_.PendingCount(), 1U);
  for (const auto& slot : slots) {
    EXPECT_FALSE(slot->has_value()) << "nobody hears 2xx before the confirm";
  }
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  std::multiset<int> statuses;
  std::set<std::string> ids;
  for (const auto& slot : slots) {
    ASSERT_TRUE(slot->has_value());
    statuses.insert((*slot)->status);
    ids.insert(Json(**slot)["id"].get<std::string>());
  }
  EXPECT_EQ(statuses.count(202), 1U);
  EXPECT_EQ(statuses.count(200), 7U);
  EXPECT_EQ(ids.size(), 1U);
  EXPECT_EQ(store_.Size(), 1U);

  // The key is free again, and known to the store: a later request gets the job, not a new one.
  const Response later = Enqueue(R"({"type":"hello"})", {{"idempotency-key", "same"}});
  EXPECT_EQ(later.status, 200);
  EXPECT_EQ(Json(later)["id"], *ids.begin());
}

TEST_F(JobsRoutes, WhenTheLeaderFailsEveryFollowerHearsTheSame503) {
  std::vector<std::shared_ptr<std::optional<Response>>> slots;
  for (int i = 0; i < 3; ++i) {
    slots.push_back(Post("/v1/jobs", R"({"type":"hello","idempotency_key":"k"})"));
  }
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kUnavailable));
  runner_.RunAll();
  for (const auto& slot : slots) {
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->status, 503);
    EXPECT_EQ(ErrorCode(**slot), "broker_unavailable");
  }
  EXPECT_EQ(store_.Size(), 0U);
  // A retry once the broker is back creates the job.
  EXPECT_EQ(Enqueue(R"({"type":"hello","idempotency_key":"k"})").status, 202);
}

// A batch's keyed job is in the store before RabbitMQ confirmed it, and deleted again when it did not:
// a POST /v1/jobs with that key used to get 200 with that job at once, a job that could then vanish.
TEST_F(JobsRoutes, AKeyedRequestWaitsForTheBatchEnqueueingItsKeyAndHearsItsFailure) {
  const auto [batch, single] = BatchAndAKeyedRequestWaitingForIt();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kUnavailable));
  runner_.RunAll();
  ASSERT_TRUE(batch->has_value());
  EXPECT_EQ((*batch)->status, 503);
  ASSERT_TRUE(single->has_value());
  EXPECT_EQ((*single)->status, 503);
  EXPECT_EQ(ErrorCode(**single), "broker_unavailable");
  EXPECT_EQ(store_.Size(), 0U);
  EXPECT_EQ(publisher_.PendingCount(), 0U) << "the waiting request published nothing of its own";
  // Once the broker is back, the key makes its job.
  EXPECT_EQ(Enqueue(R"({"type":"a"})", {{"idempotency-key", "k-batch"}}).status, 202);
}

TEST_F(JobsRoutes, AKeyedRequestGetsTheBatchsJobOnceItIsConfirmed) {
  const auto [batch, single] = BatchAndAKeyedRequestWaitingForIt();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  runner_.RunAll();
  ASSERT_TRUE(batch->has_value());
  ASSERT_EQ((*batch)->status, 202);
  ASSERT_TRUE(single->has_value());
  EXPECT_EQ((*single)->status, 200);
  EXPECT_EQ(Json(**single)["id"], Json(**batch)["jobs"][0]["id"]);
  EXPECT_EQ(publisher_.Messages().size(), 2U);
  EXPECT_EQ(store_.Size(), 2U);
}

// The other way round: a batch cannot wait for one key among many (two batches could wait on each
// other), so it is told to come back, as the IETF's Idempotency-Key draft says.
TEST_F(JobsRoutes, ABatchNamingAKeyStillBeingEnqueuedIs409) {
  auto single = Post("/v1/jobs", R"({"type":"a"})", {{"idempotency-key", "k-single"}});
  runner_.RunAll();
  ASSERT_EQ(publisher_.PendingCount(), 1U);
  const Response batch =
      Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"b"},{"type":"a","idempotency_key":"k-single"}]})");
  EXPECT_EQ(batch.status, 409);
  EXPECT_EQ(ErrorCode(batch), "idempotency_key_in_use");
  EXPECT_EQ(HeaderValue(batch, "Retry-After"), "1");
  EXPECT_EQ(store_.Size(), 1U) << "the batch stored nothing";

  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(single->has_value());
  EXPECT_EQ((*single)->status, 202);
  // Once settled, the batch goes through and finds the job.
  auto again = Post("/v1/jobs/batch", R"({"jobs":[{"type":"b"},{"type":"a","idempotency_key":"k-single"}]})");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(again->has_value());
  EXPECT_EQ((*again)->status, 202);
  EXPECT_EQ(Json(**again)["jobs"][1]["id"], Json(**single)["id"]);
  EXPECT_EQ(Json(**again)["existing"], json({1}));
}

TEST_F(JobsRoutes, ABatchThatCouldNotRunFreesItsKeys) {
  while (runner_.TryPost([] {})) {  // a full pool: the batch is refused before its insert
  }
  const auto batch =
      Post("/v1/jobs/batch",
           R"({"jobs":[{"type":"a","idempotency_key":"k"},{"type":"a","idempotency_key":"k"}]})");
  ASSERT_TRUE(batch->has_value());
  EXPECT_EQ((*batch)->status, 503);
  runner_.RunAll();
  EXPECT_EQ(Enqueue(R"({"type":"a"})", {{"idempotency-key", "k"}}).status, 202) << "the key was left led";
}

TEST_F(JobsRoutes, BadInputIsA4xxAndChangesNothing) {
  struct Case {
    std::string body;
    int status;
    std::string code;
  };
  const std::vector<Case> cases = {
      {"{", 400, "invalid_json"},
      {"[1,2", 400, "invalid_json"},
      {"{\"type\":\"x\xff\"}", 400, "invalid_utf8"},
      {std::string(100'000, '[') + std::string(100'000, ']'), 400, "too_deep"},
      {"[]", 400, "invalid_field"},
      {R"({"args":{}})", 400, "missing_field"},
      {R"({"type":5})", 400, "invalid_field"},
      {R"({"type":"a","nope":1})", 400, "unknown_field"},
      {R"({"type":"a","priority":"high"})", 400, "invalid_field"},
      {R"({"type":"a","queue":"amq.x"})", 400, "invalid_field"},
      {R"({"type":"a","args":)" + std::string(35, '[') + std::string(35, ']') + "}", 400, "too_large"},
      {"   ", 400, "empty_body"},
  };
  for (const auto& c : cases) {
    const Response response = Call("POST", "/v1/jobs", c.body);
    EXPECT_EQ(response.status, c.status) << c.body.substr(0, 60) << " → " << response.body;
    EXPECT_EQ(ErrorCode(response), c.code) << c.body.substr(0, 60);
  }
  EXPECT_EQ(store_.Size(), 0U);
  EXPECT_EQ(publisher_.publishes, 0);
}

TEST_F(JobsRoutes, BadIdempotencyKeyHeaderIs400) {
  const Response response = Call("POST", "/v1/jobs", R"({"type":"a"})", {{"idempotency-key", ""}});
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("Idempotency-Key"));
}

TEST_F(JobsRoutes, ContentTypeMustBeJsonWhenThereIsABody) {
  Response response = Call("POST", "/v1/jobs", R"({"type":"a"})", {{"content-type", "text/plain"}});
  EXPECT_EQ(response.status, 415);
  EXPECT_EQ(ErrorCode(response), "unsupported_media_type");
  auto slot = Send("POST", "/v1/jobs", R"({"type":"a"})");  // no Content-Type at all
  runner_.RunAll();
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 415);
  EXPECT_EQ(store_.Size(), 0U);
  // Media types are case-insensitive, and charset=utf-8 is fine.
  auto ok = Post("/v1/jobs", R"({"type":"a"})", {{"content-type", "Application/JSON; charset=UTF-8"}});
  runner_.RunAll();
  EXPECT_EQ(publisher_.PendingCount(), 1U);
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  EXPECT_EQ((*ok)->status, 202);
  // A POST without a body needs no Content-Type (cancel, retry).
  const JobRecord job = PutJob(JobState::kQueued);
  EXPECT_EQ(Call("POST", "/v1/jobs/" + job.id + "/cancel").status, 200);
}

TEST_F(JobsRoutes, StoreTroubleIs503AndAJobPublishedMeanwhileIsCancelled) {
  // Insert and publish run at once (decision 77): the insert fails while the publish is on its way.
  store_.FailNext();
  auto slot = Post("/v1/jobs", R"({"type":"a"})");
  runner_.RunAll();
  EXPECT_FALSE(slot->has_value()) << "answered before RabbitMQ settled the publish";
  ASSERT_TRUE(publisher_.Resolve(amqp::PublishOutcome::kConfirmed));
  runner_.RunAll();
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 503);
  EXPECT_EQ(ErrorCode(**slot), "store_unavailable");
  EXPECT_EQ(HeaderValue(**slot, "Retry-After"), "1");
  // RabbitMQ holds a job with no record: the workers are told to skip it.
  const auto messages = publisher_.Messages();
  ASSERT_EQ(messages.size(), 2U);
  EXPECT_EQ(messages[1].exchange, amqp::kControlExchange);
  EXPECT_EQ(nlohmann::json::parse(messages[1].body)["cancel"], messages[0].message_id);
  using Told = std::vector<std::pair<std::string, std::string>>;
  EXPECT_EQ(changes_, (Told{{"enqueued", messages[0].message_id}, {"deleted", messages[0].message_id}}));

  // While the store fails, an enqueue stores first and so publishes nothing.
  store_.FailNext();
  const Response again = Call("POST", "/v1/jobs", R"({"type":"a"})");
  EXPECT_EQ(again.status, 503);
  EXPECT_EQ(ErrorCode(again), "store_unavailable");
  EXPECT_EQ(publisher_.publishes, 2);
  // The store is back: insert and publish at once again.
  EXPECT_EQ(Enqueue(R"({"type":"a"})").status, 202);
  EXPECT_EQ(Enqueue(R"({"type":"a"})").status, 202);
  EXPECT_EQ(publisher_.publishes, 4);

  store_.FailNext();
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs")), "store_unavailable");
}

TEST_F(JobsRoutes, ASaturatedPoolAnswers503Overloaded) {
  // Fill the runner without running anything.
  while (runner_.TryPost([] {})) {
  }
  const auto slot = Send("GET", "/v1/jobs");
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 503);
  EXPECT_EQ(ErrorCode(**slot), "overloaded");
  runner_.RunAll();
}

// ---- command types' defaults ---------------------------------------------------------------------------

class JobsRoutesWithCommandTypes : public ApiFixture {
 protected:
  void SetUp() override {
    Settings settings;
    CommandJob resize;
    resize.type = "resize";
    resize.command = {"/usr/bin/convert", "{args.src}"};
    resize.max_attempts = 7;
    resize.timeout = std::chrono::seconds(30);
    settings.command_jobs["resize"] = resize;
    Build(settings);
  }
};

TEST_F(JobsRoutesWithCommandTypes, TheTypesConfigFillsWhatTheRequestLeavesOut) {
  Response response = Enqueue(R"({"type":"resize"})");
  ASSERT_EQ(response.status, 202);
  EXPECT_EQ(Json(response)["max_attempts"], 7);
  EXPECT_EQ(publisher_.Messages().back().headers.at(std::string(amqp::kTimeoutHeader)), "30000");
  response = Enqueue(R"({"type":"resize","max_attempts":2,"timeout":"1s"})");
  ASSERT_EQ(response.status, 202);
  EXPECT_EQ(Json(response)["max_attempts"], 2);
  EXPECT_EQ(publisher_.Messages().back().headers.at(std::string(amqp::kTimeoutHeader)), "1000");
  EXPECT_EQ(Json(Enqueue(R"({"type":"other"})"))["max_attempts"], 3) << "other types keep the default";
  // null is absent, here as everywhere in a job spec
  response = Enqueue(R"({"type":"resize","max_attempts":null,"timeout":null})");
  ASSERT_EQ(response.status, 202) << response.body;
  EXPECT_EQ(Json(response)["max_attempts"], 7);
  EXPECT_EQ(publisher_.Messages().back().headers.at(std::string(amqp::kTimeoutHeader)), "30000");
}

// ---- unknown job types --------------------------------------------------------------------------------

class JobsRoutesWithTypes : public ApiFixture {
 protected:
  void SetUp() override {
    Settings settings;
    settings.job_types = {"send_email", "resize"};
    settings.max_batch = 3;
    Build(settings);
  }
};

TEST_F(JobsRoutesWithTypes, AnUnknownTypeIs422NamingTheKnownOnes) {
  const Response response = Call("POST", "/v1/jobs", R"({"type":"mine_bitcoin"})");
  EXPECT_EQ(response.status, 422);
  EXPECT_EQ(ErrorCode(response), "unknown_job_type");
  EXPECT_THAT(response.body, HasSubstr("send_email, resize"));
  EXPECT_EQ(Enqueue(R"({"type":"resize"})").status, 202);

  const Response types = Call("GET", "/v1/job-types");
  EXPECT_EQ(types.status, 200);
  EXPECT_EQ(Json(types)["job_types"], json({"send_email", "resize"}));
  EXPECT_EQ(Json(types)["any"], false);
}

TEST_F(JobsRoutesWithTypes, BatchIsLimitedAndAllOrNothing) {
  Response response = Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"resize"},{"type":"resize"},
      {"type":"resize"},{"type":"resize"}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_EQ(ErrorCode(response), "batch_too_large");

  response = Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"resize"},{"type":"nope"}]})");
  EXPECT_EQ(response.status, 422);
  EXPECT_THAT(response.body, HasSubstr("jobs[1]"));

  response =
      Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"resize"},{"type":"resize","priority":99}]})");
  EXPECT_EQ(response.status, 400);
  EXPECT_THAT(response.body, HasSubstr("jobs[1]: field 'priority'"));
  EXPECT_EQ(store_.Size(), 0U);
  EXPECT_EQ(publisher_.batches, 0);
}

// ---- POST /v1/jobs/batch -----------------------------------------------------------------------------

TEST_F(JobsRoutes, BatchPublishesWithOneConfirmRound) {
  auto slot =
      Post("/v1/jobs/batch", R"({"jobs":[{"type":"a"},{"type":"b","queue":"q2"},{"type":"c","delay":60}]})");
  runner_.RunAll();
  EXPECT_FALSE(slot->has_value());
  EXPECT_EQ(publisher_.batches, 1);
  EXPECT_EQ(publisher_.publishes, 0);
  const auto messages = publisher_.Messages();
  ASSERT_EQ(messages.size(), 3U);
  EXPECT_EQ(messages[2].exchange, amqp::DelayTierName(std::chrono::milliseconds(51'200)));  // 60 s: 51.2 s first
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 202);
  const json body = Json(**slot);
  ASSERT_EQ(body["jobs"].size(), 3U);
  EXPECT_EQ(body["jobs"][0]["type"], "a");
  EXPECT_EQ(body["jobs"][1]["queue"], "q2");
  EXPECT_EQ(body["jobs"][2]["state"], "scheduled");
  EXPECT_EQ(body["existing"], json::array());
  EXPECT_EQ(messages[0].message_id, body["jobs"][0]["id"]);
  EXPECT_EQ(store_.Size(), 3U);
}

TEST_F(JobsRoutes, BatchThatRabbitMqRefusesLeavesNothing) {
  const Response response =
      PostRefused("/v1/jobs/batch", R"({"jobs":[{"type":"a"},{"type":"b"}]})", PublishOutcome::kTimeout);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(ErrorCode(response), "publish_timeout");
  EXPECT_EQ(store_.Size(), 0U);
}

TEST_F(JobsRoutes, BatchWithKnownKeysReturnsTheExistingJobs) {
  const std::string first = EnqueueId(R"({"type":"a","idempotency_key":"one"})");
  auto slot = Post("/v1/jobs/batch", R"({"jobs":[{"type":"a","idempotency_key":"one"},{"type":"b"}]})");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 202);
  const json body = Json(**slot);
  EXPECT_EQ(body["jobs"][0]["id"], first);
  EXPECT_EQ(body["existing"], json({0}));
  EXPECT_EQ(publisher_.Messages().size(), 2U);  // the first job's own publish, then only "b"

  // Every key known: 200, nothing published.
  const Response again = Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"a","idempotency_key":"one"}]})");
  EXPECT_EQ(again.status, 200);
  EXPECT_EQ(publisher_.PendingCount(), 0U);
}

TEST_F(JobsRoutes, BatchShapeErrors) {
  EXPECT_EQ(ErrorCode(Call("POST", "/v1/jobs/batch", R"([{"type":"a"}])")), "invalid_field");
  EXPECT_EQ(ErrorCode(Call("POST", "/v1/jobs/batch", R"({"jobs":[]})")), "invalid_field");
  EXPECT_EQ(ErrorCode(Call("POST", "/v1/jobs/batch", R"({"jobs":[], "x":1})")), "invalid_field");
  EXPECT_EQ(
      ErrorCode(Call("POST", "/v1/jobs/batch", R"({"jobs":[{"type":"a"}]})", {{"idempotency-key", "k"}})),
      "invalid_header");
  EXPECT_EQ(store_.Size(), 0U);
}

// ---- GET /v1/jobs ---------------------------------------------------------------------------------------

TEST_F(JobsRoutes, ListIsNewestFirstInStablePages) {
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    ids.push_back(EnqueueId(R"({"type":"t)" + std::to_string(i % 2) + R"("})"));
    now_ += std::chrono::milliseconds(1);
  }
  Response page = Call("GET", "/v1/jobs?limit=2");
  ASSERT_EQ(page.status, 200) << page.body;
  json body = Json(page);
  ASSERT_EQ(body["jobs"].size(), 2U);
  EXPECT_EQ(body["jobs"][0]["id"], ids[4]);
  EXPECT_EQ(body["jobs"][1]["id"], ids[3]);
  const std::string cursor = body["next_cursor"];

  // A job added meanwhile does not shift the next page.
  EnqueueId(R"({"type":"late"})");
  page = Call("GET", "/v1/jobs?limit=2&cursor=" + cursor);
  body = Json(page);
  EXPECT_EQ(body["jobs"][0]["id"], ids[2]);
  EXPECT_EQ(body["jobs"][1]["id"], ids[1]);

  page = Call("GET", "/v1/jobs?type=t0&limit=10");
  body = Json(page);
  ASSERT_EQ(body["jobs"].size(), 3U);
  EXPECT_TRUE(body["next_cursor"].is_null());

  EXPECT_EQ(Json(Call("GET", "/v1/jobs?state=running"))["jobs"].size(), 0U);
  EXPECT_EQ(Json(Call("GET", "/v1/jobs?state=queued&queue=default&limit=1000"))["jobs"].size(), 6U);
}

TEST_F(JobsRoutes, ListPagesOfLargeJobsStayBoundedAndLoseNothing) {
  std::set<std::string> all;
  for (int i = 0; i < 40; ++i) {
    JobRecord job = PutJob(JobState::kQueued);
    job.spec.args = std::string(500 * 1024, 'x');  // 40 × 500 KiB: 20 MB in one page otherwise
    store_.Put(job);
    all.insert(job.id);
  }
  std::set<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    const Response page = Call("GET", "/v1/jobs?limit=1000" + (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200);
    EXPECT_LT(page.body.size(), size_t{10} << 20);
    const json body = Json(page);
    for (const auto& job : body["jobs"]) {
      EXPECT_TRUE(seen.insert(job["id"].get<std::string>()).second) << "listed twice";
    }
    cursor = body["next_cursor"].is_null() ? "" : body["next_cursor"].get<std::string>();
    ++pages;
  } while (!cursor.empty() && pages < 50);
  EXPECT_EQ(seen, all);
  EXPECT_GE(pages, 3);
}

TEST_F(JobsRoutes, ListRejectsBadParameters) {
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?state=sleeping")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?limit=0")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?limit=1001")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?limit=abc")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?limit=1&limit=2")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?colour=red")), "unknown_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?type=%zz")), "bad_query");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs?cursor=garbage")), "invalid_cursor");
}

// ---- GET /v1/jobs/{id} ------------------------------------------------------------------------------------

TEST_F(JobsRoutes, UnknownJobIs404) {
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/01900000-0000-7000-8000-000000000000")), "not_found");
  EXPECT_EQ(Call("GET", "/v1/jobs/not-an-id").status, 404);
  EXPECT_EQ(Call("GET", "/v1/jobs/batch").status, 404);  // GET on the batch path is a job lookup
}

// ---- GET /v1/jobs/{id}/logs -------------------------------------------------------------------------------

TEST_F(JobsRoutes, LogsComeInPagesWithCursorsAndUnknownJobsAre404) {
  const JobRecord job = PutJob(JobState::kRunning);
  JobEvent log;
  log.job_id = job.id;
  log.kind = EventKind::kLog;
  log.attempt = 1;
  const TimePoint at{std::chrono::milliseconds(1'780'000'000'000)};
  log.lines = {LogLine{1, at, "first"}, LogLine{2, at, "<b>second</b>"}};
  JobEvent later = log;
  later.attempt = 2;
  later.lines = {LogLine{1, at, "third"}};
  store_.AppendLogs({log, later}, 100);

  json page = Json(Call("GET", "/v1/jobs/" + job.id + "/logs?limit=2"));
  EXPECT_EQ(page["lines"].size(), 2U);
  EXPECT_EQ(page["lines"][0], (json{{"attempt", 1}, {"seq", 1}, {"at", "2026-05-28T20:26:40.000Z"}, {"line", "first"},
                                    {"cursor", "1.1"}}));
  EXPECT_EQ(page["lines"][1]["line"], "<b>second</b>");
  EXPECT_EQ(page["next"], "1.2");
  page = Json(Call("GET", "/v1/jobs/" + job.id + "/logs?after=1.2"));
  EXPECT_EQ(page["lines"].size(), 1U);
  EXPECT_EQ(page["lines"][0]["line"], "third");
  EXPECT_TRUE(page["next"].is_null());
  page = Json(Call("GET", "/v1/jobs/" + job.id + "/logs?attempt=2"));
  EXPECT_EQ(page["lines"].size(), 1U);

  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/01900000-0000-7000-8000-000000000000/logs")), "not_found");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/" + job.id + "/logs?after=x")), "invalid_cursor");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/" + job.id + "/logs?limit=0")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/" + job.id + "/logs?attempt=-1")), "invalid_parameter");
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/jobs/" + job.id + "/logs?colour=red")), "unknown_parameter");
}

TEST_F(JobsRoutes, TheDashboardIsServedWithAStrictContentSecurityPolicy) {
  for (const std::string path : {"/ui", "/ui/", "/ui/app.js", "/ui/style.css"}) {
    const Response response = Call("GET", path);
    EXPECT_EQ(response.status, 200) << path;
    EXPECT_FALSE(response.body.empty()) << path;
    bool csp = false;
    for (const auto& [name, value] : response.headers) {
      if (name == "Content-Security-Policy") {
        csp = true;
        EXPECT_NE(value.find("script-src 'self'"), std::string::npos);
        EXPECT_EQ(value.find("unsafe-inline"), std::string::npos);
      }
    }
    EXPECT_TRUE(csp) << path;
  }
  EXPECT_NE(Call("GET", "/ui").content_type.find("text/html"), std::string::npos);
  EXPECT_NE(Call("GET", "/ui/app.js").content_type.find("javascript"), std::string::npos);
  EXPECT_EQ(Call("GET", "/ui/nope.js").status, 404);
  EXPECT_EQ(Call("GET", "/ui/%2e%2e%2fetc").status, 404);
}

// ---- cancel -----------------------------------------------------------------------------------------------

TEST_F(JobsRoutes, CancelAQueuedJob) {
  const std::string id = EnqueueId(R"({"type":"a"})");
  now_ += std::chrono::seconds(1);
  const Response response = Call("POST", "/v1/jobs/" + id + "/cancel");
  EXPECT_EQ(response.status, 200) << response.body;
  EXPECT_EQ(Json(response)["state"], "cancelled");
  EXPECT_EQ(Json(response)["finished_at"], "2026-11-26T12:00:01.000Z");
  EXPECT_EQ(store_.GetJob(id)->state, JobState::kCancelled);

  const Response again = Call("POST", "/v1/jobs/" + id + "/cancel");
  EXPECT_EQ(again.status, 409);
  EXPECT_EQ(ErrorCode(again), "conflict");
}

TEST_F(JobsRoutes, CancelAScheduledOrFailedJob) {
  for (const auto state : {JobState::kScheduled, JobState::kFailed}) {
    const JobRecord job = PutJob(state);
    const Response response = Call("POST", "/v1/jobs/" + job.id + "/cancel");
    EXPECT_EQ(response.status, 200) << ToString(state);
    EXPECT_EQ(Json(response)["state"], "cancelled");
  }
}

TEST_F(JobsRoutes, CancelARunningJobIsRequested202) {
  const JobRecord job = PutJob(JobState::kRunning);
  const Response response = Call("POST", "/v1/jobs/" + job.id + "/cancel");
  EXPECT_EQ(response.status, 202);
  EXPECT_EQ(Json(response)["attempts"][0]["outcome"], "cancelled");
}

TEST_F(JobsRoutes, CancelTerminalOrUnknownJobs) {
  for (const auto state : {JobState::kSucceeded, JobState::kDead, JobState::kExpired}) {
    const JobRecord job = PutJob(state);
    const Response response = Call("POST", "/v1/jobs/" + job.id + "/cancel");
    EXPECT_EQ(response.status, 409) << ToString(state);
    EXPECT_EQ(store_.GetJob(job.id)->state, state);
  }
  EXPECT_EQ(Call("POST", "/v1/jobs/01900000-0000-7000-8000-000000000000/cancel").status, 404);
}

// ---- retry ------------------------------------------------------------------------------------------------

TEST_F(JobsRoutes, RetryRepublishesTheNextAttempt) {
  for (const auto state : {JobState::kDead, JobState::kFailed, JobState::kCancelled, JobState::kExpired}) {
    const JobRecord job = PutJob(state);
    auto slot = Post("/v1/jobs/" + job.id + "/retry", "");
    runner_.RunAll();
    EXPECT_FALSE(slot->has_value());
    EXPECT_EQ(store_.GetJob(job.id)->state, JobState::kQueued);  // reserved before the publish
    ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
    ASSERT_TRUE(slot->has_value());
    EXPECT_EQ((*slot)->status, 202) << ToString(state);
    EXPECT_EQ(Json(**slot)["state"], "queued");
    EXPECT_EQ(Json(**slot)["attempt"], 2);
    const auto message = publisher_.Messages().back();
    EXPECT_EQ(message.message_id, job.id);
    EXPECT_EQ(message.headers.at(std::string(amqp::kAttemptHeader)), "2");
  }
}

TEST_F(JobsRoutes, RetryThatRabbitMqRefusesRestoresTheJob) {
  const JobRecord job = PutJob(JobState::kDead);
  const Response response = PostRefused("/v1/jobs/" + job.id + "/retry", "", PublishOutcome::kBlocked);
  EXPECT_EQ(response.status, 503);
  EXPECT_EQ(ErrorCode(response), "broker_blocked");
  EXPECT_EQ(*store_.GetJob(job.id), job);
}

TEST_F(JobsRoutes, RetryOfAnUnfinishedOrSucceededJobIs409) {
  for (const auto state :
       {JobState::kQueued, JobState::kScheduled, JobState::kRunning, JobState::kSucceeded}) {
    const JobRecord job = PutJob(state);
    const Response response = Call("POST", "/v1/jobs/" + job.id + "/retry");
    EXPECT_EQ(response.status, 409) << ToString(state);
  }
  EXPECT_EQ(publisher_.publishes, 0);
}

TEST_F(JobsRoutes, TwoConcurrentRetriesPublishOnce) {
  const JobRecord job = PutJob(JobState::kDead);
  auto first = Post("/v1/jobs/" + job.id + "/retry", "");
  auto second = Post("/v1/jobs/" + job.id + "/retry", "");
  runner_.RunAll();
  ASSERT_TRUE(second->has_value());  // the second saw the job queued again: nothing to retry
  EXPECT_EQ((*second)->status, 409);
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  EXPECT_EQ((*first)->status, 202);
  EXPECT_EQ(publisher_.publishes, 1);
}

// ---- retry-dead -------------------------------------------------------------------------------------------

TEST_F(JobsRoutes, RetryDeadRetriesTheQueuesDeadJobsAndAnswersOnceAllAreConfirmed) {
  std::vector<std::string> ids;
  for (int i = 0; i < 3; ++i) {
    ids.push_back(PutJob(JobState::kDead).id);
  }
  JobRecord elsewhere = PutJob(JobState::kDead);
  elsewhere.spec.queue = "other";
  store_.Put(elsewhere);
  const JobRecord queued = PutJob(JobState::kQueued);

  auto slot = Post("/v1/queues/default/retry-dead", "");
  runner_.RunAll();
  ASSERT_EQ(publisher_.PendingCount(), 3U);
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  EXPECT_FALSE(slot->has_value()) << "answered before every retry was confirmed";
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 200);
  std::sort(ids.begin(), ids.end());
  EXPECT_EQ(Json(**slot), (json{{"retried", 3}, {"ids", ids}, {"more", false}}));
  for (const auto& id : ids) {
    EXPECT_EQ(store_.GetJob(id)->state, JobState::kQueued);
  }
  EXPECT_EQ(store_.GetJob(elsewhere.id)->state, JobState::kDead);
  EXPECT_EQ(*store_.GetJob(queued.id), queued);
}

TEST_F(JobsRoutes, RetryDeadReportsOnlyWhatWasQueuedAnd503WhenNothingWas) {
  const JobRecord first = PutJob(JobState::kDead);
  const JobRecord second = PutJob(JobState::kDead);
  auto slot = Post("/v1/queues/default/retry-dead", "");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kBlocked));
  runner_.RunAll();  // the refused one is put back
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 200);
  EXPECT_EQ(Json(**slot)["retried"], 1);
  const std::string retried = Json(**slot)["ids"][0];
  const std::string refused = retried == first.id ? second.id : first.id;
  EXPECT_EQ(store_.GetJob(refused)->state, JobState::kDead);

  const Response refused_all = PostRefused("/v1/queues/default/retry-dead", "", PublishOutcome::kBlocked);
  EXPECT_EQ(refused_all.status, 503);
  EXPECT_EQ(ErrorCode(refused_all), "broker_blocked");
}

TEST_F(JobsRoutes, RetryDeadWhoseStoreFailsMidwayReportsTheJobsItRetried) {
  const JobRecord first = PutJob(JobState::kDead);
  const JobRecord second = PutJob(JobState::kDead);
  // The store fails for one of the two: the other is retried whichever comes first.
  store_.before_get_versioned = [&](const std::string& id) {
    if (id == second.id) {
      throw store::StoreError("fake: database is locked");
    }
  };
  auto slot = Post("/v1/queues/default/retry-dead", "");
  runner_.RunAll();
  ASSERT_TRUE(publisher_.Resolve(PublishOutcome::kConfirmed));
  runner_.RunAll();
  ASSERT_TRUE(slot->has_value());
  EXPECT_EQ((*slot)->status, 200) << (*slot)->body;
  EXPECT_EQ(Json(**slot), (json{{"retried", 1}, {"ids", {first.id}}, {"more", true}}));
  EXPECT_EQ(store_.GetJob(first.id)->state, JobState::kQueued);
  EXPECT_EQ(store_.GetJob(second.id)->state, JobState::kDead);
}

TEST_F(JobsRoutes, RetryDeadTakesAThousandAtATimeAndSaysWhenMoreRemain) {
  for (int i = 0; i < 1001; ++i) {
    PutJob(JobState::kDead);
  }
  const auto call = [this] {
    auto slot = Post("/v1/queues/default/retry-dead", "");
    runner_.RunAll();
    while (publisher_.Resolve(PublishOutcome::kConfirmed)) {
    }
    EXPECT_TRUE(slot->has_value());
    return Json(slot->value_or(Response{}));
  };
  json answer = call();
  EXPECT_EQ(answer["retried"], 1000);
  EXPECT_EQ(answer["more"], true);
  answer = call();
  EXPECT_EQ(answer["retried"], 1);
  EXPECT_EQ(answer["more"], false);
  answer = call();
  EXPECT_EQ(answer, (json{{"retried", 0}, {"ids", json::array()}, {"more", false}}));
}

TEST_F(JobsRoutes, RetryDeadRejectsABadQueueName) {
  for (const std::string bad : {"amq.x", "a%20b", "caf%C3%A9"}) {
    const Response response = Call("POST", "/v1/queues/" + bad + "/retry-dead");
    EXPECT_EQ(response.status, 400) << bad;
    EXPECT_EQ(ErrorCode(response), "invalid_queue") << bad;
  }
  EXPECT_EQ(publisher_.publishes, 0);
}

// ---- delete -----------------------------------------------------------------------------------------------

TEST_F(JobsRoutes, DeleteOnlyFinishedJobs) {
  const JobRecord done = PutJob(JobState::kSucceeded);
  Response response = Call("DELETE", "/v1/jobs/" + done.id);
  EXPECT_EQ(response.status, 200);
  EXPECT_EQ(Json(response), json({{"id", done.id}, {"deleted", true}}));
  EXPECT_EQ(Call("GET", "/v1/jobs/" + done.id).status, 404);
  EXPECT_EQ(Call("DELETE", "/v1/jobs/" + done.id).status, 404);

  for (const auto state : {JobState::kQueued, JobState::kRunning, JobState::kFailed, JobState::kScheduled}) {
    const JobRecord job = PutJob(state);
    response = Call("DELETE", "/v1/jobs/" + job.id);
    EXPECT_EQ(response.status, 409) << ToString(state);
    EXPECT_EQ(ErrorCode(response), "conflict");
    EXPECT_TRUE(store_.GetJob(job.id).has_value());
  }
}

// DELETE reads the job, then deletes it: a retry in between (the job queued again) must not lose it.
TEST_F(JobsRoutes, DeleteOfAJobRetriedMeanwhileIs409AndKeepsIt) {
  const JobRecord dead = PutJob(JobState::kDead);
  store_.before_delete = [&] {
    JobRecord retried = dead;
    retried.state = JobState::kQueued;
    retried.finished_at.reset();
    store_.Put(retried);
  };
  const Response response = Call("DELETE", "/v1/jobs/" + dead.id);
  EXPECT_EQ(response.status, 409) << response.body;
  EXPECT_EQ(ErrorCode(response), "conflict");
  const auto kept = store_.GetJob(dead.id);
  ASSERT_TRUE(kept.has_value());
  EXPECT_EQ(kept->state, JobState::kQueued);
}

// ---- method and route errors
// -------------------------------------------------------------------------------

TEST_F(JobsRoutes, WrongMethodIs405AndUnknownRouteIs404) {
  Response response = Call("PUT", "/v1/jobs");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(HeaderValue(response, "Allow"), "POST, GET");
  response = Call("PATCH", "/v1/jobs/x");
  EXPECT_EQ(response.status, 405);
  EXPECT_EQ(HeaderValue(response, "Allow"), "GET, DELETE");
  EXPECT_EQ(Call("GET", "/v1/jobs/x/cancel").status, 405);
  EXPECT_EQ(ErrorCode(Call("GET", "/v1/nope")), "not_found");
}

// ---- error mapping
// ---------------------------------------------------------------------------------------------

TEST(PublishFailureResponse, UsesTheDemoCodesAndNamesTheQueue) {
  for (const auto outcome :
       {PublishOutcome::kUnavailable, PublishOutcome::kBlocked, PublishOutcome::kTimeout,
        PublishOutcome::kStopped, PublishOutcome::kRejected, PublishOutcome::kUnroutable}) {
    const Response response = PublishFailureResponse(outcome, "images");
    EXPECT_EQ(response.status, 503);
    EXPECT_EQ(HeaderValue(response, "Retry-After"), "1");
    EXPECT_EQ(ErrorCode(response), ErrorCode(AddJobResponse(outcome, "x")));
  }
  EXPECT_THAT(PublishFailureResponse(PublishOutcome::kUnroutable, "images").body, HasSubstr("'images'"));
  EXPECT_EQ(StoreFailureResponse().status, 503);
  EXPECT_EQ(ErrorCode(StoreFailureResponse()), "store_unavailable");
  EXPECT_EQ(ErrorCode(BusyResponse()), "overloaded");
  EXPECT_EQ(HeaderValue(BusyResponse(), "Retry-After"), "1");
}

}  // namespace
}  // namespace warren::api
