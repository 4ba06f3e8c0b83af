#include "amqp/publisher.hpp"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <iterator>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <thread>
#include <utility>
#include <vector>

#include <poll.h>
#include <sys/socket.h>

#include <amqp.h>
#include <amqp_framing.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/frames.hpp"
#include "amqp/topology.hpp"
#include "amqp/waker.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"

namespace warren::amqp {
namespace {

using Clock = std::chrono::steady_clock;

// One caller's request: its callback runs once, when every message is confirmed or the first fails.
struct Group {
  PublishCallback done;
  size_t remaining = 0;
  bool finished = false;

  void Resolve(PublishOutcome outcome) {
    if (finished) {
      return;
    }
    if (outcome != PublishOutcome::kConfirmed) {
      finished = true;
      done(outcome);
      return;
    }
    if (--remaining == 0) {
      finished = true;
      done(PublishOutcome::kConfirmed);
    }
  }
};

struct Request {
  std::vector<OutgoingMessage> messages;
  std::shared_ptr<Group> group;
  Clock::time_point queued_at;
  size_t sent = 0;  // messages published so far: a request can wait for the socket partway
};

// rabbitmq-c 0.11 sends a publish (and a heartbeat, a close-ok) with no deadline: against a broker
// that stops reading the socket (a memory or disk alarm blocks a publishing connection) once the
// socket's buffers are full, the I/O thread would wait in send() for good, answering nobody and
// holding up Stop(). The I/O thread arms this watchdog around such calls; past the deadline it shuts
// the socket down (a plain syscall that touches no rabbitmq-c state), so the send fails and the
// publisher answers what it holds and reconnects. It looks every `tick`, so arming it costs the I/O
// thread no wake-up of another thread.
class SendWatchdog {
 public:
  explicit SendWatchdog(std::chrono::milliseconds tick) : tick_(tick), thread_([this] { Run(); }) {}
  ~SendWatchdog() {
    {
      std::lock_guard lock(mu_);
      stop_ = true;
    }
    cv_.notify_all();
    thread_.join();
  }
  SendWatchdog(const SendWatchdog&) = delete;
  SendWatchdog& operator=(const SendWatchdog&) = delete;

  // Disarmed when the returned guard goes, which must be before `fd` is closed.
  [[nodiscard]] auto Arm(int fd, Clock::time_point deadline) {
    {
      std::lock_guard lock(mu_);
      fd_ = fd;
      deadline_ = deadline;
    }
    auto disarm = [this](SendWatchdog*) {
      std::lock_guard lock(mu_);
      fd_ = -1;
    };
    return std::unique_ptr<SendWatchdog, decltype(disarm)>(this, disarm);
  }
  // Moves the deadline of the armed watch (one per send).
  void Extend(Clock::time_point deadline) {
    std::lock_guard lock(mu_);
    deadline_ = deadline;
  }
  // True once after it shut a socket down.
  bool TakeFired() {
    std::lock_guard lock(mu_);
    return std::exchange(fired_, false);
  }

 private:
  void Run() {
    NameThisThread("amqp-pub-watch");
    std::unique_lock lock(mu_);
    while (!stop_) {
      if (fd_ >= 0 && Clock::now() >= deadline_) {
        ::shutdown(fd_, SHUT_RDWR);
        fired_ = true;
        fd_ = -1;
      }
      cv_.wait_for(lock, tick_);
    }
  }

  const std::chrono::milliseconds tick_;
  std::mutex mu_;
  std::condition_variable cv_;
  int fd_ = -1;  // armed while >= 0; the I/O thread does not close it before disarming
  Clock::time_point deadline_;
  bool fired_ = false;
  bool stop_ = false;
  std::thread thread_;  // last: starts once the rest is initialised
};

// True when the socket can take more data now, so a send does not wait for the broker to read.
bool Writable(int fd) {
  pollfd p{fd, POLLOUT, 0};
  return ::poll(&p, 1, 0) > 0 && (p.revents & POLLOUT) != 0;
}

struct InFlight {
  std::shared_ptr<Group> group;
  Clock::time_point deadline;
  Clock::time_point settled;  // its confirm is passed on no earlier (decision 76)
  std::string return_key;     // ReturnKey of the message
  std::string destination;  // exchange + "/" + routing key: where nacks are counted
  std::string job_queue;    // the message's declare_job_queue
  bool returned = false;
};

// What a basic.return says of the publish it returns, which it names by no delivery tag. The
// message_id alone is not enough: a job's messages carry the job's id (a worker hands back copies).
std::string ReturnKey(const std::string& message_id, const std::string& exchange,
                      const std::string& routing_key) {
  return fmt::format("{}\n{}\n{}", message_id, exchange, routing_key);
}

// A confirm received before its destination queue settled, waiting to be passed on.
struct Held {
  std::shared_ptr<Group> group;
  Clock::time_point settled;
};

// Nacks for one destination since its last ack.
struct NackRun {
  Clock::time_point since;
  int count = 0;
};

}  // namespace

const char* ToString(PublishOutcome outcome) {
  switch (outcome) {
    case PublishOutcome::kConfirmed: return "confirmed";
    case PublishOutcome::kRejected: return "rejected";
    case PublishOutcome::kUnroutable: return "unroutable";
    case PublishOutcome::kUnavailable: return "unavailable";
    case PublishOutcome::kBlocked: return "blocked";
    case PublishOutcome::kTimeout: return "timeout";
    case PublishOutcome::kStopped: return "stopped";
    case PublishOutcome::kQueueRefused:
      return "queue refused";
  }
  return "unknown";
}

class Publisher::Impl {
 public:
  explicit Impl(PublisherOptions options)
      : options_(std::move(options)),
        watchdog_(std::clamp<std::chrono::milliseconds>(
            options_.confirm_timeout / 10, std::chrono::milliseconds(10), std::chrono::milliseconds(250))) {
    thread_ = std::thread([this] {
      NameThisThread("amqp-publisher");
      Run();
    });
  }

  ~Impl() { Stop(); }

  void Submit(std::vector<OutgoingMessage> messages, PublishCallback done) {
    auto group = std::make_shared<Group>();
    group->done = std::move(done);
    group->remaining = messages.size();
    if (messages.empty()) {
      group->done(PublishOutcome::kConfirmed);
      return;
    }
    // Fail fast while not connected or blocked: callers answer 503 at once instead of waiting.
    const auto state = state_.load();
    if (state != PublisherState::kReady) {
      group->done(state == PublisherState::kBlocked   ? PublishOutcome::kBlocked
                  : state == PublisherState::kStopped ? PublishOutcome::kStopped
                                                      : PublishOutcome::kUnavailable);
      return;
    }
    bool stopping = false;
    {
      std::lock_guard lock(mu_);
      stopping = stopping_;
      if (!stopping) {
        queue_.push_back(Request{std::move(messages), group, Clock::now()});
      }
    }
    if (stopping) {
      // Outside mu_: a callback may publish again (EventBatcher's flush does), which takes mu_ here.
      group->done(PublishOutcome::kStopped);
      return;
    }
    waker_.Wake();
  }

  PublisherState State() const { return state_.load(); }

  bool WaitReady(std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return state_cv_.wait_for(lock, timeout, [this] { return state_.load() == PublisherState::kReady; });
  }

  void Stop() {
    {
      std::lock_guard lock(mu_);
      stopping_ = true;
    }
    waker_.Wake();
    std::call_once(joined_, [this] { thread_.join(); });
  }

 private:
  void SetState(PublisherState s) {
    {
      std::lock_guard lock(mu_);
      // Stopped is final: a connection.unblocked read during the stop's drain must not make the
      // publisher look ready (WaitReady, State) again.
      if (state_.load() == PublisherState::kStopped) {
        return;
      }
      state_.store(s);
    }
    state_cv_.notify_all();
  }

  std::deque<Request> TakeQueue() {
    std::lock_guard lock(mu_);
    return std::exchange(queue_, {});
  }

  bool QueueEmpty() const {
    std::lock_guard lock(mu_);
    return queue_.empty();
  }

  bool Stopping() const {
    std::lock_guard lock(mu_);
    return stopping_;
  }

  void FailAll(PublishOutcome outcome) {
    for (auto& [seq, f] : in_flight_) {
      f.group->Resolve(outcome);
    }
    in_flight_.clear();
    // Confirmed into a queue that may not survive a broker crash yet: not durable to the caller.
    for (auto& h : std::exchange(held_, {})) {
      h.group->Resolve(outcome);
    }
    returnable_.clear();
    for (auto& r : std::exchange(deferred_, {})) {
      r.group->Resolve(outcome);
    }
    for (auto& r : TakeQueue()) {
      r.group->Resolve(outcome);
    }
  }

