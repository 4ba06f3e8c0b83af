#include "worker/worker.hpp"

#include <csignal>
#include <cstdlib>
#include <exception>
#include <future>

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/queue_inspector.hpp"
#include "amqp/topology.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "worker/builtin_handlers.hpp"
#include "worker/command_handlers.hpp"
#include "worker/demo_handlers.hpp"
#include "worker/work.hpp"

namespace warren::worker {

namespace {

using SteadyTime = std::chrono::steady_clock::time_point;

// "id/attempt": the key of one attempt of a job, for settled_, unsettled_ and never_started_.
std::string AttemptKey(const Job& job) { return fmt::format("{}/{}", job.id, job.attempt); }

// Runs a handler, turning exceptions into failures: a throwing handler fails its job, not the worker.
HandlerResult Invoke(const Handler& handler, JobContext& ctx) {
  try {
    return handler(ctx);
  } catch (const std::exception& e) {
    return HandlerResult::Failure(fmt::format("handler threw: {}", e.what()));
  } catch (...) {
    return HandlerResult::Failure("handler threw a non-standard exception");
  }
}

// Earlier attempts ride along in the message, so warren.dead holds the whole story even when no store
// saw it. Bounded: the newest entries are kept.
constexpr size_t kMaxHistory = 20;
constexpr size_t kMaxHistoryError = 1024;

std::string AppendHistory(nlohmann::json history, int attempt, const std::string& worker, const std::string& error,
                          TimePoint at) {
  if (!history.is_array()) {
    history = nlohmann::json::array();
  }
  history.push_back({{"attempt", attempt},
                     {"worker", worker},
                     {"error", error.size() > kMaxHistoryError ? error.substr(0, kMaxHistoryError) : error},
                     {"at", FormatTime(at)}});
  while (history.size() > kMaxHistory) {
    history.erase(history.begin());
  }
  return DumpJson(history);
}

// At most this many deliveries awaiting their confirm lend their slot to a new one.
constexpr int kMaxLentSlots = 1000;

// A job's own log lines ship as kLog events through the event batcher: gathered per attempt and sent
// every 100 lines, 200 ms after the oldest waiting line, and right before the attempt's outcome.
constexpr size_t kLogFlushLines = 100;
constexpr std::chrono::milliseconds kLogFlushAfter{200};
constexpr size_t kMaxLogLineBytes = 4096;          // longer lines are cut
constexpr int64_t kMaxLogLinesPerAttempt = 10'000;  // later lines are counted, not shipped
constexpr size_t kMaxProgressNoteBytes = 1024;      // a progress note is a status line, not output

// At most `max` bytes of `text`, not cutting a UTF-8 sequence in two.
std::string_view CutText(std::string_view text, size_t max) {
  if (text.size() <= max) {
    return text;
  }
  size_t end = max;
  while (end > 0 && (static_cast<unsigned char>(text[end]) & 0xC0) == 0x80) {
    --end;  // text[end] continues a sequence: cut before the sequence starts
  }
  return text.substr(0, end);
}

// A job's text as it goes into the worker's own log: control characters (an escape sequence, a
// carriage return that would overwrite the line) shown as \xNN instead of acting on a terminal.
std::string PrintableText(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char c : text) {
    const auto byte = static_cast<unsigned char>(c);
    if ((byte < 0x20 && c != '\t') || byte == 0x7F) {
      out += fmt::format("\\x{:02x}", byte);
    } else {
      out += c;
    }
  }
  return out;
}

// What the worker's publisher declares: events go to the recorder's queue even when no `serve` runs
// yet, so an outcome event is never unroutable; retries and dead jobs need the delay tiers and
// warren.dead.
amqp::Topology PublisherTopology(QueueType type) {
  amqp::Topology topology = amqp::RecorderTopology(type);
  amqp::Append(topology, amqp::JobTopologyWithDelays({}, type));
  return topology;
}

}  // namespace

bool Worker::CheckQueues(const WorkerOptions& options) {
  amqp::Topology topology = PublisherTopology(options.queue_type);
  amqp::Append(topology, amqp::JobTopology(options.queues, options.queue_type));
  return amqp::CheckDeclarations(options.connection, topology);
}

// One delivery being run by an executor.
struct Worker::Running {
  amqp::Delivery delivery;
  Job job;
  std::stop_source stop;
  std::optional<SteadyTime> timeout_at;         // guarded by Worker::mu_
  std::optional<SteadyTime> stop_requested_at;  // guarded by Worker::mu_
  std::string stop_reason;                      // guarded by Worker::mu_: "timeout" or "cancelled"
  bool in_handler = false;                      // guarded by Worker::mu_: the watchdog's to judge
  std::atomic<bool> settled{false};             // its delivery has been (or is being) settled
  std::atomic<bool> reported{false};            // its attempt's outcome has been reported
  bool awaiting = false;  // guarded by Worker::mu_: finished, waiting for its replacement's confirm
  // The attempt's log lines not yet shipped (ShipLog).
  std::mutex log_mu;
  std::vector<LogLine> log_lines;         // guarded by log_mu
  std::optional<SteadyTime> log_since;    // guarded by log_mu: when the oldest of log_lines came
  int64_t log_seq = 0;                    // guarded by log_mu: lines of this attempt so far
  int64_t log_dropped = 0;                // guarded by log_mu: past kMaxLogLinesPerAttempt
};

