#include "api/jobs_routes.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <unordered_map>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "amqp/topology.hpp"
#include "api/insert_queue.hpp"
#include "api/request_validation.hpp"
#include "core/names.hpp"

namespace warren::api {
namespace {

using amqp::PublishOutcome;
using nlohmann::json;

// Admin actions re-read and retry when the job changed between their read and their write.
constexpr int kCasAttempts = 5;
constexpr size_t kMaxIdInMessage = 80;
// Jobs of concurrent POST /v1/jobs requests stored in one transaction, at most (InsertQueue).
constexpr size_t kMaxGroupCommit = 256;
// POST /v1/queues/{queue}/retry-dead retries at most this many jobs per call (one store page).
constexpr size_t kMaxRetryDead = 1000;
// A list page stops growing past this many bytes of JSON (1,000 jobs with large args would otherwise
// make one answer of hundreds of MB).
constexpr size_t kMaxListBytes = size_t{8} << 20;

Response JobResponse(int status, const JobRecord& record) {
  return JsonResponse(status, ToJsonText(record));
}

// 202 for a job just accepted, with where to find it.
Response Accepted(const JobRecord& record) {
  Response response = JobResponse(202, record);
  response.headers.emplace_back("Location", "/v1/jobs/" + record.id);
  return response;
}

Response NotFound(std::string_view id) {
  return ErrorResponse(404, "not_found", fmt::format("no job '{}'", id.substr(0, kMaxIdInMessage)));
}

Response InternalErrorResponse() {
  return ErrorResponse(500, "internal_error", "the server failed to answer this request");
}

Response Conflict(std::string_view message) { return ErrorResponse(409, "conflict", message); }

// DELETE of a job that is not (or no longer) terminal.
Response NotTerminalConflict(std::string_view id, JobState state) {
  return Conflict(fmt::format(
      "job {} is {}: only succeeded, dead, cancelled or expired jobs can be deleted (cancel it first)",
      id.substr(0, kMaxIdInMessage), ToString(state)));
}

Response WithRetryAfter(Response response) {
  response.headers.emplace_back("Retry-After", "1");
  return response;
}

bool IsRetryable(JobState state) {
  return state == JobState::kDead || state == JobState::kFailed || state == JobState::kCancelled ||
         state == JobState::kExpired;
}

// Idempotency keys whose first request (a POST /v1/jobs or a batch) this process is still enqueueing.
// A POST /v1/jobs with the key waits for the first one's outcome instead of racing it: it gets 200
// with the job once the job is confirmed, or the same 503 when it could not be queued (and then
// nothing exists to return). Without the wait, the store would hand it a row whose publish may still
// fail and be undone. The store's unique key still decides between processes (several `serve`
// replicas; docs/architecture.md, Deferred).
class InFlightKeys {
 public:
  // True: the caller leads. False: `waiter` will be answered by the leader's Finish.
  bool Lead(const std::string& key, const Responder& waiter) {
    std::lock_guard lock(mutex_);
    auto [it, inserted] = waiting_.try_emplace(key);
    if (!inserted) {
      it->second.push_back(waiter);
    }
    return inserted;
  }

  // A batch leads every one of its (distinct) keys, or none when another request leads any of them:
  // waiting for one key among many could leave two batches waiting on each other.
  bool LeadAll(const std::vector<std::string>& keys) {
    std::lock_guard lock(mutex_);
    if (std::any_of(keys.begin(), keys.end(),
                    [this](const std::string& key) { return waiting_.contains(key); })) {
      return false;
    }
    for (const auto& key : keys) {
      waiting_.try_emplace(key);
    }
    return true;
  }

  // Answers every request waiting on `key`, and forgets the key.
  void Finish(const std::string& key, const Response& response) {
    std::vector<Responder> waiters;
    {
      std::lock_guard lock(mutex_);
      const auto it = waiting_.find(key);
      if (it == waiting_.end()) {
        return;
      }
      waiters = std::move(it->second);
      waiting_.erase(it);
    }
    for (const auto& waiter : waiters) {
      waiter(response);
    }
  }

 private:
  std::mutex mutex_;
  std::unordered_map<std::string, std::vector<Responder>> waiting_;  // guarded by mutex_
};

Response InsertFailureResponse(InsertFailure failure) {
  return failure == InsertFailure::kBusy    ? BusyResponse()
         : failure == InsertFailure::kStore ? StoreFailureResponse()
                                            : InternalErrorResponse();
}

// Where a StoreAndPublish stands: its insert's and its publish's outcomes, as they come in.
struct EnqueueJoin {
  std::mutex mutex;
  std::optional<store::InsertResult> stored;  // guarded by mutex, as the two below
  std::optional<InsertFailure> failed;
  std::optional<PublishOutcome> published;
  bool finished = false;  // the answer is on its way: a second callback (InsertQueue's failed() after
                          // a throwing inserted()) must not answer again
  JobRecord job;  // what the change stream and the clean-up need of the job: no args

