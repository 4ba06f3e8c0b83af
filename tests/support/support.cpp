// tests/support: processes, ports, temp dirs. The broker lives in test_broker.cpp, HTTP in http_client.cpp.
#include <netinet/in.h>
#include <sys/socket.h>
#include <csignal>
#include <cstdlib>

#include <condition_variable>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>
#include <stdexcept>

#include <arpa/inet.h>

#include "supervisor/child_process.hpp"
#include "supervisor/line_reader_thread.hpp"
#include "core/unique_fd.hpp"
#include "support/support.hpp"

namespace warren::testing {

using supervisor::ChildProcess;
using supervisor::LineReaderThread;
using supervisor::SpawnOptions;

struct Process::Impl {
  ChildProcess child;
  std::unique_ptr<LineReaderThread> reader;
  mutable std::mutex mutex;
  std::condition_variable changed;
  std::string output;  // guarded by mutex
};

Process::Process(std::vector<std::string> argv, std::map<std::string, std::string> extra_env)
    : impl_(std::make_unique<Impl>()) {
  SpawnOptions spawn;
  spawn.argv = std::move(argv);
  for (auto& [name, value] : extra_env) {
    spawn.env[name] = std::move(value);
  }
  impl_->child = ChildProcess::Spawn(spawn);
  Impl* impl = impl_.get();
  impl_->reader =
      std::make_unique<LineReaderThread>(impl_->child.TakeOutput(), [impl](std::string_view line) {
        {
          std::lock_guard lock(impl->mutex);
          impl->output.append(line);
          impl->output.push_back('\n');
        }
        impl->changed.notify_all();
      });
}

Process::~Process() {
  if (impl_->child.Running()) {
    impl_->child.Terminate(std::chrono::seconds(10));
  }
  // Grandchildren that survived (a bug the test should have caught) may hold the pipe: bounded drain.
  impl_->reader->Stop(std::chrono::seconds(1));
}

pid_t Process::Pid() const { return impl_->child.Pid(); }

bool Process::WaitForOutput(const std::string& needle, std::chrono::milliseconds timeout) {
  std::unique_lock lock(impl_->mutex);
  return impl_->changed.wait_for(lock, timeout,
                                 [&] { return impl_->output.find(needle) != std::string::npos; });
}

std::string Process::Output() const {
  std::lock_guard lock(impl_->mutex);
  return impl_->output;
}

void Process::Signal(int sig) {
  if (impl_->child.Running()) {
    ::kill(impl_->child.Pid(), sig);
  }
}

std::optional<int> Process::Wait(std::chrono::milliseconds timeout) {
  auto status = impl_->child.WaitFor(timeout);
  if (!status) {
    return std::nullopt;
  }
  // Let the reader pick up the last lines before the caller looks at Output().
  impl_->reader->Stop(std::chrono::seconds(1));
  return status->ShellCode();
}

std::multiset<std::string> ThreadNames(pid_t pid) {
  std::multiset<std::string> out;
  const std::filesystem::path tasks = "/proc/" + std::to_string(pid) + "/task";
  std::error_code error;
  for (const auto& task : std::filesystem::directory_iterator(tasks, error)) {
    std::string name;
    if (std::getline(std::ifstream(task.path() / "comm"), name)) {
      out.insert(name);
    }
  }
  return out;
}

unsigned short FreePort() {
  // The kernel may hand out the same ephemeral port twice in a row once it is closed again; tests ask
  // for several at once (AMQP, dist, epmd, HTTP), so never return one twice.
  static std::mutex mutex;
  static std::set<unsigned short> given;
  std::lock_guard lock(mutex);
  for (int attempt = 0; attempt < 100; ++attempt) {
    UniqueFd fd(::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    // NOLINTBEGIN(cppcoreguidelines-pro-type-reinterpret-cast): the sockets API
    if (!fd || ::bind(fd.Get(), reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 ||
        ::getsockname(fd.Get(), reinterpret_cast<sockaddr*>(&addr), &len) != 0) {
      throw std::runtime_error(std::string("FreePort: ") + std::strerror(errno));
    }
    // NOLINTEND(cppcoreguidelines-pro-type-reinterpret-cast)
    const unsigned short port = ntohs(addr.sin_port);
    if (given.insert(port).second) {
      return port;
    }
  }
  throw std::runtime_error("FreePort: no new free port after 100 tries");
}

std::string WarrenBinary() { return WARREN_BINARY; }
std::string SourceDir() { return WARREN_SOURCE_DIR; }

std::string MakeTempDir(const std::string& prefix) {
  std::string pattern = "/tmp/" + prefix + "XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    throw std::runtime_error("mkdtemp " + pattern + ": " + std::strerror(errno));
  }
  return pattern;
}

}  // namespace warren::testing
