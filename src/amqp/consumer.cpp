#include "amqp/consumer.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <mutex>
#include <set>
#include <thread>

#include <amqp.h>
#include <amqp_framing.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/frames.hpp"
#include "amqp/waker.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace warren::amqp {
namespace {

std::string FieldToString(const amqp_field_value_t& v) {
  switch (v.kind) {
    case AMQP_FIELD_KIND_UTF8:
    case AMQP_FIELD_KIND_BYTES: return ToString(v.value.bytes);
    case AMQP_FIELD_KIND_I8: return std::to_string(v.value.i8);
    case AMQP_FIELD_KIND_U8: return std::to_string(v.value.u8);
    case AMQP_FIELD_KIND_I16: return std::to_string(v.value.i16);
    case AMQP_FIELD_KIND_U16: return std::to_string(v.value.u16);
    case AMQP_FIELD_KIND_I32: return std::to_string(v.value.i32);
    case AMQP_FIELD_KIND_U32: return std::to_string(v.value.u32);
    case AMQP_FIELD_KIND_I64: return std::to_string(v.value.i64);
    case AMQP_FIELD_KIND_U64: return std::to_string(v.value.u64);
    case AMQP_FIELD_KIND_BOOLEAN: return v.value.boolean != 0 ? "true" : "false";
    default: return {};
  }
}

struct PendingSettle {
  uint64_t tag;
  uint64_t generation;
  Settlement settlement;
};

}  // namespace

class Consumer::Impl {
 public:
  Impl(ConsumerOptions options, DeliveryCallback on_delivery)
      : options_(std::move(options)),
        on_delivery_(std::move(on_delivery)),
        paused_(options_.start_paused.begin(), options_.start_paused.end()) {
    thread_ = std::thread([this] {
      NameThisThread(options_.thread_name);
      Run();
    });
  }

  ~Impl() { Stop(); }

  void Settle(const Delivery& d, Settlement s) {
    {
      std::lock_guard lock(mu_);
      settles_.push_back(PendingSettle{d.delivery_tag, d.connection_generation, s});
    }
    waker_.Wake();
  }

  void SetPrefetch(uint16_t prefetch) {
    {
      std::lock_guard lock(mu_);
      wanted_prefetch_ = prefetch;
    }
    waker_.Wake();
  }

  void SetPaused(std::set<std::string> queues) {
    {
      std::lock_guard lock(mu_);
      if (paused_ == queues) {
        return;
      }
      paused_ = std::move(queues);
      reconcile_ = true;
    }
    waker_.Wake();
  }

