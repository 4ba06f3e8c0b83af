#include "supervisor/managed_broker.hpp"

#include <poll.h>
#include <sys/stat.h>
#include <unistd.h>
#include <csignal>

#include <array>
#include <cerrno>
#include <charconv>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <thread>

#include <fmt/format.h>

#include "supervisor/net_probe.hpp"

namespace warren::supervisor {
namespace {

namespace fs = std::filesystem;
using std::chrono::milliseconds;
using Clock = std::chrono::steady_clock;

constexpr milliseconds kPoll{100};
constexpr milliseconds kEpmdStart{5000};
constexpr milliseconds kReaderDrain{1000};
constexpr milliseconds kTreeGone{10000};

// Inherited variables that would change what rabbitmq-server does behind our back: a stray
// RABBITMQ_NODE_PORT adds a listener, NOTIFY_SOCKET makes the script believe it runs under systemd.
const std::vector<std::string> kDroppedEnvPrefixes = {"RABBITMQ_", "ERL_", "NOTIFY_SOCKET"};

SpawnOptions BrokerSpawn(std::vector<std::string> argv, const BrokerOptions& options) {
  SpawnOptions spawn;
  spawn.argv = std::move(argv);
  spawn.drop_env_prefixes = kDroppedEnvPrefixes;
  spawn.cwd = options.dir;  // whatever the VM or the scripts drop into their cwd lands with the data
  for (auto& [name, value] : BrokerEnvironment(options)) {
    spawn.env[name] = value;
  }
  return spawn;
}

void WriteFile(const std::string& path, const std::string& content) {
  std::ofstream out(path, std::ios::trunc);
  out << content;
  out.close();
  if (!out) {
    throw BrokerError(fmt::format("cannot write {}: {}", path, std::strerror(errno)));
  }
}

std::string RandomCookie() {
  static constexpr std::string_view kAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";
  std::random_device rd;
  std::uniform_int_distribution<size_t> pick(0, kAlphabet.size() - 1);
  std::string cookie(32, 'A');
  for (auto& c : cookie) {
    c = kAlphabet[pick(rd)];
  }
  return cookie;
}

// Reads everything the child writes until it closes its output or the deadline passes.
std::string ReadUntilEof(ChildProcess& child, Clock::time_point deadline) {
  std::string out;
  std::array<char, 4096> buf{};
  while (child.OutputFd() >= 0) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - Clock::now()).count();
    if (left <= 0) {
      break;
    }
    pollfd pfd{child.OutputFd(), POLLIN, 0};
    const int r = ::poll(&pfd, 1, static_cast<int>(left));
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      break;
    }
    const ssize_t n = ::read(child.OutputFd(), buf.data(), buf.size());
    if (n > 0) {
      out.append(buf.data(), static_cast<size_t>(n));
    } else if (n == 0 || (errno != EAGAIN && errno != EINTR)) {
      child.CloseOutput();  // EOF: nothing more will come
      break;
    }
  }
  return out;
}

std::string LastLine(std::string_view text) {
  while (!text.empty() && (text.back() == '\n' || text.back() == ' ')) {
    text.remove_suffix(1);
  }
  const auto nl = text.rfind('\n');
  return std::string(nl == std::string_view::npos ? text : text.substr(nl + 1));
}

std::optional<pid_t> ReadPidFile(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!in || !std::getline(in, text)) {
    return std::nullopt;
  }
  pid_t pid = 0;
  auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), pid);
  if (ec != std::errc{} || pid <= 0) {
    return std::nullopt;
  }
  return pid;
}

}  // namespace

ManagedBroker::ManagedBroker(BrokerOptions options, LineHandler on_line)
    : options_(std::move(options)), paths_(PathsFor(options_)), on_line_(std::move(on_line)) {
  if (!on_line_) {
    on_line_ = [](std::string_view) {};
  }
}

ManagedBroker::~ManagedBroker() { KillAll(); }

void ManagedBroker::CheckPrograms() {
  server_program_ = options_.rabbitmq_bin_dir + "/rabbitmq-server";
  ctl_program_ = options_.rabbitmq_bin_dir + "/rabbitmqctl";
  if (::access(server_program_.c_str(), X_OK) != 0) {
    throw BrokerError(fmt::format(
        "rabbitmq-server not found at {}: install Debian's rabbitmq-server package, or pass --amqp-url "
        "to use a broker of your own",
        server_program_));
  }
  auto epmd = FindExecutable("epmd", {"/usr/lib/erlang/bin"});
  if (!epmd) {
    throw BrokerError("epmd not found in /usr/lib/erlang/bin or $PATH: install Debian's erlang-base package");
  }
  epmd_program_ = *epmd;
}

