// TestBroker: one real RabbitMQ per test process, run by the same ManagedBroker as `warren up`.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <mutex>
#include <sstream>
#include <stdexcept>

#include <fmt/format.h>

#include "supervisor/managed_broker.hpp"
#include "support/support.hpp"

namespace warren::testing {

namespace {
constexpr auto kReadyTimeout = std::chrono::seconds(120);
constexpr size_t kKeptLines = 200;
}  // namespace

struct TestBroker::Impl {
  std::string dir;
  std::unique_ptr<supervisor::ManagedBroker> broker;
  std::mutex mutex;
  std::deque<std::string> last_lines;  // guarded by mutex: the broker's recent output, for failures
  bool echo = std::getenv("WARREN_TEST_BROKER_LOG") != nullptr;

  void StartAndWait() {
    try {
      broker->Start();
      broker->WaitReady(kReadyTimeout);
    } catch (const std::exception& e) {
      std::lock_guard lock(mutex);
      std::string tail;
      for (const auto& line : last_lines) {
        tail += "  rabbitmq | " + line + "\n";
      }
      throw std::runtime_error(fmt::format("TestBroker: {}\n{}", e.what(), tail));
    }
  }
};

TestBroker::TestBroker() : impl_(std::make_unique<Impl>()) {
  impl_->dir = MakeTempDir("warren-broker-");
  supervisor::BrokerOptions options;
  options.dir = impl_->dir;
  options.node_name = fmt::format("warren-test-{}@localhost", ::getpid());
  options.amqp_port = FreePort();
  options.management_port = 0;  // off: boots faster, and no test needs it
  options.dist_port = FreePort();
  options.epmd_port = FreePort();
  options.console_log_level = "warning";
  Impl* impl = impl_.get();
  impl_->broker = std::make_unique<supervisor::ManagedBroker>(options, [impl](std::string_view line) {
    std::lock_guard lock(impl->mutex);
    if (impl->echo) {
      std::fprintf(stderr, "rabbitmq | %.*s\n", static_cast<int>(line.size()), line.data());
    }
    impl->last_lines.emplace_back(line);
    if (impl->last_lines.size() > kKeptLines) {
      impl->last_lines.pop_front();
    }
  });
  try {
    impl_->StartAndWait();
  } catch (...) {
    // The destructor will not run for a half-built object: clean up here.
    impl_->broker->KillAll();
    std::error_code ec;
    std::filesystem::remove_all(impl_->dir, ec);
    throw;
  }
}

TestBroker::~TestBroker() {
  // Test data is thrown away: no need for a graceful stop.
  impl_->broker->KillAll();
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

TestBroker& TestBroker::Get() {
  // Started on first use, destroyed (stopped by pid) at process exit. A broker that cannot boot fails
  // every later test at once with the same message instead of booting (and failing) again per test.
  static std::string failure;
  if (!failure.empty()) {
    throw std::runtime_error(failure);
  }
  try {
    static TestBroker broker;
    return broker;
  } catch (const std::exception& e) {
    failure = e.what();
    throw;
  }
}

std::string TestBroker::AmqpUrl() const { return impl_->broker->AmqpUrl(); }
unsigned short TestBroker::AmqpPort() const { return impl_->broker->Options().amqp_port; }

int TestBroker::Ctl(const std::vector<std::string>& args, std::string* output) {
  return impl_->broker->Ctl(args, output);
}

int TestBroker::QueueDepth(const std::string& queue) {
  std::string out;
  Ctl({"list_queues", "-q", "--no-table-headers", "name", "messages"}, &out);
  std::istringstream lines(out);
  std::string name;
  int depth = 0;
  while (lines >> name >> depth) {
    if (name == queue) {
      return depth;
    }
  }
  return -1;
}

void TestBroker::Kill() { impl_->broker->Kill(); }

void TestBroker::Start() {
  if (!impl_->broker->ServerRunning()) {
    impl_->StartAndWait();
  }
}

}  // namespace warren::testing