  void StopConsuming() {
    {
      std::lock_guard lock(mu_);
      stop_consuming_ = true;
      reconcile_ = true;
    }
    waker_.Wake();
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stop_consuming_ = true;
      reconcile_ = true;
      stopping_ = true;
    }
    waker_.Wake();
    std::call_once(joined_, [this] { thread_.join(); });
  }

  bool Connected() const { return connected_.load(); }

  bool IsLive(const Delivery& d) const { return d.connection_generation == live_generation_.load(); }

  bool WaitConnected(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [this] { return connected_.load(); });
  }

 private:
  void SetConnected(bool c) {
    {
      std::lock_guard lock(mu_);
      connected_.store(c);
    }
    cv_.notify_all();
  }

  void Connect() {
    auto conn = std::make_unique<Connection>(options_.connection, next_url_);
    conn->Declare(options_.declare);
    if (options_.channel_prefetch) {
      uint16_t channel_prefetch = options_.prefetch;
      if (options_.max_prefetch != 0) {
        std::lock_guard lock(mu_);
        channel_prefetch = wanted_prefetch_ != 0 ? wanted_prefetch_ : options_.prefetch;
      }
      // Fixed: the same limit per consumer and per channel (several queues share it).
      conn->Qos(options_.max_prefetch != 0 ? options_.max_prefetch : options_.prefetch, channel_prefetch);
      channel_prefetch_ = channel_prefetch;
    } else {
      conn->Qos(options_.prefetch, 0);
    }
    tag_by_queue_.clear();
    queue_by_tag_.clear();
    for (const auto& q : WantedQueues()) {
      auto tag = conn->Consume(q);
      queue_by_tag_[tag] = q;
      tag_by_queue_[q] = std::move(tag);
    }
    logged_stop_ = false;
    qos_in_flight_ = false;
    unsettled_.clear();
    conn_ = std::move(conn);
    ++generation_;
    live_generation_.store(generation_);
  }

  // Sends queued settlements for the current connection; drops those of lost connections. Acks are
  // coalesced: when every delivery up to tag T is settled, one basic.ack(T, multiple) covers them all,
  // which spares the broker a frame and a channel round per job (bench/README.md, the drain profile).
  // Requeues and rejects go first, so a multiple ack never reaches past an unsettled delivery.
  void FlushSettles() {
    std::vector<PendingSettle> batch;
    {
      std::lock_guard lock(mu_);
      batch.swap(settles_);
    }
    auto* state = static_cast<amqp_connection_state_t>(conn_->Native());
    std::vector<uint64_t> acks;
    for (const auto& s : batch) {
      if (s.generation != generation_) {
        continue;
      }
      unsettled_.erase(s.tag);
      switch (s.settlement) {
        case Settlement::kAck: acks.push_back(s.tag); break;
        case Settlement::kRequeue:
          CheckStatus(amqp_basic_nack(state, Connection::kChannel, s.tag, 0, 1), "basic.nack");
          break;
        case Settlement::kReject:
          CheckStatus(amqp_basic_reject(state, Connection::kChannel, s.tag, 0), "basic.reject");
          break;
      }
    }
    if (acks.empty()) {
      return;
    }
    std::sort(acks.begin(), acks.end());
    // Every tag below the oldest unsettled delivery is settled: acked now, or settled before.
    const uint64_t floor = unsettled_.empty() ? UINT64_MAX : *unsettled_.begin();
    const auto covered = std::lower_bound(acks.begin(), acks.end(), floor);
    if (covered != acks.begin()) {
      const uint64_t upto = *(covered - 1);
      CheckStatus(amqp_basic_ack(state, Connection::kChannel, upto, covered - acks.begin() > 1 ? 1 : 0),
                  "basic.ack");
    }
    for (auto it = covered; it != acks.end(); ++it) {
      CheckStatus(amqp_basic_ack(state, Connection::kChannel, *it, 0), "basic.ack");
    }
  }

  // One basic.qos when the wanted channel prefetch changed, sent without waiting for its qos-ok (a
  // worker at concurrency 4 changes it about every other job; a round trip each stalled deliveries
  // and acks). At most one is in flight; HandleOtherFrame takes its qos-ok.
  void MaybeSetPrefetch() {
    if (options_.max_prefetch == 0 || !options_.channel_prefetch || qos_in_flight_) {
      return;
    }
    uint16_t wanted = 0;
    {
      std::lock_guard lock(mu_);
      wanted = wanted_prefetch_;
    }
    if (wanted != 0 && wanted != channel_prefetch_) {
      amqp_basic_qos_t qos{};
      qos.prefetch_count = wanted;
      qos.global = 1;
      CheckStatus(amqp_send_method(static_cast<amqp_connection_state_t>(conn_->Native()), Connection::kChannel,
                                   AMQP_BASIC_QOS_METHOD, &qos),
                  "basic.qos");
      qos_in_flight_ = true;
      channel_prefetch_ = wanted;
    }
  }

  // The queues to consume now: all of them, less the paused ones; none once consuming stopped.
  std::set<std::string> WantedQueues() const {
    std::lock_guard lock(mu_);
    std::set<std::string> wanted;
    if (!stop_consuming_) {
      for (const auto& q : options_.consume) {
        if (!paused_.contains(q)) {
          wanted.insert(q);
        }
      }
    }
    return wanted;
  }

  // Cancels the subscriptions of queues no longer wanted (paused, or consuming stopped) and starts
  // those of queues wanted again. Deliveries a cancelled subscription had already sent still arrive
  // and run as usual (queue_by_tag_ keeps their queue).
  void ReconcileConsumers() {
    // basic.cancel and basic.consume are synchronous RPCs: wait for an asynchronous qos-ok first (the
    // next loop).
    if (qos_in_flight_) {
      return;
    }
    {
      std::lock_guard lock(mu_);
      if (!reconcile_) {
        return;
      }
      reconcile_ = false;
    }
    const auto wanted = WantedQueues();
    for (auto it = tag_by_queue_.begin(); it != tag_by_queue_.end();) {
      if (wanted.contains(it->first)) {
        ++it;
        continue;
      }
      conn_->Cancel(it->second);
      spdlog::debug("paused consuming {}", it->first);
      it = tag_by_queue_.erase(it);
    }
    for (const auto& q : wanted) {
      if (!tag_by_queue_.contains(q)) {
        auto tag = conn_->Consume(q);
        spdlog::debug("consuming {} again", q);
        queue_by_tag_[tag] = q;
        tag_by_queue_[q] = std::move(tag);
      }
    }
    if (wanted.empty() && !logged_stop_) {
      std::lock_guard lock(mu_);
      if (stop_consuming_) {
        spdlog::info("stopped consuming");
        logged_stop_ = true;
      }
    }
  }

  Delivery ToDelivery(const amqp_envelope_t& env) {
    Delivery d;
    const std::string tag = ToString(env.consumer_tag);
    if (auto it = queue_by_tag_.find(tag); it != queue_by_tag_.end()) {
      d.queue = it->second;
    } else {
      d.queue = ToString(env.routing_key);
    }
    d.routing_key = ToString(env.routing_key);
    d.body = ToString(env.message.body);
    const auto& p = env.message.properties;
    if ((p._flags & AMQP_BASIC_CONTENT_TYPE_FLAG) != 0) {
      d.content_type = ToString(p.content_type);
    }
    if ((p._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
      d.message_id = ToString(p.message_id);
    }
    if ((p._flags & AMQP_BASIC_TYPE_FLAG) != 0) {
      d.type = ToString(p.type);
    }
    if ((p._flags & AMQP_BASIC_PRIORITY_FLAG) != 0) {
      d.priority = p.priority;
    }
    if ((p._flags & AMQP_BASIC_TIMESTAMP_FLAG) != 0) {
      d.timestamp = static_cast<int64_t>(p.timestamp);
    }
    if ((p._flags & AMQP_BASIC_HEADERS_FLAG) != 0) {
      for (int i = 0; i < p.headers.num_entries; ++i) {
        d.headers[ToString(p.headers.entries[i].key)] = FieldToString(p.headers.entries[i].value);
      }
    }
    d.redelivered = env.redelivered != 0;
    d.delivery_tag = env.delivery_tag;
    d.connection_generation = generation_;
    return d;
  }

  // Handles a non-delivery frame that amqp_consume_message left for us.
  void HandleOtherFrame(amqp_connection_state_t state) {
    amqp_frame_t frame{};
    if (!TryReadFrame(state, frame)) {
      return;
    }
    ThrowIfClosed(state, frame);
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_QOS_OK_METHOD) {
      qos_in_flight_ = false;
      return;
    }
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_CANCEL_METHOD) {
      // The broker cancelled us (queue deleted, consumer timeout): start over on a new connection.
      throw AmqpError("the broker cancelled the consumer");
    }
    // basic.cancel-ok, connection.blocked/unblocked: nothing to do for a consumer.
  }

  void ReadAvailable() {
    auto* state = static_cast<amqp_connection_state_t>(conn_->Native());
    for (;;) {
      amqp_envelope_t envelope{};
      timeval zero{0, 0};
      amqp_maybe_release_buffers(state);
      const auto reply = amqp_consume_message(state, &envelope, &zero, 0);
      if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
        Delivery d = ToDelivery(envelope);
        amqp_destroy_envelope(&envelope);
        unsettled_.insert(d.delivery_tag);
        on_delivery_(std::move(d));
        continue;
      }
      if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
        if (reply.library_error == AMQP_STATUS_TIMEOUT) {
          return;
        }
        if (reply.library_error == AMQP_STATUS_UNEXPECTED_STATE) {
          HandleOtherFrame(state);
          continue;
        }
        throw AmqpError(fmt::format("consume: {}", amqp_error_string2(reply.library_error)));
      }
      throw AmqpError("consume: unexpected reply");
    }
  }

  bool DoneStopping() {
    std::lock_guard lock(mu_);
    return stopping_ && settles_.empty();
  }

  void Run() {
    std::chrono::milliseconds backoff{100};
    bool logged_down = false;
    std::string last_error;
    const auto tick = std::chrono::milliseconds(
        std::clamp<int64_t>(options_.connection.heartbeat.count() * 500, 100, 1000));
    while (true) {
      {
        std::lock_guard lock(mu_);
        if (stopping_ && (conn_ == nullptr || settles_.empty())) {
          break;
        }
      }
      if (conn_ == nullptr) {
        try {
          Connect();
          spdlog::info("consumer connected to {}, consuming {} with prefetch {}", conn_->Peer(), QueueNames(),
                       options_.prefetch);
          logged_down = false;
          backoff = std::chrono::milliseconds(100);
          SetConnected(true);
        } catch (const AmqpError& e) {
          // Warn once per distinct reason, so a retry loop neither floods the log nor hides a new cause.
          if (!logged_down || last_error != e.what()) {
            spdlog::warn("consumer cannot reach the broker ({}); retrying with backoff up to {} ms", e.what(),
                         options_.reconnect_max.count());
            logged_down = true;
            last_error = e.what();
          }
          waker_.WaitReadable(nullptr, backoff);
          backoff = std::min(backoff * 2, options_.reconnect_max);
          continue;
        }
      }
      try {
        ReconcileConsumers();
        FlushSettles();
        MaybeSetPrefetch();
        if (DoneStopping()) {
          break;
        }
        waker_.WaitReadable(conn_.get(), tick);
        ReadAvailable();  // also lets rabbitmq-c send a heartbeat that is due
      } catch (const AmqpError& e) {
        spdlog::warn("consumer lost the broker {}: {}; unacked deliveries return to their queues", conn_->Peer(),
                     e.what());
        live_generation_.store(0);
        next_url_ = conn_->UrlIndex() + 1;  // that node has most likely gone: try the next one first
        conn_.reset();
        SetConnected(false);
      }
    }
    conn_.reset();
    SetConnected(false);
  }

  std::string QueueNames() const {
    std::string out;
    for (const auto& q : options_.consume) {
      out += out.empty() ? q : ", " + q;
      if (!tag_by_queue_.contains(q)) {
        out += " (paused)";
      }
    }
    return out;
  }

  const ConsumerOptions options_;
  const DeliveryCallback on_delivery_;
  Waker waker_;
  std::thread thread_;
  std::once_flag joined_;

  mutable std::mutex mu_;
  mutable std::condition_variable cv_;
  std::vector<PendingSettle> settles_;  // guarded by mu_
  bool stop_consuming_ = false;         // guarded by mu_
  std::set<std::string> paused_;        // guarded by mu_: queues of options_.consume not consumed now
  bool reconcile_ = false;              // guarded by mu_: paused_ or stop_consuming_ changed
  uint16_t wanted_prefetch_ = 0;        // guarded by mu_; 0: none asked for yet
  uint16_t channel_prefetch_ = 0;       // consumer thread: what the broker was last told
  bool qos_in_flight_ = false;          // consumer thread: a basic.qos awaits its qos-ok
  std::set<uint64_t> unsettled_;        // consumer thread: delivery tags of this connection not settled
  bool stopping_ = false;               // guarded by mu_
  std::atomic<bool> connected_{false};
  std::atomic<uint64_t> live_generation_{0};  // generation_ while its connection is up, else 0

  // Owned by the I/O thread.
  std::unique_ptr<Connection> conn_;
  size_t next_url_ = 0;  // of options_.connection.url's list: where the next connect starts
  uint64_t generation_ = 0;
  bool logged_stop_ = false;
  std::map<std::string, std::string> tag_by_queue_;  // the subscriptions open now
  std::map<std::string, std::string> queue_by_tag_;  // every subscription of this connection
};

Consumer::Consumer(ConsumerOptions options, DeliveryCallback on_delivery)
    : impl_(std::make_unique<Impl>(std::move(options), std::move(on_delivery))) {}
Consumer::~Consumer() = default;

void Consumer::SetPrefetch(uint16_t prefetch) { impl_->SetPrefetch(prefetch); }

void Consumer::Settle(const Delivery& delivery, Settlement settlement) { impl_->Settle(delivery, settlement); }
bool Consumer::IsLive(const Delivery& delivery) const { return impl_->IsLive(delivery); }
void Consumer::SetPaused(std::set<std::string> queues) { impl_->SetPaused(std::move(queues)); }

void Consumer::StopConsuming() { impl_->StopConsuming(); }
void Consumer::Stop() { impl_->Stop(); }
bool Consumer::Connected() const { return impl_->Connected(); }
bool Consumer::WaitConnected(std::chrono::milliseconds timeout) const { return impl_->WaitConnected(timeout); }

}  // namespace warren::amqp
