// Warren C++ SDK: a worker in your own binary. Register handlers by job type, then run().
//
//   warren::Worker worker({.queues = {"images"}, .concurrency = 4});
//   worker.handle("resize", [](warren::JobContext& job) -> nlohmann::json { ... });
//   return worker.run();  // until SIGINT/SIGTERM, then drains like `warren work`
//
// The worker needs only RabbitMQ: it reports every state change as an event on warren.events, which
// `warren serve` records. Retries, backoff, dead-lettering, timeouts and cancellation behave exactly as
// in `warren work` (it is the same engine).
#pragma once

#include <chrono>
#include <concepts>
#include <memory>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include "warren/job.hpp"

namespace warren {

struct WorkerOptions {
  // One broker, or a cluster's nodes comma-separated (tried in turn).
  std::string amqp_url = "amqp://guest:guest@127.0.0.1:5672/";
  // Declare Warren's queues as quorum queues, as `amqp.queue_type = "quorum"` does: every process
  // sharing the broker must agree, or the second declaration fails.
  bool quorum_queues = false;
  // Declare job queues with message priorities, as `amqp.queue_type = "priority"` does: a queue's
  // jobs of higher `priority` run first. Not with quorum_queues (3.10's quorum queues have none).
  bool priority_queues = false;
  std::vector<std::string> queues{"default"};
  int concurrency = 1;  // executor threads; also the prefetch
  // stop()/run(): how long running jobs have to finish before their stop tokens fire and their
  // messages go back to the queue.
  std::chrono::milliseconds grace{30000};
  // After a timeout or cancel, how long a handler has to return before the worker gives up on it.
  std::chrono::milliseconds kill_grace{10000};
  // The wait before retry n is min(retry_cap, retry_base * 2^(n-1)), shortened at random by up to
  // retry_jitter of itself.
  std::chrono::milliseconds retry_base{1000};
  std::chrono::milliseconds retry_cap{60 * 60 * 1000};
  double retry_jitter = 0.25;
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds publish_timeout{5000};  // confirms of events, retries and dead jobs
  std::chrono::milliseconds reconnect_max{5000};    // the longest wait between reconnect attempts
  // Named in attempt history and events; empty: "<host>:<pid>".
  std::string worker_id;
};

// Optional: the engine logs through spdlog to stderr; this sets the level ("trace", "debug", "info",
// "warn", "error", "off") and format ("text" or "json" lines) as `warren work` does.
void configure_logging(const std::string& level = "info", const std::string& format = "text");

class Worker {
 public:
  explicit Worker(WorkerOptions options = {});
  ~Worker();  // stop() when started and not stopped
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  // Registers the handler for job type `type` (replacing an earlier one). `fn` takes JobContext& and
  // returns nlohmann::json, anything convertible to it, or void (a null result). Throwing
  // warren::FatalError sends the job to warren.dead at once; any other exception fails the attempt,
  // which is retried while attempts remain. Register before start().
  template <class F>
  requires std::invocable<F&, JobContext&>
  void handle(std::string type, F fn) {
    using R = std::invoke_result_t<F&, JobContext&>;
    if constexpr (std::is_void_v<R>) {
      add_handler(std::move(type), Handler([fn = std::move(fn)](JobContext& job) mutable -> nlohmann::json {
                    fn(job);
                    return nullptr;
                  }));
    } else {
      static_assert(std::is_constructible_v<nlohmann::json, R>,
                    "a handler returns void, nlohmann::json or something convertible to it");
      add_handler(std::move(type), Handler([fn = std::move(fn)](JobContext& job) mutable -> nlohmann::json {
                    return nlohmann::json(fn(job));
                  }));
    }
  }
  [[nodiscard]] std::vector<std::string> types() const;  // the registered job types

  // Connects and starts consuming; returns at once (the connection is made in the background; see
  // wait_connected). Throws std::logic_error when already started, std::invalid_argument on bad options,
  // std::runtime_error when a queue it needs exists with other arguments (another queue type: every
  // process on a vhost must agree, docs/scaling.md). An unreachable broker is retried, not thrown.
  void start();
  // Starts (unless started) and blocks until SIGINT or SIGTERM, or stop() from another thread, then
  // drains for up to options.grace; a second signal exits the process at once. Returns the process
  // exit code: 0. When handlers are still running after the grace, or one ignored its stop token past
  // the kill grace, run() exits the process itself (code 0, or 3 to be restarted), as `warren work`
  // does: their threads cannot be joined. SIGINT/SIGTERM stay blocked in the calling thread while
  // run() blocks; call it from main.
  int run();
  // Stops consuming, hands back jobs not yet started, waits up to `grace` for running jobs, then fires
  // the stop tokens of the rest and hands their messages back. Returns false when some were still
  // running (their threads are left to finish on their own). Called while run() blocks, it makes run()
  // drain for `grace` and return, and returns true without waiting.
  bool stop(std::chrono::milliseconds grace);
  bool stop();  // stop(options.grace)

  // True once connected to RabbitMQ (consumer, control and publisher connections).
  // Call it between start() and stop(), or while run() blocks after start(): not at the same time as
  // start() itself or as a stop that is tearing the worker down.
  [[nodiscard]] bool wait_connected(std::chrono::milliseconds timeout) const;
  // True once a handler ignored its stop token past the kill grace: the process should restart. Stays
  // true after stop() or run() returned; safe from any thread.
  [[nodiscard]] bool needs_restart() const;

 private:
  void add_handler(std::string type, Handler fn);
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren
