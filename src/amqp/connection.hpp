// RAII over one rabbitmq-c connection with channel 1 open. Every call has a timeout; any library or
// server exception throws AmqpError and leaves the connection broken: the owner destroys it and
// reconnects. Never share a Connection between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "amqp/topology_spec.hpp"

namespace warren::amqp {

class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// queue.declare refused because the queue exists with other arguments (406 PRECONDITION_FAILED,
// "inequivalent arg": another x-queue-type, x-max-priority, durability). Unlike a broker that is down,
// waiting does not fix it: the deployment's processes disagree (docs/scaling.md).
class QueueMismatchError : public AmqpError {
 public:
  using AmqpError::AmqpError;
};

// TLS for an amqps:// URL, from its query parameters (named as in RabbitMQ's URI query parameter
// spec): `cacertfile`, `certfile` with `keyfile`, `verify=verify_peer|verify_none`.
struct TlsOptions {
  std::string ca_file;    // PEM CA certificates the broker's must chain to; empty: the system's bundle
  std::string cert_file;  // a client certificate (PEM), for brokers that ask for one
  std::string key_file;   // its key (PEM, unencrypted)
  bool verify = true;     // the broker's certificate and that it names the URL's host
};

struct AmqpUrl {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
  bool tls = false;  // amqps://, port 5671 unless given
  TlsOptions tls_options;
};
// Throws std::invalid_argument naming the problem: not an AMQP URL, an unknown or repeated query
// parameter, TLS parameters on amqp://, a certfile without its keyfile, a file that cannot be read.
AmqpUrl ParseAmqpUrl(const std::string& url);
// The URLs of a comma-separated list (a cluster's nodes), each checked by ParseAmqpUrl; throws
// std::invalid_argument for an empty list or a bad URL.
std::vector<std::string> SplitAmqpUrls(const std::string& urls);

struct ConnectionOptions {
  // One broker, or several comma-separated (the nodes of a cluster): a connection tries them in turn.
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds rpc_timeout{5000};
  std::string name = "warren";  // shown in the management console
};

// RabbitMQ 3.10 writes a new durable queue's record to disk lazily: a queue created just before the
// broker is killed can vanish on restart, with the messages it had confirmed (decision 76). Younger
// than this, a queue is not trusted with a job.
inline constexpr std::chrono::milliseconds kNewQueueSettle{1000};

// Declares `topology` once, on a short-lived connection of its own, so that a process can refuse to
// start when a queue it needs exists with other arguments (throws QueueMismatchError) instead of
// retrying for ever, and returns kNewQueueSettle after (the declarations may have created the queues).
// Returns false at once when the broker cannot be reached or fails otherwise: the process's own
// connections retry that in the background.
bool CheckDeclarations(const ConnectionOptions& options, const Topology& topology);

class Connection {
 public:
  // Connects, logs in and opens channel 1, trying the URLs of `options.url` in turn from the one at
  // `first_url` (modulo their number); throws AmqpError naming the last failure when none answers.
  explicit Connection(const ConnectionOptions& options, size_t first_url = 0);
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void* Native() const;  // amqp_connection_state_t
  int Fd() const;
  static constexpr uint16_t kChannel = 1;

  void DeclareQueue(const QueueSpec& spec);
  // Declares `spec` and `bindings` on a channel of their own (kAsideChannel, opened on first use), so
  // that a refusal closes only that channel: returns the broker's reason (the queue exists with other
  // arguments, or is another connection's exclusive queue), and channel 1 with what it has in flight
  // lives on. Throws AmqpError when the connection fails.
  std::optional<std::string> DeclareAside(const QueueSpec& spec, const std::vector<BindingSpec>& bindings);
  static constexpr uint16_t kAsideChannel = 2;
  void DeclareExchange(const ExchangeSpec& spec);  // durable
  void Bind(const BindingSpec& spec);
  // Exchanges, queues, bindings in order. A refused optional queue is skipped (and its bindings); the
  // channel is opened again for the rest.
  void Declare(const Topology& topology);
  void ConfirmSelect();
  // basic.qos per consumer (global=false) and, when non-zero, per channel (global=true). Classic
  // queues apply both; quorum queues only the first.
  void Qos(uint16_t per_consumer, uint16_t per_channel);
  std::string Consume(const std::string& queue);  // returns the consumer tag
  void Cancel(const std::string& consumer_tag);
  // A passive queue.declare: {messages ready, consumers}. A missing queue throws (and closes the channel).
  std::pair<uint64_t, uint32_t> InspectQueue(const std::string& queue);

  // The broker does not read this connection (blocked by an alarm, a stalled path): the destructor
  // closes the socket without the close handshake, whose RPCs would each wait rpc_timeout.
  void Abandon();

  // True when rabbitmq-c holds unread data or frames, so poll() on the socket would miss them.
  bool HasBuffered() const;
  // Which URL of the list answered, and that URL (password redacted) for logs.
  size_t UrlIndex() const;
  const std::string& Peer() const;

 private:
  void CheckRpc(const char* what);
  // nullopt when the last RPC on kAsideChannel succeeded; the reason when the broker closed that
  // channel (answered with close-ok, to be opened again on next use). Throws for anything else.
  std::optional<std::string> AsideRefusal(const std::string& what);
  void Open(const ConnectionOptions& options, const AmqpUrl& url);
  void SendCloseOk(uint16_t channel);  // after the broker closed `channel`
  void ReopenChannel();
  struct State;
  std::unique_ptr<State> state_;
};

// Throws AmqpError unless status is AMQP_STATUS_OK.
void CheckStatus(int status, const char* what);

}  // namespace warren::amqp
