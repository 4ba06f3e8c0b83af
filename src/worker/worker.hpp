// A worker: one consumer connection feeding `concurrency` executor threads. Prefetch follows the free
// executors, so a busy worker never hoards messages another worker could run.
//
// Every typed job ends its delivery in exactly one of these ways, and the delivery is acked only once
// what replaces it is confirmed by the broker: an outcome event (succeeded, cancelled, expired), the
// job again for its next attempt or its time (through the delay tiers), or the job in warren.dead
// together with its dead event. Anything unconfirmed hands the delivery back instead.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <stop_token>
#include <string>
#include <thread>
#include <vector>

#include "amqp/consumer.hpp"
#include "amqp/publisher.hpp"
#include "core/retry.hpp"
#include "worker/event_batcher.hpp"
#include "worker/handler_registry.hpp"
#include "worker/queue_gate.hpp"
#include "worker/recent_set.hpp"

namespace warren::worker {

struct WorkerOptions {
  amqp::ConnectionOptions connection;
  QueueType queue_type = QueueType::kClassic;  // how its queues are declared (quorum: no global prefetch)
  std::vector<std::string> queues{"default", "task_queue"};
  // Queue -> priority (default 0): a queue is consumed only while every queue of a higher priority
  // has nothing ready (QueueGate).
  std::map<std::string, int> queue_priorities;
  int concurrency = 1;
  // At most N jobs of a type at once. Deliveries of a type at its limit wait in the worker while
  // other types run; up to `concurrency` of them are held without taking a slot from the others.
  std::map<std::string, int> type_limits;
  std::chrono::milliseconds reconnect_max{5000};
  std::chrono::milliseconds publish_timeout{5000};
  std::string worker_id;  // host:pid; named in attempt history
  RetryPolicy retry;
  // After a timeout or cancel, how long a handler has to stop before the worker gives up on it.
  Duration kill_grace{10000};
  // Called (once) when a handler ignored its stop past the kill grace: the attempt has been reported
  // failed, and the process should drain and restart rather than run on beside a runaway thread.
  std::function<void()> on_recycle;
  // Typed jobs wait (once, at start-up) up to this long for `serve`'s replay of recent cancels, which
  // answers a new worker's first heartbeat; 0: no wait. `warren work` waits 2 s at most.
  std::chrono::milliseconds cancel_replay_wait{0};
  // How often the worker announces itself (GET /v1/workers; gone after three missed heartbeats).
  std::chrono::milliseconds heartbeat_interval{5000};
  // CheckQueues declared the worker's queues and waited for them to settle. When false (the broker
  // was unreachable then), the worker's publisher holds its first confirms until its own first
  // declarations are a second old (decision 76).
  bool queues_checked = false;
};

class Worker {
 public:
  // Declares once what a worker with `options` declares; throws amqp::QueueMismatchError when one of
  // its queues exists with other arguments (another queue type). An unreachable broker is not an
  // error here: the worker's connections retry it. Call before constructing the worker, and set
  // `queues_checked` to what it returns (true: the queues were declared and have settled).
  static bool CheckQueues(const WorkerOptions& options);

  Worker(WorkerOptions options, const HandlerRegistry& registry);
  ~Worker();
  Worker(const Worker&) = delete;
  Worker& operator=(const Worker&) = delete;

  bool WaitConnected(std::chrono::milliseconds timeout) const;
  // Stops consuming, hands back jobs not yet started, waits up to `grace` for running jobs to finish
  // and be acked, then stops the rest (their stop tokens fire) and hands their messages back.
  // Returns false when some were still running.
  bool Drain(std::chrono::milliseconds grace);
  // True once a handler ignored its stop past the kill grace (see WorkerOptions::on_recycle).
  bool NeedsRecycle() const { return recycle_.load(); }

