// Shared by integration and end-to-end tests: the real broker, child processes, a tiny HTTP client.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <deque>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "client/sse.hpp"
#include "core/unique_fd.hpp"

namespace warren::testing {

using namespace std::chrono_literals;

// One real RabbitMQ (Debian's rabbitmq-server) per test process, on free loopback ports with its data
// in a temp dir, started on first use and stopped (by PID) at process exit.
class TestBroker {
 public:
  static TestBroker& Get();
  std::string AmqpUrl() const;  // amqp://guest:guest@127.0.0.1:PORT/
  unsigned short AmqpPort() const;
  // The same node's TLS listener: amqps://guest:guest@127.0.0.1:TLS_PORT/ followed by `query`. Its
  // certificate (for 127.0.0.1 and localhost) is signed by TlsFile("ca.pem"); it asks clients for a
  // certificate and accepts one signed by that CA, or none.
  std::string AmqpsUrl(const std::string& query = "") const;
  // Files made for the run: ca.pem; client.pem and client.key (signed by ca.pem); other-ca.pem, and
  // other-client.pem and other-client.key signed by it (which the broker must refuse).
  std::string TlsFile(const std::string& name) const;
  // Runs rabbitmqctl against this node; returns its exit code, output in *output when given.
  int Ctl(const std::vector<std::string>& args, std::string* output = nullptr);
  // Messages in the queue, ready and unacked; -1 when there is no such queue.
  int QueueDepth(const std::string& queue);
  void Kill();   // kill -9 the broker and wait until it is gone
  void Start();  // start again (same ports, same data) and wait until ready
  ~TestBroker();

 private:
  TestBroker();
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// A child process with stdout and stderr captured (merged) in memory.
class Process {
 public:
  explicit Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env = {});
  ~Process();  // SIGTERM, up to 10 s, then SIGKILL; always reaped
  Process(const Process&) = delete;
  Process& operator=(const Process&) = delete;

  pid_t Pid() const;
  bool WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout);
  std::string Output() const;
  void Signal(int sig);
  // Exit code, 128+signal when killed, nullopt when still running after timeout.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// The names of the process's threads (/proc/<pid>/task/<tid>/comm), one entry per thread.
std::multiset<std::string> ThreadNames(pid_t pid);

unsigned short FreePort();
std::string WarrenBinary();  // path of build/bin/warren
std::string SourceDir();     // the project root
std::string MakeTempDir(const std::string& prefix);

struct HttpResponse {
  int status = 0;  // 0: no response (connect failed or timeout)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
};
HttpResponse HttpRequest(unsigned short port, const std::string& method, const std::string& target,
                         const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                         std::chrono::milliseconds timeout = 5s);
inline HttpResponse HttpGet(unsigned short port, const std::string& target, std::chrono::milliseconds timeout = 5s) {
  return HttpRequest(port, "GET", target, "", {}, timeout);
}
// A Server-Sent Events client: GET `target`, then one event at a time as the server sends them.
struct SseEvent {
  std::string id;
  std::string event;
  std::string data;
};
class EventStream {
 public:
  EventStream(unsigned short port, const std::string& target, const std::map<std::string, std::string>& headers = {},
              std::chrono::milliseconds timeout = 5s);
  int Status() const { return status_; }  // 0: no answer
  const std::string& Head() const { return head_; }
  // The next event (comments skipped); nullopt at the timeout or when the server closed the stream.
  std::optional<SseEvent> Next(std::chrono::milliseconds timeout);
  bool Closed() const { return closed_; }

 private:
  bool Fill(std::chrono::steady_clock::time_point deadline);
  UniqueFd fd_;
  std::string buffer_;               // read, not yet decoded
  client::SseDecoder decoder_;       // the CLI's decoder: comments skipped, lines split anywhere
  std::deque<SseEvent> ready_;       // decoded, not yet returned
  std::string head_;
  int status_ = 0;
  bool closed_ = false;
};

// Polls until GET target answers 200 or the timeout passes.
bool WaitForHttp(unsigned short port, const std::string& target, std::chrono::milliseconds timeout);

}  // namespace warren::testing