Worker::Worker(WorkerOptions options, const HandlerRegistry& registry)
    : options_(std::move(options)),
      registry_(registry),
      replay_deadline_(std::chrono::steady_clock::now() + options_.cancel_replay_wait),
      started_at_(SystemNow()) {
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  host_ = host;
  for (int i = 0; i < options_.concurrency; ++i) {
    executors_.emplace_back([this] {
      NameThisThread("executor");
      ExecutorLoop();
    });
  }
  amqp::PublisherOptions publisher_options;
  publisher_options.connection = options_.connection;
  publisher_options.connection.name += " publisher";
  publisher_options.confirm_timeout = options_.publish_timeout;
  publisher_options.reconnect_max = options_.reconnect_max;
  publisher_options.queue_type = options_.queue_type;
  publisher_options.declare = PublisherTopology(options_.queue_type);
  publisher_options.declarations_settled = options_.queues_checked;
  publisher_ = std::make_unique<amqp::Publisher>(std::move(publisher_options));
  events_ = std::make_unique<EventBatcher>(*publisher_);

  amqp::ConsumerOptions consumer_options;
  consumer_options.connection = options_.connection;
  consumer_options.declare = amqp::JobTopology(options_.queues, options_.queue_type);
  consumer_options.consume = options_.queues;
  const bool prioritised = HasPriorityLevels(options_.queues, options_.queue_priorities);
  if (prioritised) {
    consumer_options.start_paused = QueueGate::InitialPaused(options_.queues, options_.queue_priorities);
  }
  // Prefetch follows the free slots: `concurrency`, plus one for each finished job whose delivery waits
  // for its outcome's confirm (it holds no executor, but stays unacked). So the next job arrives while
  // the last one's confirm is on its way, and a worker busy with long jobs still hoards none.
  consumer_options.prefetch = static_cast<uint16_t>(options_.concurrency);
  consumer_options.max_prefetch =
      static_cast<uint16_t>(std::min(2 * options_.concurrency + kMaxLentSlots, 65535));
  if (options_.queue_type == QueueType::kQuorum) {
    // Quorum queues refuse a channel-wide prefetch, and a per-consumer one cannot change while the
    // consumer exists: each queue's consumer gets a fixed 2 x concurrency, a slot and one more for the
    // job whose outcome's confirm is on its way (docs/architecture.md decision 64). Deliveries past
    // the free slots wait here unstarted and go back on a drain, as with classic queues.
    consumer_options.prefetch = static_cast<uint16_t>(std::min(2 * options_.concurrency, 65535));
    consumer_options.max_prefetch = 0;
    consumer_options.channel_prefetch = false;
  }
  consumer_options.reconnect_max = options_.reconnect_max;
  consumer_options.thread_name = "jobs-amqp";
  {
    // The callbacks take mu_ before they touch consumer_ or control_: holding it here makes the first
    // delivery wait until the pointer is set.
    std::lock_guard lock(mu_);
    consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer_options),
                                                 [this](amqp::Delivery d) { OnDelivery(std::move(d)); });
  }
  if (prioritised) {
    gate_ = std::make_unique<QueueGate>(options_.connection, options_.queues, options_.queue_priorities, *consumer_);
  }

  // Control messages need a consumer of their own: job deliveries use up the job consumer's prefetch
  // while every slot is busy, and a cancel for a running job must still get through.
  amqp::ConsumerOptions control_options;
  control_options.connection = options_.connection;
  control_options.connection.name += " control";
  const std::string control_queue =
      fmt::format("warren.control.{}.{}", options_.worker_id, std::random_device{}());
  control_options.declare.exchanges.push_back(amqp::ExchangeSpec{std::string(amqp::kControlExchange), "fanout"});
  amqp::QueueSpec control_spec{control_queue, {}, {}};
  control_spec.durable = false;
  control_spec.exclusive = true;
  control_spec.auto_delete = true;
  control_options.declare.queues.push_back(control_spec);
  control_options.declare.bindings.push_back(
      amqp::BindingSpec{control_queue, std::string(amqp::kControlExchange), ""});
  control_options.consume = {control_queue};
  control_options.prefetch = 100;
  control_options.reconnect_max = options_.reconnect_max;
  control_options.thread_name = "control-amqp";
  {
    std::lock_guard lock(mu_);
    control_ = std::make_unique<amqp::Consumer>(std::move(control_options),
                                                [this](amqp::Delivery d) { OnControl(d); });
  }
  watchdog_ = std::jthread([this](const std::stop_token& stop) {
    NameThisThread("watchdog");
    WatchdogLoop(stop);
  });
}

Worker::~Worker() {
  StopWatchdog();
  gate_.reset();
  // Stopped, not destroyed, until the executors are joined: a handler still running (a Worker
  // destroyed without Drain) settles its delivery and publishes its outcome through them when it
  // returns, and both answer harmlessly once stopped.
  control_->Stop();
  publisher_->Stop();
  consumer_->Stop();
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    for (auto& [key, run] : running_) {
      run->stop.request_stop();
    }
  }
  cv_.notify_all();
  replay_cv_.notify_all();
  for (auto& t : executors_) {
    t.join();
  }
  control_.reset();
  publisher_.reset();
  consumer_.reset();
}

std::string Worker::Key(const amqp::Delivery& d) { return fmt::format("{}/{}", d.connection_generation, d.delivery_tag); }

bool Worker::WaitConnected(std::chrono::milliseconds timeout) const {
  return consumer_->WaitConnected(timeout) && control_->WaitConnected(timeout) && publisher_->WaitReady(timeout);
}

std::string Worker::TypeOf(const amqp::Delivery& delivery) {
  return delivery.type.empty() ? delivery.body : delivery.type;  // seed-style: the body names the job
}

bool Worker::MayStartLocked(const amqp::Delivery& delivery) const {
  if (options_.type_limits.empty()) {
    return true;
  }
  const std::string type = TypeOf(delivery);
  const auto limit = options_.type_limits.find(type);
  if (limit == options_.type_limits.end()) {
    return true;
  }
  const auto running = running_by_type_.find(type);
  return running == running_by_type_.end() || running->second < limit->second;
}

size_t Worker::HeldLocked() const {
  if (options_.type_limits.empty()) {
    return 0;
  }
  size_t held = 0;
  for (const auto& d : ready_) {
    held += MayStartLocked(d) ? 0 : 1;
  }
  return held;
}

