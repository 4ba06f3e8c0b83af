// `warren serve`: wires the HTTP server, the router with the demo routes, and the AMQP publisher, then
// waits for SIGINT/SIGTERM and stops in order. Beast-free: the server's details stay in http_server.cpp.
#include "api/serve.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <ctime>
#include <utility>

#include <spdlog/spdlog.h>

#include "amqp/publisher.hpp"
#include "api/demo_routes.hpp"
#include "api/http_server.hpp"
#include "api/router.hpp"

namespace warren::api {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// How long a stop waits for requests in progress. A request waiting on a confirm is bounded by the
// publish timeout, so wait for that plus a margin, capped to keep a stop "a few seconds".
milliseconds DrainGrace(const Settings& settings) {
  return std::clamp<milliseconds>(settings.publish_timeout + 1s, 2s, 10s);
}

// Stops the io threads on every way out of RunServe, so that no handler runs while the publisher and
// the router it uses are destroyed.
class StopOnExit {
 public:
  explicit StopOnExit(HttpServer& server) : server_(server) {}
  ~StopOnExit() { server_.Stop(); }
  StopOnExit(const StopOnExit&) = delete;
  StopOnExit& operator=(const StopOnExit&) = delete;

 private:
  HttpServer& server_;
};

}  // namespace

int RunServe(const Settings& settings) {
  // Block SIGINT and SIGTERM here, before any thread exists: every thread (io, publisher) inherits the
  // mask, so the signals stay pending until sigwait below takes them on this thread. No handler runs
  // in signal context, and this file needs no Asio signal_set.
  sigset_t stop_signals;
  sigemptyset(&stop_signals);
  sigaddset(&stop_signals, SIGINT);
  sigaddset(&stop_signals, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &stop_signals, nullptr);

  // Declaration order is destruction order reversed: the router outlives the io threads that use it;
  // the server (its io_context) outlives the publisher, whose last callbacks post into it.
  Router router;
  ServerOptions options;
  options.listen = settings.listen;
  options.threads = settings.serve_threads;
  HttpServer server(options);
  server.Listen();  // throws ListenError ("serve.listen 127.0.0.1:5000: address already in use")

  amqp::PublisherOptions publisher_options;
  publisher_options.connection.url = settings.amqp_url;
  publisher_options.connection.heartbeat =
      std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  publisher_options.connection.name = "warren serve";
  publisher_options.confirm_timeout = settings.publish_timeout;
  publisher_options.reconnect_max = settings.reconnect_max;
  publisher_options.declare.queues = {amqp::QueueSpec{std::string(kDemoQueue), {}, {}}};
  // Connects in the background: serve answers GET / at once and /add-job with 503 until RabbitMQ is up.
  amqp::Publisher publisher(std::move(publisher_options));
  StopOnExit stop_on_exit(server);

  AddDemoRoutes(router, [&publisher](amqp::OutgoingMessage message, amqp::PublishCallback done) {
    publisher.Publish(std::move(message), std::move(done));
  });
  server.Start(
      [&router](Request request, const Responder& respond) { router.Dispatch(std::move(request), respond); });
  spdlog::info("listening on http://{}", server.LocalEndpoint().ToString());

  int signal_number = 0;
  sigwait(&stop_signals, &signal_number);
  spdlog::info("{} received: finishing requests in progress, then stopping",
               signal_number == SIGINT ? "SIGINT" : "SIGTERM");

  // 1. No new connections; idle keep-alive connections close; requests in progress finish.
  server.BeginShutdown();
  const auto deadline = std::chrono::steady_clock::now() + DrainGrace(settings);
  while (!server.WaitIdle(100ms) && std::chrono::steady_clock::now() < deadline) {
    const timespec no_wait{0, 0};
    if (sigtimedwait(&stop_signals, nullptr, &no_wait) > 0) {
      spdlog::warn("second signal: stopping now");
      break;
    }
  }
  // 2. The publisher answers whatever still waits on it (kStopped → 503), and those answers are written.
  publisher.Stop();
  if (!server.WaitIdle(1s)) {
    spdlog::warn("closing {} connection(s) that did not finish in time", server.ConnectionCount());
  }
  // 3. The io threads stop (StopOnExit, also on every early exit above).
  server.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace warren::api
