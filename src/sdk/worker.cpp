#include "warren/worker.hpp"

#include <array>
#include <atomic>
#include <csignal>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <vector>

#include <pthread.h>
#include <unistd.h>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/connection.hpp"
#include "core/log.hpp"
#include "core/names.hpp"
#include "sdk/access.hpp"
#include "worker/work.hpp"
#include "worker/worker.hpp"

namespace warren {

namespace {

worker::WorkerOptions EngineOptions(const WorkerOptions& o) {
  if (o.concurrency < 1) {
    throw std::invalid_argument(
        fmt::format("WorkerOptions::concurrency: expected 1 or more, got {}", o.concurrency));
  }
  if (o.queues.empty()) {
    throw std::invalid_argument("WorkerOptions::queues: name at least one queue");
  }
  for (const auto& q : o.queues) {
    if (auto why = InvalidJobQueueName(q)) {
      throw std::invalid_argument(fmt::format("WorkerOptions::queues: {}", *why));
    }
  }
  amqp::SplitAmqpUrls(o.amqp_url);  // throws std::invalid_argument naming the problem
  worker::WorkerOptions e;
  e.connection.url = o.amqp_url;
  e.queue_type = sdk::QueueTypeOf(o.quorum_queues, o.priority_queues, "WorkerOptions");
  e.connection.heartbeat = o.heartbeat;
  e.connection.name = fmt::format("warren sdk worker pid {}", getpid());
  e.queues = o.queues;
  e.concurrency = o.concurrency;
  e.reconnect_max = o.reconnect_max;
  e.publish_timeout = o.publish_timeout;
  e.retry = RetryPolicy{o.retry_base, o.retry_cap, o.retry_jitter};
  e.kill_grace = o.kill_grace;
  e.worker_id = o.worker_id;
  if (e.worker_id.empty()) {
    std::array<char, 256> host{};
    gethostname(host.data(), host.size() - 1);
    e.worker_id = fmt::format("{}:{}", host.data(), getpid());
  }
  return e;
}

}  // namespace

void configure_logging(const std::string& level, const std::string& format) {
  SetupLogging(level, format, "worker");
}

struct Worker::Impl {
  explicit Impl(WorkerOptions o) : options(std::move(o)) {}

  const WorkerOptions options;
  // Both are heap objects so that a drain which leaves handlers running can let go of them (see stop).
  std::unique_ptr<worker::HandlerRegistry> registry = std::make_unique<worker::HandlerRegistry>();
  std::unique_ptr<worker::Worker> engine;  // set by start(); reset or released by stop()/run()
  bool stopped = false;                    // a Worker runs once
  // A handler ignored its stop token: latched here, since the engine is gone once stopped.
  std::atomic<bool> recycle_requested{false};

  std::mutex mu;
  bool in_run = false;     // guarded by mu: run() waits for a signal on run_thread
  pthread_t run_thread{};  // guarded by mu
  std::optional<std::chrono::milliseconds> stop_grace;  // guarded by mu: stop() during run()

  // Wakes run() (its thread has SIGTERM blocked and waits in sigwait). False when run() is not waiting.
  bool WakeRun(std::optional<std::chrono::milliseconds> grace) {
    std::lock_guard lock(mu);
    if (!in_run) {
      return false;
    }
    if (grace) {
      stop_grace = grace;
    }
    // Not a kill: run()'s thread has SIGTERM blocked and takes it with sigwait.
    pthread_kill(run_thread, SIGTERM);  // NOLINT(bugprone-bad-signal-to-kill-thread)
    return true;
  }

