#include "amqp/connection.hpp"

#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <set>
#include <string_view>
#include <thread>
#include <utility>
#include <vector>

#include <amqp.h>
#include <amqp_framing.h>
#include <amqp_ssl_socket.h>
#include <amqp_tcp_socket.h>
#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/frames.hpp"
#include "core/log.hpp"
#include "core/percent_encode.hpp"

namespace warren::amqp {
namespace {

timeval ToTimeval(std::chrono::milliseconds ms) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(ms.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((ms.count() % 1000) * 1000);
  return tv;
}

std::string DescribeReply(const amqp_rpc_reply_t& reply) {
  switch (reply.reply_type) {
    case AMQP_RESPONSE_NORMAL:
      return "ok";
    case AMQP_RESPONSE_NONE:
      return "missing RPC reply";
    case AMQP_RESPONSE_LIBRARY_EXCEPTION:
      return amqp_error_string2(reply.library_error);
    case AMQP_RESPONSE_SERVER_EXCEPTION:
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_connection_close_t*>(reply.reply.decoded);
        return fmt::format("connection closed by broker: {} {}", m->reply_code, ToString(m->reply_text));
      }
      if (reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
        const auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
        return fmt::format("channel closed by broker: {} {}", m->reply_code, ToString(m->reply_text));
      }
      return fmt::format("unexpected server method 0x{:08x}", reply.reply.id);
  }
  return "unknown reply";
}

// The query of an amqps:// URL: TLS settings, each at most once, values percent-decoded.
void ParseTlsQuery(std::string_view query, AmqpUrl& url) {
  std::set<std::string, std::less<>> seen;
  while (!query.empty()) {
    const size_t amp = query.find('&');
    const std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) {
      continue;
    }
    const size_t eq = pair.find('=');
    const std::string name(pair.substr(0, eq));
    const auto value = PercentDecode(eq == std::string_view::npos ? std::string_view() : pair.substr(eq + 1));
    if (!value) {
      throw std::invalid_argument(fmt::format("AMQP URL parameter {}: bad %-escape", name));
    }
    if (!seen.insert(name).second) {
      throw std::invalid_argument(fmt::format("AMQP URL parameter {} is given twice", name));
    }
    if (name == "cacertfile") {
      url.tls_options.ca_file = *value;
    } else if (name == "certfile") {
      url.tls_options.cert_file = *value;
    } else if (name == "keyfile") {
      url.tls_options.key_file = *value;
    } else if (name == "verify") {
      if (*value != "verify_peer" && *value != "verify_none") {
        throw std::invalid_argument(
            fmt::format("AMQP URL parameter verify: expected verify_peer or verify_none, got '{}'", *value));
      }
      url.tls_options.verify = *value == "verify_peer";
    } else {
      throw std::invalid_argument(fmt::format(
          "AMQP URL parameter {} is not supported (supported: cacertfile, certfile, keyfile, verify)", name));
    }
  }
  if (!url.tls) {
    throw std::invalid_argument("AMQP URL parameters are TLS settings: use amqps:// with them");
  }
  const TlsOptions& tls = url.tls_options;
  if (tls.cert_file.empty() != tls.key_file.empty()) {
    throw std::invalid_argument("AMQP URL parameters certfile and keyfile go together");
  }
  for (const auto& [name, path] : {std::pair{"cacertfile", tls.ca_file}, std::pair{"certfile", tls.cert_file},
                                   std::pair{"keyfile", tls.key_file}}) {
    if (!path.empty() && access(path.c_str(), R_OK) != 0) {
      throw std::invalid_argument(fmt::format("AMQP URL parameter {}: {}: {}", name, path, std::strerror(errno)));
    }
  }
}

// Debian's bundle of the system's trusted CAs (package ca-certificates).
constexpr const char* kSystemCaBundle = "/etc/ssl/certs/ca-certificates.crt";

void SetUpTls(amqp_socket_t* socket, const TlsOptions& tls) {
  const int verify = tls.verify ? 1 : 0;
  amqp_ssl_socket_set_verify_peer(socket, verify);
  amqp_ssl_socket_set_verify_hostname(socket, verify);
  if (tls.verify) {
    const std::string ca = tls.ca_file.empty() ? kSystemCaBundle : tls.ca_file;
    const int status = amqp_ssl_socket_set_cacert(socket, ca.c_str());
    if (status != AMQP_STATUS_OK) {
      throw AmqpError(fmt::format("TLS CA certificates {}: {}{}", ca, amqp_error_string2(status),
                                  tls.ca_file.empty() ? " (give the URL a cacertfile)" : ""));
    }
  }
  if (!tls.cert_file.empty()) {
    const int status = amqp_ssl_socket_set_key(socket, tls.cert_file.c_str(), tls.key_file.c_str());
    if (status != AMQP_STATUS_OK) {
      throw AmqpError(fmt::format("TLS client certificate {} with key {}: {}", tls.cert_file, tls.key_file,
                                  amqp_error_string2(status)));
    }
  }
}

}  // namespace