void Worker::OnDelivery(amqp::Delivery delivery) {
  {
    std::lock_guard lock(mu_);
    if (!draining_) {
      ready_.push_back(std::move(delivery));
      if (!options_.type_limits.empty()) {
        UpdatePrefetchLocked();
        cv_.notify_all();  // the one woken must be able to take it: any idle executor will do
      } else {
        cv_.notify_one();
      }
      return;
    }
  }
  HandBack(delivery);  // sent before the drain's basic.cancel took effect
}

// {"cancel": "<job id>"}: a queued job with this id never starts here, a running one is stopped.
void Worker::OnControl(const amqp::Delivery& delivery) {
  const auto body = nlohmann::json::parse(delivery.body, nullptr, /*allow_exceptions=*/false);
  std::lock_guard lock(mu_);
  control_->Settle(delivery, amqp::Settlement::kAck);
  // A cancel's time, when it says one (a serve from before retried_at did not): without one it stands
  // for every message of the job.
  auto time_of = [](const nlohmann::json& at) -> std::optional<TimePoint> {
    return at.is_string() ? ParseTime(at.get<std::string>()) : std::nullopt;
  };
  if (body.is_object() && body.contains("cancelled") && body["cancelled"].is_array()) {
    const auto& ids = body["cancelled"];
    const auto times = body.value("at", nlohmann::json::array());
    for (size_t i = 0; i < ids.size(); ++i) {
      if (ids[i].is_string()) {
        cancelled_.Insert(ids[i].get<std::string>(),
                          times.is_array() && i < times.size() ? time_of(times[i]) : std::nullopt);
      }
    }
    replay_heard_ = true;
    replay_cv_.notify_all();
    return;  // a replay of cancels for jobs that never started: nothing of them runs here
  }
  if (!body.is_object() || !body.contains("cancel") || !body["cancel"].is_string()) {
    spdlog::warn("control: ignoring a message that is neither a cancel nor a replay of cancels");
    return;
  }
  const std::string id = body["cancel"].get<std::string>();
  cancelled_.Insert(id, time_of(body.value("at", nlohmann::json())));
  for (auto& [key, run] : running_) {
    if (run->job.id == id && !run->stop_requested_at && CancelsLocked(run->job)) {
      spdlog::info("job {} attempt {}: cancelled while running; stopping it", id, run->job.attempt);
      run->stop_reason = "cancelled";
      run->stop_requested_at = std::chrono::steady_clock::now();
      run->stop.request_stop();
    }
  }
}

// A worker that connected after a cancel learns of it from serve's replay: give that a moment, but
// only when a `serve` runs (its recorder consumes warren.events.recorder); with none, no replay comes.
void Worker::WaitForCancelReplay() {
  {
    std::lock_guard lock(mu_);
    if (replay_heard_ || std::chrono::steady_clock::now() >= replay_deadline_) {
      return;
    }
  }
  bool serve_runs = true;
  if (!replay_checked_.exchange(true)) {
    amqp::ConnectionOptions inspect = options_.connection;
    inspect.heartbeat = std::chrono::seconds(0);
    inspect.name += " inspector";
    const auto recorder = amqp::QueueInspector(inspect).Inspect(std::string(amqp::kRecorderQueue));
    serve_runs = !recorder || recorder->consumers > 0;  // unknown: wait as if one did
    if (!serve_runs) {
      std::lock_guard lock(mu_);
      replay_heard_ = true;  // nobody to replay anything: nothing cancelled can be waiting for us
      replay_cv_.notify_all();
    }
  }
  std::unique_lock lock(mu_);
  replay_cv_.wait_until(lock, replay_deadline_, [this] { return replay_heard_ || draining_; });
}

// Deliveries of a connection that was lost while they waited here are already back in their queue
// (the broker requeued them): starting them too would run the job twice.
void Worker::DropLostDeliveriesLocked() {
  const auto dropped = std::erase_if(ready_, [this](const amqp::Delivery& d) {
    if (consumer_->IsLive(d)) {
      return false;
    }
    if (!d.type.empty()) {
      never_started_.Insert(AttemptKey(JobFromDelivery(d)));  // rare: a lost connection
    }
    return true;
  });
  if (dropped > 0) {
    spdlog::info("{} waiting deliveries belonged to a lost connection; the broker hands them out again", dropped);
    UpdatePrefetchLocked();
  }
}

void Worker::RememberSettled(const Job& job) {
  std::lock_guard lock(mu_);
  settled_.Insert(AttemptKey(job));
}

Worker::Copy Worker::ClassifyCopy(Running& run) {
  const std::string key = AttemptKey(run.job);
  std::lock_guard lock(mu_);
  if (settled_.Contains(key)) {
    return Copy::kSettledHere;
  }
  if (!run.delivery.redelivered) {
    return Copy::kNew;
  }
  const auto original = unsettled_.find(key);
  const auto self = running_.find(Key(run.delivery));
  if (original != unsettled_.end() && self != running_.end()) {
    original->second.push_back(self->second);
    return Copy::kFollowing;
  }
  return never_started_.Erase(key) ? Copy::kNeverStartedHere : Copy::kNew;
}

// RabbitMQ marks a requeued message redelivered, and the next worker would count an attempt that never
// ran (decision 34). So a delivery that never started here goes back as a fresh copy, published and
// confirmed before the original is acked (an unconfirmed copy requeues the original instead). One that
// came redelivered already goes back as it is: its previous holder's lost attempt still counts.
void Worker::HandBack(const amqp::Delivery& delivery) {
  if (delivery.redelivered || delivery.type.empty()) {
    consumer_->Settle(delivery, amqp::Settlement::kRequeue);  // the demo's jobs count no attempts
    return;
  }
  publisher_->Publish(amqp::CopyOf(delivery), [this, delivery](amqp::PublishOutcome outcome) {
    consumer_->Settle(delivery, outcome == amqp::PublishOutcome::kConfirmed ? amqp::Settlement::kAck
                                                                            : amqp::Settlement::kRequeue);
  });
}

