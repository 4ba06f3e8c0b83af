#include "worker/worker.hpp"

#include <csignal>
#include <cstdlib>
#include <exception>
#include <future>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "core/log.hpp"
#include "worker/demo_handlers.hpp"
#include "worker/work.hpp"

namespace warren::worker {

Worker::Worker(WorkerOptions options, const HandlerRegistry& registry)
    : options_(std::move(options)), registry_(registry) {
  for (int i = 0; i < options_.concurrency; ++i) {
    executors_.emplace_back([this] { ExecutorLoop(); });
  }
  amqp::ConsumerOptions consumer_options;
  consumer_options.connection = options_.connection;
  for (const auto& q : options_.queues) {
    // Plain durable queues with no arguments: the demo's own `queue_declare(durable=True)` must match.
    consumer_options.queues.push_back(amqp::QueueSpec{q, {}, {}});
  }
  consumer_options.prefetch = static_cast<uint16_t>(options_.concurrency);
  consumer_options.reconnect_max = options_.reconnect_max;
  consumer_ = std::make_unique<amqp::Consumer>(std::move(consumer_options),
                                               [this](amqp::Delivery d) { OnDelivery(std::move(d)); });
}

Worker::~Worker() {
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
    RunJob(delivery);
    bool settle = true;
    {
      std::lock_guard lock(mu_);
      running_.erase(Key(delivery));
      settle = !abandoned_;
    }
    cv_.notify_all();
    if (settle) {
      consumer_->Settle(delivery, amqp::Settlement::kAck);
    }
  }
}

void Worker::RunJob(const amqp::Delivery& delivery) {
  const Job job = JobFromDelivery(delivery);
  Output(fmt::format(" [x] Received {}", job.type));
  const Handler* handler = registry_.Find(job);
  if (handler == nullptr) {
    // Until dead-lettering exists, an unknown typed job is logged loudly and acked, never requeued
    // forever (it would loop through every worker).
    spdlog::error("job {} of unknown type '{}' on queue {}: no handler; dropped", job.id, job.type, job.queue);
    Output(" [x] Done");
    return;
  }
  JobContext ctx(job, [](std::string_view line) { Output(line); });
  try {
    const HandlerResult result = (*handler)(ctx);
    if (result.outcome == Outcome::kFailed) {
      spdlog::error("job {} ({}) failed: {}", job.id, job.type, result.error);
    }
  } catch (const std::exception& e) {
    spdlog::error("job {} ({}) threw: {}", job.id, job.type, e.what());
  } catch (...) {
    spdlog::error("job {} ({}) threw a non-standard exception", job.id, job.type);
  }
  Output(" [x] Done");
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

  WorkerOptions options;
  options.connection.url = settings.amqp_url;
  options.connection.heartbeat = std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  options.connection.name = fmt::format("warren work pid {}", getpid());
  options.queues = settings.queues;
  options.concurrency = settings.concurrency;
  options.reconnect_max = settings.reconnect_max;

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
