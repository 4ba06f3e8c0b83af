// warren_bench_ceiling: what RabbitMQ itself allows on this machine, with no job system on top.
//
//   publish  N persistent messages with publisher confirms, waiting for the confirms of every batch;
//            with --window W instead at most W unconfirmed at any time, each confirm freeing its slot at
//            once: the best that W clients, each waiting for its own confirm, can reach (wrk -cW)
//   consume  N messages with a large prefetch, acking `multiple` every --ack-every deliveries
//   both     publish and consume N messages at once, on two connections (two threads)
//
// Prints one JSON object: {"mode", "count", "seconds", "rate"}, with --window also the publish-to-confirm
// latency percentiles in ms ("p50_ms", "p99_ms", "p999_ms"). Also used by bench/system/run.py to
// fill queues quickly (--type and --message-id-prefix make the messages Warren jobs).
//
// rabbitmq-c 0.11 has no confirm-wait helper: confirms are read frame by frame. One connection per
// thread, never shared.
#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_tcp_socket.h>
#include <sys/time.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

namespace {

using Clock = std::chrono::steady_clock;

struct Options {
  std::string mode;
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string queue = "bench_ceiling";
  long count = 100000;
  int batch = 1000;      // publishes per confirm round
  int window = 0;        // > 0: a sliding window of this many unconfirmed publishes instead of rounds
  int prefetch = 1000;   // basic.qos
  int ack_every = 100;   // deliveries per multiple ack
  int idle_ms = 10000;   // consume gives up after this long without a delivery
  std::string body = "{}";
  std::string type;               // AMQP `type` property (a Warren job type), empty: unset
  std::string message_id_prefix;  // message_id = prefix + sequence, empty: unset
  bool quorum = false;            // declare the queue as a quorum queue (else classic, as the demo)
  bool declare = true;
};

[[noreturn]] void Die(const std::string& what) {
  std::fprintf(stderr, "warren_bench_ceiling: %s\n", what.c_str());
  std::exit(1);
}

void Check(amqp_rpc_reply_t reply, const char* what) {
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION) {
      Die(std::string(what) + ": " + amqp_error_string2(reply.library_error));
    }
    Die(std::string(what) + ": server closed the channel or connection");
  }
}

void CheckStatus(int status, const char* what) {
  if (status != AMQP_STATUS_OK) {
    Die(std::string(what) + ": " + amqp_error_string2(status));
  }
}

// One connection with channel 1 open; closed by the destructor.
class Connection {
 public:
  explicit Connection(const Options& o) : state_(amqp_new_connection()) {
    amqp_socket_t* socket = amqp_tcp_socket_new(state_);
    if (socket == nullptr) {
      Die("cannot create a socket");
    }
    timeval timeout{10, 0};
    CheckStatus(amqp_socket_open_noblock(socket, o.host.c_str(), o.port, &timeout), "connect");
    CheckStatus(amqp_set_handshake_timeout(state_, &timeout), "handshake timeout");
    CheckStatus(amqp_set_rpc_timeout(state_, &timeout), "rpc timeout");
    Check(amqp_login(state_, "/", 0, 131072, 0, AMQP_SASL_METHOD_PLAIN, "guest", "guest"), "login");
    amqp_channel_open(state_, 1);
    Check(amqp_get_rpc_reply(state_), "channel.open");
  }
  ~Connection() {
    amqp_channel_close(state_, 1, AMQP_REPLY_SUCCESS);
    amqp_connection_close(state_, AMQP_REPLY_SUCCESS);
    amqp_destroy_connection(state_);
  }
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;
  amqp_connection_state_t get() const { return state_; }

 private:
  amqp_connection_state_t state_;
};

