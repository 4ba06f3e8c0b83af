// A RabbitMQ node we run ourselves: Debian's rabbitmq-server started directly as a child (no systemd,
// no su), with its own epmd, every listener on 127.0.0.1, and all its state under one directory.
// Used by `warren up` and by tests/support's TestBroker: one implementation of "run a broker".
//
// Process tree: our epmd (own group) and /bin/sh rabbitmq-server (own group) -> beam.smp (same group)
// -> erl_child_setup, inet_gethost (own sessions; recorded and killed by pid + start time).
#pragma once

#include <sys/types.h>

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "supervisor/broker_config.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/line_reader_thread.hpp"
#include "supervisor/process_tree.hpp"

namespace warren::supervisor {

class BrokerError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class ManagedBroker {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  using StopRequested = std::function<bool()>;

  // `on_line` gets the broker's (and epmd's) output, one whole line per call, on a reader thread.
  ManagedBroker(BrokerOptions options, LineHandler on_line);
  ~ManagedBroker();  // KillAll(): owners that want a clean shutdown call Stop() first
  ManagedBroker(const ManagedBroker&) = delete;
  ManagedBroker& operator=(const ManagedBroker&) = delete;

  // Checks programs and ports, writes the config files, starts epmd (unless ours still runs) and
  // rabbitmq-server. Returns at once; WaitReady() waits for the boot. Throws BrokerError.
  void Start();
  // Waits until the broker accepts AMQP connections, `rabbitmqctl await_startup` succeeds and (when
  // enabled) the management port answers. Returns false when `stop_requested` (polled every 100 ms)
  // says so. Throws BrokerError when the server exits or `timeout` passes first.
  bool WaitReady(std::chrono::milliseconds timeout, const StopRequested& stop_requested = {});
  // SIGTERM to rabbitmq-server (it stops the node cleanly), SIGKILL to the whole tree after `timeout`,
  // then epmd; at once when `hurry` (polled every 100 ms) says so. Idempotent.
  void Stop(std::chrono::milliseconds timeout, const StopRequested& hurry = {});
  // SIGKILL to the server's whole tree, waits until it is gone. epmd keeps running, as after a crash.
  void Kill();
  void KillAll();  // Kill() and epmd too
  // The server's exit status, once it has exited (expected or not); nullopt while it runs. Also
  // kills what it left behind.
  std::optional<ExitStatus> CheckExited();
  bool ServerRunning() const { return server_.Running(); }

  // Runs rabbitmqctl against this node; returns its exit code (128+signal if killed on timeout).
  int Ctl(const std::vector<std::string>& args, std::string* output = nullptr,
          std::chrono::milliseconds timeout = std::chrono::seconds(120));

  // Processes a previous run recorded in DIR/processes and left behind (its supervisor was SIGKILLed
  // or crashed) that Start() killed: same pid *and* start time, so never a stranger.
  const std::vector<ProcessId>& KilledLeftovers() const { return killed_leftovers_; }

  const BrokerOptions& Options() const { return options_; }
  std::string AmqpUrl() const { return AmqpUrlFor(options_.amqp_port); }
  pid_t ServerPid() const { return server_.Pid(); }  // the rabbitmq-server script, group leader
  pid_t BeamPid() const { return beam_pid_; }        // the Erlang VM, once ready (from the pid file)
  pid_t EpmdPid() const { return epmd_.Pid(); }

 private:
  void CheckPrograms();
  void CheckPorts(bool epmd_too) const;
  void WriteFiles() const;
  void StartEpmd();
  void StopServerTree(bool graceful, std::chrono::milliseconds timeout, const StopRequested& hurry);
  void CleanUpAfterServer();
  void RememberTree();
  void WriteProcessFile() const;
  void KillLeftovers();
  ChildProcess SpawnCtl(const std::vector<std::string>& args) const;

  BrokerOptions options_;
  BrokerPaths paths_;
  LineHandler on_line_;
  std::string server_program_;
  std::string ctl_program_;
  std::string epmd_program_;

  ChildProcess epmd_;
  std::unique_ptr<LineReaderThread> epmd_reader_;
  ChildProcess server_;
  std::unique_ptr<LineReaderThread> server_reader_;
  std::vector<ProcessId> tree_;  // the server's descendants seen so far (beam, its helpers)
  pid_t beam_pid_ = -1;
  bool server_cleaned_up_ = true;  // CleanUpAfterServer ran for the current server_
  std::vector<ProcessId> killed_leftovers_;
};

}  // namespace warren::supervisor
