// `warren serve`: wires the HTTP server, the router (demo routes, the /v1 jobs API, probes, OpenAPI), the
// job store with its pruner, the AMQP publisher and the pool that runs blocking store calls, then waits
// for SIGINT/SIGTERM and stops in order. Beast-free: the server's details stay in http_server.cpp.
#include "api/serve.hpp"

#include <pthread.h>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <ctime>
#include <future>
#include <map>
#include <mutex>
#include <random>
#include <stop_token>
#include <thread>
#include <utility>

#include <fmt/format.h>
#include <spdlog/spdlog.h>

#include "amqp/consumer.hpp"
#include "amqp/management.hpp"
#include "amqp/publisher.hpp"
#include "amqp/queue_inspector.hpp"
#include "amqp/topology.hpp"
#include "api/api_routes.hpp"
#include "api/auth.hpp"
#include "api/blocking_pool.hpp"
#include "api/change_feed.hpp"
#include "api/event_hub.hpp"
#include "api/http_server.hpp"
#include "api/metrics.hpp"
#include "api/outbox.hpp"
#include "api/recorder.hpp"
#include "api/router.hpp"
#include "api/scheduler.hpp"
#include "api/unrouted_relay.hpp"
#include "api/worker_registry.hpp"
#include "core/thread_name.hpp"
#include "core/unix_socket.hpp"
#include "store/pruner.hpp"
#include "store/store.hpp"

namespace warren::api {
namespace {

// The newest jobs cancelled before any attempt started, at most this many, go to a new worker.
constexpr size_t kMaxReplayedCancels = 5000;

void ReplayCancels(store::Store& store, amqp::Publisher& publisher) {
  try {
    std::vector<amqp::CancelNotice> cancels;
    store::ListQuery query;
    query.state = JobState::kCancelled;
    query.limit = 1000;
    while (cancels.size() < kMaxReplayedCancels) {
      const auto page = store.ListJobs(query);
      for (const auto& job : page.jobs) {
        if (job.attempts.empty()) {
          cancels.push_back({job.id, job.finished_at.value_or(job.updated_at)});
        }
      }
      if (!page.next_cursor) {
        break;
      }
      query.cursor = page.next_cursor;
    }
    // Sent even when empty: a new worker waits for it before its first job.
    publisher.Publish(amqp::EncodeCancelReplayMessage(cancels), [](amqp::PublishOutcome) {});
  } catch (const std::exception& e) {
    spdlog::warn("cannot replay cancels to a new worker: {}", e.what());
  }
}

}  // namespace

namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// How long a stop waits for requests in progress. A request waiting on a confirm is bounded by the
// publish timeout, so wait for that plus a margin, capped to keep a stop "a few seconds".
milliseconds DrainGrace(const Settings& settings) {
  return std::clamp<milliseconds>(settings.publish_timeout + 1s, 2s, 10s);
}

// Threads for blocking store calls: SQLite serializes writers anyway and PostgreSQL round trips are
// short; a few threads keep readers (GET) from queueing behind one slow write.
constexpr size_t kStoreThreads = 4;
// Store calls allowed to wait for a thread before new requests get 503 overloaded.
constexpr size_t kMaxPendingStoreCalls = 1024;
constexpr std::chrono::minutes kPruneInterval{1};

// Stops, on every way out of RunServe, in the one safe order: the publisher first (whatever waits on
// it resolves kStopped; those callbacks post to the pool), then the pool (runs what is queued,
// including those undos), then the io threads. So no handler, pool task or publisher callback runs
// while what it uses is destroyed.
class StopOnExit {
 public:
  StopOnExit(HttpServer& server, amqp::Publisher& publisher, BlockingPool& pool)
      : server_(server), publisher_(publisher), pool_(pool) {}
  ~StopOnExit() {
    publisher_.Stop();
    pool_.Stop();
    server_.Stop();
  }
  StopOnExit(const StopOnExit&) = delete;
  StopOnExit& operator=(const StopOnExit&) = delete;

 private:
  HttpServer& server_;
  amqp::Publisher& publisher_;
  BlockingPool& pool_;
};

// Opens the job store and applies its migrations; throws (one line) when it cannot. SQLite creates
// the file's parent directory itself.
store::StorePtr OpenJobStore(const Settings& settings) {
  auto store = store::OpenStore(settings.store_url);
  store->Migrate();
  return store;
}

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

