// TestBroker: one real RabbitMQ per test process, run by the same ManagedBroker as `warren up`.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <filesystem>
#include <fstream>
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

// Runs openssl (a dependency of rabbitmq-server) for MakeCertificates; throws with its output.
void Openssl(const std::vector<std::string>& args) {
  std::vector<std::string> argv{"/usr/bin/openssl"};
  argv.insert(argv.end(), args.begin(), args.end());
  Process openssl(argv);
  if (openssl.Wait(std::chrono::seconds(60)) != 0) {
    throw std::runtime_error("TestBroker: openssl " + args.front() + " failed: " + openssl.Output());
  }
}

// A CA with a server and a client certificate, and another CA with a client certificate of its own,
// all EC P-256 (fast to make), valid for three days.
void MakeCertificates(const std::string& dir) {
  const std::vector<std::string> ec{"-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"};
  auto ca = [&](const std::string& name) {
    std::vector<std::string> args{"req", "-x509", "-new"};
    args.insert(args.end(), ec.begin(), ec.end());
    args.insert(args.end(), {"-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".pem", "-days", "3",
                             "-subj", "/CN=warren test " + name});
    Openssl(args);
  };
  auto signed_by = [&](const std::string& name, const std::string& ca_name, const std::string& cn) {
    std::vector<std::string> args{"req", "-new"};
    args.insert(args.end(), ec.begin(), ec.end());
    args.insert(args.end(), {"-keyout", dir + "/" + name + ".key", "-out", dir + "/" + name + ".csr", "-subj",
                             "/CN=" + cn});
    Openssl(args);
    // rabbitmq-c matches the URL's host against DNS names: 127.0.0.1 is listed as one too.
    std::ofstream(dir + "/" + name + ".ext") << "subjectAltName=DNS:" << cn << ",DNS:localhost,IP:127.0.0.1\n";
    Openssl({"x509", "-req", "-in", dir + "/" + name + ".csr", "-CA", dir + "/" + ca_name + ".pem", "-CAkey",
             dir + "/" + ca_name + ".key", "-CAcreateserial", "-out", dir + "/" + name + ".pem", "-days", "3",
             "-extfile", dir + "/" + name + ".ext"});
  };
  ca("ca");
  signed_by("server", "ca", "127.0.0.1");
  signed_by("client", "ca", "warren-test-client");
  ca("other-ca");
  signed_by("other-client", "other-ca", "warren-test-client");
}

struct TestBroker::Impl {
  std::string dir;
  unsigned short tls_port = 0;
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
  impl_->tls_port = FreePort();
  const std::string tls = impl_->dir + "/tls";
  std::filesystem::create_directories(tls);
  MakeCertificates(tls);
  options.extra_conf = fmt::format(
      "listeners.ssl.default = 127.0.0.1:{}\n"
      "ssl_options.cacertfile = {}/ca.pem\n"
      "ssl_options.certfile = {}/server.pem\n"
      "ssl_options.keyfile = {}/server.key\n"
      "ssl_options.verify = verify_peer\n"
      "ssl_options.fail_if_no_peer_cert = false\n",
      impl_->tls_port, tls, tls, tls);
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

std::string TestBroker::AmqpsUrl(const std::string& query) const {
  return fmt::format("amqps://guest:guest@127.0.0.1:{}/{}", impl_->tls_port, query);
}

std::string TestBroker::TlsFile(const std::string& name) const { return impl_->dir + "/tls/" + name; }

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
