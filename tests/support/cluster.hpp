// A RabbitMQ cluster on loopback for tests: N nodes of Debian's rabbitmq-server (each a ManagedBroker,
// as TestBroker and `warren up` run one) with names `warren-c<pid>-<i>@localhost`, their own AMQP and
// distribution ports and data in temp dirs, one shared epmd (run by node 0) and one Erlang cookie. They
// form the cluster at boot by classic peer discovery (RabbitMQ 3.10 takes a lock, so nodes booting
// together form one cluster). Stopped by PID when destroyed.
#pragma once

#include <memory>
#include <string>
#include <vector>

namespace warren::testing {

class TestCluster {
 public:
  // Boots every node and waits until each runs and sees all the others; throws with the nodes' last
  // log lines.
  explicit TestCluster(int nodes = 3);
  ~TestCluster();
  TestCluster(const TestCluster&) = delete;
  TestCluster& operator=(const TestCluster&) = delete;

  int Size() const;
  std::string NodeName(int node) const;
  unsigned short AmqpPort(int node) const;
  // amqp://guest:guest@127.0.0.1:PORT/VHOST (vhost "/" by default; others percent-encoded as needed).
  std::string AmqpUrl(int node, const std::string& vhost = "/") const;
  // Every node's URL, comma-separated, starting with `first` (then the rest in order, wrapping).
  std::string AmqpUrls(int first, const std::string& vhost = "/") const;
  // rabbitmqctl against `node`; its exit code, its output in *output.
  int Ctl(int node, const std::vector<std::string>& args, std::string* output = nullptr);
  // A vhost with full permissions for guest (Warren's classic and quorum topologies cannot share one).
  void AddVhost(const std::string& vhost);
  // The node (index) holding the leader of quorum queue `queue` in `vhost`, or -1.
  int LeaderOf(const std::string& queue, const std::string& vhost);
  void Kill(int node);   // kill -9 the node's processes (epmd stays) and wait until they are gone
  void Start(int node);  // start it again (same name, ports, data); waits until ready
  bool Running(int node) const;
  std::string LogTail() const;  // the nodes' recent output, for failure messages

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace warren::testing