  void Connect() {
    auto conn = std::make_unique<Connection>(options_.connection, next_url_);
    conn->Declare(options_.declare);
    conn->ConfirmSelect();
    conn_ = std::move(conn);
    // What `declare` names is there (a skipped optional queue is asked for again on the fly). Those
    // queues settled at start-up (CheckDeclarations); on a reconnect they are the broker's survivors.
    // Without that check, this first connect may have created them: hold every confirm until they
    // settle (the events' queue is reached through an exchange, so no per-queue hold can name it).
    if (generation_ == 0 && !options_.declarations_settled) {
      hold_all_until_ = Clock::now() + options_.new_queue_settle;
    }
    declared_queues_.clear();
    declared_at_.clear();
    due_declared_ = false;
    for (const auto& q : options_.declare.queues) {
      if (!q.optional) {
        declared_queues_.insert(q.name);
      }
    }
    nack_runs_.clear();
    blocked_ = false;
    next_seq_ = 1;
    ++generation_;
  }

  void PublishOne(OutgoingMessage& m, const std::shared_ptr<Group>& group) {
    const uint64_t seq = next_seq_;
    if (m.message_id.empty()) {
      m.message_id = fmt::format("p{}.{}", generation_, seq);
    }
    amqp_basic_properties_t props{};
    props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_MESSAGE_ID_FLAG;
    props.delivery_mode = m.persistent ? 2 : 1;
    props.message_id = Bytes(m.message_id);
    if (!m.content_type.empty()) {
      props._flags |= AMQP_BASIC_CONTENT_TYPE_FLAG;
      props.content_type = Bytes(m.content_type);
    }
    if (!m.type.empty()) {
      props._flags |= AMQP_BASIC_TYPE_FLAG;
      props.type = Bytes(m.type);
    }
    if (m.timestamp) {
      props._flags |= AMQP_BASIC_TIMESTAMP_FLAG;
      props.timestamp = static_cast<uint64_t>(*m.timestamp);
    }
    if (m.priority != 0) {
      props._flags |= AMQP_BASIC_PRIORITY_FLAG;
      props.priority = m.priority;
    }
    std::vector<amqp_table_entry_t> headers;
    if (!m.headers.empty()) {
      for (const auto& [k, v] : m.headers) {
        amqp_table_entry_t e{};
        e.key = Bytes(k);
        e.value.kind = AMQP_FIELD_KIND_UTF8;
        e.value.value.bytes = Bytes(v);
        headers.push_back(e);
      }
      props._flags |= AMQP_BASIC_HEADERS_FLAG;
      props.headers = amqp_table_t{static_cast<int>(headers.size()), headers.data()};
    }
    // In flight before it is sent: if sending throws, FailAll still answers its group.
    ++next_seq_;
    auto key = ReturnKey(m.message_id, m.exchange, m.routing_key);
    returnable_[key].push_back(seq);
    in_flight_.emplace(seq,
                       InFlight{group, Clock::now() + options_.confirm_timeout, SettledAt(m), std::move(key),
                                m.exchange + "/" + m.routing_key, m.declare_job_queue, false});
    auto* state = static_cast<amqp_connection_state_t>(conn_->Native());
    CheckStatus(amqp_basic_publish(state, Connection::kChannel, Bytes(m.exchange), Bytes(m.routing_key),
                                   /*mandatory=*/1, /*immediate=*/0, &props, Bytes(m.body)),
                "basic.publish");
  }

  // Declares (and binds to warren.due) the job queues `messages` name that this connection has not
  // declared yet. Returns the broker's reason when it refused one: it exists with other arguments
  // than this publisher's queue type gives it. Throws AmqpError when the connection fails.
  std::optional<std::string> DeclareJobQueues(const std::vector<OutgoingMessage>& messages) {
    for (const auto& m : messages) {
      const std::string& queue = m.declare_job_queue;
      if (queue.empty() || declared_queues_.contains(queue)) {
        continue;
      }
      if (!due_declared_) {
        conn_->Declare(DueTopology(options_.queue_type));  // what the binding needs
        due_declared_ = true;
      }
      // Aside: a refusal closes only that channel, not the one with this connection's publishes in
      // flight, so a job naming a queue that clashes fails alone.
      if (auto refused = conn_->DeclareAside(JobQueueSpec(queue, options_.queue_type), {DueBinding(queue)})) {
        return fmt::format(
            "queue '{}' exists with other arguments than this process declares "
            "(amqp.queue_type {}): {}",
            queue, ToString(options_.queue_type), *refused);
      }
      declared_queues_.insert(queue);
      declared_at_[queue] = Clock::now();
    }
    return std::nullopt;
  }

