// TestPostgres: one real PostgreSQL per test process (see postgres.hpp).
#include "support/postgres.hpp"

#include <pwd.h>
#include <unistd.h>

#include <cerrno>
#include <condition_variable>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <stdexcept>
#include <vector>

#include <fmt/format.h>

#include "supervisor/child_process.hpp"
#include "supervisor/line_reader_thread.hpp"
#include "support/support.hpp"

// libpqxx 6.4 leaks the PGresult of a statement sent on a connection the server has closed
// (connection_base::make_result asks the dead connection for its encoding, which throws before the
// result is owned; fixed in libpqxx 7). The store's reconnect test provokes exactly that on purpose,
// so ASan builds of the tests ignore leaks from inside libpqxx.
#if defined(__SANITIZE_ADDRESS__)
// NOLINTNEXTLINE(bugprone-reserved-identifier,cert-dcl37-c,cert-dcl51-cpp): the name LSan looks up
extern "C" const char* __lsan_default_suppressions() { return "leak:libpqxx\n"; }
#endif

namespace warren::testing {
namespace {

namespace fs = std::filesystem;
using supervisor::ChildProcess;
using supervisor::LineReaderThread;
using supervisor::SpawnOptions;

constexpr auto kReadyTimeout = std::chrono::seconds(60);
constexpr auto kCommandTimeout = std::chrono::seconds(60);
constexpr auto kStopTimeout = std::chrono::seconds(30);
constexpr size_t kKeptLines = 200;
constexpr std::string_view kReadyLine = "database system is ready to accept connections";

// Debian installs each major version under /usr/lib/postgresql/<major>/bin: take the newest, or
// WARREN_TEST_PG_BINDIR when set.
std::string PostgresBinDir() {
  if (const char* dir = std::getenv("WARREN_TEST_PG_BINDIR")) {
    return dir;
  }
  int best = -1;
  std::string best_dir;
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator("/usr/lib/postgresql", ec)) {
    const std::string name = entry.path().filename().string();
    if (name.empty() || name.find_first_not_of("0123456789") != std::string::npos) {
      continue;
    }
    const auto bin = entry.path() / "bin";
    if (fs::exists(bin / "postgres", ec) && std::stoi(name) > best) {
      best = std::stoi(name);
      best_dir = bin.string();
    }
  }
  if (best_dir.empty()) {
    throw std::runtime_error(
        "TestPostgres: no /usr/lib/postgresql/<version>/bin/postgres: install the postgresql package (make "
        "deps) "
        "or set WARREN_TEST_PG_BINDIR");
  }
  return best_dir;
}

SpawnOptions Options(std::vector<std::string> argv, const std::string& cwd) {
  SpawnOptions options;
  options.argv = std::move(argv);
  options.cwd = cwd;
  // PGHOST, PGPORT, PGDATABASE... from the developer's shell must not point our tools elsewhere.
  options.drop_env_prefixes = {"PG"};
  options.env["LC_ALL"] = "C";
  return options;
}

struct CommandResult {
  int code = 0;
  std::string output;
};

// Runs a short command to completion with its output captured.
CommandResult RunCommand(std::vector<std::string> argv, const std::string& cwd) {
  const std::string program = argv.front();
  ChildProcess child = ChildProcess::Spawn(Options(std::move(argv), cwd));
  std::mutex mutex;
  std::string output;  // guarded by mutex
  LineReaderThread reader(child.TakeOutput(), [&](std::string_view line) {
    std::lock_guard lock(mutex);
    output.append(line);
    output.push_back('\n');
  });
  const auto status = child.WaitFor(kCommandTimeout);
  if (!status) {
    child.Kill();
  }
  reader.Stop(std::chrono::seconds(1));
  std::lock_guard lock(mutex);
  if (!status) {
    throw std::runtime_error(fmt::format("TestPostgres: {} still running after {} s\n{}", program,
                                         kCommandTimeout.count(), output));
  }
  return {status->ShellCode(), output};
}

}  // namespace

struct TestPostgres::Impl {
  std::string dir;  // temp dir: data/ and the server's Unix socket
  std::string bin;
  std::vector<std::string> as_postgres;  // argv prefix that runs a program as the postgres user
  unsigned short port = 0;
  ChildProcess server;
  std::unique_ptr<LineReaderThread> reader;
  std::mutex mutex;
  std::condition_variable changed;
  std::deque<std::string> last_lines;  // guarded by mutex: the server's recent output, for failures
  bool ready = false;                  // guarded by mutex
  int databases = 0;                   // guarded by mutex
  const bool echo = std::getenv("WARREN_TEST_POSTGRES_LOG") != nullptr;

  [[nodiscard]] std::vector<std::string> AsPostgres(std::vector<std::string> argv) const {
    std::vector<std::string> full = as_postgres;
    full.insert(full.end(), argv.begin(), argv.end());
    return full;
  }

  std::string Tail() {
    std::lock_guard lock(mutex);
    std::string tail;
    for (const auto& line : last_lines) {
      tail += "  postgres | " + line + "\n";
    }
    return tail;
  }

  void OnLine(std::string_view line) {
    {
      std::lock_guard lock(mutex);
      if (echo) {
        std::fprintf(stderr, "postgres | %.*s\n", static_cast<int>(line.size()), line.data());
      }
      if (line.find(kReadyLine) != std::string_view::npos) {
        ready = true;
      }
      last_lines.emplace_back(line);
      if (last_lines.size() > kKeptLines) {
        last_lines.pop_front();
      }
    }
    changed.notify_all();
  }