void CheckStatus(int status, const char* what) {
  if (status != AMQP_STATUS_OK) {
    throw AmqpError(fmt::format("{}: {}", what, amqp_error_string2(status)));
  }
}

bool TryReadFrame(amqp_connection_state_t state, amqp_frame_t& frame) {
  timeval zero{0, 0};
  const int status = amqp_simple_wait_frame_noblock(state, &frame, &zero);
  if (status == AMQP_STATUS_TIMEOUT) {
    return false;
  }
  CheckStatus(status, "read frame");
  return true;
}

void ThrowIfClosed(amqp_connection_state_t state, const amqp_frame_t& frame) {
  if (frame.frame_type != AMQP_FRAME_METHOD) {
    return;
  }
  if (frame.payload.method.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<amqp_channel_close_t*>(frame.payload.method.decoded);
    amqp_channel_close_ok_t ok{};
    amqp_send_method(state, frame.channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok);
    throw AmqpError(fmt::format("channel closed by broker: {} {}", m->reply_code, ToString(m->reply_text)));
  }
  if (frame.payload.method.id == AMQP_CONNECTION_CLOSE_METHOD) {
    const auto* m = static_cast<amqp_connection_close_t*>(frame.payload.method.decoded);
    amqp_connection_close_ok_t ok{};
    amqp_send_method(state, 0, AMQP_CONNECTION_CLOSE_OK_METHOD, &ok);
    throw AmqpError(fmt::format("connection closed by broker: {} {}", m->reply_code, ToString(m->reply_text)));
  }
}

AmqpUrl ParseAmqpUrl(const std::string& url) {
  // rabbitmq-c's parser knows no query: it would take `?cacertfile=...` for part of the vhost. A '?'
  // cannot appear unescaped before the query (RFC 3986), so the first one starts it.
  const size_t question = url.find('?');
  std::vector<char> buffer(url.begin(), question == std::string::npos ? url.end() : url.begin() + question);
  buffer.push_back('\0');
  amqp_connection_info info{};
  amqp_default_connection_info(&info);
  if (amqp_parse_url(buffer.data(), &info) != AMQP_STATUS_OK) {
    throw std::invalid_argument(fmt::format("not an AMQP URL: '{}'", RedactedUrl(url)));
  }
  // `amqp://host:5672/` strictly names the empty vhost, which RabbitMQ never has; users mean "/".
  std::string vhost = info.vhost;
  if (vhost.empty()) {
    vhost = "/";
  }
  AmqpUrl out{info.host, info.port, info.user, info.password, vhost, info.ssl != 0, {}};
  if (question != std::string::npos) {
    ParseTlsQuery(std::string_view(url).substr(question + 1), out);
  }
  return out;
}

std::vector<std::string> SplitAmqpUrls(const std::string& urls) {
  std::vector<std::string> out;
  size_t start = 0;
  for (;;) {
    const auto comma = urls.find(',', start);
    std::string one = urls.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    if (!one.empty()) {
      ParseAmqpUrl(one);
      out.push_back(std::move(one));
    }
    if (comma == std::string::npos) {
      break;
    }
    start = comma + 1;
  }
  if (out.empty()) {
    throw std::invalid_argument("no AMQP URL given");
  }
  return out;
}

struct Connection::State {
  amqp_connection_state_t conn = nullptr;
  amqp_socket_t* socket = nullptr;
  bool logged_in = false;
  bool channel_open = false;
  bool aside_open = false;  // kAsideChannel
  size_t url_index = 0;
  std::string peer;
};

Connection::Connection(const ConnectionOptions& options, size_t first_url) {
  std::vector<std::string> urls;
  try {
    urls = SplitAmqpUrls(options.url);
  } catch (const std::invalid_argument& e) {
    throw AmqpError(e.what());
  }
  // A dead node on another host may cost connect_timeout before the next is tried; on loopback a
  // refused connection fails at once.
  std::string errors;
  for (size_t i = 0; i < urls.size(); ++i) {
    const size_t index = (first_url + i) % urls.size();
    state_ = std::make_unique<State>();
    state_->url_index = index;
    state_->peer = RedactedUrl(urls[index]);
    try {
      Open(options, ParseAmqpUrl(urls[index]));
      return;
    } catch (const AmqpError& e) {
      state_.reset();
      errors += errors.empty() ? e.what() : fmt::format("; {}", e.what());
    }
  }
  throw AmqpError(errors);
}