  void PublishQueued() {
    // What waited for the socket goes first, in order.
    auto requests = std::exchange(deferred_, {});
    for (auto& r : TakeQueue()) {
      requests.push_back(std::move(r));
    }
    const int fd = conn_->Fd();
    auto watch = watchdog_.Arm(fd, Clock::now() + options_.confirm_timeout);
    for (auto it = requests.begin(); it != requests.end(); ++it) {
      if (blocked_ || in_flight_.size() + (it->messages.size() - it->sent) > options_.max_in_flight) {
        it->group->Resolve(PublishOutcome::kBlocked);
        continue;
      }
      try {
        if (it->sent == 0) {
          // Its RPCs have deadlines of their own.
          watchdog_.Extend(Clock::now() +
                           std::max(options_.confirm_timeout, options_.connection.rpc_timeout));
          if (auto refused = DeclareJobQueues(it->messages)) {
            spdlog::warn("not publishing: {}", *refused);
            it->group->Resolve(PublishOutcome::kQueueRefused);
            continue;
          }
        }
        for (; it->sent < it->messages.size(); ++it->sent) {
          if (!Writable(fd)) {
            // The broker is not reading (an alarm blocked this connection, or the path stalls): a send
            // now could wait inside rabbitmq-c for good. Read its frames meanwhile (connection.blocked)
            // and go on from this message once the socket takes more (ExpireTimedOut bounds the wait).
            deferred_.assign(std::make_move_iterator(it), std::make_move_iterator(requests.end()));
            return;
          }
          // A message larger than the room left can still fill the socket: the watchdog bounds that send.
          watchdog_.Extend(Clock::now() + options_.confirm_timeout);
          PublishOne(it->messages[it->sent], it->group);
        }
      } catch (const AmqpError&) {
        // The connection is gone. What is in flight fails with FailAll; the requests taken from the
        // queue and not sent yet fail here, or their callers would never hear back.
        for (; it != requests.end(); ++it) {
          it->group->Resolve(PublishOutcome::kUnavailable);
        }
        throw;
      }
    }
  }

  void Settle(uint64_t tag, bool multiple, PublishOutcome outcome) {
    auto settle_one = [&](std::map<uint64_t, InFlight>::iterator it) {
      const PublishOutcome o =
          (outcome == PublishOutcome::kConfirmed && it->second.returned) ? PublishOutcome::kUnroutable : outcome;
      ForgetReturnable(it->first, it->second.return_key);
      CountNack(it->second.destination, outcome);
      if (it->second.returned && !it->second.job_queue.empty()) {
        // Its queue was declared on this connection but is gone now (deleted by hand, or lost with a
        // broker node): the next publish that names it declares it again.
        declared_queues_.erase(it->second.job_queue);
      }
      auto group = it->second.group;
      const auto settled = it->second.settled;
      auto next = in_flight_.erase(it);
      if (o == PublishOutcome::kConfirmed && Clock::now() < settled) {
        held_.push_back(Held{std::move(group), settled});
      } else {
        group->Resolve(o);
      }
      return next;
    };
    if (multiple) {
      for (auto it = in_flight_.begin(); it != in_flight_.end() && it->first <= tag;) {
        it = settle_one(it);
      }
    } else if (auto it = in_flight_.find(tag); it != in_flight_.end()) {
      settle_one(it);
    }
  }