void Worker::SettleFollowers(const Job& job, bool confirmed) {
  std::vector<std::shared_ptr<Running>> followers;
  {
    std::lock_guard lock(mu_);
    const auto it = unsettled_.find(AttemptKey(job));
    if (it == unsettled_.end()) {
      return;
    }
    followers = std::move(it->second);
    unsettled_.erase(it);
  }
  for (const auto& follower : followers) {
    Settle(*follower, confirmed ? amqp::Settlement::kAck : amqp::Settlement::kRequeue);
  }
}

bool Worker::Cancels(const Job& job) {
  std::lock_guard lock(mu_);
  return CancelsLocked(job);
}

bool Worker::CancelsLocked(const Job& job) const {
  const auto* at = cancelled_.Find(job.id);
  if (at == nullptr) {
    return false;
  }
  // A retry after the cancel runs; an unknown time on either side keeps the cancel.
  return !(job.retried_at && *at && *job.retried_at > **at);
}

void Worker::ExecutorLoop() {
  for (;;) {
    auto run = std::make_shared<Running>();
    std::string limited_type;
    {
      std::unique_lock lock(mu_);
      auto startable = ready_.end();
      cv_.wait(lock, [this, &startable] {
        DropLostDeliveriesLocked();
        startable = std::find_if(ready_.begin(), ready_.end(), [this](const auto& d) { return MayStartLocked(d); });
        return draining_ || startable != ready_.end();
      });
      if (startable == ready_.end()) {
        return;  // draining and nothing left to run (held deliveries were handed back by Drain)
      }
      run->delivery = std::move(*startable);
      ready_.erase(startable);
      if (options_.type_limits.contains(TypeOf(run->delivery))) {
        limited_type = TypeOf(run->delivery);
        ++running_by_type_[limited_type];
      }
      running_.emplace(Key(run->delivery), run);
      if (abandoned_) {
        running_.erase(Key(run->delivery));
        continue;
      }
    }
    RunJob(*run);
    bool wake_all = false;
    {
      std::lock_guard lock(mu_);
      running_.erase(Key(run->delivery));
      ++jobs_done_;
      if (!limited_type.empty()) {
        --running_by_type_[limited_type];
        UpdatePrefetchLocked();
      }
      // Only a drain (waiting for running_ to empty) or a held delivery of the type that just freed a
      // slot can be waiting on this; waking every idle executor after every job cost a 32-executor
      // worker 15 context switches per no-op job (bench/README.md, the drain profile).
      wake_all = draining_ || !limited_type.empty();
    }
    if (wake_all) {
      cv_.notify_all();
    }
  }
}

// Fires stop tokens at timeouts, and gives up on handlers that ignore theirs past the kill grace.
void Worker::WatchdogLoop(const std::stop_token& stop) {
  // A command handler needs the kill grace to TERM and then KILL its process group: allow a margin.
  const auto hard_limit = options_.kill_grace + std::chrono::seconds(2);
  auto next_heartbeat = std::chrono::steady_clock::now();
  while (!stop.stop_requested()) {
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    events_->Flush();  // `started`, `progress` and `log` events that no outcome has carried yet
    const auto now = std::chrono::steady_clock::now();
    HandBackFailedHops(now);
    // Not before the control queue is bound: serve answers a new worker's first heartbeat with the
    // cancel replay, which must find the queue there.
    if (now >= next_heartbeat && publisher_->State() == amqp::PublisherState::kReady && control_->Connected()) {
      PublishHeartbeat("running");
      next_heartbeat = now + options_.heartbeat_interval;
    }
    std::vector<std::shared_ptr<Running>> runaways;
    std::vector<std::shared_ptr<Running>> all_running;
    {
      std::lock_guard lock(mu_);
      for (auto& [key, run] : running_) {
        all_running.push_back(run);
        if (run->timeout_at && now >= *run->timeout_at && !run->stop_requested_at) {
          run->stop_reason = "timeout";
          run->stop_requested_at = now;
          run->stop.request_stop();
        }
        if (run->in_handler && run->stop_requested_at && now >= *run->stop_requested_at + hard_limit &&
            !run->reported.load()) {
          runaways.push_back(run);
        }
      }
    }
    for (auto& run : all_running) {
      ShipLog(*run, /*all=*/false);
    }
    for (auto& run : runaways) {
      if (run->reported.exchange(true)) {
        continue;
      }
      const std::string reason = [&] {
        std::lock_guard lock(mu_);
        return run->stop_reason;
      }();
      spdlog::error("job {} ({}) attempt {}: the handler ignored its {} for {} ms; reporting the attempt "
                    "failed and restarting this worker",
                    run->job.id, run->job.type, run->job.attempt, reason, hard_limit.count());
      if (reason == "cancelled") {
        auto event = MakeEvent(run->job, EventKind::kCancelled);
        event.error = "cancelled while running (the handler did not stop)";
        FinishWith(*run, std::move(event));
      } else {
        Fail(*run, fmt::format("timed out after {} and did not stop", FormatDuration(*run->job.timeout)), true,
             "timeout");
      }
      if (!recycle_.exchange(true) && options_.on_recycle) {
        options_.on_recycle();
      }
    }
  }
}

void Worker::RunJob(Running& run) {
  run.job = JobFromDelivery(run.delivery);
  if (run.job.seed_style) {
    RunSeedJob(run);
  } else {
    RunTypedJob(run);
  }
}

// The classic demo's path: print the framing lines, run, ack. There is no job record to update.
void Worker::RunSeedJob(Running& run) {
  const Job& job = run.job;
  Output(fmt::format(" [x] Received {}", job.type));
  if (const Handler* handler = registry_.Find(job)) {
    JobContext ctx(job, run.stop.get_token(), JobHooks{[](std::string_view line) { Output(line); }, {}, {}});
    const HandlerResult result = Invoke(*handler, ctx);
    if (result.outcome == Outcome::kFailed) {
      spdlog::error("seed job '{}' on {} failed: {}", job.type, job.queue, result.error);
    }
  }
  Output(" [x] Done");
  Settle(run, amqp::Settlement::kAck);
}

