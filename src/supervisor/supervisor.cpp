#include "supervisor/supervisor.hpp"

#include <poll.h>
#include <pthread.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <unistd.h>
#include <csignal>

#include <algorithm>
#include <array>
#include <condition_variable>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include <nlohmann/json.hpp>

#include "amqp/management.hpp"
#include "amqp/queue_inspector.hpp"
#include "core/log.hpp"
#include "core/thread_name.hpp"
#include "core/unix_socket.hpp"
#include "supervisor/control.hpp"

namespace warren::supervisor {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr milliseconds kBrokerReadyTimeout = seconds(120);
constexpr milliseconds kBrokerStopTimeout = seconds(30);
constexpr milliseconds kServeStopTimeout = seconds(10);
constexpr milliseconds kWorkerStopExtra = seconds(5);  // on top of settings.grace
constexpr milliseconds kIdleTick = seconds(1);

long Seconds(milliseconds d) { return static_cast<long>((d.count() + 999) / 1000); }

}  // namespace

namespace {

// Children get every setting they need as flags: flags win over the environment and the file, so
// what `up` resolved is what they use. The config file still goes along for everything else.
std::vector<std::string> CommonArgs(const Settings& settings, const UpOptions& options) {
  std::vector<std::string> common;
  if (!options.config_path.empty()) {
    common.insert(common.end(), {"--config", options.config_path});
  }
  common.insert(common.end(), {"--log-level", settings.log_level, "--log-format", settings.log_format,
                               "--queue-type", ToString(settings.queue_type)});
  return common;
}

}  // namespace

ChildSpec WorkerSpec(const Settings& settings, const UpOptions& options, const std::string& amqp_url, int index) {
  ChildSpec work{fmt::format("work.{}", index),
                 {"work", "--amqp-url", amqp_url, "--concurrency", std::to_string(settings.concurrency), "--grace",
                  FormatDuration(settings.grace)},
                 true};
  for (const auto& queue : settings.queues) {
    work.args.insert(work.args.end(), {"--queue", queue});
  }
  for (const auto& [queue, priority] : settings.queue_priorities) {
    work.args.insert(work.args.end(), {"--queue-priority", fmt::format("{}={}", queue, priority)});
  }
  const auto common = CommonArgs(settings, options);
  work.args.insert(work.args.end(), common.begin(), common.end());
  return work;
}

std::vector<ChildSpec> ChildSpecs(const Settings& settings, const UpOptions& options,
                                  const std::string& amqp_url) {
  const auto common = CommonArgs(settings, options);
  std::vector<ChildSpec> out;
  ChildSpec serve{"serve",
                  {"serve", "--amqp-url", amqp_url, "--listen", settings.listen.ToString(), "--store",
                   StoreUrlFor(settings), "--management-port", std::to_string(settings.management_port)},
                  false};
  serve.args.insert(serve.args.end(), common.begin(), common.end());
  out.push_back(std::move(serve));
  for (int i = 1; i <= settings.workers; ++i) {
    out.push_back(WorkerSpec(settings, options, amqp_url, i));
  }
  return out;
}

std::string StoreUrlFor(const Settings& settings) {
  // The default store lives with the rest of the state: `up --data-dir DIR` keeps DIR/warren.db, not
  // ./var/warren.db in whatever directory it was started from.
  if (settings.store_url == Settings{}.store_url) {
    return "sqlite:" +
           (std::filesystem::absolute(settings.data_dir) / "warren.db").lexically_normal().string();
  }
  return settings.store_url;
}

BrokerOptions BrokerOptionsFor(const Settings& settings) {
  BrokerOptions b;
  b.dir = (std::filesystem::absolute(settings.data_dir) / "rabbitmq").lexically_normal().string();
  b.amqp_port = settings.broker_port;
  b.management_port = settings.management_port;
  b.dist_port = settings.dist_port;
  b.epmd_port = settings.epmd_port;
  return b;
}

bool IsPermanentFailure(const ExitStatus& status) {
  // 2: main()'s ConfigError. 100..127: CLI11's usage errors (an unknown flag means a version mismatch
  // between `up` and the binary it starts, which a restart does not fix).
  return status.signal == 0 && (status.code == 2 || (status.code >= 100 && status.code < 128));
}