  // run() is over: stop() no longer signals its thread. A wake-up already sent (a stop() during the
  // teardown, or during a start() that threw) is still pending on it and would kill the process once
  // the old mask is back: take those. A stop signal from elsewhere is the program's to handle, so it
  // is raised again after the mask is restored.
  void LeaveRun(const sigset_t& signals, const sigset_t& previous) {
    {
      std::lock_guard lock(mu);
      in_run = false;
    }
    std::vector<int> external;
    const timespec zero{0, 0};
    siginfo_t info{};
    while (sigtimedwait(&signals, &info, &zero) > 0) {
      if (info.si_pid != getpid()) {
        external.push_back(info.si_signo);
      }
    }
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    for (const int sig : external) {
      raise(sig);
    }
  }
};

Worker::Worker(WorkerOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}

Worker::~Worker() {
  if (impl_->engine && !impl_->stopped) {
    stop();
  }
}

void Worker::add_handler(std::string type, Handler fn) {
  if (auto why = InvalidTypeName(type)) {
    throw std::invalid_argument(fmt::format("Worker::handle: {}", *why));
  }
  if (impl_->engine || impl_->stopped) {
    throw std::logic_error("Worker::handle: register handlers before start()");
  }
  impl_->registry->Register(std::move(type), sdk::Adapt(std::move(fn)));
}

std::vector<std::string> Worker::types() const {
  // After a stop() that left handlers running, the registry went with them.
  return impl_->registry ? impl_->registry->Types() : std::vector<std::string>{};
}

void Worker::start() {
  if (impl_->engine || impl_->stopped) {
    throw std::logic_error("Worker::start: a Worker starts once");
  }
  auto options = EngineOptions(impl_->options);
  options.on_recycle = [impl = impl_.get()] {
    impl->recycle_requested = true;
    if (!impl->WakeRun(std::nullopt)) {
      spdlog::error("a handler ignored its stop token: this worker should be stopped and restarted");
    }
  };
  try {
    options.queues_checked = worker::Worker::CheckQueues(options);
  } catch (const amqp::QueueMismatchError& e) {
    throw std::runtime_error(e.what());  // the SDK's headers do not expose the AMQP layer
  }
  // The engine's threads must never take SIGINT/SIGTERM: run() waits for them with sigwait, and a
  // program with its own handlers wants them on its own threads.
  sigset_t previous;
  worker::BlockStopSignals(&previous);
  std::string queues;
  for (const auto& q : options.queues) {
    queues += queues.empty() ? q : "," + q;
  }
  spdlog::info("worker starting: queues {}, concurrency {}, handlers: {}", queues, options.concurrency,
               fmt::join(impl_->registry->Types(), ", "));
  try {
    impl_->engine = std::make_unique<worker::Worker>(std::move(options), *impl_->registry);
  } catch (...) {
    pthread_sigmask(SIG_SETMASK, &previous, nullptr);
    throw;
  }
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

int Worker::run() {
  if (impl_->stopped) {
    throw std::logic_error("Worker::run: this Worker was stopped already");
  }
  sigset_t previous;
  const sigset_t signals = worker::BlockStopSignals(&previous);
  {
    std::lock_guard lock(impl_->mu);
    impl_->in_run = true;
    impl_->run_thread = pthread_self();
  }
  int code = 0;
  try {
    if (!impl_->engine) {
      start();
    }
    worker::WaitForStopSignal(signals);
    std::chrono::milliseconds grace = impl_->options.grace;
    {
      std::lock_guard lock(impl_->mu);
      grace = impl_->stop_grace.value_or(grace);
    }
    code = worker::DrainWatchingSignals(impl_->engine, signals, grace);
  } catch (...) {
    impl_->LeaveRun(signals, previous);
    throw;
  }
  {
    std::lock_guard lock(impl_->mu);
    impl_->stopped = true;
  }
  impl_->LeaveRun(signals, previous);
  return code;
}

bool Worker::stop(std::chrono::milliseconds grace) {
  if (impl_->WakeRun(grace)) {
    return true;
  }
  if (impl_->stopped || !impl_->engine) {
    impl_->stopped = true;
    return true;
  }
  impl_->stopped = true;
  const bool finished = impl_->engine->Drain(grace);
  if (finished) {
    impl_->engine.reset();
    spdlog::info("worker stopped");
    return true;
  }
  // Joining the handlers still running could block for ever: let them finish on their own, with the
  // engine and the registry they use.
  spdlog::warn("worker stopped; handlers still running are left to finish on their own");
  static_cast<void>(impl_->engine.release());
  static_cast<void>(impl_->registry.release());
  return false;
}

bool Worker::stop() { return stop(impl_->options.grace); }

bool Worker::wait_connected(std::chrono::milliseconds timeout) const {
  return impl_->engine && impl_->engine->WaitConnected(timeout);
}

bool Worker::needs_restart() const { return impl_->recycle_requested.load(); }

}  // namespace warren
