// A thread that owns one AMQP connection for consuming. Deliveries go to a callback (which hands them
// to executors); settlements (ack, requeue, reject) come back from any thread through a queue, so the
// connection's thread keeps servicing heartbeats while jobs run. Reconnects with capped backoff.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "amqp/connection.hpp"
#include "amqp/message.hpp"

namespace warren::amqp {

enum class Settlement {
  kAck,      // done: remove from the queue
  kRequeue,  // hand back to the queue (shutdown before the job started)
  kReject,   // remove without success (dead-letters when the queue has a dead-letter exchange)
};

struct ConsumerOptions {
  ConnectionOptions connection;
  Topology declare;                 // declared on every (re)connect
  std::vector<std::string> consume;  // queues consumed after declaring
  // Queues of `consume` not consumed at first (SetPaused changes the set at run time).
  std::vector<std::string> start_paused;
  uint16_t prefetch = 1;
  // 0: `prefetch` is fixed. Otherwise each consumer may hold up to `max_prefetch` unacked deliveries,
  // and the channel as a whole `prefetch`, which SetPrefetch moves at run time (a worker lends the
  // slots of finished jobs still waiting for their outcome's confirm). A worker consuming several
  // classic queues thus holds no more than the channel limit in all.
  uint16_t max_prefetch = 0;
  // False for quorum queues, which refuse to be consumed on a channel with a global basic.qos: then
  // only the per-consumer limit `prefetch` applies (max_prefetch and SetPrefetch are ignored).
  bool channel_prefetch = true;
  std::chrono::milliseconds reconnect_max{5000};
  std::string thread_name = "amqp-consumer";  // of the connection's thread (top -H, perf)
};

// Runs on the consumer's thread: must not block. `Delivery::connection_generation` tells Settle which
// connection the delivery tag belongs to.
using DeliveryCallback = std::function<void(Delivery)>;

class Consumer {
 public:
  Consumer(ConsumerOptions options, DeliveryCallback on_delivery);
  ~Consumer();  // Stop()
  Consumer(const Consumer&) = delete;
  Consumer& operator=(const Consumer&) = delete;

  // Thread-safe. A delivery from a connection that has since been lost is not settled: the broker has
  // already requeued it.
  void Settle(const Delivery& delivery, Settlement settlement);
  // False once the delivery's connection is lost: the broker has requeued it and hands it out again
  // (marked redelivered), so whoever still holds it must not start it. Thread-safe.
  bool IsLive(const Delivery& delivery) const;
  // The channel-wide prefetch (see ConsumerOptions::max_prefetch), applied soon after; thread-safe.
  void SetPrefetch(uint16_t prefetch);
  // Stops (basic.cancel) or restarts (basic.consume) the subscriptions of queues of `consume` so that
  // exactly those not in `queues` are consumed. Deliveries already sent still arrive. Thread-safe;
  // applied soon after, and again on every reconnect.
  void SetPaused(std::set<std::string> queues);
  // Cancels the subscriptions (no new deliveries); settlements still go out. Thread-safe.
  void StopConsuming();
  // Waits for queued settlements to go out (bounded), closes the connection, joins the thread.
  void Stop();
  bool Connected() const;
  bool WaitConnected(std::chrono::milliseconds timeout) const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::amqp