  static JobRecord ViewOf(const JobRecord& record) {
    JobRecord view;
    view.id = record.id;
    view.spec.queue = record.spec.queue;
    view.spec.type = record.spec.type;
    view.state = record.state;
    view.created_at = record.created_at;
    view.updated_at = record.updated_at;
    return view;
  }
};

// The idempotency keys a batch leads (InFlightKeys::LeadAll), and the job each key names once the
// batch's insert told: what the requests waiting on a key hear when the batch is confirmed.
struct BatchKeys {
  explicit BatchKeys(std::vector<std::string> k) : keys(std::move(k)) {}

  const std::vector<std::string> keys;
  std::mutex mutex;
  std::map<std::string, JobRecord> jobs;  // guarded by mutex
};

// Answers an enqueue: `mine` to the request that did the work, `theirs` to those waiting on its key.
using EnqueueDone = std::function<void(Response mine, const Response& theirs)>;
using Fail = std::function<void(const Response&)>;

class JobsService : public std::enable_shared_from_this<JobsService> {
 public:
  explicit JobsService(JobsApi api)
      : api_(std::move(api)), inserts_(InsertQueue::Create(*api_.store, *api_.tasks, kMaxGroupCommit)) {}

  void Create(const Request& request, const Responder& respond);
  void CreateBatch(const Request& request, const Responder& respond);
  void Get(const Request& request, const Responder& respond);
  void Logs(const Request& request, const Responder& respond);
  void List(const Request& request, const Responder& respond);
  void Cancel(const Request& request, const Responder& respond);
  void Retry(const Request& request, const Responder& respond);
  void RetryDead(const Request& request, const Responder& respond);
  void Delete(const Request& request, const Responder& respond);
  // Enqueues a validated spec exactly as POST /v1/jobs does.
  void Submit(JobSpec spec, const Responder& respond);

 private:
  // Runs `work` on the task runner. `fail` answers when the runner is saturated (503 overloaded) or
  // when `work` throws (a StoreError: 503 store_unavailable; anything else is our bug: 500).
  void Blocking(const Fail& fail, std::function<void()> work) const;
  // After the record is stored (or found by its idempotency key): publish, then answer.
  void Enqueue(const store::InsertResult& stored, const EnqueueDone& done);
  void InsertBatch(const std::vector<JobRecord>& records, const std::shared_ptr<BatchKeys>& keys,
                   const Responder& respond);
  // `respond`, answering also the requests waiting on the batch's keys: 200 with each key's job when
  // the batch succeeded, else the batch's own error (by then its records are undone).
  Responder SettlingKeys(const std::shared_ptr<BatchKeys>& keys, const Responder& respond);
  void CancelNow(const std::string& id, const Responder& respond);
  void RetryNow(const std::string& id, const Responder& respond);
  void RetryDeadNow(const std::string& queue, const Responder& respond);
  // Deletes the records of an enqueue that RabbitMQ did not take. Never throws.
  void Undo(const std::vector<JobRecord>& records) const;
  // An idempotency-free enqueue: insert and publish at once (decision 77).
  void StoreAndPublish(JobRecord record, const Responder& respond);
  void SettleFailedEnqueue(const EnqueueJoin& join, const Responder& respond) const;
  // A job RabbitMQ confirmed and the store holds: counted, its outbox mark cleared.
  void Enqueued(const JobRecord& record) const {
    if (api_.metrics != nullptr) {
      api_.metrics->CountEnqueued(record.spec.queue, record.spec.type);
    }
    if (api_.published) {
      api_.published({record.id});
    }
  }
  // Tells every worker: one holding the job stops it, the others skip it if it reaches them.
  void CancelAtWorkers(const std::string& id, TimePoint at) const {
    api_.publish(amqp::EncodeCancelMessage({id, at}), [id](PublishOutcome outcome) {
      if (outcome != PublishOutcome::kConfirmed && outcome != PublishOutcome::kUnroutable) {
        spdlog::warn("api: job {}: the cancel did not reach the workers ({})", id, amqp::ToString(outcome));
      }
    });
  }
  void Changed(std::string_view kind, const JobRecord& record) const {
    if (api_.on_change) {
      api_.on_change(kind, record);
    }
  }