  // Reads every frame available now; throws AmqpError when the connection is gone.
  void ReadFrames() {
    auto* state = static_cast<amqp_connection_state_t>(conn_->Native());
    for (;;) {
      amqp_frame_t frame{};
      if (!TryReadFrame(state, frame)) {
        return;
      }
      ThrowIfClosed(state, frame);
      if (frame.frame_type != AMQP_FRAME_METHOD) {
        continue;  // heartbeats are handled inside rabbitmq-c; stray content frames are skipped
      }
      switch (frame.payload.method.id) {
        case AMQP_BASIC_ACK_METHOD: {
          const auto* m = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
          Settle(m->delivery_tag, m->multiple != 0, PublishOutcome::kConfirmed);
          break;
        }
        case AMQP_BASIC_NACK_METHOD: {
          const auto* m = static_cast<amqp_basic_nack_t*>(frame.payload.method.decoded);
          Settle(m->delivery_tag, m->multiple != 0, PublishOutcome::kRejected);
          break;
        }
        case AMQP_BASIC_RETURN_METHOD: {
          // The returned message's header and body follow; its message_id, exchange and routing key
          // name the publish.
          const auto* r = static_cast<amqp_basic_return_t*>(frame.payload.method.decoded);
          const std::string exchange = ToString(r->exchange);
          const std::string routing_key = ToString(r->routing_key);
          amqp_message_t message{};
          const auto reply = amqp_read_message(state, frame.channel, &message, 0);
          if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
            throw AmqpError("read returned message failed");
          }
          if ((message.properties._flags & AMQP_BASIC_MESSAGE_ID_FLAG) != 0) {
            MarkReturned(ReturnKey(ToString(message.properties.message_id), exchange, routing_key));
          }
          amqp_destroy_message(&message);
          break;
        }
        case AMQP_CONNECTION_BLOCKED_METHOD:
          spdlog::warn("broker blocked publishing (memory or disk alarm)");
          blocked_ = true;
          SetState(PublisherState::kBlocked);
          break;
        case AMQP_CONNECTION_UNBLOCKED_METHOD:
          spdlog::info("broker unblocked publishing");
          blocked_ = false;
          SetState(PublisherState::kReady);
          break;
        default:
          break;
      }
      amqp_maybe_release_buffers(state);
    }
  }

  // Returns come in publish order, each before its own confirm: the oldest publish in flight under
  // `key` that was not returned yet is the one returned.
  void MarkReturned(const std::string& key) {
    auto it = returnable_.find(key);
    if (it == returnable_.end()) {
      return;
    }
    for (const uint64_t seq : it->second) {
      if (auto f = in_flight_.find(seq); f != in_flight_.end() && !f->second.returned) {
        f->second.returned = true;
        return;
      }
    }
  }

  void ForgetReturnable(uint64_t seq, const std::string& key) {
    auto it = returnable_.find(key);
    if (it == returnable_.end()) {
      return;
    }
    std::erase(it->second, seq);
    if (it->second.empty()) {
      returnable_.erase(it);
    }
  }

  void CountNack(const std::string& destination, PublishOutcome outcome) {
    if (outcome == PublishOutcome::kConfirmed) {
      nack_runs_.erase(destination);
      recycle_after_.erase(destination);
      return;
    }
    ++nack_runs_.try_emplace(destination, NackRun{Clock::now(), 0}).first->second.count;
  }

  // A channel on which one destination gets nothing but nacks for a while is recycled: RabbitMQ 3.10
  // can leave a channel that published to a quorum queue during its leader election refusing that
  // queue's publishes for good, while a new channel is confirmed at once (decision 67). A queue that
  // is really down nacks on every channel; its wait doubles per recycle, to a minute, until an ack.
  void RecycleIfOnlyNacked() {
    const auto now = Clock::now();
    for (const auto& [destination, run] : nack_runs_) {
      auto after = recycle_after_.try_emplace(destination, kNackedFor).first;
      if (run.count < kNacksToRecycle || now - run.since < after->second) {
        continue;
      }
      const auto waited = std::chrono::duration_cast<std::chrono::milliseconds>(now - run.since);
      after->second = std::min(after->second * 2, kNackedForMax);
      throw AmqpError(fmt::format("the broker refused the last {} publishes to {} (basic.nack) for {} ms; "
                                  "opening a new connection",
                                  run.count, destination, waited.count()));
    }
  }

  void ExpireTimedOut() {
    const auto now = Clock::now();
    // Waiting for the socket since longer than a confirm may take: not sent at all, the broker is as
    // good as blocked; partly sent, some messages may be queued.
    auto waited_too_long = [&](const Request& r) { return r.queued_at + options_.confirm_timeout <= now; };
    for (auto& r : deferred_) {
      if (waited_too_long(r)) {
        r.group->Resolve(r.sent == 0 ? PublishOutcome::kBlocked : PublishOutcome::kTimeout);
      }
    }
    std::erase_if(deferred_, waited_too_long);
    for (auto it = in_flight_.begin(); it != in_flight_.end();) {
      if (it->second.deadline <= now) {
        ForgetReturnable(it->first, it->second.return_key);
        auto group = it->second.group;
        it = in_flight_.erase(it);
        group->Resolve(PublishOutcome::kTimeout);
      } else {
        ++it;
      }
    }
  }

