// The `warren up` supervisor: one thread, one poll loop over a signalfd (SIGINT, SIGTERM, SIGHUP, SIGCHLD)
// and the children's output pipes. Starts the managed broker, then serve, then N workers; restarts
// a child that dies with capped exponential backoff; stops workers, serve, the broker, epmd in that
// order on the first signal and kills everything at once on the second.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/config.hpp"
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "supervisor/autoscale.hpp"
#include "supervisor/child_process.hpp"
#include "supervisor/line_splitter.hpp"
#include "supervisor/managed_broker.hpp"
#include "supervisor/restart_backoff.hpp"
#include "core/unique_fd.hpp"
#include "supervisor/up.hpp"

namespace warren::supervisor {

// One `warren` subcommand `up` runs, and the arguments after the program path.
struct ChildSpec {
  std::string name;  // "serve", "work.1": the log prefix
  std::vector<std::string> args;
  bool is_worker = false;
};

// serve first, then workers work.1..work.N, all pointed at `amqp_url`. Pure, for tests.
std::vector<ChildSpec> ChildSpecs(const Settings& settings, const UpOptions& options,
                                  const std::string& amqp_url);
// Worker work.<index>, as ChildSpecs makes them; for scaling up at run time.
ChildSpec WorkerSpec(const Settings& settings, const UpOptions& options, const std::string& amqp_url, int index);
// The store serve uses: as configured, except that the default one moves into the data dir.
std::string StoreUrlFor(const Settings& settings);
// Where the managed broker lives and listens, from the settings (data_dir made absolute).
BrokerOptions BrokerOptionsFor(const Settings& settings);
// True for exit codes that say "your configuration or command line is wrong": restarting cannot help.
bool IsPermanentFailure(const ExitStatus& status);
// "serve    | line"; with --log-format json, a child's JSON log line passes through unchanged.
std::string FormatChildLine(std::string_view name, std::string_view line, bool json);

class Supervisor {
 public:
  // Blocks SIGINT/SIGTERM/SIGHUP/SIGCHLD for the whole process (before any thread starts, so every thread
  // inherits the mask and the signalfd sees them all) and ignores SIGPIPE.
  Supervisor(Settings settings, UpOptions options);
  ~Supervisor();
  Supervisor(const Supervisor&) = delete;
  Supervisor& operator=(const Supervisor&) = delete;

  int Run();  // the process exit code

 private:
  using Clock = std::chrono::steady_clock;
  struct Child {
    ChildSpec spec;
    ChildProcess process;
    LineSplitter splitter;
    RestartBackoff backoff;
    Clock::time_point started_at{};
    std::optional<Clock::time_point> restart_at;
    bool stopping = false;
    // Scaled away: draining (SIGTERM sent), killed at remove_by, forgotten once it exited.
    std::optional<Clock::time_point> remove_by;
  };

  bool StartBroker();
  // The control socket: one request per connection (supervisor/control.hpp).
  void ServeControl();
  std::string HandleControl(std::string_view line);
  std::string Scale(int workers);
  std::string Status() const;
  void RemoveDrainedWorkers();
  // The autoscaler: a thread samples the queues every few seconds; the loop decides and scales.
  void StartSampler();
  void Autoscale();
  int ActiveWorkers() const;
  void StartChild(Child& child);
  void Pump(std::chrono::milliseconds timeout);
  void ReadSignals();
  void ReadOutput(Child& child, bool until_eof);
  void ReapChildren();
  void RestartDueChildren();
  void CheckBroker();
  std::chrono::milliseconds NextTimeout() const;
  void StopGroup(bool workers, std::chrono::milliseconds timeout);
  void ShutDown();
  void KillEverything();
  bool Forced() const { return stop_requests_ >= 2; }

  Settings settings_;
  UpOptions options_;
  std::string self_exe_;
  UniqueFd signal_fd_;
  int stop_requests_ = 0;
  int exit_code_ = 0;
  std::unique_ptr<ManagedBroker> broker_;
  RestartBackoff broker_backoff_;
  std::optional<Clock::time_point> broker_restart_at_;
  Clock::time_point broker_started_at_{};
  pid_t epmd_pid_logged_ = -1;
  std::string amqp_url_;
  std::vector<Child> children_;
  UniqueFd control_fd_;  // listening; invalid when the socket could not be made
  std::string control_path_;
  bool ready_ = false;  // the broker is up and every child was started once

  std::mutex sample_mu_;
  std::optional<LoadSample> sample_;  // guarded by sample_mu_: the newest, taken by Autoscale
  std::jthread sampler_;
  Clock::time_point busy_since_{};
  Clock::time_point last_scale_{};
  nlohmann::json decisions_ = nlohmann::json::array();  // the newest autoscale decisions, for status
  uint64_t scaled_up_ = 0;
  uint64_t scaled_down_ = 0;
};

}  // namespace warren::supervisor