size_t Connection::UrlIndex() const { return state_->url_index; }
const std::string& Connection::Peer() const { return state_->peer; }

void Connection::Open(const ConnectionOptions& options, const AmqpUrl& url) {
  state_->conn = amqp_new_connection();
  if (state_->conn == nullptr) {
    throw AmqpError("amqp_new_connection failed");
  }
  state_->socket = url.tls ? amqp_ssl_socket_new(state_->conn) : amqp_tcp_socket_new(state_->conn);
  if (state_->socket == nullptr) {
    amqp_destroy_connection(state_->conn);
    throw AmqpError(url.tls ? "amqp_ssl_socket_new failed" : "amqp_tcp_socket_new failed");
  }
  // From here the destructor cleans up: construct fully or throw with state_ owning the handles.
  struct Guard {
    State* s;
    bool armed = true;
    ~Guard() {
      if (armed) {
        amqp_destroy_connection(s->conn);
      }
    }
  } guard{state_.get()};
  if (url.tls) {
    SetUpTls(state_->socket, url.tls_options);
  }

  const timeval connect_tv = ToTimeval(options.connect_timeout);
  const int open_status = amqp_socket_open_noblock(state_->socket, url.host.c_str(), url.port, &connect_tv);
  if (open_status != AMQP_STATUS_OK) {
    throw AmqpError(fmt::format("connect to {}:{}: {}", url.host, url.port, amqp_error_string2(open_status)));
  }
  const timeval rpc_tv = ToTimeval(options.rpc_timeout);
  amqp_set_handshake_timeout(state_->conn, &rpc_tv);
  amqp_set_rpc_timeout(state_->conn, &rpc_tv);

  // Advertise connection.blocked so the broker tells us about memory/disk alarms instead of
  // silently stalling our publishes; name the connection for the management console.
  amqp_table_entry_t capabilities[] = {
      {amqp_cstring_bytes("connection.blocked"), {AMQP_FIELD_KIND_BOOLEAN, {.boolean = 1}}},
      {amqp_cstring_bytes("publisher_confirms"), {AMQP_FIELD_KIND_BOOLEAN, {.boolean = 1}}},
      {amqp_cstring_bytes("consumer_cancel_notify"), {AMQP_FIELD_KIND_BOOLEAN, {.boolean = 1}}},
  };
  amqp_table_entry_t client_props[2];
  client_props[0].key = amqp_cstring_bytes("capabilities");
  client_props[0].value.kind = AMQP_FIELD_KIND_TABLE;
  client_props[0].value.value.table = amqp_table_t{3, capabilities};
  client_props[1].key = amqp_cstring_bytes("connection_name");
  client_props[1].value.kind = AMQP_FIELD_KIND_UTF8;
  client_props[1].value.value.bytes = Bytes(options.name);
  const amqp_table_t props{2, client_props};

  const auto login = amqp_login_with_properties(state_->conn, url.vhost.c_str(), 0, AMQP_DEFAULT_FRAME_SIZE,
                                                static_cast<int>(options.heartbeat.count()), &props,
                                                AMQP_SASL_METHOD_PLAIN, url.user.c_str(), url.password.c_str());
  if (login.reply_type != AMQP_RESPONSE_NORMAL) {
    throw AmqpError(fmt::format("login to {}:{}: {}", url.host, url.port, DescribeReply(login)));
  }
  state_->logged_in = true;
  amqp_channel_open(state_->conn, kChannel);
  CheckRpc("channel.open");
  state_->channel_open = true;
  guard.armed = false;
}

Connection::~Connection() {
  if (state_ == nullptr || state_->conn == nullptr) {
    return;
  }
  // A broken connection cannot close politely; skip the RPCs rather than wait for their timeouts.
  if (state_->channel_open) {
    amqp_channel_close(state_->conn, kChannel, AMQP_REPLY_SUCCESS);
  }
  if (state_->logged_in) {
    amqp_connection_close(state_->conn, AMQP_REPLY_SUCCESS);
  }
  amqp_destroy_connection(state_->conn);
}

void* Connection::Native() const { return state_->conn; }

int Connection::Fd() const { return amqp_get_sockfd(state_->conn); }

void Connection::Abandon() {
  state_->logged_in = false;
  state_->channel_open = false;
  state_->aside_open = false;
}