  // When the job queue `m` is bound for has settled, if this publisher declared it on the fly: the
  // default exchange's routing key, or through a delay tier the job queue it leads to.
  Clock::time_point SettledAt(const OutgoingMessage& m) const {
    Clock::time_point settled = hold_all_until_;
    for (const auto* queue : {&m.exchange, &m.routing_key}) {
      if (auto it = declared_at_.find(*queue); it != declared_at_.end()) {
        settled = std::max(settled, it->second + options_.new_queue_settle);
      }
    }
    return settled;
  }

  // Passes on the held confirms whose queues have settled.
  void ReleaseSettled() {
    const auto now = Clock::now();
    auto due = std::partition(held_.begin(), held_.end(), [now](const Held& h) { return h.settled > now; });
    std::vector<Held> released(std::make_move_iterator(due), std::make_move_iterator(held_.end()));
    held_.erase(due, held_.end());
    for (auto& h : released) {
      h.group->Resolve(PublishOutcome::kConfirmed);
    }
  }

  std::chrono::milliseconds NextWait() const {
    // Wake at least twice per heartbeat interval so rabbitmq-c sends ours and notices the broker's.
    auto wait = std::chrono::milliseconds(std::max<int64_t>(options_.connection.heartbeat.count() * 500, 0));
    if (wait.count() == 0 || wait > std::chrono::milliseconds(1000)) {
      wait = std::chrono::milliseconds(1000);
    }
    if (!in_flight_.empty()) {
      const auto earliest = std::min_element(in_flight_.begin(), in_flight_.end(), [](const auto& a, const auto& b) {
                              return a.second.deadline < b.second.deadline;
                            })->second.deadline;
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(earliest - Clock::now());
      wait = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), wait);
    }
    for (const auto& h : held_) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(h.settled - Clock::now());
      wait = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), wait);
    }
    for (const auto& r : deferred_) {
      const auto until = std::chrono::duration_cast<std::chrono::milliseconds>(
          r.queued_at + options_.confirm_timeout - Clock::now());
      wait = std::clamp(until + std::chrono::milliseconds(1), std::chrono::milliseconds(0), wait);
    }
    return wait;
  }

  void Run() {
    std::chrono::milliseconds backoff{100};
    std::optional<Clock::time_point> stop_deadline;
    bool logged_down = false;
    std::string last_error;
    while (true) {
      if (Stopping()) {
        // Publish what was accepted before the stop and let it get its confirms, for a bounded time:
        // a worker's last outcome events, submitted just before its drain stops the publisher, must
        // not come back kStopped (their jobs would be handed back and run again).
        if (!stop_deadline) {
          stop_deadline = Clock::now() + std::min(options_.confirm_timeout, std::chrono::milliseconds(5000));
          SetState(PublisherState::kStopped);
        }
        if ((in_flight_.empty() && held_.empty() && deferred_.empty() && QueueEmpty()) || conn_ == nullptr ||
            Clock::now() >= *stop_deadline) {
          break;
        }
      }
      if (conn_ == nullptr) {
        try {
          Connect();
          spdlog::info("publisher connected to {}", conn_->Peer());
          logged_down = false;
          backoff = std::chrono::milliseconds(100);
          SetState(PublisherState::kReady);
        } catch (const AmqpError& e) {
          // Warn once per distinct reason, so a retry loop neither floods the log nor hides a new cause.
          if (!logged_down || last_error != e.what()) {
            spdlog::warn("publisher cannot reach the broker ({}); retrying with backoff up to {} ms", e.what(),
                         options_.reconnect_max.count());
            logged_down = true;
            last_error = e.what();
          }
          FailAll(PublishOutcome::kUnavailable);
          waker_.WaitReadable(nullptr, backoff);
          backoff = std::min(backoff * 2, options_.reconnect_max);
          continue;
        }
      }
      try {
        PublishQueued();
        // Waiting for the socket to take more, too, when publishes wait for it.
        waker_.WaitReadable(conn_.get(), NextWait(), /*or_writable=*/!deferred_.empty());
        // A heartbeat or close-ok is sent without a deadline too.
        auto watch = watchdog_.Arm(conn_->Fd(), Clock::now() + options_.confirm_timeout);
        ReadFrames();  // also lets rabbitmq-c send a heartbeat that is due
        ReleaseSettled();
        ExpireTimedOut();
        RecycleIfOnlyNacked();
      } catch (const AmqpError& e) {
        const bool stalled = watchdog_.TakeFired();
        if (stalled) {
          spdlog::warn(
              "publisher: the broker {} took nothing from the socket for {} ms (a memory or disk alarm, "
              "or a stalled network); reconnecting",
              conn_->Peer(), options_.confirm_timeout.count());
        } else {
          spdlog::warn("publisher lost the broker {}: {}", conn_->Peer(), e.what());
        }
        SetState(PublisherState::kConnecting);
        next_url_ = conn_->UrlIndex() + 1;  // that node has most likely gone: try the next one first
        // Answer first: closing what is left of the connection can take the broker's time.
        FailAll(PublishOutcome::kUnavailable);
        if (stalled || blocked_) {
          conn_->Abandon();  // it would not read our close either
        }
        conn_.reset();
        logged_down = true;
      }
    }
    // Left unanswered by a broker that blocks us or has stopped reading: it would not answer our
    // close either, and each of its RPCs would wait rpc_timeout.
    if (conn_ != nullptr && (blocked_ || !in_flight_.empty() || !deferred_.empty())) {
      conn_->Abandon();
    }
    FailAll(PublishOutcome::kStopped);
    conn_.reset();
    SetState(PublisherState::kStopped);
  }

  const PublisherOptions options_;
  Waker waker_;
  SendWatchdog watchdog_;  // outlives thread_
  std::thread thread_;
  std::once_flag joined_;

  mutable std::mutex mu_;
  mutable std::condition_variable state_cv_;
  std::deque<Request> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::atomic<PublisherState> state_{PublisherState::kConnecting};

  // Owned by the I/O thread.
  std::unique_ptr<Connection> conn_;
  size_t next_url_ = 0;  // of options_.connection.url's list: where the next connect starts
  bool blocked_ = false;  // connection.blocked; state_ says so too, unless stopping
  uint64_t next_seq_ = 1;
  uint64_t generation_ = 0;
  std::map<uint64_t, InFlight> in_flight_;
  std::deque<Request> deferred_;  // taken from queue_, waiting for the socket to take more
  std::map<std::string, std::deque<uint64_t>>
      returnable_;  // by ReturnKey: the publishes in flight, oldest first
  std::set<std::string> declared_queues_;                 // on this connection: `declare`'s and on the fly
  std::map<std::string, Clock::time_point> declared_at_;  // the ones declared on the fly, and when
  bool due_declared_ = false;  // DueTopology, on this connection, before the first on-the-fly binding
  std::vector<Held> held_;                                // one entry per message
  Clock::time_point hold_all_until_{};  // the first connect's own declarations settle (decision 76)
  static constexpr int kNacksToRecycle = 3;
  static constexpr std::chrono::milliseconds kNackedFor{1000};
  static constexpr std::chrono::milliseconds kNackedForMax{60000};
  std::map<std::string, NackRun> nack_runs_;                        // on this connection, by destination
  std::map<std::string, std::chrono::milliseconds> recycle_after_;  // across connections, by destination
};

Publisher::Publisher(PublisherOptions options) : impl_(std::make_unique<Impl>(std::move(options))) {}
Publisher::~Publisher() = default;

void Publisher::Publish(OutgoingMessage message, PublishCallback done) {
  std::vector<OutgoingMessage> one;
  one.push_back(std::move(message));
  impl_->Submit(std::move(one), std::move(done));
}

void Publisher::PublishBatch(std::vector<OutgoingMessage> messages, PublishCallback done) {
  impl_->Submit(std::move(messages), std::move(done));
}

PublisherState Publisher::State() const { return impl_->State(); }
bool Publisher::WaitReady(std::chrono::milliseconds timeout) const { return impl_->WaitReady(timeout); }
void Publisher::Stop() { impl_->Stop(); }

}  // namespace warren::amqp