std::string FormatChildLine(std::string_view name, std::string_view line, bool json) {
  // A JSON log line already names its component; a prefix would only make it unparseable.
  if (json && line.starts_with('{')) {
    return std::string(line);
  }
  return PrefixLine(name, line);
}

Supervisor::Supervisor(Settings settings, UpOptions options)
    : settings_(std::move(settings)), options_(std::move(options)) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  sigaddset(&set, SIGHUP);  // the terminal went away: stop cleanly rather than die and orphan children
  sigaddset(&set, SIGCHLD);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal_fd_.Reset(::signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK));
  if (!signal_fd_) {
    throw std::runtime_error(fmt::format("signalfd: {}", std::strerror(errno)));
  }
  // With stdout piped into `head` or a closed terminal, a write must fail, not kill the supervisor and
  // orphan every child.
  ::signal(SIGPIPE, SIG_IGN);
  self_exe_ = SelfExe();
}

Supervisor::~Supervisor() { KillEverything(); }

void Supervisor::ReadSignals() {
  signalfd_siginfo info{};
  while (::read(signal_fd_.Get(), &info, sizeof info) == sizeof info) {
    const int sig = static_cast<int>(info.ssi_signo);
    if (sig == SIGINT || sig == SIGTERM || sig == SIGHUP) {
      ++stop_requests_;
      if (stop_requests_ == 1) {
        spdlog::info("received SIG{}: stopping workers, then serve{} (again to kill everything now)",
                     SignalName(sig), broker_ ? ", then rabbitmq" : "");
      } else if (stop_requests_ == 2) {
        spdlog::warn("received SIG{} again: killing everything now", SignalName(sig));
      }
    }
    // SIGCHLD only wakes the loop: ReapChildren() asks each child by pid, never waitpid(-1), so the
    // broker's rabbitmqctl calls keep their own exit statuses.
  }
}

