// The client commands of `warren` (enqueue, status, jobs, retry, cancel, queues, workers): they talk to
// `warren serve` over its HTTP API (src/client) and print tables, or the API's JSON with --json.
#pragma once

#include <memory>
#include <optional>

namespace CLI {  // NOLINT(readability-identifier-naming): CLI11's namespace
class App;
}  // namespace CLI

namespace warren::cli {

class ClientCommands {
 public:
  // Registers the subcommands on `app`, with their flags (--url, --token, --json on each).
  explicit ClientCommands(CLI::App& app);
  ~ClientCommands();
  ClientCommands(const ClientCommands&) = delete;
  ClientCommands& operator=(const ClientCommands&) = delete;

  // After app.parse: runs the client command that was parsed and returns its exit code (errors are
  // printed as one line on stderr), or nullopt when the parsed subcommand is not one of them.
  std::optional<int> Run();

 private:
  struct State;
  std::unique_ptr<State> state_;
};

}  // namespace warren::cli