  const JobsApi api_;
  const std::shared_ptr<InsertQueue> inserts_;
  // False after an insert failed in the store (or, for a job published at once, was refused); true
  // after one succeeded. While false, enqueues store first (decision 77).
  std::atomic<bool> store_ok_{true};
  InFlightKeys keys_;
};

void JobsService::Blocking(const Fail& fail, std::function<void()> work) const {
  auto task = [fail, work = std::move(work)] {
    try {
      work();
    } catch (const store::StoreError& e) {
      spdlog::error("api: store: {}", e.what());
      fail(StoreFailureResponse());
    } catch (const std::exception& e) {
      spdlog::error("api: request failed: {}", e.what());
      fail(InternalErrorResponse());
    }
  };
  if (!api_.tasks->TryPost(std::move(task))) {
    fail(BusyResponse());
  }
}

void JobsService::Undo(const std::vector<JobRecord>& records) const {
  for (const auto& record : records) {
    try {
      api_.store->UndoInsert(record.id);
      Changed("deleted", record);
    } catch (const std::exception& e) {
      // The job stays recorded as queued although RabbitMQ never took it: say so loudly.
      spdlog::error("api: job {} was not queued, and deleting its record failed: {}", record.id, e.what());
    }
  }
}

namespace {

// A command type's max_attempts and timeout from the config stand in for the server's defaults when
// the request leaves them out; a value in the request always wins.
void ApplyTypeDefaults(const json& body, JobSpec& spec, const std::map<std::string, CommandJob>& defaults) {
  const auto it = defaults.find(spec.type);
  if (it == defaults.end()) {
    return;
  }
  // A null field is an absent one, as ParseJobSpec reads it.
  const auto given = [&body](const char* field) { return body.contains(field) && !body[field].is_null(); };
  if (it->second.max_attempts && !given("max_attempts")) {
    spec.max_attempts = *it->second.max_attempts;
  }
  if (it->second.timeout && !given("timeout")) {
    spec.timeout = it->second.timeout;
  }
}

}  // namespace

void JobsService::Create(const Request& request, const Responder& respond) {
  auto parsed = ParseJsonBody(request.body);
  if (auto* error = std::get_if<Response>(&parsed)) {
    respond(std::move(*error));
    return;
  }
  std::optional<std::string> header_key;
  if (request.headers.contains("idempotency-key")) {
    header_key = request.Header("idempotency-key");
  }
  const TimePoint now = api_.clock();
  auto spec = ParseJobSpec(std::get<json>(parsed), api_.limits, now, header_key);
  if (const auto* error = std::get_if<FieldError>(&spec)) {
    respond(FieldErrorResponse(*error));
    return;
  }
  if (auto refused = CheckJobType(std::get<JobSpec>(spec).type, api_.job_types)) {
    respond(std::move(*refused));
    return;
  }
  ApplyTypeDefaults(std::get<json>(parsed), std::get<JobSpec>(spec), api_.type_defaults);
  Submit(std::move(std::get<JobSpec>(spec)), respond);
}

void JobsService::Submit(JobSpec spec, const Responder& respond) {
  const TimePoint now = api_.clock();
  JobRecord record = NewJobRecord(NewJobId(now), std::move(spec), now);

  const std::optional<std::string> key = record.spec.idempotency_key;
  // While inserts fail or pile up (a store that hangs, an overload), store first: such trouble then
  // publishes (and cancels) no more than the jobs in flight when it began.
  if (!key && store_ok_.load() && inserts_->Waiting() < kMaxGroupCommit) {
    StoreAndPublish(std::move(record), respond);
    return;
  }
  if (key && !keys_.Lead(*key, respond)) {
    return;  // the request already enqueueing this key answers this one too
  }
  auto self = shared_from_this();
  EnqueueDone done = [self, respond, key](Response mine, const Response& theirs) {
    respond(std::move(mine));
    if (key) {
      self->keys_.Finish(*key, theirs);
    }
  };
  inserts_->Add(
      std::move(record),
      [self, done](const store::InsertResult& stored) {
        self->store_ok_.store(true);
        self->Enqueue(stored, done);
      },
      [self, done](InsertFailure failure) {
        if (failure != InsertFailure::kBusy) {
          self->store_ok_.store(false);
        }
        const Response response = InsertFailureResponse(failure);
        done(response, response);
      });
}

// A job without an idempotency key: no stored record can turn this request into another job's answer,
// so its message goes out while its record is inserted (decision 77), and the answer waits for both.
// The job is readable before its POST returns; one RabbitMQ did not take is deleted again before the
// client hears 503; one that could not be stored is cancelled at the workers. Whichever of the two
// finishes second answers.
void JobsService::StoreAndPublish(JobRecord record, const Responder& respond) {
  auto join = std::make_shared<EnqueueJoin>();
  join->job = EnqueueJoin::ViewOf(record);
  auto self = shared_from_this();
  // Called once, by the second of the two callbacks, or at once when the insert was refused.
  auto finish = [self, join, respond] {
    if (join->stored && join->stored->inserted && join->published == PublishOutcome::kConfirmed) {
      self->Enqueued(join->stored->record);
      respond(Accepted(join->stored->record));
      return;
    }
    // Possibly on the publisher's thread: store calls go to the task runner.
    self->api_.tasks->Post([self, join, respond] { self->SettleFailedEnqueue(*join, respond); });
  };
  auto on_stored = [self, join, finish](std::optional<store::InsertResult> stored,
                                        std::optional<InsertFailure> failed) {
    self->store_ok_.store(!failed);  // refused for overload too: store first until an insert succeeds
    std::unique_lock lock(join->mutex);
    if (join->finished) {
      return;
    }
    join->stored = std::move(stored);
    join->failed = failed;
    if (join->published) {
      join->finished = true;
      lock.unlock();
      finish();
    }
  };
  amqp::OutgoingMessage message = amqp::EncodeFirstMessage(record, api_.clock());
  message.headers[std::string(amqp::kStoredHeader)] = "1";  // its events may beat the insert
  // Told now, before the publish, so the stream shows it before anything a worker reports of it.
  Changed("enqueued", record);
  // Added first: an insert refused (a full task runner) or failed at once publishes nothing.
  inserts_->Add(
      std::move(record), [on_stored](const store::InsertResult& stored) { on_stored(stored, std::nullopt); },
      [on_stored](InsertFailure failure) { on_stored(std::nullopt, failure); });
  {
    std::unique_lock lock(join->mutex);
    if (join->failed) {
      join->published = PublishOutcome::kStopped;  // never sent
      join->finished = true;
      lock.unlock();
      finish();
      return;
    }
  }
  api_.publish(std::move(message), [join, finish](PublishOutcome outcome) {
    std::unique_lock lock(join->mutex);
    join->published = outcome;
    if ((join->stored || join->failed) && !join->finished) {
      join->finished = true;
      lock.unlock();
      finish();
    }
  });
}

// On the task runner: a StoreAndPublish whose insert or publish failed.
void JobsService::SettleFailedEnqueue(const EnqueueJoin& join, const Responder& respond) const {
  const PublishOutcome outcome = *join.published;
  if (join.stored && !join.stored->inserted) {
    respond(JobResponse(200, join.stored->record));  // an id already stored: not without a key
    return;
  }
  if (join.stored) {
    Undo({join.stored->record});
    respond(PublishFailureResponse(outcome, join.stored->record.spec.queue));
    return;
  }
  Changed("deleted", join.job);
  // Confirmed, or maybe in RabbitMQ (no answer in time, or the connection went before it): a job that
  // may run with no record. Workers that hear this skip it, or stop it; one that ran it already
  // reports to a recorder that finds no record and drops the report.
  if (outcome == PublishOutcome::kConfirmed || outcome == PublishOutcome::kTimeout ||
      outcome == PublishOutcome::kUnavailable) {
    spdlog::error("api: job {} was (or may have been) queued but storing its record failed; cancelling it",
                  join.job.id);
    CancelAtWorkers(join.job.id, api_.clock());
  }
  respond(InsertFailureResponse(join.failed.value_or(InsertFailure::kInternal)));
}

// On the task runner, after the group commit. Store first, then RabbitMQ: the job is readable before
// its POST returns, and a job RabbitMQ did not take is deleted again before the client hears 503.
void JobsService::Enqueue(const store::InsertResult& stored, const EnqueueDone& done) {
  if (!stored.inserted) {
    const Response existing = JobResponse(200, stored.record);
    done(existing, existing);
    return;
  }
  const JobRecord& record = stored.record;
  // Told now, before the publish, so the stream shows it before anything a worker reports of it.
  Changed("enqueued", record);
  auto self = shared_from_this();
  api_.publish(amqp::EncodeFirstMessage(record, api_.clock()), [self, record, done](PublishOutcome outcome) {
    if (outcome == PublishOutcome::kConfirmed) {
      self->Enqueued(record);
      // One encoding for both answers: they differ only in status and Location.
      Response accepted = Accepted(record);
      Response theirs = accepted;
      theirs.status = 200;
      std::erase_if(theirs.headers, [](const auto& h) { return h.first == "Location"; });
      done(std::move(accepted), theirs);
      return;
    }
    // On the publisher's thread: the store call goes back to the task runner.
    self->api_.tasks->Post([self, record, outcome, done] {
      self->Undo({record});
      const Response failure = PublishFailureResponse(outcome, record.spec.queue);
      done(failure, failure);
    });
  });
}

void JobsService::CreateBatch(const Request& request, const Responder& respond) {
  if (request.headers.contains("idempotency-key")) {
    respond(ErrorResponse(400, "invalid_header",
                          "the Idempotency-Key header is for POST /v1/jobs; in a batch give each job its own "
                          "idempotency_key field"));
    return;
  }
  auto parsed = ParseJsonBody(request.body);
  if (auto* error = std::get_if<Response>(&parsed)) {
    respond(std::move(*error));
    return;
  }
  const json& body = std::get<json>(parsed);
  if (!body.is_object() || body.size() != 1 || !body.contains("jobs") || !body["jobs"].is_array()) {
    respond(
        ErrorResponse(400, "invalid_field", "the body must be an object with one field: {\"jobs\": [...]}"));
    return;
  }
  const json& jobs = body["jobs"];
  if (jobs.empty()) {
    respond(ErrorResponse(400, "invalid_field", "field 'jobs': give at least one job"));
    return;
  }
  if (jobs.size() > api_.max_batch) {
    respond(ErrorResponse(400, "batch_too_large",
                          fmt::format("field 'jobs': {} jobs, more than the limit of {} per batch",
                                      jobs.size(), api_.max_batch)));
    return;
  }
  const TimePoint now = api_.clock();
  std::vector<JobRecord> records;
  records.reserve(jobs.size());
  for (size_t i = 0; i < jobs.size(); ++i) {
    const std::string where = fmt::format("jobs[{}]: ", i);
    auto spec = ParseJobSpec(jobs[i], api_.limits, now);
    if (const auto* error = std::get_if<FieldError>(&spec)) {
      respond(FieldErrorResponse(*error, where));
      return;
    }
    if (auto refused = CheckJobType(std::get<JobSpec>(spec).type, api_.job_types, where)) {
      respond(std::move(*refused));
      return;
    }
    ApplyTypeDefaults(jobs[i], std::get<JobSpec>(spec), api_.type_defaults);
    records.push_back(NewJobRecord(NewJobId(now), std::move(std::get<JobSpec>(spec)), now));
  }
  std::vector<std::string> keys;
  for (const auto& record : records) {
    const auto& key = record.spec.idempotency_key;
    if (key && std::find(keys.begin(), keys.end(), *key) == keys.end()) {
      keys.push_back(*key);
    }
  }
  if (!keys.empty() && !keys_.LeadAll(keys)) {
    respond(WithRetryAfter(ErrorResponse(409, "idempotency_key_in_use",
                                         "another request with an idempotency key of this batch is being "
                                         "enqueued; retry once it is answered")));
    return;
  }
  auto led = keys.empty() ? nullptr : std::make_shared<BatchKeys>(std::move(keys));
  const Responder answer = led ? SettlingKeys(led, respond) : respond;
  auto self = shared_from_this();
  Blocking(answer,
           [self, records = std::move(records), led, answer] { self->InsertBatch(records, led, answer); });
}

Responder JobsService::SettlingKeys(const std::shared_ptr<BatchKeys>& keys, const Responder& respond) {
  auto self = shared_from_this();
  return Responder([self, keys, respond](Response response) {
    const bool ok = response.status < 300;
    std::vector<Response> theirs;
    theirs.reserve(keys->keys.size());
    {
      std::lock_guard lock(keys->mutex);
      for (const auto& key : keys->keys) {
        const auto it = keys->jobs.find(key);
        theirs.push_back(!ok                      ? response
                         : it != keys->jobs.end() ? JobResponse(200, it->second)
                                                  : InternalErrorResponse());  // the insert names every key
      }
    }
    respond(std::move(response));
    for (size_t i = 0; i < keys->keys.size(); ++i) {
      self->keys_.Finish(keys->keys[i], theirs[i]);
    }
  });
}

// On the task runner: one transaction for the records, one confirm round for their messages.
void JobsService::InsertBatch(const std::vector<JobRecord>& records, const std::shared_ptr<BatchKeys>& keys,
                              const Responder& respond) {
  const auto results = api_.store->InsertJobs(records);
  if (results.size() != records.size()) {
    throw store::StoreError(
        fmt::format("InsertJobs returned {} results for {} jobs", results.size(), records.size()));
  }
  if (keys) {
    std::lock_guard lock(keys->mutex);
    for (const auto& result : results) {
      if (result.record.spec.idempotency_key) {
        keys->jobs.try_emplace(*result.record.spec.idempotency_key, result.record);
      }
    }
  }
  json jobs = json::array();
  json existing = json::array();
  std::vector<JobRecord> inserted;
  std::vector<amqp::OutgoingMessage> messages;
  for (size_t i = 0; i < results.size(); ++i) {
    const auto& result = results[i];
    jobs.push_back(ToJson(result.record));
    if (!result.inserted) {
      existing.push_back(i);
      continue;
    }
    inserted.push_back(result.record);
    Changed("enqueued", result.record);  // before the publish: see Enqueue
    messages.push_back(amqp::EncodeFirstMessage(result.record, api_.clock()));
  }
  std::map<std::pair<std::string, std::string>, size_t> counts;  // (queue, type) of the new jobs
  for (const auto& result : results) {
    if (result.inserted) {
      ++counts[{result.record.spec.queue, result.record.spec.type}];
    }
  }
  Response ok = JsonResponse(inserted.empty() ? 200 : 202,
                             DumpJson(json{{"jobs", std::move(jobs)}, {"existing", std::move(existing)}}));
  if (messages.empty()) {
    respond(std::move(ok));
    return;
  }
  auto self = shared_from_this();
  api_.publish_batch(std::move(messages), [self, ok = std::move(ok), inserted = std::move(inserted),
                                           counts = std::move(counts), respond](PublishOutcome outcome) {
    if (outcome == PublishOutcome::kConfirmed) {
      if (self->api_.metrics != nullptr) {
        for (const auto& [key, n] : counts) {
          self->api_.metrics->CountEnqueued(key.first, key.second, n);
        }
      }
      if (self->api_.published) {
        std::vector<std::string> ids;
        ids.reserve(inserted.size());
        for (const auto& record : inserted) {
          ids.push_back(record.id);
        }
        self->api_.published(ids);
      }
      respond(ok);
      return;
    }
    self->api_.tasks->Post([self, inserted, outcome, respond] {
      self->Undo(inserted);
      respond(PublishFailureResponse(outcome, ""));
    });
  });
}

void JobsService::Get(const Request& request, const Responder& respond) {
  auto self = shared_from_this();
  Blocking(respond, [self, id = request.Param("id"), respond] {
    const auto record = self->api_.store->GetJob(id);
    respond(record ? JobResponse(200, *record) : NotFound(id));
  });
}

void JobsService::Logs(const Request& request, const Responder& respond) {
  auto query = ParseLogQuery(request.query);
  if (auto* error = std::get_if<Response>(&query)) {
    respond(std::move(*error));
    return;
  }
  auto& log_query = std::get<store::LogQuery>(query);
  log_query.job_id = request.Param("id");
  auto self = shared_from_this();
  Blocking(respond, [self, log_query = std::move(log_query), respond] {
    if (!self->api_.store->GetJob(log_query.job_id)) {
      respond(NotFound(log_query.job_id));
      return;
    }
    const store::LogPage page = self->api_.store->ListLogs(log_query);
    json lines = json::array();
    for (const auto& line : page.lines) {
      lines.push_back({{"attempt", line.attempt},
                       {"seq", line.seq},
                       {"at", FormatTime(line.at)},
                       {"line", line.line},
                       {"cursor", LogCursor(line.attempt, line.seq)}});
    }
    json next;  // null: nothing after this page yet
    if (page.more) {
      next = LogCursor(page.lines.back().attempt, page.lines.back().seq);
    }
    respond(JsonResponse(200, DumpJson(json{{"lines", std::move(lines)}, {"next", std::move(next)}})));
  });
}

void JobsService::List(const Request& request, const Responder& respond) {
  auto query = ParseListQuery(request.query);
  if (auto* error = std::get_if<Response>(&query)) {
    respond(std::move(*error));
    return;
  }
  auto self = shared_from_this();
  Blocking(respond, [self, query = std::move(std::get<store::ListQuery>(query)), respond] {
    store::ListPage page;
    try {
      page = self->api_.store->ListJobs(query);
    } catch (const std::invalid_argument& e) {
      // Limits are checked above, so this is the cursor: not one the server handed out.
      respond(ErrorResponse(400, "invalid_cursor", e.what()));
      return;
    }
    json jobs = json::array();
    size_t bytes = 0;
    for (size_t i = 0; i < page.jobs.size(); ++i) {
      json job = ToJson(page.jobs[i]);
      bytes += DumpJson(job).size();
      if (bytes > kMaxListBytes && i > 0) {
        // Large args times a large limit: a shorter page, and the store's own cursor to go on from it.
        store::ListQuery shorter = query;
        shorter.limit = i;
        // Answer exactly what that query returned, so the page and its cursor agree even when jobs
        // were added in between.
        page = self->api_.store->ListJobs(shorter);
        jobs = json::array();
        for (const auto& record : page.jobs) {
          jobs.push_back(ToJson(record));
        }
        break;
      }
      jobs.push_back(std::move(job));
    }
    respond(JsonResponse(
        200, DumpJson(json{{"jobs", std::move(jobs)},
                           {"next_cursor", page.next_cursor ? json(*page.next_cursor) : json()}})));
  });
}

void JobsService::Cancel(const Request& request, const Responder& respond) {
  auto self = shared_from_this();
  Blocking(respond, [self, id = request.Param("id"), respond] { self->CancelNow(id, respond); });
}

// A cancel is a lifecycle event like a worker's, applied by the store in one transaction with
// ApplyEvent, so it merges with whatever workers report (a success that raced it still wins: the work
// was done) and cannot overwrite an event the recorder stored between our read and our write.
void JobsService::CancelNow(const std::string& id, const Responder& respond) {
  for (int round = 0; round < kCasAttempts; ++round) {
    const auto record = api_.store->GetJob(id);
    if (!record) {
      respond(NotFound(id));
      return;
    }
    if (IsTerminal(record->state)) {
      respond(Conflict(
          fmt::format("job {} is already {}: there is nothing to cancel", id, ToString(record->state))));
      return;
    }
    JobEvent event;
    event.job_id = id;
    event.kind = EventKind::kCancelled;
    event.attempt = record->attempt;  // 0 before any start: a stage-0 cancel (see job_state.cpp)
    event.at = std::max(api_.clock(), record->updated_at);
    const bool running = record->state == JobState::kRunning;
    const auto changed = api_.store->ApplyEvents({event}).changed;
    if (!changed.empty()) {
      // A running job is marked cancelled at once but stops a moment later, hence 202 ("requested").
      CancelAtWorkers(id, event.at);
      Changed("cancelled", changed.front());
      respond(JobResponse(running ? 202 : 200, changed.front()));
      return;
    }
    // Nothing changed: the job moved on meanwhile (it started, or finished). Look again.
  }
  respond(Conflict(fmt::format("job {} kept changing while being cancelled; try again", id)));
}

void JobsService::Retry(const Request& request, const Responder& respond) {
  auto self = shared_from_this();
  Blocking(respond, [self, id = request.Param("id"), respond] { self->RetryNow(id, respond); });
}

// A retry reserves the next attempt with a compare-and-set (so two concurrent retries publish once),
// then publishes that attempt; if RabbitMQ does not take it, the old record is put back.
void JobsService::RetryNow(const std::string& id, const Responder& respond) {
  for (int round = 0; round < kCasAttempts; ++round) {
    const auto versioned = api_.store->GetJobVersioned(id);
    if (!versioned) {
      respond(NotFound(id));
      return;
    }
    const JobRecord& record = versioned->record;
    if (!IsRetryable(record.state)) {
      respond(
          Conflict(fmt::format("job {} is {}: only dead, failed, cancelled or expired jobs can be retried",
                               id, ToString(record.state))));
      return;
    }
    JobRecord next = record;
    next.attempt = record.attempt + 1;
    next.state = JobState::kQueued;
    next.finished_at.reset();
    next.progress.reset();
    next.updated_at = std::max(api_.clock(), record.updated_at + std::chrono::milliseconds(1));
    // Into the outbox first: killed after the reservation and before the confirm, serve leaves the
    // sweeper a job to publish; killed before the reservation, a mark on a job that did not move on.
    api_.store->MarkUnpublished(id, next.updated_at);
    if (!api_.store->ReplaceJob(next, versioned->revision)) {
      continue;
    }
    auto self = shared_from_this();
    // Our replacement is the next revision: the undo below applies only if nothing changed since.
    const int64_t ours = versioned->revision + 1;
    api_.publish(amqp::EncodeRetryMessage(next), [self, old = record, next, ours,
                                                  respond](PublishOutcome outcome) {
      if (outcome == PublishOutcome::kConfirmed) {
        if (self->api_.published) {
          self->api_.published({next.id});
        }
        self->Changed("retried", next);
        respond(Accepted(next));
        return;
      }
      self->api_.tasks->Post([self, old, next, ours, outcome, respond] {
        try {
          if (!self->api_.store->ReplaceJob(old, ours)) {
            spdlog::warn("api: job {}: retry not queued, and the job changed meanwhile; kept as is", old.id);
          }
        } catch (const std::exception& e) {
          spdlog::error("api: job {}: retry not queued, and restoring the record failed: {}", old.id,
                        e.what());
        }
        respond(PublishFailureResponse(outcome, old.spec.queue));
      });
    });
    return;
  }
  respond(Conflict(fmt::format("job {} kept changing while being retried; try again", id)));
}

void JobsService::RetryDead(const Request& request, const Responder& respond) {
  const std::string& queue = request.Param("queue");
  if (auto why = InvalidQueueName(queue)) {
    respond(ErrorResponse(400, "invalid_queue",
                          fmt::format("queue '{}': {}", queue.substr(0, kMaxIdInMessage), *why)));
    return;
  }
  auto self = shared_from_this();
  Blocking(respond, [self, queue, respond] { self->RetryDeadNow(queue, respond); });
}

namespace {

// Collects the answers of the single-job retries one retry-dead call makes, and answers once all came.
class RetryDeadTally {
 public:
  RetryDeadTally(size_t expected, bool more, Responder respond)
      : left_(expected), more_(more), respond_(std::move(respond)) {}