void Supervisor::ReadOutput(Child& child, bool until_eof) {
  std::array<char, 65536> buf{};
  const bool json = settings_.log_format == "json";
  const auto emit = [&](std::string_view line) { Output(FormatChildLine(child.spec.name, line, json)); };
  while (child.process.OutputFd() >= 0) {
    const ssize_t n = ::read(child.process.OutputFd(), buf.data(), buf.size());
    if (n > 0) {
      child.splitter.Feed(std::string_view(buf.data(), static_cast<size_t>(n)), emit);
      if (!until_eof) {
        return;  // one read per wake-up keeps a chatty child from starving the others
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && errno == EAGAIN) {
      if (until_eof) {
        // The child is gone; what is left was written by grandchildren still holding the pipe.
        // Pass on the partial line and stop listening rather than wait for them.
        child.splitter.Finish(emit);
        child.process.CloseOutput();
      }
      return;
    }
    child.splitter.Finish(emit);  // EOF or error
    child.process.CloseOutput();
  }
}

void Supervisor::Pump(milliseconds timeout) {
  std::vector<pollfd> fds{{signal_fd_.Get(), POLLIN, 0}};
  std::vector<Child*> owners{nullptr};
  for (auto& child : children_) {
    if (child.process.OutputFd() >= 0) {
      fds.push_back({child.process.OutputFd(), POLLIN, 0});
      owners.push_back(&child);
    }
  }
  const size_t control_index = fds.size();
  if (control_fd_) {
    fds.push_back({control_fd_.Get(), POLLIN, 0});
    owners.push_back(nullptr);
  }
  const int r = ::poll(fds.data(), fds.size(), static_cast<int>(timeout.count()));
  if (r <= 0) {
    return;
  }
  if ((fds[0].revents & POLLIN) != 0) {
    ReadSignals();
  }
  for (size_t i = 1; i < fds.size(); ++i) {
    if (owners[i] != nullptr && (fds[i].revents & (POLLIN | POLLHUP | POLLERR)) != 0) {
      ReadOutput(*owners[i], false);
    }
  }
  // Last: a scale request adds children, and growing children_ would leave `owners` dangling.
  if (control_fd_ && (fds[control_index].revents & POLLIN) != 0) {
    ServeControl();
  }
}

void Supervisor::StartChild(Child& child) {
  SpawnOptions spawn;
  spawn.argv.push_back(self_exe_);
  spawn.argv.insert(spawn.argv.end(), child.spec.args.begin(), child.spec.args.end());
  // Lets a child notice when we are gone (PR_SET_PDEATHSIG), see parent_death.hpp.
  spawn.env["WARREN_SUPERVISOR_PID"] = std::to_string(::getpid());
  spawn.env[std::string(kDetachedEnv)] = std::nullopt;  // ours (up --detach), not a child's to inherit
  if (control_fd_) {
    spawn.env[std::string(kControlEnv)] = control_path_;  // serve's POST /v1/workers/scale
  }
  child.restart_at.reset();
  child.stopping = false;
  child.splitter = LineSplitter();
  try {
    child.process = ChildProcess::Spawn(spawn);
  } catch (const SpawnError& e) {
    const auto delay = child.backoff.OnExit(milliseconds(0));
    spdlog::error("{}: {}; retrying in {}s", child.spec.name, e.what(), Seconds(delay));
    child.restart_at = Clock::now() + delay;
    return;
  }
  child.started_at = Clock::now();
  spdlog::info("started {} pid={}", child.spec.name, child.process.Pid());
}

void Supervisor::ReapChildren() {
  for (auto& child : children_) {
    if (!child.process.Running()) {
      continue;
    }
    auto status = child.process.TryWait();
    if (!status) {
      continue;
    }
    ReadOutput(child, true);
    if (child.remove_by) {
      spdlog::info("{} (pid {}) {}: scaled away", child.spec.name, child.process.Pid(), status->Describe());
      continue;
    }
    if (child.stopping || stop_requests_ > 0) {
      spdlog::info("{} (pid {}) {}", child.spec.name, child.process.Pid(), status->Describe());
      continue;
    }
    const auto uptime = std::chrono::duration_cast<milliseconds>(Clock::now() - child.started_at);
    if (IsPermanentFailure(*status)) {
      spdlog::error("{} (pid {}) {}: a configuration or usage error, which a restart cannot fix; stopping",
                    child.spec.name, child.process.Pid(), status->Describe());
      exit_code_ = 1;
      stop_requests_ = std::max(stop_requests_, 1);
      continue;
    }
    const auto delay = child.backoff.OnExit(uptime);
    spdlog::warn("{} (pid {}) {} after {}s; restarting in {}s", child.spec.name, child.process.Pid(),
                 status->Describe(), Seconds(uptime), Seconds(delay));
    child.restart_at = Clock::now() + delay;
  }
}

void Supervisor::RestartDueChildren() {
  if (stop_requests_ > 0) {
    return;
  }
  const auto now = Clock::now();
  for (auto& child : children_) {
    if (child.restart_at && *child.restart_at <= now) {
      StartChild(child);
    }
  }
}

bool Supervisor::StartBroker() {
  const auto& b = broker_->Options();
  broker_->Start();
  for (const auto& id : broker_->KilledLeftovers()) {
    spdlog::warn("killed pid {}, left running by an earlier warren up of {}", id.pid, b.dir);
  }
  if (broker_->EpmdPid() != epmd_pid_logged_) {  // after a broker crash epmd usually still runs
    epmd_pid_logged_ = broker_->EpmdPid();
    spdlog::info("started epmd pid={} on 127.0.0.1:{}", broker_->EpmdPid(), b.epmd_port);
  }
  spdlog::info("started rabbitmq pid={} (node {}, data {})", broker_->ServerPid(), b.node_name, b.dir);
  broker_started_at_ = Clock::now();
  // While the broker boots, the loop keeps running: output is forwarded, signals and children handled.
  const bool ready = broker_->WaitReady(kBrokerReadyTimeout, [this] {
    Pump(milliseconds(0));
    ReapChildren();
    RestartDueChildren();
    return stop_requests_ > 0;
  });
  if (!ready) {
    return false;
  }
  spdlog::info("rabbitmq ready on 127.0.0.1:{} ({})", b.amqp_port,
               b.management_port != 0 ? fmt::format("management http://127.0.0.1:{}", b.management_port)
                                      : std::string("management off"));
  spdlog::info("rabbitmq node {} beam.smp pid={}", b.node_name, broker_->BeamPid());
  return true;
}

void Supervisor::CheckBroker() {
  if (!broker_ || stop_requests_ > 0) {
    return;
  }
  if (!broker_restart_at_) {
    auto status = broker_->CheckExited();
    if (!status) {
      return;
    }
    const auto delay =
        broker_backoff_.OnExit(std::chrono::duration_cast<milliseconds>(Clock::now() - broker_started_at_));
    // The script exits 0 however the VM ended (it waits with `|| true`); the VM's own fate is in the
    // lines it printed just before.
    spdlog::error(
        "rabbitmq stopped unexpectedly (rabbitmq-server pid {} {}); restarting it in {}s (serve and "
        "workers reconnect by themselves)",
        broker_->ServerPid(), status->Describe(), Seconds(delay));
    broker_restart_at_ = Clock::now() + delay;
    return;
  }
  if (*broker_restart_at_ > Clock::now()) {
    return;
  }
  broker_restart_at_.reset();
  try {
    StartBroker();
  } catch (const std::exception& e) {
    broker_->Kill();
    const auto delay = broker_backoff_.OnExit(milliseconds(0));
    spdlog::error("{}; retrying in {}s", e.what(), Seconds(delay));
    broker_restart_at_ = Clock::now() + delay;
  }
}

milliseconds Supervisor::NextTimeout() const {
  auto next = Clock::now() + kIdleTick;
  for (const auto& child : children_) {
    if (child.restart_at) {
      next = std::min(next, *child.restart_at);
    }
  }
  if (broker_restart_at_) {
    next = std::min(next, *broker_restart_at_);
  }
  return std::max(milliseconds(0), std::chrono::duration_cast<milliseconds>(next - Clock::now()));
}

void Supervisor::StopGroup(bool workers, milliseconds timeout) {
  const auto deadline = Clock::now() + timeout;
  // A worker draining after a scale-down has had its SIGTERM, and a second one means "exit now" to a
  // worker: it is left to finish its jobs by the deadline it already has.
  const auto due = [&deadline](const Child& child) { return child.remove_by.value_or(deadline); };
  bool any = false;
  for (auto& child : children_) {
    child.restart_at.reset();
    if (child.spec.is_worker == workers && child.process.Running()) {
      if (!child.remove_by) {
        child.stopping = true;
        child.process.Signal(SIGTERM);
      }
      any = true;
    }
  }
  if (!any) {
    return;
  }
  const auto kill = [this, timeout](Child& child) {
    if (!Forced()) {
      spdlog::warn("{} (pid {}) did not {} within {}s: killing it", child.spec.name, child.process.Pid(),
                   child.remove_by ? "drain" : "stop",
                   Seconds(child.remove_by ? settings_.grace + kWorkerStopExtra : timeout));
    }
    ReadOutput(child, false);
    child.process.Kill();
    ReadOutput(child, true);
    spdlog::info("{} (pid {}) {}", child.spec.name, child.process.Pid(), child.process.Status()->Describe());
  };
  while (!Forced()) {
    ReapChildren();
    const auto now = Clock::now();
    std::optional<Clock::time_point> next;
    for (auto& child : children_) {
      if (child.spec.is_worker != workers || !child.process.Running()) {
        continue;
      }
      if (now >= due(child)) {
        kill(child);
        continue;
      }
      next = std::min(next.value_or(due(child)), due(child));
    }
    if (!next) {
      return;
    }
    Pump(std::min(milliseconds(100), std::chrono::duration_cast<milliseconds>(*next - now)));
  }
  for (auto& child : children_) {
    if (child.spec.is_worker == workers && child.process.Running()) {
      kill(child);
    }
  }
}

void Supervisor::ShutDown() {
  StopGroup(true, settings_.grace + kWorkerStopExtra);
  StopGroup(false, kServeStopTimeout);
  if (broker_) {
    if (!Forced() && broker_->ServerRunning()) {
      spdlog::info("stopping rabbitmq (pid {})", broker_->ServerPid());
    }
    broker_->Stop(kBrokerStopTimeout, [this] {
      Pump(milliseconds(0));
      return Forced();
    });
    spdlog::info("rabbitmq and epmd stopped");
  }
  KillEverything();
  if (Forced() && exit_code_ == 0) {
    exit_code_ = 1;
  }
}

void Supervisor::KillEverything() {
  for (auto& child : children_) {
    if (child.process.Running()) {
      child.process.Kill();
    }
    ReadOutput(child, true);
  }
  if (broker_) {
    broker_->KillAll();
  }
}

void Supervisor::ServeControl() {
  UniqueFd client(::accept4(control_fd_.Get(), nullptr, nullptr, SOCK_CLOEXEC));
  if (!client) {
    return;
  }
  // Clients are local and quick; the bound keeps a stuck one from stalling the loop for long.
  const auto line = ReadLine(client.Get(), milliseconds(500));
  if (!line) {
    return;
  }
  WriteAll(client.Get(), HandleControl(*line) + "\n", milliseconds(500));
}

std::string Supervisor::HandleControl(std::string_view line) {
  auto parsed = ParseControlLine(line);
  if (const auto* error = std::get_if<std::string>(&parsed)) {
    return nlohmann::json{{"ok", false}, {"error", *error}}.dump();
  }
  const auto& command = std::get<ControlCommand>(parsed);
  if (const auto* scale = std::get_if<ScaleCommand>(&command)) {
    return Scale(scale->workers);
  }
  return Status();
}

std::string Supervisor::Scale(int workers) {
  if (stop_requests_ > 0) {
    return nlohmann::json{{"ok", false}, {"error", "warren up is stopping"}}.dump();
  }
  if (!ready_) {
    // The socket answers while the broker boots, before Run() starts the configured workers: workers
    // started now would be started a second time under the same names.
    return nlohmann::json{{"ok", false}, {"error", "starting: try again when the stack is up"}}.dump();
  }
  std::vector<Child*> active;
  std::set<int> taken;
  for (auto& child : children_) {
    if (child.spec.is_worker) {
      taken.insert(std::stoi(child.spec.name.substr(child.spec.name.find('.') + 1)));
      if (!child.remove_by) {
        active.push_back(&child);
      }
    }
  }
  const int previous = static_cast<int>(active.size());
  nlohmann::json started = nlohmann::json::array();
  nlohmann::json draining = nlohmann::json::array();
  if (workers < previous) {
    // Newest first; each drains (stops consuming, finishes its jobs up to the grace) and is then gone.
    std::sort(active.begin(), active.end(), [](const Child* a, const Child* b) { return a->started_at > b->started_at; });
    for (int i = 0; i < previous - workers; ++i) {
      Child& child = *active[static_cast<size_t>(i)];
      child.remove_by = Clock::now() + settings_.grace + kWorkerStopExtra;
      child.restart_at.reset();
      child.stopping = true;
      if (child.process.Running()) {
        child.process.Signal(SIGTERM);
      }
      draining.push_back(child.spec.name);
    }
  }
  std::vector<ChildSpec> added;
  for (int index = 1; previous + static_cast<int>(added.size()) < workers; ++index) {
    if (!taken.contains(index)) {
      added.push_back(WorkerSpec(settings_, options_, amqp_url_, index));
    }
  }
  for (auto& spec : added) {
    children_.push_back(Child{std::move(spec), {}, LineSplitter(), RestartBackoff(), {}, {}, false, {}});
    StartChild(children_.back());
    started.push_back(children_.back().spec.name);
  }
  settings_.workers = workers;
  spdlog::info("scaled workers {} -> {}{}{}", previous, workers,
               started.empty() ? "" : fmt::format("; started {}", started.dump()),
               draining.empty() ? "" : fmt::format("; draining {}", draining.dump()));
  return nlohmann::json{{"ok", true}, {"workers", workers}, {"previous", previous}, {"started", started},
                        {"draining", draining}}
      .dump();
}

std::string Supervisor::Status() const {
  nlohmann::json children = nlohmann::json::array();
  int workers = 0;
  for (const auto& child : children_) {
    const char* state = child.remove_by             ? "draining"
                        : child.process.Running()   ? "running"
                        : child.restart_at          ? "restarting"
                                                    : "stopped";
    workers += child.spec.is_worker && !child.remove_by ? 1 : 0;
    children.push_back({{"name", child.spec.name},
                        {"pid", child.process.Running() ? nlohmann::json(child.process.Pid()) : nlohmann::json()},
                        {"state", state}});
  }
  nlohmann::json out{{"ok", true},        {"pid", ::getpid()},    {"ready", ready_},
                     {"workers", workers}, {"children", children}, {"api", settings_.listen.ToString()}};
  if (settings_.autoscale.max > 0) {
    out["autoscale"] = {{"min", settings_.autoscale.min},
                        {"max", settings_.autoscale.max},
                        {"target_wait", FormatDuration(settings_.autoscale.target_wait)},
                        {"cooldown", FormatDuration(settings_.autoscale.cooldown)},
                        {"scaled_up", scaled_up_},
                        {"scaled_down", scaled_down_},
                        {"decisions", decisions_}};
  }
  return out.dump();
}

int Supervisor::ActiveWorkers() const {
  return static_cast<int>(std::count_if(children_.begin(), children_.end(),
                                        [](const Child& c) { return c.spec.is_worker && !c.remove_by; }));
}

void Supervisor::StartSampler() {
  if (settings_.autoscale.max == 0) {
    return;
  }
  amqp::ConnectionOptions connection;
  connection.url = amqp_url_;
  connection.heartbeat = seconds(0);
  connection.name = "warren up autoscaler";
  amqp::ManagementOptions management;
  management.port = broker_ ? settings_.management_port : 0;  // our own broker's plugin, when it runs
  spdlog::info("autoscaling workers {}..{}: target wait {}, cool-down {}{}", settings_.autoscale.min,
               settings_.autoscale.max, FormatDuration(settings_.autoscale.target_wait),
               FormatDuration(settings_.autoscale.cooldown),
               management.port != 0 ? "" : " (no management plugin: waiting jobs are counted, not timed)");
  sampler_ = std::jthread([this, connection, management,
                           queues = settings_.queues](const std::stop_token& stop) {
    NameThisThread("autoscaler");
    amqp::QueueInspector inspector(connection);
    amqp::ManagementClient stats(management);
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      LoadSample sample;
      bool known = true;
      sample.unacked_known = management.port != 0;
      const int64_t now_s =
          std::chrono::duration_cast<seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
      for (const auto& queue : queues) {
        const auto counts = inspector.Inspect(queue);
        known = known && counts.has_value();
        sample.ready += counts ? counts->ready : 0;
        if (management.port == 0) {
          continue;
        }
        const auto more = stats.Queue(queue);
        sample.unacked_known = sample.unacked_known && more && more->unacked;
        sample.unacked += more && more->unacked ? *more->unacked : 0;
        if (more && more->head_timestamp && counts && counts->ready > 0) {
          const Duration waited = std::chrono::duration_cast<Duration>(seconds(std::max<int64_t>(0, now_s - *more->head_timestamp)));
          sample.oldest_wait = std::max(sample.oldest_wait.value_or(Duration(0)), waited);
        }
      }
      if (known) {
        std::lock_guard lock(sample_mu_);
        sample_ = sample;
      }
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, seconds(2), [] { return false; });
    }
  });
}