void ManagedBroker::CheckPorts(bool epmd_too) const {
  struct Port {
    const char* key;
    unsigned short port;
  };
  std::vector<Port> ports{{"broker.port", options_.amqp_port}, {"broker.dist_port", options_.dist_port}};
  if (options_.management_port != 0) {
    ports.push_back({"broker.management_port", options_.management_port});
  }
  ports.push_back({"broker.epmd_port", options_.epmd_port});
  for (size_t i = 0; i < ports.size(); ++i) {
    for (size_t j = 0; j < i; ++j) {
      if (ports[i].port == ports[j].port) {
        throw BrokerError(fmt::format("{} {} is the same as {}", ports[i].key, ports[i].port, ports[j].key));
      }
    }
  }
  for (const auto& p : ports) {
    if (std::string_view(p.key) == "broker.epmd_port" && !epmd_too) {
      continue;  // our own epmd is listening there
    }
    if (PortInUse(p.port)) {
      throw BrokerError(fmt::format("{} {} is already in use on 127.0.0.1", p.key, p.port));
    }
  }
}

void ManagedBroker::WriteFiles() const {
  std::error_code ec;
  for (const auto& dir : {paths_.home, paths_.mnesia, paths_.log}) {
    fs::create_directories(dir, ec);
    if (ec) {
      throw BrokerError(fmt::format("cannot create {}: {}", dir, ec.message()));
    }
  }
  // The data may hold messages: keep it private.
  fs::permissions(paths_.home, fs::perms::owner_all, fs::perm_options::replace, ec);
  WriteFile(paths_.config, RabbitmqConf(options_));
  WriteFile(paths_.enabled_plugins, EnabledPlugins(options_));
  WriteFile(paths_.env_conf, "# Empty on purpose: warren sets the environment itself.\n");
  WriteFile(paths_.inetrc, ErlInetrc());
  if (!options_.cookie.empty() || !fs::exists(paths_.cookie)) {
    // Kept across restarts; Erlang refuses a cookie file others can read (and we cannot rewrite ours).
    fs::remove(paths_.cookie, ec);
    WriteFile(paths_.cookie, options_.cookie.empty() ? RandomCookie() : options_.cookie);
    fs::permissions(paths_.cookie, fs::perms::owner_read, fs::perm_options::replace, ec);
    if (ec) {
      throw BrokerError(fmt::format("cannot chmod {}: {}", paths_.cookie, ec.message()));
    }
  }
  fs::remove(paths_.pid_file, ec);  // a stale one would make us read an old pid
}

