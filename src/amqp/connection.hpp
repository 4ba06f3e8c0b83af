// RAII over one rabbitmq-c connection with channel 1 open. Every call has a timeout; any library or
// server exception throws AmqpError and leaves the connection broken: the owner destroys it and
// reconnects. Never share a Connection between threads.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "amqp/topology_spec.hpp"

namespace warren::amqp {

class AmqpError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

struct AmqpUrl {
  std::string host = "127.0.0.1";
  int port = 5672;
  std::string user = "guest";
  std::string password = "guest";
  std::string vhost = "/";
};
AmqpUrl ParseAmqpUrl(const std::string& url);  // throws std::invalid_argument

struct ConnectionOptions {
  std::string url = "amqp://guest:guest@127.0.0.1:5672/";
  std::chrono::seconds heartbeat{10};
  std::chrono::milliseconds connect_timeout{3000};
  std::chrono::milliseconds rpc_timeout{5000};
  std::string name = "warren";  // shown in the management console
};

class Connection {
 public:
  explicit Connection(const ConnectionOptions& options);  // connect, login, open channel 1; throws
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  void* Native() const;  // amqp_connection_state_t
  int Fd() const;
  static constexpr uint16_t kChannel = 1;

  void DeclareQueue(const QueueSpec& spec);
  void DeclareExchange(const ExchangeSpec& spec);  // durable
  void Bind(const BindingSpec& spec);
  void Declare(const Topology& topology);
  void ConfirmSelect();
  // basic.qos per consumer (global=false) and, when non-zero, per channel (global=true). Classic
  // queues apply both; quorum queues only the first.
  void Qos(uint16_t per_consumer, uint16_t per_channel);
  std::string Consume(const std::string& queue);  // returns the consumer tag
  void Cancel(const std::string& consumer_tag);
  // A passive queue.declare: {messages ready, consumers}. A missing queue throws (and closes the channel).
  std::pair<uint64_t, uint32_t> InspectQueue(const std::string& queue);

  // True when rabbitmq-c holds unread data or frames, so poll() on the socket would miss them.
  bool HasBuffered() const;

 private:
  void CheckRpc(const char* what);
  struct State;
  std::unique_ptr<State> state_;
};

// Throws AmqpError unless status is AMQP_STATUS_OK.
void CheckStatus(int status, const char* what);

}  // namespace warren::amqp