  void Add(const std::string& id, const Response& response) {
    std::unique_lock lock(mutex_);
    if (response.status == 202) {
      ids_.push_back(id);
    } else if (response.status == 503) {
      if (!unavailable_) {
        unavailable_ = response;  // the broker or the store: said once, if nothing could be retried
      }
      left_dead_ = true;
    }
    if (--left_ > 0) {
      return;
    }
    lock.unlock();
    Finish();
  }

  void Finish() {
    if (ids_.empty() && unavailable_) {
      respond_(*unavailable_);
      return;
    }
    // Jobs that changed meanwhile (409) or vanished (404) are no longer dead: nothing to report.
    std::sort(ids_.begin(), ids_.end());
    // Some could not be retried now and are still dead: another call may take them.
    respond_(JsonResponse(
        200, DumpJson(json{{"retried", ids_.size()}, {"ids", ids_}, {"more", more_ || left_dead_}})));
  }

 private:
  std::mutex mutex_;
  size_t left_;                          // guarded by mutex_
  std::vector<std::string> ids_;         // guarded by mutex_
  std::optional<Response> unavailable_;  // guarded by mutex_
  bool left_dead_ = false;               // guarded by mutex_: some answered 503
  const bool more_;
  const Responder respond_;
};

}  // namespace

// One page of the queue's dead jobs (newest first), each retried exactly as POST /v1/jobs/{id}/retry
// does; `more` tells the caller to call again. Retried jobs leave `dead`, so the next call's first
// page holds the ones left.
void JobsService::RetryDeadNow(const std::string& queue, const Responder& respond) {
  store::ListQuery query;
  query.state = JobState::kDead;
  query.queue = queue;
  query.limit = kMaxRetryDead;
  const store::ListPage page = api_.store->ListJobs(query);
  if (page.jobs.empty()) {
    respond(JsonResponse(200, DumpJson(json{{"retried", 0}, {"ids", json::array()}, {"more", false}})));
    return;
  }
  auto tally = std::make_shared<RetryDeadTally>(page.jobs.size(), page.next_cursor.has_value(), respond);
  for (const auto& job : page.jobs) {
    Responder add([tally, id = job.id](const Response& response) { tally->Add(id, response); });
    // One job's store failure is that job's answer: the jobs retried before it stay retried, and the
    // answer says so rather than a 503 as if nothing had changed.
    try {
      RetryNow(job.id, add);
    } catch (const store::StoreError& e) {
      spdlog::error("api: retry-dead: job {}: store: {}", job.id, e.what());
      add(StoreFailureResponse());
    }
  }
}

void JobsService::Delete(const Request& request, const Responder& respond) {
  auto self = shared_from_this();
  Blocking(respond, [self, id = request.Param("id"), respond] {
    const auto record = self->api_.store->GetJob(id);
    if (!record) {
      respond(NotFound(id));
      return;
    }
    if (!IsTerminal(record->state)) {
      respond(NotTerminalConflict(id, record->state));
      return;
    }
    if (!self->api_.store->DeleteJob(id)) {
      // Gone, or no longer terminal: a retry queued it again since the read above.
      const auto now = self->api_.store->GetJob(id);
      respond(now ? NotTerminalConflict(id, now->state) : NotFound(id));
      return;
    }
    self->Changed("deleted", *record);
    respond(JsonResponse(200, DumpJson(json{{"id", id}, {"deleted", true}})));
  });
}

}  // namespace

Response PublishFailureResponse(PublishOutcome outcome, std::string_view queue) {
  switch (outcome) {
    case PublishOutcome::kConfirmed:
      break;
    case PublishOutcome::kQueueRefused:
      // Not the broker being away: the queue exists with other arguments (another queue type, created
      // by someone else). Retrying does not help; naming another queue or fixing the deployment does.
      return ErrorResponse(
          409, "queue_mismatch",
          queue.empty() ? std::string("a queue of these jobs exists on RabbitMQ with other arguments than "
                                      "Warren declares (another queue type); none was queued")
                        : fmt::format("queue '{}' exists on RabbitMQ with other arguments than Warren "
                                      "declares (another queue type); the job was not queued",
                                      queue));
    case PublishOutcome::kUnroutable:
      return WithRetryAfter(ErrorResponse(
          503, "unroutable",
          queue.empty() ? std::string("RabbitMQ has no queue for one of the jobs; none was queued")
                        : fmt::format("RabbitMQ has no queue '{}' for the job; it was not queued", queue)));
    default:
      return AddJobResponse(outcome, "");  // the demo's 503s: one mapping for both APIs
  }
  spdlog::error("api: PublishFailureResponse called for a confirmed publish");
  return ErrorResponse(500, "internal_error", "the server failed to answer this request");
}

Response StoreFailureResponse() {
  return WithRetryAfter(ErrorResponse(503, "store_unavailable",
                                      "the job store is not reachable right now; nothing was changed"));
}

Response BusyResponse() {
  return WithRetryAfter(
      ErrorResponse(503, "overloaded", "the server has too many requests in progress; retry"));
}

SubmitFn AddJobsRoutes(Router& router, JobsApi api) {
  auto service = std::make_shared<JobsService>(std::move(api));
  const auto bind = [service](void (JobsService::*method)(const Request&, const Responder&)) {
    return [service, method](const Request& request, const Responder& respond) {
      ((*service).*method)(request, respond);
    };
  };
  // Literal routes before the {id} ones: "/v1/jobs/batch" is not a job id.
  router.Add("POST", "/v1/jobs", bind(&JobsService::Create));
  router.Add("GET", "/v1/jobs", bind(&JobsService::List));
  router.Add("POST", "/v1/jobs/batch", bind(&JobsService::CreateBatch));
  router.Add("GET", "/v1/jobs/{id}", bind(&JobsService::Get));
  router.Add("GET", "/v1/jobs/{id}/logs", bind(&JobsService::Logs));
  router.Add("DELETE", "/v1/jobs/{id}", bind(&JobsService::Delete));
  router.Add("POST", "/v1/jobs/{id}/cancel", bind(&JobsService::Cancel));
  router.Add("POST", "/v1/jobs/{id}/retry", bind(&JobsService::Retry));
  router.Add("POST", "/v1/queues/{queue}/retry-dead", bind(&JobsService::RetryDead));
  return [service](JobSpec spec, const Responder& respond) { service->Submit(std::move(spec), respond); };
}

}  // namespace warren::api
