// A worker: one consumer connection feeding `concurrency` executor threads. Prefetch equals the
// number of executors, so a busy worker never hoards messages another worker could run.
#pragma once

#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "amqp/consumer.hpp"
#include "amqp/publisher.hpp"
#include "worker/handler_registry.hpp"

namespace warren::worker {

struct WorkerOptions {
  amqp::ConnectionOptions connection;
  std::vector<std::string> queues{"default", "task_queue"};
  int concurrency = 1;
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds publish_timeout{5000};
  std::string worker_id;  // host:pid; named in attempt history
};

class Worker {
 public:
  Worker(WorkerOptions options, const HandlerRegistry& registry);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool WaitConnected(std::chrono::milliseconds timeout) const;
  // Stops consuming, hands back jobs not yet started, waits up to `grace` for running jobs to finish
  // and be acked. Returns false when some were still running (their messages are handed back too).
  bool Drain(std::chrono::milliseconds grace);

 private:
  void OnDelivery(amqp::Delivery delivery);  // consumer thread
  void ExecutorLoop();
  // Runs the job and arranges its settlement (directly, or once its outcome event is confirmed).
  void RunJob(const amqp::Delivery& delivery);
  void RunSeedJob(const amqp::Delivery& delivery, const Job& job);
  void RunTypedJob(const amqp::Delivery& delivery, const Job& job);
  // Publishes the outcome event; acks the delivery once the broker confirmed it, hands it back if not.
  void FinishWith(const amqp::Delivery& delivery, const Job& job, JobEvent event);
  JobEvent MakeEvent(const Job& job, EventKind kind) const;
  void Settle(const amqp::Delivery& delivery, amqp::Settlement settlement);
  static std::string Key(const amqp::Delivery& d);

  const WorkerOptions options_;
  const HandlerRegistry& registry_;

  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<amqp::Delivery> ready_;               // guarded by mu_
  std::map<std::string, amqp::Delivery> running_;  // guarded by mu_; keyed by generation and tag
  bool draining_ = false;                          // guarded by mu_
  bool abandoned_ = false;                         // guarded by mu_: grace ran out, running jobs handed back

  std::vector<std::thread> executors_;
  std::unique_ptr<amqp::Publisher> events_;   // lifecycle events, on a connection of their own
  std::unique_ptr<amqp::Consumer> consumer_;  // last: its callback uses the members above
};

}  // namespace warren::worker
