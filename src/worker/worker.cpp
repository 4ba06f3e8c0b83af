#include "worker/worker.hpp"

#include <csignal>
#include <cstdlib>
#include <exception>
#include <future>

#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "amqp/topology.hpp"
#include "worker/builtin_handlers.hpp"
#include "worker/demo_handlers.hpp"
#include "worker/work.hpp"

namespace warren::worker {

Worker::Worker(WorkerOptions options, const HandlerRegistry& registry)
    : options_(std::move(options)), registry_(registry) {
  for (int i = 0; i < options_.concurrency; ++i) {
    executors_.emplace_back([this] { ExecutorLoop(); });
  }
  // Events go to the recorder's queue even when no `serve` runs yet: declare it here too, so an
  // outcome event is never unroutable.
  amqp::PublisherOptions events_options;
  events_options.connection = options_.connection;
  events_options.connection.name += " events";
  events_options.confirm_timeout = options_.publish_timeout;
  events_options.reconnect_max = options_.reconnect_max;
  events_options.declare = amqp::RecorderTopology();
  events_ = std::make_unique<amqp::Publisher>(std::move(events_options));

  amqp::ConsumerOptions consumer_options;
  consumer_options.connection = options_.connection;
  consumer_options.declare = amqp::JobTopology(options_.queues);
  consumer_options.consume = options_.queues;
  consumer_options.prefetch = static_cast<uint16_t>(options_.concurrency);
  consumer_options.reconnect_max = options_.reconnect_max;
  consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer_options),
                                               [this](amqp::Delivery d) { OnDelivery(std::move(d)); });
}

Worker::~Worker() {
  events_.reset();
  consumer_.reset();
  {
    std::lock_guard lock(mu_);
    draining_ = true;
  }
  cv_.notify_all();
  for (auto& t : executors_) {
    t.join();
  }
}

std::string Worker::Key(const amqp::Delivery& d) { return fmt::format("{}/{}", d.connection_generation, d.delivery_tag); }

bool Worker::WaitConnected(std::chrono::milliseconds timeout) const { return consumer_->WaitConnected(timeout); }

void Worker::OnDelivery(amqp::Delivery delivery) {
  {
    std::lock_guard lock(mu_);
    if (!draining_) {
      ready_.push_back(std::move(delivery));
      cv_.notify_one();
      return;
    }
  }
  consumer_->Settle(delivery, amqp::Settlement::kRequeue);
}

void Worker::ExecutorLoop() {
  for (;;) {
    amqp::Delivery delivery;
    {
      std::unique_lock lock(mu_);
      cv_.wait(lock, [this] { return draining_ || !ready_.empty(); });
      if (ready_.empty()) {
        return;  // draining and nothing left to run
      }
      delivery = std::move(ready_.front());
      ready_.pop_front();
      running_.emplace(Key(delivery), delivery);
    }
    bool abandoned = false;
    {
      std::lock_guard lock(mu_);
      abandoned = abandoned_;
    }
    if (!abandoned) {
      RunJob(delivery);
    }
    {
      std::lock_guard lock(mu_);
      running_.erase(Key(delivery));
    }
    cv_.notify_all();
  }
}

void Worker::RunJob(const amqp::Delivery& delivery) {
  const Job job = JobFromDelivery(delivery);
  if (job.seed_style) {
    RunSeedJob(delivery, job);
  } else {
    RunTypedJob(delivery, job);
  }
}

namespace {

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

TimePoint Now() { return std::chrono::time_point_cast<std::chrono::milliseconds>(std::chrono::system_clock::now()); }

}  // namespace

// The classic demo's path: print the framing lines, run, ack. There is no job record to update.
void Worker::RunSeedJob(const amqp::Delivery& delivery, const Job& job) {
  Output(fmt::format(" [x] Received {}", job.type));
  if (const Handler* handler = registry_.Find(job)) {
    JobContext ctx(job, [](std::string_view line) { Output(line); });
    const HandlerResult result = Invoke(*handler, ctx);
    if (result.outcome == Outcome::kFailed) {
      spdlog::error("seed job '{}' on {} failed: {}", job.type, job.queue, result.error);
    }
  }
  Output(" [x] Done");
  Settle(delivery, amqp::Settlement::kAck);
}

JobEvent Worker::MakeEvent(const Job& job, EventKind kind) const {
  JobEvent e;
  e.job_id = job.id;
  e.kind = kind;
  e.attempt = job.attempt;
  e.at = Now();
  e.worker = options_.worker_id;
  return e;
}

void Worker::RunTypedJob(const amqp::Delivery& delivery, const Job& job) {
  if (job.deadline && Now() > *job.deadline) {
    auto event = MakeEvent(job, EventKind::kExpired);
    event.error = fmt::format("deadline {} passed before the job started", FormatTime(*job.deadline));
    spdlog::info("job {} ({}) expired: {}", job.id, job.type, event.error);
    FinishWith(delivery, job, std::move(event));
    return;
  }
  const Handler* handler = registry_.Find(job);
  if (handler == nullptr) {
    auto event = MakeEvent(job, EventKind::kDead);
    event.error = fmt::format("unknown_type: no handler for job type '{}' (this worker handles: {})", job.type,
                              fmt::join(registry_.Types(), ", "));
    spdlog::error("job {} dead: {}", job.id, event.error);
    FinishWith(delivery, job, std::move(event));
    return;
  }
  // `started` needs no confirm of its own: the outcome event settles the delivery, and the recorder
  // converges whichever order the two arrive in.
  events_->Publish(amqp::EncodeEventMessage(MakeEvent(job, EventKind::kStarted), job.queue, job.type),
                   [](amqp::PublishOutcome) {});
  spdlog::debug("job {} ({}) attempt {} started", job.id, job.type, job.attempt);
  JobContext ctx(job, [](std::string_view line) { Output(line); });
  HandlerResult result = Invoke(*handler, ctx);
  if (result.outcome == Outcome::kSucceeded) {
    auto event = MakeEvent(job, EventKind::kSucceeded);
    event.result = std::move(result.result);
    FinishWith(delivery, job, std::move(event));
    return;
  }
  // Retries with backoff arrive with the worker engine; until then a failed attempt is final.
  auto event = MakeEvent(job, EventKind::kDead);
  event.error = std::move(result.error);
  spdlog::warn("job {} ({}) attempt {} failed: {}", job.id, job.type, job.attempt, event.error);
  FinishWith(delivery, job, std::move(event));
}

void Worker::FinishWith(const amqp::Delivery& delivery, const Job& job, JobEvent event) {
  const auto kind = event.kind;
  events_->Publish(amqp::EncodeEventMessage(event, job.queue, job.type),
                   [this, delivery, id = job.id, kind](amqp::PublishOutcome outcome) {
                     if (outcome == amqp::PublishOutcome::kConfirmed) {
                       Settle(delivery, amqp::Settlement::kAck);
                       return;
                     }
                     // The outcome is not safely recorded: hand the job back so it runs again rather than
                     // vanish (at-least-once).
                     spdlog::warn("job {}: {} event not confirmed ({}); handing the job back", id, ToString(kind),
                                  amqp::ToString(outcome));
                     Settle(delivery, amqp::Settlement::kRequeue);
                   });
}

void Worker::Settle(const amqp::Delivery& delivery, amqp::Settlement settlement) {
  {
    std::lock_guard lock(mu_);
    if (abandoned_) {
      return;  // Drain already handed every running job back; a second settlement would be refused
    }
  }
  consumer_->Settle(delivery, settlement);
}

bool Worker::Drain(std::chrono::milliseconds grace) {
  consumer_->StopConsuming();
  std::deque<amqp::Delivery> not_started;
  {
    std::lock_guard lock(mu_);
    draining_ = true;
    not_started.swap(ready_);
  }
  cv_.notify_all();
  for (const auto& d : not_started) {
    consumer_->Settle(d, amqp::Settlement::kRequeue);
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
      spdlog::warn("draining: {} job(s) still running after the grace period; handing them back to the broker",
                   running_.size());
      for (const auto& [key, d] : running_) {
        consumer_->Settle(d, amqp::Settlement::kRequeue);
      }
    }
  }
  // Outcome events still in flight settle their deliveries when confirmed (or hand them back).
  events_->Stop();
  consumer_->Stop();
  return finished;
}

namespace {

// Blocks SIGINT/SIGTERM in every thread created after this call; the main thread waits for them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

int RunWork(const Settings& settings) {
  const sigset_t stop_signals = BlockStopSignals();

  HandlerRegistry registry;
  RegisterDemoHandlers(registry);
  RegisterBuiltinHandlers(registry);

  WorkerOptions options;
  options.connection.url = settings.amqp_url;
  options.connection.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  options.connection.name = fmt::format("warren work pid {}", getpid());
  options.queues = settings.queues;
  options.concurrency = settings.concurrency;
  options.reconnect_max = settings.reconnect_max;
  options.publish_timeout = settings.publish_timeout;
  char host[256] = {};
  gethostname(host, sizeof host - 1);
  options.worker_id = fmt::format("{}:{}", host, getpid());

  std::string queues;
  for (const auto& q : settings.queues) {
    queues += queues.empty() ? q : "," + q;
  }
  spdlog::info("worker starting: queues {}, concurrency {}, handlers: {}", queues, settings.concurrency,
               fmt::join(registry.Types(), ", "));
  auto worker = std::make_unique<Worker>(options, registry);

  int sig = 0;
  sigwait(&stop_signals, &sig);
  spdlog::info("received {}: draining (a second signal exits at once)", sig == SIGINT ? "SIGINT" : "SIGTERM");

  auto drained = std::async(std::launch::async, [&] { return worker->Drain(settings.grace); });
  const timespec poll_interval{0, 100'000'000};
  while (drained.wait_for(std::chrono::milliseconds(0)) != std::future_status::ready) {
    if (sigtimedwait(&stop_signals, nullptr, &poll_interval) > 0) {
      spdlog::warn("second signal: exiting now; unacked jobs return to their queues");
      std::_Exit(1);
    }
  }
  const bool finished = drained.get();
  if (!finished) {
    // Handlers still running cannot be joined; their messages were handed back already.
    spdlog::info("worker stopped");
    std::fflush(nullptr);
    std::_Exit(0);
  }
  worker.reset();
  spdlog::info("worker stopped");
  return 0;
}

}  // namespace warren::worker