JobEvent Worker::MakeEvent(const Job& job, EventKind kind) const {
  JobEvent e;
  e.job_id = job.id;
  e.kind = kind;
  e.attempt = job.attempt;
  e.at = SystemNow();
  e.worker = options_.worker_id;
  e.stored = job.stored;
  return e;
}

// An outcome reached before the attempt started. A first attempt that never started is no attempt:
// the event is a stage-0 fact (as the API's cancel of a queued job), so the record shows no attempts.
// A later attempt keeps its number: the attempts before it did run, and their outcomes stand.
JobEvent Worker::MakeNotStartedEvent(const Job& job, EventKind kind) const {
  auto event = MakeEvent(job, kind);
  // Stage 0 (job_state.cpp) is the first message's, before any attempt. An attempt the API's retry
  // reserved is reported as itself, whatever its number: its record left stage 0 (record.attempt >
  // 0), and a stage-0 event would leave it queued for good.
  if (job.attempt <= 1 && !job.retried_at) {
    event.attempt = 0;
  }
  return event;
}

void Worker::RunTypedJob(Running& run) {
  const Job& job = run.job;
  // Every typed job ends in a publish; right after start-up (or a reconnect) the job consumer can be
  // quicker than the publisher, and a job handed back for that would count as a lost attempt.
  publisher_->WaitReady(options_.publish_timeout);
  WaitForCancelReplay();
  if (job.not_before) {
    // Early: a delayed, scheduled or retried job between delay tiers. Send it on to the next tier; the
    // last stretch, shorter than any tier, is waited out here.
    const auto remaining = *job.not_before - SystemNow();
    if (PickDelayTier(remaining) > Duration::zero()) {
      auto message = amqp::CopyOf(run.delivery);
      amqp::RouteThroughDelay(message, *job.not_before, remaining);
      PublishThenAck(run, {std::move(message)}, "the delayed job", /*ends_attempt=*/false);
      return;
    }
    if (remaining > Duration::zero()) {
      std::this_thread::sleep_for(remaining);
    }
  }
  if (job.deadline && SystemNow() > *job.deadline) {
    auto event = MakeNotStartedEvent(job, EventKind::kExpired);
    event.error = fmt::format("deadline {} passed before the job started", FormatTime(*job.deadline));
    spdlog::info("job {} ({}) expired: {}", job.id, job.type, event.error);
    FinishWith(run, std::move(event));
    return;
  }
  if (Cancels(job)) {
    auto event = MakeNotStartedEvent(job, EventKind::kCancelled);
    event.error = "cancelled before it started";
    spdlog::info("job {} ({}) was cancelled; not starting it", job.id, job.type);
    FinishWith(run, std::move(event));
    return;
  }
  const Copy copy = ClassifyCopy(run);
  if (copy == Copy::kSettledHere) {
    // This worker recorded the attempt's outcome already: the ack was lost with its connection (a
    // broker restart redelivers it), or serve's outbox published the job a second time. The outcome
    // stands, so the copy is acked instead of run again.
    spdlog::info("job {} ({}) attempt {} came again, but its outcome is already recorded here; acking it",
                 job.id, job.type, job.attempt);
    Settle(run, amqp::Settlement::kAck);
    return;
  }
  if (copy == Copy::kFollowing) {
    // Not a crash: this worker still runs the attempt (RabbitMQ's consumer_timeout closed the channel
    // and requeued it). Running it again would repeat its side effect; its outcome settles this copy.
    spdlog::warn("job {} ({}) attempt {} came back while it still runs here (the broker took its delivery "
                 "back: consumer_timeout?); holding the copy until the attempt's outcome is confirmed",
                 job.id, job.type, job.attempt);
    return;
  }
  if (copy == Copy::kNeverStartedHere) {
    spdlog::info(
        "job {} ({}) attempt {} came back after this worker let it go unstarted (a lost connection, "
        "or a delay-tier hop RabbitMQ did not confirm); running it (no attempt was lost)",
        job.id, job.type, job.attempt);
  } else if (run.delivery.redelivered) {
    // The broker gave this message back without an ack: the worker running this attempt died (or lost
    // its connection). That attempt counts, so a job that crashes its worker cannot loop forever.
    spdlog::warn("job {} ({}) attempt {} came back unacknowledged: counting it as failed", job.id, job.type,
                 job.attempt);
    Fail(run, fmt::format("attempt {} was interrupted: its worker stopped or lost the broker mid-job", job.attempt),
         true, "crashed");
    return;
  }
  const Handler* handler = registry_.Find(job);
  if (handler == nullptr) {
    const std::string error = fmt::format("unknown_type: no handler for job type '{}' (this worker handles: {})",
                                          job.type, fmt::join(registry_.Types(), ", "));
    spdlog::error("job {} dead: {}", job.id, error);
    Dead(run, error, "unknown_type");
    return;
  }
  // `started` needs no confirm of its own: the outcome settles the delivery, and the recorder
  // converges whichever order the two arrive in. It lingers for the outcome's batch (EventBatcher).
  events_->Send(MakeEvent(job, EventKind::kStarted), job.queue, job.type, {});
  spdlog::debug("job {} ({}) attempt {} started", job.id, job.type, job.attempt);
  {
    std::lock_guard lock(mu_);
    run.in_handler = true;
    unsettled_.try_emplace(AttemptKey(job));
    if (job.timeout) {
      run.timeout_at = std::chrono::steady_clock::now() + *job.timeout;
    }
  }
  JobHooks hooks;
  hooks.print = [](std::string_view line) { Output(line); };
  hooks.progress = [this, &job](int percent, const std::string& note) {
    auto event = MakeEvent(job, EventKind::kProgress);
    event.percent = percent;
    event.note = CutText(note, kMaxProgressNoteBytes);
    events_->Send(event, job.queue, job.type, {});
  };
  hooks.log = [this, &run](std::string_view line) {
    // Echoed into the worker's own log only as far as the job's log keeps it: a command flooding its
    // stderr must not flood the worker's log (or journald, or the disk) without bound.
    if (AddLogLine(run, line)) {
      spdlog::info("job {} attempt {}: {}", run.job.id, run.job.attempt,
                   PrintableText(CutText(line, kMaxLogLineBytes)));
    }
  };
  JobContext ctx(job, run.stop.get_token(), std::move(hooks));
  HandlerResult result = Invoke(*handler, ctx);
  if (run.reported.exchange(true)) {
    return;  // the watchdog gave up on this handler and reported the attempt already
  }
  std::string stop_reason;
  {
    std::lock_guard lock(mu_);
    stop_reason = run.stop_reason;
  }
  if (result.outcome == Outcome::kSucceeded) {
    auto event = MakeEvent(job, EventKind::kSucceeded);
    event.result = std::move(result.result);
    FinishWith(run, std::move(event));
  } else if (stop_reason == "cancelled") {
    auto event = MakeEvent(job, EventKind::kCancelled);
    event.error = "cancelled while running";
    FinishWith(run, std::move(event));
  } else if (stop_reason == "timeout") {
    Fail(run, fmt::format("timed out after {}", FormatDuration(*job.timeout)), true, "timeout");
  } else {
    Fail(run, result.error, result.retryable, "failed");
  }
}

void Worker::Fail(Running& run, const std::string& error, bool retryable, const std::string& dead_reason) {
  const Job& job = run.job;
  ShipLog(run, /*all=*/true);
  if (!retryable || job.attempt >= job.max_attempts) {
    spdlog::warn("job {} ({}) attempt {} of {} failed, no attempts left: {}", job.id, job.type, job.attempt,
                 job.max_attempts, error);
    Dead(run, error, retryable ? "attempts_exhausted" : dead_reason);
    return;
  }
  Duration delay;
  {
    std::lock_guard lock(mu_);
    delay = RetryDelay(options_.retry, job.attempt, std::uniform_real_distribution<double>(0.0, 1.0)(rng_));
  }
  const TimePoint now = SystemNow();
  spdlog::warn("job {} ({}) attempt {} of {} failed, retrying in {}: {}", job.id, job.type, job.attempt,
               job.max_attempts, FormatDuration(delay), error);
  auto event = MakeEvent(job, EventKind::kRetrying);
  event.error = error;
  auto message = amqp::CopyOf(run.delivery);
  message.headers[std::string(amqp::kAttemptHeader)] = std::to_string(job.attempt + 1);
  message.headers[std::string(amqp::kHistoryHeader)] =
      AppendHistory(job.history, job.attempt, options_.worker_id, error, now);
  amqp::RouteThroughDelay(message, now + delay, delay);
  // The retry and the event that records this attempt share one confirm round before the ack. With
  // the event batched on its own, a worker killed between the ack and the batch's flush lost the
  // attempt from the store: its run happened, but no record of it did (the chaos checker saw this).
  std::vector<amqp::OutgoingMessage> messages;
  messages.push_back(std::move(message));
  messages.push_back(amqp::EncodeEventMessage(event, job.queue, job.type));
  PublishThenAck(run, std::move(messages), "the retry");
}

void Worker::Dead(Running& run, const std::string& error, const std::string& reason) {
  const Job& job = run.job;
  ShipLog(run, /*all=*/true);
  auto event = MakeEvent(job, EventKind::kDead);
  event.error = error;
  auto message = amqp::CopyOf(run.delivery);
  message.routing_key = std::string(amqp::kDeadQueue);
  message.declare_job_queue = std::string(amqp::kDeadQueue);
  message.headers[std::string(amqp::kErrorHeader)] = error;
  message.headers[std::string(amqp::kDeadReasonHeader)] = reason;
  message.headers["x-warren-queue"] = job.queue;
  message.headers[std::string(amqp::kHistoryHeader)] =
      AppendHistory(job.history, job.attempt, options_.worker_id, error, event.at);
  message.headers.erase(std::string(amqp::kNotBeforeHeader));
  std::vector<amqp::OutgoingMessage> messages;
  messages.push_back(std::move(message));
  messages.push_back(amqp::EncodeEventMessage(event, job.queue, job.type));
  PublishThenAck(run, std::move(messages), "the dead job");
}

void Worker::FinishWith(Running& run, JobEvent event) {
  const auto& job = run.job;
  ShipLog(run, /*all=*/true);
  auto done = AckWhenConfirmed(run, fmt::format("the {} event", ToString(event.kind)));
  if (done) {
    events_->Send(event, job.queue, job.type, std::move(done));
  }
}

bool Worker::AddLogLine(Running& run, std::string_view text) {
  bool full = false;
  {
    std::lock_guard lock(run.log_mu);
    if (run.log_seq >= kMaxLogLinesPerAttempt) {
      ++run.log_dropped;
      return false;
    }
    LogLine line{++run.log_seq, SystemNow(), std::string(text.substr(0, kMaxLogLineBytes))};
    if (text.size() > kMaxLogLineBytes) {
      line.text += " [cut]";
    }
    // PostgreSQL's text cannot hold a NUL (libpq ends the value there) while SQLite keeps it: stored
    // as U+FFFD, a line reads the same from either store.
    for (size_t at = line.text.find('\0'); at != std::string::npos; at = line.text.find('\0', at)) {
      line.text.replace(at, 1, "\xEF\xBF\xBD");
    }
    run.log_lines.push_back(std::move(line));
    if (!run.log_since) {
      run.log_since = std::chrono::steady_clock::now();
    }
    full = run.log_lines.size() >= kLogFlushLines;
  }
  if (full) {
    ShipLog(run, /*all=*/true);
  }
  return true;
}