  // Declaration order is destruction order reversed: the store outlives its pruner and everything that
  // calls it; the router outlives the io threads that use it; StopOnExit (last) stops the publisher,
  // the pool and the io threads before any of them is destroyed.
  Router router;
  ServerOptions options;
  options.listen = settings.listen;
  options.threads = settings.serve_threads;
  options.body_limit = settings.max_body;  // 413 from Content-Length, before the body is read
  options.header_timeout = settings.header_timeout;
  options.request_timeout = settings.request_timeout;
  options.idle_timeout = settings.idle_timeout;
  options.max_connections = settings.max_connections;
  HttpServer server(options);
  server.Listen();  // throws ListenError ("serve.listen 127.0.0.1:5000: address already in use")
  // No tokens and not loopback: refuse (ConfigError, one line) unless --insecure. The bound address
  // is checked, so a host name that resolves beyond loopback is caught too.
  CheckListenAddress(settings, server.LocalEndpoint().host);

  store::StorePtr store = OpenJobStore(settings);  // throws: bad URL, unreachable, failed migration
  store::Pruner pruner(*store, store::RetentionPolicy{settings.keep_succeeded, settings.keep_failed},
                       std::chrono::duration_cast<Duration>(kPruneInterval));

  Metrics metrics;
  // Live job changes for GET /v1/events, fed from the warren.changes fanout (see below).
  EventHub hub(10'000, EventHub::NowMs(), options.stream_backlog / 2);

  amqp::PublisherOptions publisher_options;
  publisher_options.connection.url = settings.amqp_url;
  publisher_options.connection.heartbeat =
      std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  publisher_options.connection.name = "warren serve";
  publisher_options.confirm_timeout = settings.publish_timeout;
  publisher_options.reconnect_max = settings.reconnect_max;
  // The demo's task_queue exactly as the demo declares it, the API's default queue, the delay tiers for
  // scheduled jobs, warren.dead, and the events and control exchanges. Every queue the config names is
  // declared up front too: RabbitMQ persists a new queue's declaration lazily, and a queue created in
  // the moments before a broker crash can vanish with the jobs confirmed into it (docs/architecture.md).
  std::vector<std::string> known_queues{"default", std::string(amqp::kDemoQueue)};
  known_queues.insert(known_queues.end(), settings.queues.begin(), settings.queues.end());
  for (const auto& periodic : settings.periodic) {
    known_queues.push_back(periodic.queue);
  }
  std::sort(known_queues.begin(), known_queues.end());
  known_queues.erase(std::unique(known_queues.begin(), known_queues.end()), known_queues.end());
  publisher_options.queue_type = settings.queue_type;
  publisher_options.declare = amqp::ServePublisherTopology(known_queues, settings.queue_type);
  for (auto& queue : publisher_options.declare.queues) {
    // The demo's classic queue lives on one node of a cluster: while that node is down, serve still
    // connects (to another node) and publishes everything else.
    queue.optional = queue.name == amqp::kDemoQueue;
  }
  const amqp::ConnectionOptions publisher_options_connection = publisher_options.connection;
  {
    // A queue that exists with other arguments (another queue type) is a deployment error that no
    // retry fixes: refuse to start (QueueMismatchError, one line) rather than answer 503 for ever.
    amqp::Topology declared = publisher_options.declare;
    amqp::Append(declared, amqp::RecorderTopology(settings.queue_type));
    publisher_options.declarations_settled = amqp::CheckDeclarations(publisher_options.connection, declared);
  }
  // Connects in the background: serve answers GET / at once and publishes with 503 until RabbitMQ is up.
  amqp::Publisher publisher(std::move(publisher_options));
  // What this replica changes goes to every replica's hub through the warren.changes fanout.
  ChangeFeed feed([&publisher](amqp::OutgoingMessage message) {
    publisher.Publish(std::move(message), [](amqp::PublishOutcome /*outcome*/) {});
  });

  // The recorder applies workers' lifecycle events to the store. Declared after the store it writes to
  // and the change feed it tells (so it stops first), and started before the server serves, so events
  // are recorded from the start.
  RecorderOptions recorder_options;
  recorder_options.connection.url = settings.amqp_url;
  recorder_options.queue_type = settings.queue_type;
  recorder_options.connection.heartbeat =
      std::chrono::duration_cast<std::chrono::seconds>(settings.heartbeat);
  recorder_options.connection.name = "warren serve";
  recorder_options.reconnect_max = settings.reconnect_max;
  recorder_options.metrics = &metrics;
  recorder_options.log_lines_per_job = settings.log_lines;
  recorder_options.on_applied = [&feed](const std::vector<JobEvent>& events,
                                        const std::vector<JobRecord>& changed) {
    std::map<std::string_view, const JobRecord*> by_id;
    for (const auto& record : changed) {
      by_id[record.id] = &record;
    }
    for (const auto& event : events) {
      if (const auto it = by_id.find(event.job_id); it != by_id.end()) {
        feed.Add(ChangeOf(event, *it->second));
      }
    }
  };
  Recorder recorder(std::move(recorder_options), *store);
  BlockingPool pool(kStoreThreads, kMaxPendingStoreCalls);
  // Jobs stored but never confirmed by RabbitMQ (a serve killed in between) are published again.
  // Declared before stop_on_exit: the publisher (whose callbacks reach it) stops first.
  OutboxOptions outbox_options;
  outbox_options.stale_after = std::max(
      std::chrono::milliseconds(30'000), 3 * std::chrono::duration_cast<std::chrono::milliseconds>(settings.publish_timeout));
  Outbox outbox(
      *store,
      [&publisher](amqp::OutgoingMessage message, amqp::PublishCallback done) {
        publisher.Publish(std::move(message), std::move(done));
      },
      SystemNow, outbox_options);
  // Jobs whose queue was gone when their delay ended wait in warren.unrouted: back into their queues.
  UnroutedRelayOptions relay_options;
  relay_options.connection = publisher_options_connection;
  relay_options.connection.name = "warren serve unrouted";
  relay_options.queue_type = settings.queue_type;
  relay_options.reconnect_max = settings.reconnect_max;
  UnroutedRelay relay(std::move(relay_options),
                      [&publisher](amqp::OutgoingMessage message, amqp::PublishCallback done) {
                        publisher.Publish(std::move(message), std::move(done));
                      });
  StopOnExit stop_on_exit(server, publisher, pool);

  ApiDeps deps;
  deps.store = store.get();
  deps.tasks = &pool;
  deps.publish = [&publisher, &metrics](amqp::OutgoingMessage message, amqp::PublishCallback done) {
    const auto sent = std::chrono::steady_clock::now();
    publisher.Publish(std::move(message),
                      [&metrics, sent, done = std::move(done)](amqp::PublishOutcome outcome) {
                        if (outcome == amqp::PublishOutcome::kConfirmed) {
                          metrics.ObserveConfirm(
                              std::chrono::duration<double>(std::chrono::steady_clock::now() - sent).count());
                        }
                        done(outcome);
                      });
  };
  deps.publish_batch = [&publisher](std::vector<amqp::OutgoingMessage> messages, amqp::PublishCallback done) {
    publisher.PublishBatch(std::move(messages), std::move(done));
  };
  deps.broker_state = [&publisher] { return publisher.State(); };
  amqp::ConnectionOptions inspector_options = publisher_options_connection;
  inspector_options.heartbeat = std::chrono::seconds(0);  // idle between calls: no heartbeats to miss
  inspector_options.name = "warren serve queue inspector";
  auto inspector = std::make_shared<amqp::QueueInspector>(inspector_options);
  // Every worker heartbeat and every replica's job changes, on a private queue: each replica knows every
  // worker, and its event streams see every job.
  WorkerRegistry workers;
  amqp::ConsumerOptions heartbeat_options;
  heartbeat_options.connection = publisher_options_connection;
  heartbeat_options.connection.name = "warren serve workers";
  const std::string heartbeat_queue =
      fmt::format("warren.workers.serve.{}.{}", getpid(), std::random_device{}());
  heartbeat_options.declare = amqp::ServeFeedTopology(heartbeat_queue);
  heartbeat_options.consume = {heartbeat_queue};
  heartbeat_options.prefetch = 100;
  heartbeat_options.reconnect_max = settings.reconnect_max;
  heartbeat_options.thread_name = "serve-feeds";
  std::unique_ptr<amqp::Consumer> heartbeats;
  // The consumer's thread may deliver before make_unique below has returned and `heartbeats` is set:
  // its callback waits for that (once, briefly) instead of reading the pointer while it is written.
  std::promise<void> heartbeats_set;
  std::shared_future<void> heartbeats_ready = heartbeats_set.get_future().share();
  heartbeats = std::make_unique<amqp::Consumer>(
      std::move(heartbeat_options),
      [&workers, &heartbeats, heartbeats_ready, &pool, &publisher, &store, &hub](amqp::Delivery d) {
        heartbeats_ready.wait();
        if (d.type == amqp::kChangesType) {
          heartbeats->Settle(d, amqp::Settlement::kAck);
          try {
            hub.Publish(DecodeChanges(d.body));
          } catch (const std::exception& e) {
            spdlog::warn("events: ignoring a malformed changes message: {}", e.what());
          }
          return;
        }
        const bool new_worker =
            workers.Observe(nlohmann::json::parse(d.body, nullptr, /*allow_exceptions=*/false));
        heartbeats->Settle(d, amqp::Settlement::kAck);
        if (new_worker) {
          // A worker that connected after a cancel did not hear it: tell it (and the others, harmlessly)
          // which jobs were cancelled before they started.
          (void)pool.TryPost([&store, &publisher] { ReplayCancels(*store, publisher); });
        }
      });
  heartbeats_set.set_value();
  deps.workers = &workers;
  deps.metrics = &metrics;
  deps.on_change = [&feed](std::string_view kind, const JobRecord& record) {
    feed.Add(ChangeOf(kind, record));
  };
  // Unacked messages and rates only the management plugin knows: on the broker's host, at
  // broker.management_port (0: not asked), with the AMQP URL's credentials and vhost.
  amqp::ManagementOptions management_options;
  try {
    // A cluster's first node: the management API answers for the whole cluster on any node.
    const auto url = amqp::ParseAmqpUrl(amqp::SplitAmqpUrls(settings.amqp_url).front());
    management_options.host = url.host;
    management_options.user = url.user;
    management_options.password = url.password;
    management_options.vhost = url.vhost;
  } catch (const std::exception&) {
  }
  management_options.port = settings.management_port;
  auto management = std::make_shared<amqp::ManagementClient>(management_options);
  deps.queue_stats = [inspector, management](const std::string& queue) -> std::optional<QueueStats> {
    const auto counts = inspector->Inspect(queue);
    if (!counts) {
      return std::nullopt;
    }
    QueueStats stats{counts->ready, counts->consumers, {}, {}, {}, {}};
    if (const auto more = management->Queue(queue)) {
      stats.unacked = more->unacked;
      stats.publish_rate = more->publish_rate;
      stats.deliver_rate = more->deliver_rate;
      stats.ack_rate = more->ack_rate;
    }
    return stats;
  };
  deps.published = [&outbox](const std::vector<std::string>& ids) { outbox.Published(ids); };
  deps.events = &hub;
  if (const auto control = ProcessEnv("WARREN_SUPERVISOR_CONTROL"); control && !control->empty()) {
    deps.supervisor = [path = *control](const std::string& line, std::string* error) {
      return UnixRequest(path, line, std::chrono::seconds(5), error);
    };
  }
  SubmitFn submit = AddApiRoutes(router, settings, std::move(deps));
  // Idle streams get a comment every 15 s: proxies keep them open, and streams whose client left are
  // found and dropped.
  std::jthread keep_alive([&hub](const std::stop_token& stop) {
    NameThisThread("sse-keepalive");
    std::mutex mu;
    std::condition_variable_any cv;
    std::unique_lock lock(mu);
    while (!stop.stop_requested()) {
      cv.wait_for(lock, stop, std::chrono::seconds(15), [] { return false; });
      if (!stop.stop_requested()) {
        hub.KeepAlive();
      }
    }
  });
  // A tick another replica enqueued is recorded here only once its publish cannot be undone anymore.
  PeriodicScheduler scheduler(settings.periodic, *store, std::move(submit), SystemNow,
                              settings.publish_timeout + std::chrono::seconds(10));
  for (const auto& job : settings.periodic) {
    spdlog::info("periodic job {}: type {}, cron '{}' in {}, missed runs: {}", job.name, job.type,
                 job.cron.Expression(), job.tz.Name(), ToString(job.missed));
  }
  // Requests are counted by the router's answer observer (AddApiRoutes), by route pattern.
  server.Start(
      [&router](Request request, const Responder& respond) { router.Dispatch(std::move(request), respond); });
  spdlog::info("listening on http://{}", server.LocalEndpoint().ToString());
  scheduler.Start();
  if (settings.tokens.empty()) {
    spdlog::info("no API tokens configured: the API is open to whoever can reach {}",
                 settings.listen.ToString());
  }

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
  scheduler.Stop();
  // 2. The publisher answers whatever still waits on it (kStopped → 503; an enqueue's undo goes to the
  //    pool), the pool finishes its queue, and those answers are written.
  publisher.Stop();
  pool.Stop();
  if (!server.WaitIdle(1s)) {
    spdlog::warn("closing {} connection(s) that did not finish in time", server.ConnectionCount());
  }
  // 3. The io threads stop (StopOnExit, also on every early exit above); then the pruner and the store.
  server.Stop();
  spdlog::info("stopped");
  return 0;
}

}  // namespace warren::api