 private:
  struct Running;
  void OnDelivery(amqp::Delivery delivery);  // consumer thread
  void OnControl(const amqp::Delivery& delivery);  // control consumer thread
  void ExecutorLoop();
  void WatchdogLoop(const std::stop_token& stop);
  void RunJob(Running& run);
  void RunSeedJob(Running& run);
  void RunTypedJob(Running& run);
  // The attempt failed: the job goes again after its backoff while attempts remain, else to warren.dead.
  void Fail(Running& run, const std::string& error, bool retryable, const std::string& dead_reason);
  void Dead(Running& run, const std::string& error, const std::string& reason);
  // Publishes `messages` (all-or-nothing) and acks the delivery once all are confirmed.
  // `ends_attempt`: the messages are the attempt's outcome (a retry, a dead letter), so a copy of this
  // delivery is acked later (SettledHere); false for a delivery only moved (an early delayed job).
  void PublishThenAck(Running& run, std::vector<amqp::OutgoingMessage> messages, std::string what,
                      bool ends_attempt = true);
  // The callback that acks the delivery once confirmed (and hands it back otherwise); empty when the
  // delivery is no longer running. Counts the delivery as awaiting its confirm (see prefetch).
  amqp::PublishCallback AckWhenConfirmed(Running& run, std::string what, bool ends_attempt = true);
  void FinishWith(Running& run, JobEvent event);
  // A line of the attempt's own log, shipped to the store as a kLog event (see ShipLog).
  // False when the attempt's log is full and the line was only counted.
  bool AddLogLine(Running& run, std::string_view text);
  // Sends the attempt's waiting log lines as one kLog event: all of them, or (the watchdog's call)
  // only once the oldest has waited kLogFlushAfter.
  void ShipLog(Running& run, bool all);
  JobEvent MakeEvent(const Job& job, EventKind kind) const;
  JobEvent MakeNotStartedEvent(const Job& job, EventKind kind) const;
  void Settle(Running& run, amqp::Settlement settlement);
  void UpdatePrefetchLocked();  // with mu_ held
  // Hands back the failed hops due by `until` (all of them with time_point::max()). Takes mu_.
  void HandBackFailedHops(std::chrono::steady_clock::time_point until);
  // Stops the watchdog and does at once what its next ticks would have: hands back the failed hops
  // and sends the lingering events. Drain's and the destructor's first step.
  void StopWatchdog();
  void DropLostDeliveriesLocked();  // with mu_ held
  // Attempts whose outcome this worker had confirmed: a redelivery of one (its ack lost with the
  // connection) is acked, not run again. The newest 100,000 (settled_).
  void RememberSettled(const Job& job);
  // What this worker knows of a delivery's attempt (see Copy), read under one lock: the outcome's
  // confirm records the attempt as settled before it lets go of the copies waiting for it, so one of
  // the two is always seen. Holds the copy (kFollowing) or takes its never-started mark.
  enum class Copy {
    kNew,               // nothing known here: run it (or, redelivered, count the lost attempt)
    kSettledHere,       // its outcome was confirmed here: the ack was lost, or the outbox sent it twice
    kFollowing,         // redelivered while its handler still runs here (a consumer timeout): held
    kNeverStartedHere,  // redelivered after this worker let it go unstarted (a lost connection)
  };
  Copy ClassifyCopy(Running& run);
  // A delivery that never started here goes back to its queue (Drain): see the definition.
  void HandBack(const amqp::Delivery& delivery);
  // The original's outcome is known: ack the copies held for it when confirmed, else hand them back.
  void SettleFollowers(const Job& job, bool confirmed);
  // With mu_ held: whether a delivery may start now (its type is under its limit).
  bool MayStartLocked(const amqp::Delivery& delivery) const;
  size_t HeldLocked() const;  // with mu_ held: ready deliveries waiting for their type's limit
  static std::string TypeOf(const amqp::Delivery& delivery);
  // Whether a cancel heard here is for this job's message: not for a retry the API made after it.
  bool Cancels(const Job& job);
  bool CancelsLocked(const Job& job) const;  // with mu_ held
  void WaitForCancelReplay();
  nlohmann::json Heartbeat(std::string_view state);
  void PublishHeartbeat(std::string_view state);
  static std::string Key(const amqp::Delivery& d);

  const WorkerOptions options_;
  const HandlerRegistry& registry_;

  std::mutex mu_;
  std::condition_variable cv_;  // executors (a delivery to start) and Drain (running_ empty)
  // The cancel-replay wait's own, so that a delivery's notify_one on cv_ cannot land on an executor
  // waiting for the replay while an idle one sleeps on.
  std::condition_variable replay_cv_;
  std::deque<amqp::Delivery> ready_;                       // guarded by mu_
  std::map<std::string, std::shared_ptr<Running>> running_;  // guarded by mu_; keyed by generation and tag
  bool draining_ = false;                                  // guarded by mu_
  bool abandoned_ = false;  // guarded by mu_: grace ran out, running jobs handed back
  // guarded by mu_: job ids cancelled by the API, with the cancel's time when it said (see Cancels)
  RecentMap<std::optional<TimePoint>> cancelled_{100'000};
  RecentSet settled_{100'000};            // guarded by mu_: "id/attempt" whose outcome was confirmed
  // guarded by mu_: "id/attempt" of deliveries let go unstarted (dropped with a lost connection, or
  // requeued after a delay-tier hop was not confirmed); the broker hands them out again marked
  // redelivered, which is no lost attempt when they come back here
  RecentSet never_started_{10'000};
  // guarded by mu_: jobs on their way to a later delay tier whose hop was not confirmed, handed back a
  // second later (by the watchdog) rather than at once: while RabbitMQ refuses publishes (an alarm),
  // an immediate requeue would come straight back and spin
  std::vector<std::pair<std::chrono::steady_clock::time_point, std::shared_ptr<Running>>> hops_to_hand_back_;
  // guarded by mu_: "id/attempt" of attempts whose handler started here and whose outcome is not yet
  // confirmed, with the redeliveries of them held meanwhile (ClassifyCopy)
  std::map<std::string, std::vector<std::shared_ptr<Running>>> unsettled_;
  bool replay_heard_ = false;              // guarded by mu_: a replay of cancels arrived
  std::atomic<bool> replay_checked_{false};  // whether a serve runs was asked once
  std::chrono::steady_clock::time_point replay_deadline_;  // typed jobs wait for a replay until then
  std::mt19937_64 rng_{std::random_device{}()};  // guarded by mu_: retry jitter
  const TimePoint started_at_;
  std::string host_;
  uint64_t jobs_done_ = 0;  // guarded by mu_
  int awaiting_ = 0;  // guarded by mu_: finished jobs whose deliveries wait for a confirm
  std::map<std::string, int> running_by_type_;  // guarded by mu_; only types with a limit
  std::atomic<bool> recycle_{false};

  std::vector<std::thread> executors_;
  std::unique_ptr<amqp::Publisher> publisher_;  // events and republished jobs, on a connection of their own
  std::unique_ptr<EventBatcher> events_;        // lifecycle events through publisher_, grouped
  std::unique_ptr<amqp::Consumer> consumer_;    // its callback uses the members above
  std::unique_ptr<amqp::Consumer> control_;     // cancels, on a private queue bound to warren.control
  std::unique_ptr<QueueGate> gate_;             // pauses lower-priority queues; only with several priorities
  std::jthread watchdog_;                       // timeouts and runaway handlers; stopped first
};

}  // namespace warren::worker