void Worker::ShipLog(Running& run, bool all) {
  std::vector<LogLine> lines;
  {
    std::lock_guard lock(run.log_mu);
    if (!all && (!run.log_since || std::chrono::steady_clock::now() - *run.log_since < kLogFlushAfter)) {
      return;
    }
    if (all && run.log_dropped > 0) {
      run.log_lines.push_back(LogLine{kMaxLogLinesPerAttempt + 1, SystemNow(),
                                      fmt::format("[warren] {} more lines of this attempt were not kept; the "
                                                  "limit is {} lines per attempt",
                                                  run.log_dropped, kMaxLogLinesPerAttempt)});
      run.log_dropped = 0;
    }
    if (run.log_lines.empty()) {
      return;
    }
    lines.swap(run.log_lines);
    run.log_since.reset();
  }
  // run.job is read only now: lines exist, so the executor set it before writing them (log_mu).
  auto event = MakeEvent(run.job, EventKind::kLog);
  event.lines = std::move(lines);
  // No confirm awaited: log lines are best effort and never hold up the outcome, which is sent after
  // them through the same batcher and so usually rides in the same batch.
  events_->Send(event, run.job.queue, run.job.type, {});
}

void Worker::PublishThenAck(Running& run, std::vector<amqp::OutgoingMessage> messages, std::string what,
                            bool ends_attempt) {
  auto done = AckWhenConfirmed(run, std::move(what), ends_attempt);
  if (!done) {
    return;
  }
  if (messages.size() == 1) {
    publisher_->Publish(std::move(messages.front()), std::move(done));
  } else {
    publisher_->PublishBatch(std::move(messages), std::move(done));
  }
}

amqp::PublishCallback Worker::AckWhenConfirmed(Running& run, std::string what, bool ends_attempt) {
  // The callback may run after the executor moved on: keep the run alive until then.
  std::shared_ptr<Running> keep;
  {
    std::lock_guard lock(mu_);
    if (auto it = running_.find(Key(run.delivery)); it != running_.end()) {
      keep = it->second;
    }
    if (!keep) {
      spdlog::error("job {}: {} published for a delivery that is not running", run.job.id, what);
      return {};
    }
    // Drain's grace ran out and it handed the delivery back (under mu_, so it either saw `awaiting`
    // below or this sees `settled`): publishing a replacement now would make a second copy.
    if (keep->settled) {
      spdlog::warn("job {}: the drain handed it back; not publishing {}", run.job.id, what);
      return {};
    }
    if (!keep->awaiting) {
      keep->awaiting = true;
      ++awaiting_;
      UpdatePrefetchLocked();
    }
  }
  return [this, keep, what = std::move(what), ends_attempt](amqp::PublishOutcome outcome) {
    if (outcome == amqp::PublishOutcome::kConfirmed) {
      if (ends_attempt) {
        RememberSettled(keep->job);
      }
      Settle(*keep, amqp::Settlement::kAck);
      SettleFollowers(keep->job, true);
      return;
    }
    // Not safely replaced: hand the job back so it runs again rather than vanish (at-least-once).
    spdlog::warn("job {}: {} not confirmed ({}); handing the job back", keep->job.id, what,
                 amqp::ToString(outcome));
    if (!ends_attempt) {
      // A hop between delay tiers: the job never started here. RabbitMQ marks the requeued message
      // redelivered; when it comes back here that is no lost attempt. And a second's pause keeps a
      // broker that refuses every publish from bouncing the job back and forth meanwhile.
      std::lock_guard lock(mu_);
      never_started_.Insert(AttemptKey(keep->job));
      hops_to_hand_back_.emplace_back(std::chrono::steady_clock::now() + std::chrono::seconds(1), keep);
      return;
    }
    Settle(*keep, amqp::Settlement::kRequeue);
    SettleFollowers(keep->job, false);
  };
}

void Worker::HandBackFailedHops(std::chrono::steady_clock::time_point until) {
  std::vector<std::shared_ptr<Running>> due;
  {
    std::lock_guard lock(mu_);
    std::erase_if(hops_to_hand_back_, [&](auto& entry) {
      if (entry.first > until) {
        return false;
      }
      due.push_back(std::move(entry.second));
      return true;
    });
  }
  for (const auto& run : due) {
    Settle(*run, amqp::Settlement::kRequeue);
    SettleFollowers(run->job, false);
  }
}

void Worker::StopWatchdog() {
  watchdog_ = {};
  HandBackFailedHops(std::chrono::steady_clock::time_point::max());
  events_->Flush();
}

void Worker::UpdatePrefetchLocked() {
  // Held deliveries (their type at its limit) lend their slot too, up to `concurrency` of them, so a
  // burst of one limited type neither starves the other types nor drains the queue into this worker.
  const auto held = static_cast<int>(std::min(HeldLocked(), static_cast<size_t>(options_.concurrency)));
  consumer_->SetPrefetch(static_cast<uint16_t>(options_.concurrency + std::min(awaiting_, kMaxLentSlots) + held));
}

void Worker::Settle(Running& run, amqp::Settlement settlement) {
  {
    std::lock_guard lock(mu_);
    if (run.awaiting) {
      run.awaiting = false;
      --awaiting_;
      UpdatePrefetchLocked();
    }
  }
  // Drain may have handed the delivery back already: one settlement only.
  if (run.settled.exchange(true)) {
    return;
  }
  consumer_->Settle(run.delivery, settlement);
}

nlohmann::json Worker::Heartbeat(std::string_view state) {
  std::lock_guard lock(mu_);
  return {{"id", options_.worker_id},
          {"host", host_},
          {"pid", static_cast<int64_t>(getpid())},
          {"queues", options_.queues},
          {"queue_priorities", options_.queue_priorities},
          {"concurrency", options_.concurrency},
          {"busy", running_.size()},
          {"jobs_done", jobs_done_},
          {"types", registry_.Types()},
          {"started_at", FormatTime(started_at_)},
          {"at", FormatTime(SystemNow())},
          {"interval_ms", options_.heartbeat_interval.count()},
          {"state", state}};
}