void Supervisor::Autoscale() {
  std::optional<LoadSample> sample;
  {
    std::lock_guard lock(sample_mu_);
    sample.swap(sample_);
  }
  if (!sample || stop_requests_ > 0) {
    return;
  }
  const auto now = Clock::now();
  if (sample->ready > 0) {
    busy_since_ = now;
  }
  const int workers = ActiveWorkers();
  const auto decision =
      DecideScale(settings_.autoscale, settings_.concurrency, workers, *sample, now, busy_since_, last_scale_);
  if (decision.workers == workers || decision.reason.empty()) {
    return;
  }
  spdlog::info("autoscale: workers {} -> {}: {}", workers, decision.workers, decision.reason);
  (decision.workers > workers ? scaled_up_ : scaled_down_) += 1;
  decisions_.push_back({{"at", FormatTime(std::chrono::time_point_cast<std::chrono::milliseconds>(
                                    std::chrono::system_clock::now()))},
                        {"from", workers},
                        {"to", decision.workers},
                        {"reason", decision.reason}});
  if (decisions_.size() > 20) {
    decisions_.erase(decisions_.begin());
  }
  Scale(decision.workers);
  last_scale_ = now;
}

void Supervisor::RemoveDrainedWorkers() {
  const auto now = Clock::now();
  for (auto& child : children_) {
    if (child.remove_by && child.process.Running() && now >= *child.remove_by) {
      spdlog::warn("{} (pid {}) did not drain within {}s: killing it", child.spec.name, child.process.Pid(),
                   Seconds(settings_.grace + kWorkerStopExtra));
      child.process.Kill();
      ReadOutput(child, true);
    }
  }
  std::erase_if(children_, [](const Child& child) { return child.remove_by && !child.process.Running(); });
}