bool Connection::HasBuffered() const {
  return amqp_frames_enqueued(state_->conn) != 0 || amqp_data_in_buffer(state_->conn) != 0;
}

void Connection::CheckRpc(const char* what) {
  const auto reply = amqp_get_rpc_reply(state_->conn);
  if (reply.reply_type != AMQP_RESPONSE_NORMAL) {
    if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION) {
      // The broker closed the channel or connection: neither can be used again politely.
      state_->channel_open = false;
      if (reply.reply.id == AMQP_CONNECTION_CLOSE_METHOD) {
        state_->logged_in = false;
      }
    } else {
      state_->channel_open = false;
      state_->logged_in = false;
    }
    throw AmqpError(fmt::format("{}: {}", what, DescribeReply(reply)));
  }
}

namespace {

// queue.declare of `spec` on `channel`; the reply is read with amqp_get_rpc_reply.
void SendQueueDeclare(amqp_connection_state_t conn, uint16_t channel, const QueueSpec& spec) {
  std::vector<amqp_table_entry_t> entries;
  for (const auto& [key, value] : spec.string_args) {
    amqp_table_entry_t e{};
    e.key = Bytes(key);
    e.value.kind = AMQP_FIELD_KIND_UTF8;
    e.value.value.bytes = Bytes(value);
    entries.push_back(e);
  }
  for (const auto& [key, value] : spec.int_args) {
    amqp_table_entry_t e{};
    e.key = Bytes(key);
    e.value.kind = AMQP_FIELD_KIND_I64;
    e.value.value.i64 = value;
    entries.push_back(e);
  }
  const amqp_table_t args{static_cast<int>(entries.size()), entries.data()};
  amqp_queue_declare(conn, channel, Bytes(spec.name), /*passive=*/0, spec.durable ? 1 : 0,
                     spec.exclusive ? 1 : 0, spec.auto_delete ? 1 : 0, args);
}

}  // namespace

std::optional<std::string> Connection::DeclareAside(const QueueSpec& spec,
                                                    const std::vector<BindingSpec>& bindings) {
  if (!state_->aside_open) {
    amqp_channel_open(state_->conn, kAsideChannel);
    if (auto refused = AsideRefusal("channel.open")) {
      return refused;
    }
    state_->aside_open = true;
  }
  SendQueueDeclare(state_->conn, kAsideChannel, spec);
  if (auto refused = AsideRefusal(fmt::format("queue.declare {}", spec.name))) {
    return refused;
  }
  for (const auto& b : bindings) {
    amqp_queue_bind(state_->conn, kAsideChannel, Bytes(b.queue), Bytes(b.exchange), Bytes(b.routing_key),
                    amqp_empty_table);
    if (auto refused = AsideRefusal(fmt::format("queue.bind {} to {}", b.queue, b.exchange))) {
      return refused;
    }
  }
  return std::nullopt;
}

std::optional<std::string> Connection::AsideRefusal(const std::string& what) {
  const auto reply = amqp_get_rpc_reply(state_->conn);
  if (reply.reply_type == AMQP_RESPONSE_NORMAL) {
    return std::nullopt;
  }
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    std::string why = fmt::format("{}: {}", what, ToString(m->reply_text));
    state_->aside_open = false;
    SendCloseOk(kAsideChannel);
    return why;
  }
  CheckRpc(what.c_str());  // the connection failed: throws
  throw AmqpError(what + ": failed");
}

void Connection::DeclareQueue(const QueueSpec& spec) {
  SendQueueDeclare(state_->conn, kChannel, spec);
  const auto reply = amqp_get_rpc_reply(state_->conn);
  if (reply.reply_type == AMQP_RESPONSE_SERVER_EXCEPTION && reply.reply.id == AMQP_CHANNEL_CLOSE_METHOD) {
    const auto* m = static_cast<amqp_channel_close_t*>(reply.reply.decoded);
    if (m->reply_code == AMQP_PRECONDITION_FAILED) {
      state_->channel_open = false;
      throw QueueMismatchError(fmt::format(
          "queue {} exists with other arguments than this process declares ({}); every process on the vhost "
          "must use the same amqp.queue_type (docs/scaling.md)",
          spec.name, ToString(m->reply_text)));
    }
  }
  CheckRpc(fmt::format("queue.declare {}", spec.name).c_str());
}

std::pair<uint64_t, uint32_t> Connection::InspectQueue(const std::string& queue) {
  auto* ok = amqp_queue_declare(state_->conn, kChannel, Bytes(queue), /*passive=*/1, /*durable=*/0,
                                /*exclusive=*/0, /*auto_delete=*/0, amqp_empty_table);
  CheckRpc(fmt::format("queue.declare passive {}", queue).c_str());
  return {ok->message_count, ok->consumer_count};
}