void Worker::PublishHeartbeat(std::string_view state) {
  publisher_->Publish(amqp::EncodeWorkerHeartbeat(Heartbeat(state)), [](amqp::PublishOutcome) {});
}

bool Worker::Drain(std::chrono::milliseconds grace) {
  PublishHeartbeat("draining");
  consumer_->StopConsuming();
  std::deque<amqp::Delivery> not_started;
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    not_started.swap(ready_);
  }
  cv_.notify_all();
  replay_cv_.notify_all();
  for (const auto& d : not_started) {
    HandBack(d);
  }
  bool finished = false;
  {
    std::unique_lock lock(mu_);
    if (!running_.empty()) {
      spdlog::info("draining: waiting up to {} ms for {} running job(s)", grace.count(), running_.size());
    }
    finished = cv_.wait_for(lock, grace, [this] { return running_.empty(); });
    if (!finished) {
      abandoned_ = true;
      spdlog::warn("draining: {} job(s) still running after the grace period; stopping them and handing them "
                   "back to the broker",
                   running_.size());
      for (const auto& [key, run] : running_) {
        run->stop.request_stop();
        // A run whose replacement (outcome, retry, dead letter) is already published is settled by
        // its confirm: handing it back as well would make two copies of the job.
        if (!run->awaiting && !run->settled.exchange(true)) {
          consumer_->Settle(run->delivery, amqp::Settlement::kRequeue);
        }
      }
    }
  }
  StopWatchdog();
  {
    // The last word, so GET /v1/workers says "stopped" rather than "gone" later; worth a short wait.
    auto said = std::make_shared<std::promise<void>>();
    publisher_->Publish(amqp::EncodeWorkerHeartbeat(Heartbeat("stopped")),
                        [said](amqp::PublishOutcome) { said->set_value(); });
    said->get_future().wait_for(std::chrono::seconds(1));
  }
  // Outcome events still in flight settle their deliveries when confirmed (or hand them back).
  publisher_->Stop();
  control_->Stop();
  consumer_->Stop();
  return finished;
}

sigset_t BlockStopSignals(sigset_t* previous) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, previous);
  return set;
}

int WaitForStopSignal(const sigset_t& signals) {
  int sig = 0;
  sigwait(&signals, &sig);
  spdlog::info("received {}: draining (a second signal exits at once)", sig == SIGINT ? "SIGINT" : "SIGTERM");
  return sig;
}

int DrainWatchingSignals(std::unique_ptr<Worker>& worker, const sigset_t& signals,
                         std::chrono::milliseconds grace) {
  auto drained = std::async(std::launch::async, [&] { return worker->Drain(grace); });
  const timespec poll_interval{0, 100'000'000};
  while (drained.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    siginfo_t info{};
    if (sigtimedwait(&signals, &info, &poll_interval) > 0) {
      if (info.si_pid == getpid()) {
        continue;  // the watchdog's recycle request (on_recycle) during the drain: already stopping
      }
      spdlog::warn("second signal: exiting now; unacked jobs return to their queues");
      std::_Exit(1);
    }
  }
  const bool finished = drained.get();
  if (!finished || worker->NeedsRecycle()) {
    // Handlers still running cannot be joined; their messages were handed back already. A recycle
    // exits non-zero so the supervisor starts a fresh worker.
    const int code = worker->NeedsRecycle() ? 3 : 0;
    spdlog::info("worker stopped{}", code != 0 ? " (recycling after a runaway handler)" : "");
    std::fflush(nullptr);
    std::_Exit(code);
  }
  worker.reset();
  spdlog::info("worker stopped");
  return 0;
}

int RunWork(const Settings& settings) {
  const sigset_t stop_signals = BlockStopSignals();

  // Forked first, while the process has one thread, and only when there are commands to watch. It
  // outlives the registry's handlers that use it (declared before them).
  std::unique_ptr<CommandReaper> reaper;
  if (!settings.command_jobs.empty()) {
    reaper = CommandReaper::Start(settings.kill_grace, static_cast<size_t>(settings.concurrency));
    if (reaper) {
      spdlog::info("command jobs are watched by warren-reaper pid={}: it ends them should this worker die",
                   reaper->WatcherPid());
    }
  }
  HandlerRegistry registry;
  RegisterDemoHandlers(registry);
  RegisterBuiltinHandlers(registry);
  RegisterCommandHandlers(registry, settings.command_jobs, settings.kill_grace, reaper.get());

  WorkerOptions options;
  options.retry = settings.retry;
  options.kill_grace = settings.kill_grace;
  options.connection.url = settings.amqp_url;
  options.queue_type = settings.queue_type;
  options.connection.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  options.connection.name = fmt::format("warren work pid {}", getpid());
  options.queues = settings.queues;
  options.queue_priorities = settings.queue_priorities;
  options.concurrency = settings.concurrency;
  options.type_limits = settings.type_limits;
  options.reconnect_max = settings.reconnect_max;
  options.publish_timeout = settings.publish_timeout;
  options.on_recycle = [] { kill(getpid(), SIGTERM); };
  options.cancel_replay_wait = std::chrono::seconds(2);  // the main thread's sigwait starts the drain
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  options.worker_id = fmt::format("{}:{}", host, getpid());

  std::string queues;
  for (const auto& q : settings.queues) {
    queues += queues.empty() ? q : "," + q;
    if (const auto p = settings.queue_priorities.find(q); p != settings.queue_priorities.end()) {
      queues += fmt::format(" (priority {})", p->second);
    }
  }
  spdlog::info("worker starting: queues {}, concurrency {}, handlers: {}", queues, settings.concurrency,
               fmt::join(registry.Types(), ", "));
  // A queue that exists with other arguments is a deployment error no retry fixes: exit with it.
  options.queues_checked = Worker::CheckQueues(options);
  auto worker = std::make_unique<Worker>(options, registry);

  WaitForStopSignal(stop_signals);
  return DrainWatchingSignals(worker, stop_signals, settings.grace);
}

}  // namespace warren::worker