int Supervisor::Run() {
  const StackPaths paths = PathsFor(settings_);
  std::error_code ignored;
  std::filesystem::create_directories(settings_.data_dir, ignored);
  if (const int other = RunningStackPid(paths.pid_file); other != 0 && other != ::getpid()) {
    spdlog::error("warren up already runs for {} (pid {}); stop it with `warren down`", settings_.data_dir, other);
    return 1;
  }
  {
    std::ofstream(paths.pid_file) << ::getpid() << "\n";
  }
  try {
    control_fd_ = ListenUnix(paths.socket);
    control_path_ = paths.socket;
  } catch (const std::exception& e) {
    spdlog::warn("no control socket ({}): `warren scale` and POST /v1/workers/scale are unavailable", e.what());
  }
  struct RemoveFiles {
    const StackPaths& paths;
    ~RemoveFiles() {
      ::unlink(paths.socket.c_str());
      ::unlink(paths.pid_file.c_str());
    }
  } remove_files{paths};

  if (settings_.amqp_url_is_set) {
    amqp_url_ = settings_.amqp_url;
    spdlog::info("using the broker at {}: starting none", RedactedUrl(amqp_url_));
  } else {
    const bool json = settings_.log_format == "json";
    broker_ = std::make_unique<ManagedBroker>(BrokerOptionsFor(settings_), [json](std::string_view line) {
      Output(FormatChildLine("rabbitmq", line, json));
    });
    amqp_url_ = broker_->AmqpUrl();
    try {
      if (!StartBroker()) {
        ShutDown();
        spdlog::info("stopped");
        return exit_code_;
      }
    } catch (const std::exception& e) {
      // Start() fails before anything runs (port taken, program missing); WaitReady() may leave a
      // dead or half-booted node behind, which KillAll() removes.
      broker_->KillAll();
      spdlog::error("{}", e.what());
      return 1;
    }
  }

  for (auto& spec : ChildSpecs(settings_, options_, amqp_url_)) {
    children_.push_back(Child{std::move(spec), {}, LineSplitter(), RestartBackoff(), {}, {}, false, {}});
  }
  for (auto& child : children_) {
    StartChild(child);
  }
  ready_ = true;
  last_scale_ = Clock::now();
  busy_since_ = Clock::now();
  StartSampler();
  while (stop_requests_ == 0) {
    Pump(NextTimeout());
    ReapChildren();
    RemoveDrainedWorkers();
    Autoscale();
    CheckBroker();
    RestartDueChildren();
  }
  sampler_ = {};  // joins: no sampling while the broker stops
  ShutDown();
  spdlog::info("stopped");
  return exit_code_;
}

}  // namespace warren::supervisor
