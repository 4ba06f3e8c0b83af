// TestCluster: several ManagedBrokers that share an epmd and a cookie and find each other at boot.
#include <unistd.h>

#include <deque>
#include <filesystem>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "core/percent_encode.hpp"
#include "supervisor/managed_broker.hpp"
#include "support/cluster.hpp"
#include "support/support.hpp"

namespace warren::testing {

namespace {
// Three VMs booting at once on two busy cores: a boot took up to a minute here, a rabbitmqctl call 18 s.
constexpr auto kReadyTimeout = std::chrono::seconds(300);
constexpr size_t kKeptLines = 300;
constexpr const char* kCookie = "WARRENTESTCLUSTERCOOKIEABCDEFGHI";
}  // namespace

struct TestCluster::Impl {
  std::vector<std::string> dirs;
  std::vector<std::unique_ptr<supervisor::ManagedBroker>> nodes;
  mutable std::mutex mutex;
  std::deque<std::string> last_lines;  // guarded by mutex

  void Fail(const std::string& what) const {
    throw std::runtime_error(fmt::format("TestCluster: {}\n{}", what, Tail()));
  }
  std::string Tail() const {
    std::lock_guard lock(mutex);
    std::string tail;
    for (const auto& line : last_lines) {
      tail += "  " + line + "\n";
    }
    return tail;
  }
  void KillAll() {
    // epmd belongs to node 0 and outlives the others' VMs only briefly: stop node 0 last.
    for (auto it = nodes.rbegin(); it != nodes.rend(); ++it) {
      (*it)->KillAll();
    }
    for (const auto& dir : dirs) {
      std::error_code ec;
      std::filesystem::remove_all(dir, ec);
    }
  }
};

TestCluster::TestCluster(int count) : impl_(std::make_unique<Impl>()) {
  const unsigned short epmd_port = FreePort();
  std::vector<std::string> names;
  for (int i = 0; i < count; ++i) {
    names.push_back(fmt::format("warren-c{}-{}@localhost", ::getpid(), i));
  }
  std::string discovery = "cluster_formation.peer_discovery_backend = rabbit_peer_discovery_classic_config\n";
  for (int i = 0; i < count; ++i) {
    discovery += fmt::format("cluster_formation.classic_config.nodes.{} = {}\n", i + 1, names[i]);
  }
  for (int i = 0; i < count; ++i) {
    impl_->dirs.push_back(MakeTempDir(fmt::format("warren-cluster-{}-", i)));
    supervisor::BrokerOptions options;
    options.dir = impl_->dirs.back();
    options.node_name = names[i];
    options.amqp_port = FreePort();
    options.management_port = 0;
    options.dist_port = FreePort();
    options.epmd_port = epmd_port;
    options.own_epmd = i == 0;
    options.cookie = kCookie;
    options.extra_conf = discovery;
    options.console_log_level = "warning";
    Impl* impl = impl_.get();
    impl_->nodes.push_back(
        std::make_unique<supervisor::ManagedBroker>(options, [impl, i](std::string_view line) {
          std::lock_guard lock(impl->mutex);
          impl->last_lines.push_back(fmt::format("node{} | {}", i, line));
          if (impl->last_lines.size() > kKeptLines) {
            impl->last_lines.pop_front();
          }
        }));
  }
  try {
    for (auto& node : impl_->nodes) {
      node->Start();  // node 0 first: it starts the shared epmd
    }
    for (auto& node : impl_->nodes) {
      node->WaitReady(kReadyTimeout);
    }
    // Every node sees all of them running (peer discovery joined them during the boot).
    std::string status;
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    for (;;) {
      if (Ctl(0, {"cluster_status", "--formatter", "json"}, &status) == 0) {
        const auto json = nlohmann::json::parse(status, nullptr, false);
        if (json.is_object() && json.contains("running_nodes") &&
            json["running_nodes"].size() == static_cast<size_t>(count)) {
          break;
        }
      }
      if (std::chrono::steady_clock::now() > deadline) {
        impl_->Fail("the nodes did not form one cluster: " + status);
      }
      std::this_thread::sleep_for(std::chrono::seconds(1));
    }
  } catch (const std::exception& e) {
    const std::string tail = impl_->Tail();
    impl_->KillAll();
    throw std::runtime_error(fmt::format("TestCluster: {}\n{}", e.what(), tail));
  }
}

TestCluster::~TestCluster() { impl_->KillAll(); }

int TestCluster::Size() const { return static_cast<int>(impl_->nodes.size()); }

std::string TestCluster::NodeName(int node) const { return impl_->nodes.at(node)->Options().node_name; }

unsigned short TestCluster::AmqpPort(int node) const { return impl_->nodes.at(node)->Options().amqp_port; }

std::string TestCluster::AmqpUrl(int node, const std::string& vhost) const {
  return fmt::format("amqp://guest:guest@127.0.0.1:{}/{}", AmqpPort(node),
                     vhost == "/" ? "" : PercentEncode(vhost));
}

std::string TestCluster::AmqpUrls(int first, const std::string& vhost) const {
  std::string out;
  for (int i = 0; i < Size(); ++i) {
    out += (out.empty() ? "" : ",") + AmqpUrl((first + i) % Size(), vhost);
  }
  return out;
}

int TestCluster::Ctl(int node, const std::vector<std::string>& args, std::string* output) {
  return impl_->nodes.at(node)->Ctl(args, output);
}

void TestCluster::AddVhost(const std::string& vhost) {
  std::string output;
  if (Ctl(0, {"add_vhost", vhost}, &output) != 0) {
    impl_->Fail("add_vhost " + vhost + ": " + output);
  }
  if (Ctl(0, {"set_permissions", "-p", vhost, "guest", ".*", ".*", ".*"}, &output) != 0) {
    impl_->Fail("set_permissions " + vhost + ": " + output);
  }
}

int TestCluster::LeaderOf(const std::string& queue, const std::string& vhost) {
  for (int i = 0; i < Size(); ++i) {
    if (!Running(i)) {
      continue;
    }
    std::string output;
    if (Ctl(i, {"list_queues", "-p", vhost, "--formatter", "json", "name", "leader"}, &output) != 0) {
      continue;
    }
    const auto json = nlohmann::json::parse(output, nullptr, false);
    if (!json.is_array()) {
      continue;
    }
    for (const auto& q : json) {
      if (q.value("name", "") == queue && q.contains("leader") && q["leader"].is_string()) {
        for (int n = 0; n < Size(); ++n) {
          if (q["leader"] == NodeName(n)) {
            return n;
          }
        }
      }
    }
    return -1;
  }
  return -1;
}

void TestCluster::Kill(int node) { impl_->nodes.at(node)->Kill(); }

void TestCluster::Start(int node) {
  auto& broker = *impl_->nodes.at(node);
  if (broker.ServerRunning()) {
    return;
  }
  try {
    broker.Start();
    broker.WaitReady(kReadyTimeout);
  } catch (const std::exception& e) {
    impl_->Fail(e.what());
  }
}

bool TestCluster::Running(int node) const { return impl_->nodes.at(node)->ServerRunning(); }

std::string TestCluster::LogTail() const { return impl_->Tail(); }

}  // namespace warren::testing