void Declare(const Connection& c, const Options& o) {
  if (!o.declare) {
    return;
  }
  amqp_table_entry_t entry;
  amqp_table_t args = amqp_empty_table;
  if (o.quorum) {
    entry.key = amqp_cstring_bytes("x-queue-type");
    entry.value.kind = AMQP_FIELD_KIND_UTF8;
    entry.value.value.bytes = amqp_cstring_bytes("quorum");
    args.num_entries = 1;
    args.entries = &entry;
  }
  amqp_queue_declare(c.get(), 1, amqp_cstring_bytes(o.queue.c_str()), 0, /*durable=*/1, 0, 0, args);
  Check(amqp_get_rpc_reply(c.get()), "queue.declare");
}

// Reads frames until `outstanding` confirms have arrived (acks may be `multiple`).
void AwaitConfirms(const Connection& c, uint64_t& confirmed, uint64_t published) {
  while (confirmed < published) {
    amqp_frame_t frame;
    timeval timeout{30, 0};
    int status = amqp_simple_wait_frame_noblock(c.get(), &frame, &timeout);
    CheckStatus(status, "waiting for confirms");
    if (frame.frame_type != AMQP_FRAME_METHOD) {
      continue;
    }
    switch (frame.payload.method.id) {
      case AMQP_BASIC_ACK_METHOD: {
        auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
        confirmed = ack->multiple ? ack->delivery_tag : confirmed + 1;
        break;
      }
      case AMQP_BASIC_NACK_METHOD:
        Die("the broker nacked a publish");
      case AMQP_CHANNEL_CLOSE_METHOD:
      case AMQP_CONNECTION_CLOSE_METHOD:
        Die("the broker closed the channel while publishing");
      default:
        break;  // connection.blocked/unblocked and the like: keep waiting
    }
  }
  amqp_maybe_release_buffers(c.get());
}

struct Latencies {
  std::vector<double> ms;  // publish to confirm, per message (windowed mode only)
  double At(double q) const {
    return ms.empty() ? 0.0
                      : ms[std::min(ms.size() - 1, static_cast<size_t>(q * static_cast<double>(ms.size())))];
  }
};