void ManagedBroker::StartEpmd() {
  // Our own epmd, in the foreground as our child, so we know its pid and stop it by that pid (the
  // one the VM would start by itself daemonizes and outlives the broker).
  epmd_ = ChildProcess::Spawn(BrokerSpawn(
      {epmd_program_, "-address", "127.0.0.1", "-port", std::to_string(options_.epmd_port)}, options_));
  epmd_reader_ = std::make_unique<LineReaderThread>(
      epmd_.TakeOutput(), [this](std::string_view line) { on_line_(fmt::format("epmd: {}", line)); });
  const auto deadline = Clock::now() + kEpmdStart;
  while (!EpmdAnswers(options_.epmd_port, kPoll)) {
    if (auto status = epmd_.TryWait()) {
      epmd_reader_->Stop(kReaderDrain);
      throw BrokerError(
          fmt::format("epmd on 127.0.0.1:{} {} at start", options_.epmd_port, status->Describe()));
    }
    if (Clock::now() > deadline) {
      throw BrokerError(fmt::format("epmd did not listen on 127.0.0.1:{} within 5s", options_.epmd_port));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// DIR/processes: "pid start_time" per line for epmd, the server script and everything below it, so
// the next Start() can finish what a killed supervisor could not.
void ManagedBroker::WriteProcessFile() const {
  std::string text;
  for (const ChildProcess* child : {&epmd_, &server_}) {
    if (child->Running()) {
      if (auto id = ReadProcessId(child->Pid())) {
        text += fmt::format("{} {}\n", id->pid, id->start_time);
      }
    }
  }
  for (const auto& id : tree_) {
    text += fmt::format("{} {}\n", id.pid, id.start_time);
  }
  std::ofstream(paths_.process_file, std::ios::trunc) << text;
}

void ManagedBroker::KillLeftovers() {
  killed_leftovers_.clear();
  if (epmd_.Running() || server_.Running()) {
    return;  // ours, not leftovers
  }
  std::ifstream in(paths_.process_file);
  ProcessId id;
  while (in >> id.pid >> id.start_time) {
    if (IsAlive(id)) {
      killed_leftovers_.push_back(id);
    }
  }
  SignalAll(killed_leftovers_, SIGKILL);
  WaitGone(killed_leftovers_, kTreeGone);
}

void ManagedBroker::Start() {
  if (server_.Running()) {
    return;
  }
  CheckPrograms();
  KillLeftovers();
  if (epmd_.Running() && epmd_.TryWait()) {
    epmd_reader_->Stop(kReaderDrain);  // it died: start a new one
  }
  const bool need_epmd = options_.own_epmd && !epmd_.Running();
  if (!options_.own_epmd && !EpmdAnswers(options_.epmd_port, kPoll)) {
    throw BrokerError(fmt::format("no epmd answers on 127.0.0.1:{} (another node of the cluster runs it)",
                                  options_.epmd_port));
  }
  // Ports of killed leftovers can take a moment to be released (their connections closing).
  const auto ports_deadline =
      Clock::now() + (killed_leftovers_.empty() ? milliseconds(0) : milliseconds(5000));
  while (true) {
    try {
      CheckPorts(need_epmd);
      break;
    } catch (const BrokerError&) {
      if (Clock::now() >= ports_deadline) {
        throw;
      }
      std::this_thread::sleep_for(kPoll);
    }
  }
  WriteFiles();
  if (need_epmd) {
    StartEpmd();
  }
  tree_.clear();
  beam_pid_ = -1;
  server_cleaned_up_ = false;
  server_ = ChildProcess::Spawn(BrokerSpawn({server_program_}, options_));
  server_reader_ = std::make_unique<LineReaderThread>(server_.TakeOutput(), on_line_);
  WriteProcessFile();
}

void ManagedBroker::RememberTree() {
  if (!server_.Running()) {
    return;
  }
  bool changed = false;
  for (const auto& id : Descendants(server_.Pid())) {
    bool known = false;
    for (const auto& t : tree_) {
      known = known || (t.pid == id.pid && t.start_time == id.start_time);
    }
    if (!known) {
      tree_.push_back(id);
      changed = true;
    }
  }
  if (changed) {
    WriteProcessFile();
  }
}

ChildProcess ManagedBroker::SpawnCtl(const std::vector<std::string>& args) const {
  std::vector<std::string> argv{ctl_program_, "-n", options_.node_name};
  argv.insert(argv.end(), args.begin(), args.end());
  return ChildProcess::Spawn(BrokerSpawn(std::move(argv), options_));
}

bool ManagedBroker::WaitReady(std::chrono::milliseconds timeout, const StopRequested& stop_requested) {
  const auto deadline = Clock::now() + timeout;
  const auto check = [&](const char* waiting_for) {
    if (auto status = CheckExited()) {
      throw BrokerError(fmt::format("rabbitmq-server {} before it was ready (its log: {}/{}.log)",
                                    status->Describe(), paths_.log, options_.node_name));
    }
    if (Clock::now() > deadline) {
      throw BrokerError(fmt::format("rabbitmq-server not ready after {}s ({}; its log: {}/{}.log)",
                                    timeout.count() / 1000, waiting_for, paths_.log, options_.node_name));
    }
    return stop_requested && stop_requested();
  };

  // 1. The AMQP port opens near the end of the boot: cheap to poll, no Erlang VM to start per try.
  while (!TcpConnects(options_.amqp_port, kPoll)) {
    if (check("AMQP port closed")) {
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
  // 2. The authoritative answer: the rabbit application and its plugins have started.
  {
    const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - Clock::now()).count();
    ChildProcess ctl = SpawnCtl({"await_startup", "--timeout", std::to_string(std::max<long>(left, 1))});
    std::string output;
    std::optional<ExitStatus> status;
    while (!(status = ctl.TryWait())) {
      if (ctl.OutputFd() >= 0) {
        output += ReadUntilEof(ctl, Clock::now() + kPoll);
      } else {
        std::this_thread::sleep_for(std::chrono::milliseconds(10));
      }
      if (check("rabbitmqctl await_startup")) {
        return false;  // `ctl` is killed and reaped by its destructor
      }
    }
    output += ReadUntilEof(ctl, Clock::now() + kPoll);
    if (!status->Success()) {
      throw BrokerError(
          fmt::format("rabbitmqctl await_startup {}: {}", status->Describe(), LastLine(output)));
    }
  }
  // 3. The management listener starts with its plugin, right after.
  while (options_.management_port != 0 && !TcpConnects(options_.management_port, kPoll)) {
    if (check("management port closed")) {
      return false;
    }
    std::this_thread::sleep_for(kPoll);
  }
  if (auto pid = ReadPidFile(paths_.pid_file)) {
    beam_pid_ = *pid;
  }
  RememberTree();
  return true;
}

void ManagedBroker::CleanUpAfterServer() {
  if (server_cleaned_up_) {
    return;
  }
  server_cleaned_up_ = true;
  // The script is gone; the VM may not be (a SIGKILLed script leaves it running), and the VM's helpers
  // live in sessions of their own. The group still exists while any member lives, so this is safe.
  ::kill(-server_.Pid(), SIGKILL);
  SignalAll(tree_, SIGKILL);
  WaitGone(tree_, kTreeGone);
  if (server_reader_) {
    server_reader_->Stop(kReaderDrain);
    server_reader_.reset();
  }
}

void ManagedBroker::StopServerTree(bool graceful, std::chrono::milliseconds timeout,
                                   const StopRequested& hurry) {
  if (!server_.Started()) {
    return;
  }
  if (server_.Running()) {
    RememberTree();
    if (graceful) {
      // To the script only: it traps TERM and has the VM shut down cleanly. The VM's own SIGTERM
      // handler would do the same, but one request is enough.
      ::kill(server_.Pid(), SIGTERM);
      const auto deadline = Clock::now() + timeout;
      while (!server_.WaitFor(kPoll)) {
        RememberTree();
        if (Clock::now() >= deadline || (hurry && hurry())) {
          server_.Kill();
          break;
        }
      }
    } else {
      server_.Kill();
    }
  }
  CleanUpAfterServer();
}

std::optional<ExitStatus> ManagedBroker::CheckExited() {
  if (!server_.Started()) {
    return std::nullopt;
  }
  if (server_.Running()) {
    RememberTree();  // cheap, and it catches helpers started late
    if (!server_.TryWait()) {
      return std::nullopt;
    }
    CleanUpAfterServer();
  }
  return server_.Status();
}

void ManagedBroker::Stop(std::chrono::milliseconds timeout, const StopRequested& hurry) {
  StopServerTree(true, timeout, hurry);
  if (epmd_.Started()) {
    epmd_.Terminate(std::chrono::seconds(2));
    if (epmd_reader_) {
      epmd_reader_->Stop(kReaderDrain);
      epmd_reader_.reset();
    }
  }
  std::error_code ec;
  fs::remove(paths_.process_file, ec);  // nothing left to clean up after
}

void ManagedBroker::Kill() { StopServerTree(false, milliseconds(0), {}); }

void ManagedBroker::KillAll() {
  Kill();
  if (epmd_.Started()) {
    epmd_.Kill();
    if (epmd_reader_) {
      epmd_reader_->Stop(milliseconds(0));
      epmd_reader_.reset();
    }
  }
  if (epmd_.Started() || server_.Started()) {
    std::error_code ec;
    fs::remove(paths_.process_file, ec);
  }
}

int ManagedBroker::Ctl(const std::vector<std::string>& args, std::string* output,
                       std::chrono::milliseconds timeout) {
  if (ctl_program_.empty()) {
    CheckPrograms();
  }
  ChildProcess ctl = SpawnCtl(args);
  const auto deadline = Clock::now() + timeout;
  std::string text;
  std::optional<ExitStatus> status;
  // Until it exits, not until EOF: a helper the CLI's VM started could hold the pipe open.
  while (!(status = ctl.TryWait())) {
    if (Clock::now() >= deadline) {
      status = ctl.Kill();
      break;
    }
    if (ctl.OutputFd() >= 0) {
      text += ReadUntilEof(ctl, std::min(deadline, Clock::now() + kPoll));
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  text += ReadUntilEof(ctl, Clock::now() + kPoll);
  if (output != nullptr) {
    *output = std::move(text);
  }
  return status->ShellCode();
}

}  // namespace warren::supervisor