void Connection::DeclareExchange(const ExchangeSpec& spec) {
  amqp_table_entry_t alternate{};
  amqp_table_t args = amqp_empty_table;
  if (!spec.alternate_exchange.empty()) {
    alternate.key = amqp_cstring_bytes("alternate-exchange");
    alternate.value.kind = AMQP_FIELD_KIND_UTF8;
    alternate.value.value.bytes = Bytes(spec.alternate_exchange);
    args = amqp_table_t{1, &alternate};
  }
  amqp_exchange_declare(state_->conn, kChannel, Bytes(spec.name), Bytes(spec.type),
                        /*passive=*/0, /*durable=*/1, /*auto_delete=*/0, /*internal=*/0, args);
  CheckRpc(fmt::format("exchange.declare {}", spec.name).c_str());
}

void Connection::Bind(const BindingSpec& spec) {
  amqp_queue_bind(state_->conn, kChannel, Bytes(spec.queue), Bytes(spec.exchange), Bytes(spec.routing_key),
                  amqp_empty_table);
  CheckRpc(fmt::format("queue.bind {} to {}", spec.queue, spec.exchange).c_str());
}

void Connection::Declare(const Topology& topology) {
  for (const auto& e : topology.exchanges) {
    DeclareExchange(e);
  }
  std::set<std::string> skipped;
  for (const auto& q : topology.queues) {
    try {
      DeclareQueue(q);
    } catch (const AmqpError& e) {
      if (!q.optional || !state_->logged_in) {
        throw;  // required, or the whole connection is gone
      }
      spdlog::warn("skipping queue {} for now: {}", q.name, e.what());
      skipped.insert(q.name);
      ReopenChannel();
    }
  }
  for (const auto& b : topology.bindings) {
    if (!skipped.contains(b.queue)) {
      Bind(b);
    }
  }
}

bool CheckDeclarations(const ConnectionOptions& options, const Topology& topology) {
  try {
    Connection connection(options);
    connection.Declare(topology);
    // The declarations may have created queues, which RabbitMQ can lose with what they confirm for a
    // moment after (decision 76): nothing of this process publishes into them before they settle.
    std::this_thread::sleep_for(kNewQueueSettle);
    return true;
  } catch (const QueueMismatchError&) {
    throw;
  } catch (const AmqpError& e) {
    spdlog::debug("declarations not checked at start-up: {}", e.what());
    return false;
  }
}

void Connection::SendCloseOk(uint16_t channel) {
  // The broker closed the channel: it waits for our close-ok before the channel number is free again.
  amqp_channel_close_ok_t ok{};
  CheckStatus(amqp_send_method(state_->conn, channel, AMQP_CHANNEL_CLOSE_OK_METHOD, &ok), "channel.close-ok");
}

void Connection::ReopenChannel() {
  SendCloseOk(kChannel);
  amqp_channel_open(state_->conn, kChannel);
  CheckRpc("channel.open");
  state_->channel_open = true;
}

void Connection::ConfirmSelect() {
  amqp_confirm_select(state_->conn, kChannel);
  CheckRpc("confirm.select");
}

void Connection::Qos(uint16_t per_consumer, uint16_t per_channel) {
  amqp_basic_qos(state_->conn, kChannel, 0, per_consumer, /*global=*/0);
  CheckRpc("basic.qos");
  if (per_channel != 0) {
    amqp_basic_qos(state_->conn, kChannel, 0, per_channel, /*global=*/1);
    CheckRpc("basic.qos global");
  }
}

std::string Connection::Consume(const std::string& queue) {
  auto* ok = amqp_basic_consume(state_->conn, kChannel, Bytes(queue), amqp_empty_bytes, /*no_local=*/0,
                                /*no_ack=*/0, /*exclusive=*/0, amqp_empty_table);
  CheckRpc(fmt::format("basic.consume {}", queue).c_str());
  return ToString(ok->consumer_tag);
}

void Connection::Cancel(const std::string& consumer_tag) {
  // basic.cancel-ok may arrive after deliveries already in flight; the caller's frame loop handles
  // those, so send the method without waiting for its reply here.
  amqp_basic_cancel_t req{};
  req.consumer_tag = Bytes(consumer_tag);
  req.nowait = 0;
  CheckStatus(amqp_send_method(state_->conn, kChannel, AMQP_BASIC_CANCEL_METHOD, &req), "basic.cancel");
}

}  // namespace warren::amqp