// At most o.window unconfirmed publishes; a confirm (multiple or not) frees its slots at once.
double PublishWindowed(const Options& o, Connection& c, const amqp_basic_properties_t& props,
                       amqp_bytes_t body, Latencies& latencies) {
  const amqp_bytes_t queue = amqp_cstring_bytes(o.queue.c_str());
  std::map<uint64_t, Clock::time_point> unconfirmed;  // delivery tag -> publish time
  uint64_t next_tag = 1;
  long published = 0;
  latencies.ms.reserve(static_cast<size_t>(o.count));
  const auto start = Clock::now();
  while (static_cast<long>(latencies.ms.size()) < o.count) {
    while (static_cast<int>(unconfirmed.size()) < o.window && published < o.count) {
      CheckStatus(amqp_basic_publish(c.get(), 1, amqp_empty_bytes, queue, 0, 0, &props, body), "publish");
      unconfirmed.emplace(next_tag++, Clock::now());
      ++published;
    }
    amqp_frame_t frame;
    timeval timeout{30, 0};
    CheckStatus(amqp_simple_wait_frame_noblock(c.get(), &frame, &timeout), "waiting for confirms");
    if (frame.frame_type == AMQP_FRAME_METHOD && frame.payload.method.id == AMQP_BASIC_ACK_METHOD) {
      const auto* ack = static_cast<amqp_basic_ack_t*>(frame.payload.method.decoded);
      const auto now = Clock::now();
      const auto end = ack->multiple ? unconfirmed.upper_bound(ack->delivery_tag)
                                     : std::next(unconfirmed.find(ack->delivery_tag));
      for (auto it = unconfirmed.begin(); it != end; ++it) {
        latencies.ms.push_back(std::chrono::duration<double, std::milli>(now - it->second).count());
      }
      unconfirmed.erase(unconfirmed.begin(), end);
    } else if (frame.frame_type == AMQP_FRAME_METHOD &&
               frame.payload.method.id != AMQP_CONNECTION_BLOCKED_METHOD &&
               frame.payload.method.id != AMQP_CONNECTION_UNBLOCKED_METHOD) {
      Die("unexpected method while publishing (a nack or a close)");
    }
    amqp_maybe_release_buffers(c.get());
  }
  std::sort(latencies.ms.begin(), latencies.ms.end());
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Publish(const Options& o, Latencies& latencies) {
  Connection c(o);
  Declare(c, o);
  amqp_confirm_select(c.get(), 1);
  Check(amqp_get_rpc_reply(c.get()), "confirm.select");
  amqp_basic_properties_t props{};
  props._flags = AMQP_BASIC_DELIVERY_MODE_FLAG | AMQP_BASIC_CONTENT_TYPE_FLAG;
  props.delivery_mode = 2;
  props.content_type = amqp_cstring_bytes(o.type.empty() ? "text/plain" : "application/json");
  if (!o.type.empty()) {
    props._flags |= AMQP_BASIC_TYPE_FLAG;
    props.type = amqp_cstring_bytes(o.type.c_str());
  }
  const amqp_bytes_t body{o.body.size(), const_cast<char*>(o.body.data())};
  if (o.window > 0) {
    return PublishWindowed(o, c, props, body, latencies);
  }
  const amqp_bytes_t queue = amqp_cstring_bytes(o.queue.c_str());
  std::string id;
  uint64_t published = 0;
  uint64_t confirmed = 0;
  const auto start = Clock::now();
  while (published < static_cast<uint64_t>(o.count)) {
    if (!o.message_id_prefix.empty()) {
      id = o.message_id_prefix + std::to_string(published);
      props._flags |= AMQP_BASIC_MESSAGE_ID_FLAG;
      props.message_id = amqp_cstring_bytes(id.c_str());
    }
    CheckStatus(amqp_basic_publish(c.get(), 1, amqp_empty_bytes, queue, 0, 0, &props, body), "publish");
    ++published;
    if (published % o.batch == 0 || published == static_cast<uint64_t>(o.count)) {
      AwaitConfirms(c, confirmed, published);
    }
  }
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double Consume(const Options& o) {
  Connection c(o);
  Declare(c, o);
  amqp_basic_qos(c.get(), 1, 0, static_cast<uint16_t>(o.prefetch), 0);
  Check(amqp_get_rpc_reply(c.get()), "basic.qos");
  amqp_basic_consume(c.get(), 1, amqp_cstring_bytes(o.queue.c_str()), amqp_empty_bytes, 0, /*no_ack=*/0, 0,
                     amqp_empty_table);
  Check(amqp_get_rpc_reply(c.get()), "basic.consume");
  long received = 0;
  uint64_t last_tag = 0;
  int unacked = 0;
  Clock::time_point start{};
  while (received < o.count) {
    amqp_envelope_t envelope;
    timeval timeout{o.idle_ms / 1000, (o.idle_ms % 1000) * 1000};
    amqp_rpc_reply_t reply = amqp_consume_message(c.get(), &envelope, &timeout, 0);
    if (reply.reply_type == AMQP_RESPONSE_LIBRARY_EXCEPTION && reply.library_error == AMQP_STATUS_TIMEOUT) {
      std::fprintf(stderr, "warren_bench_ceiling: idle for %d ms after %ld messages, stopping\n", o.idle_ms,
                   received);
      break;
    }
    Check(reply, "consume");
    if (received == 0) {
      start = Clock::now();  // from the first delivery: the consumer's own rate, not its start-up
    }
    ++received;
    last_tag = envelope.delivery_tag;
    amqp_destroy_envelope(&envelope);
    if (++unacked >= o.ack_every) {
      CheckStatus(amqp_basic_ack(c.get(), 1, last_tag, /*multiple=*/1), "ack");
      unacked = 0;
    }
    amqp_maybe_release_buffers(c.get());
  }
  if (unacked > 0) {
    CheckStatus(amqp_basic_ack(c.get(), 1, last_tag, 1), "ack");
  }
  const double seconds = received > 0 ? std::chrono::duration<double>(Clock::now() - start).count() : 0.0;
  if (received < o.count) {
    std::fprintf(stderr, "warren_bench_ceiling: consumed %ld of %ld\n", received, o.count);
  }
  return seconds;
}

Options Parse(int argc, char** argv) {
  if (argc < 2) {
    Die("usage: warren_bench_ceiling publish|consume|both [--port P] [--queue Q] [--count N] [--batch N] "
        "[--window N] [--prefetch N] [--ack-every N] [--idle-ms MS] [--body S] [--type T] "
        "[--message-id-prefix P] [--quorum] [--no-declare]");
  }
  Options o;
  o.mode = argv[1];
  for (int i = 2; i < argc; ++i) {
    std::string a = argv[i];
    auto next = [&]() -> std::string {
      if (i + 1 >= argc) {
        Die("missing value after " + a);
      }
      return argv[++i];
    };
    if (a == "--host") {
      o.host = next();
    } else if (a == "--port") {
      o.port = std::stoi(next());
    } else if (a == "--queue") {
      o.queue = next();
    } else if (a == "--count") {
      o.count = std::stol(next());
    } else if (a == "--batch") {
      o.batch = std::stoi(next());
    } else if (a == "--window") {
      o.window = std::stoi(next());
    } else if (a == "--prefetch") {
      o.prefetch = std::stoi(next());
    } else if (a == "--ack-every") {
      o.ack_every = std::stoi(next());
    } else if (a == "--idle-ms") {
      o.idle_ms = std::stoi(next());
    } else if (a == "--body") {
      o.body = next();
    } else if (a == "--type") {
      o.type = next();
    } else if (a == "--message-id-prefix") {
      o.message_id_prefix = next();
    } else if (a == "--quorum") {
      o.quorum = true;
    } else if (a == "--no-declare") {
      o.declare = false;
    } else {
      Die("unknown option " + a);
    }
  }
  if (o.mode != "publish" && o.mode != "consume" && o.mode != "both") {
    Die("mode must be publish, consume or both");
  }
  if (o.window < 0 || (o.window > 0 && (o.mode != "publish" || !o.message_id_prefix.empty()))) {
    Die("--window is for publish, without --message-id-prefix, and must be positive");
  }
  if (o.count <= 0 || o.batch <= 0 || o.prefetch <= 0 || o.prefetch > 65535 || o.ack_every <= 0) {
    Die("--count, --batch, --ack-every must be positive and --prefetch 1..65535");
  }
  return o;
}

}  // namespace

int main(int argc, char** argv) {
  const Options o = Parse(argc, argv);
  double seconds = 0;
  Latencies latencies;
  if (o.mode == "publish") {
    seconds = Publish(o, latencies);
  } else if (o.mode == "consume") {
    seconds = Consume(o);
  } else {
    // Declare first so the consumer never races a missing queue, then run both ends at once; the
    // figure is the whole transfer: from the first publish to the last delivery.
    { Connection c(o); Declare(c, o); }
    const auto start = Clock::now();
    std::thread publisher([&] {
      Latencies unused;
      Publish(o, unused);
    });
    Consume(o);
    publisher.join();
    seconds = std::chrono::duration<double>(Clock::now() - start).count();
  }
  std::string extra;
  if (!latencies.ms.empty()) {
    char buf[128];
    std::snprintf(buf, sizeof buf, ",\"window\":%d,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f",
                  o.window, latencies.At(0.5), latencies.At(0.99), latencies.At(0.999));
    extra = buf;
  }
  std::printf("{\"mode\":\"%s\",\"count\":%ld,\"seconds\":%.4f,\"rate\":%.1f%s}\n", o.mode.c_str(), o.count,
              seconds, seconds > 0 ? static_cast<double>(o.count) / seconds : 0.0, extra.c_str());
  return 0;
}