  // PostgreSQL refuses to run as root: as root, hand the directory to the postgres system user and
  // run every server-side program through runuser (argv, no shell).
  void ChooseUser() {
    if (::geteuid() != 0) {
      return;
    }
    const passwd* user = ::getpwnam("postgres");
    if (user == nullptr) {
      throw std::runtime_error(
          "TestPostgres: running as root, but there is no 'postgres' user to run the server");
    }
    if (::chown(dir.c_str(), user->pw_uid, user->pw_gid) != 0) {
      throw std::runtime_error(fmt::format("TestPostgres: chown {}: {}", dir, std::strerror(errno)));
    }
    const auto runuser = supervisor::FindExecutable("runuser", {"/usr/sbin", "/sbin"});
    if (!runuser) {
      throw std::runtime_error("TestPostgres: running as root, but runuser (util-linux) is missing");
    }
    as_postgres = {*runuser, "-u", "postgres", "--"};
  }

  void InitDb() const {
    // Trust on loopback and the temp socket: a throwaway cluster nobody else can reach.
    auto result =
        RunCommand(AsPostgres({bin + "/initdb", "-D", dir + "/data", "-U", "postgres", "--auth=trust",
                               "--encoding=UTF8", "--locale=C", "--no-sync", "--no-instructions"}),
                   dir);
    if (result.code != 0) {
      throw std::runtime_error(
          fmt::format("TestPostgres: initdb exited with {}\n{}", result.code, result.output));
    }
  }

  void StartServer() {
    port = FreePort();
    // fsync and full-page writes off: test data is thrown away, and each fsync costs milliseconds.
    server = ChildProcess::Spawn(
        Options(AsPostgres({bin + "/postgres", "-D", dir + "/data", "-k", dir, "-p", std::to_string(port),
                            "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off", "-c",
                            "full_page_writes=off", "-c", "max_connections=200"}),
                dir));
    reader = std::make_unique<LineReaderThread>(server.TakeOutput(),
                                                [this](std::string_view line) { OnLine(line); });
    const auto deadline = std::chrono::steady_clock::now() + kReadyTimeout;
    while (true) {
      {
        std::unique_lock lock(mutex);
        if (changed.wait_for(lock, std::chrono::milliseconds(200), [this] { return ready; })) {
          return;
        }
      }
      if (const auto status = server.TryWait()) {
        throw std::runtime_error(
            fmt::format("TestPostgres: postgres {} before it was ready\n{}", status->Describe(), Tail()));
      }
      if (std::chrono::steady_clock::now() > deadline) {
        throw std::runtime_error(
            fmt::format("TestPostgres: postgres not ready after {} s\n{}", kReadyTimeout.count(), Tail()));
      }
    }
  }

  // Fast shutdown (SIGINT) of the postmaster, by the PID it wrote into postmaster.pid: as root our
  // child is runuser, not postgres. Rolls back open sessions instead of waiting for clients to leave.
  void StopServer() {
    if (!server.Running()) {
      return;
    }
    pid_t pid = 0;
    std::ifstream(dir + "/data/postmaster.pid") >> pid;
    if (pid > 0) {
      ::kill(pid, SIGINT);
    }
    if (!server.WaitFor(kStopTimeout)) {
      server.Kill();
    }
  }
};

TestPostgres::TestPostgres() : impl_(std::make_unique<Impl>()) {
  impl_->bin = PostgresBinDir();
  impl_->dir = MakeTempDir("warren-postgres-");
  try {
    impl_->ChooseUser();
    impl_->InitDb();
    impl_->StartServer();
  } catch (...) {
    impl_->StopServer();
    std::error_code ec;
    std::filesystem::remove_all(impl_->dir, ec);
    throw;
  }
}

TestPostgres::~TestPostgres() {
  impl_->StopServer();
  if (impl_->reader) {
    impl_->reader->Stop(std::chrono::seconds(1));
  }
  std::error_code ec;
  std::filesystem::remove_all(impl_->dir, ec);
}

TestPostgres& TestPostgres::Get() {
  // Started on first use, stopped at process exit.
  static TestPostgres postgres;
  return postgres;
}

unsigned short TestPostgres::Port() const { return impl_->port; }

std::string TestPostgres::Url(const std::string& database) const {
  return fmt::format("postgresql://postgres@127.0.0.1:{}/{}", impl_->port, database);
}

std::string TestPostgres::CreateDatabase() {
  std::string name;
  {
    std::lock_guard lock(impl_->mutex);
    name = fmt::format("warren_test_{}", ++impl_->databases);
  }
  std::string output;
  if (const int code = Psql("postgres", "CREATE DATABASE " + name, &output); code != 0) {
    throw std::runtime_error(
        fmt::format("TestPostgres: CREATE DATABASE {}: psql exited with {}\n{}", name, code, output));
  }
  return Url(name);
}

int TestPostgres::Psql(const std::string& database, const std::string& sql, std::string* output) {
  // -X: no ~/.psqlrc; -At: bare values, one row per line.
  auto result =
      RunCommand({impl_->bin + "/psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", "-h", "127.0.0.1", "-p",
                  std::to_string(impl_->port), "-U", "postgres", "-d", database, "-c", sql},
                 impl_->dir);
  if (output != nullptr) {
    *output = std::move(result.output);
  }
  return result.code;
}

}  // namespace warren::testing
