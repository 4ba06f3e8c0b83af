#include "cli/client_commands.hpp"

#include <algorithm>
#include <array>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <iterator>
#include <thread>

#include <fmt/format.h>
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "cli/exit_codes.hpp"
#include "cli/job_args.hpp"
#include "cli/output.hpp"
#include "client/api_client.hpp"

namespace warren::cli {
namespace {

using client::ApiClient;
using nlohmann::json;

constexpr std::string_view kDefaultUrl = "http://127.0.0.1:5000";
constexpr size_t kProgressWidth = 30;
constexpr size_t kMaxPage = 1000;
// retry --dead calls the endpoint until nothing is left; a bound in case jobs keep dying meanwhile.
constexpr int kMaxRetryDeadCalls = 10000;

struct Connection {
  std::string url{kDefaultUrl};
  std::string token;
  bool json = false;
  double timeout = 30;  // seconds, for each request
};

// CLI::Range lets "nan" through (every comparison with NaN is false), and NaN seconds would make an
// undefined conversion to milliseconds.
CLI::Validator SecondsBetween(double lo, double hi) {
  return {[lo, hi](std::string& text) {
            double value = 0;
            if (!CLI::detail::lexical_cast(text, value) || !(value >= lo && value <= hi)) {
              return fmt::format("expected seconds from {} to {}, got '{}'", lo, hi, text.substr(0, 40));
            }
            return std::string();
          },
          fmt::format("SECONDS in [{} - {}]", lo, hi)};
}

// The flags are shared by every client command (one of them runs). The environment is read in
// ResolveEnvironment, not with CLI11's envname: CLI11 applies envname options of every subcommand
// after parsing, so WARREN_URL would overwrite the --url of the command that ran.
void AddConnectionFlags(CLI::App* cmd, Connection& connection) {
  cmd->add_option("--url", connection.url, "the API's base URL [env WARREN_URL]")
      ->capture_default_str()
      ->type_name("URL");
  cmd->add_option("--token", connection.token, "bearer token [env WARREN_TOKEN]")->type_name("SECRET");
  cmd->add_flag("--json", connection.json, "print the API's JSON document instead of a table");
  cmd->add_option("--request-timeout", connection.timeout, "seconds to wait for each answer")
      ->capture_default_str()
      ->check(SecondsBetween(0.1, 3600.0));
}

// WARREN_URL and WARREN_TOKEN for the flags that `command` did not get.
void ResolveEnvironment(const CLI::App& command, Connection& connection) {
  // NOLINTBEGIN(concurrency-mt-unsafe): read once, before any thread exists
  if (const char* url = std::getenv("WARREN_URL");
      command.count("--url") == 0 && url != nullptr && *url != '\0') {
    connection.url = url;
  }
  if (const char* token = std::getenv("WARREN_TOKEN"); command.count("--token") == 0 && token != nullptr) {
    connection.token = token;
  }
  // NOLINTEND(concurrency-mt-unsafe)
}

std::string ReadStdin() {
  return {std::istreambuf_iterator<char>(std::cin), std::istreambuf_iterator<char>()};
}

std::string Text(const json& value) {
  if (value.is_null()) {
    return "-";
  }
  return value.is_string() ? value.get<std::string>() : value.dump();
}

std::string Attempts(const json& job) {
  return fmt::format("{}/{}", job.value("attempt", 0), job.value("max_attempts", 0));
}

std::string ProgressText(const json& job) {
  const json progress = job.value("progress", json());
  if (!progress.is_object()) {
    return "-";
  }
  std::string text = fmt::format("{}%", progress.value("percent", 0));
  const std::string note = progress.value("note", "");
  return note.empty() ? text : text + " " + TerminalSafe(note);
}

void PrintJson(const json& document, const Style& style) {
  std::fputs(document.dump(style.tty ? 2 : -1, ' ', false, json::error_handler_t::replace).c_str(), stdout);
  std::fputs("\n", stdout);
}

void Print(const std::string& text) { std::fputs(text.c_str(), stdout); }

// nlohmann's message without its "[json.exception.type_error.306] " prefix.
std::string JsonErrorText(const json::exception& e) {
  std::string text = e.what();
  if (text.starts_with("[json.exception.")) {
    if (const size_t close = text.find("] "); close != std::string::npos) {
      text.erase(0, close + 2);
    }
  }
  return text;
}

}  // namespace

struct ClientCommands::State {
  Connection connection;
  Style style;

  CLI::App* enqueue_cmd = nullptr;
  EnqueueOptions enqueue_options;
  std::string args;
  std::string queue;
  std::string delay;
  std::string timeout;
  int max_attempts = 0;
  int priority = 0;
  std::string idempotency_key;
  bool wait = false;

  CLI::App* status_cmd = nullptr;
  CLI::App* jobs_cmd = nullptr;
  CLI::App* retry_cmd = nullptr;
  CLI::App* cancel_cmd = nullptr;
  CLI::App* queues_cmd = nullptr;
  CLI::App* workers_cmd = nullptr;
  CLI::App* tail_cmd = nullptr;
  CLI::App* logs_cmd = nullptr;
  bool follow = false;
  int attempt = 0;
  std::string job_filter;
  size_t count = 0;
  std::string job_id;
  std::string state_filter;
  std::string type_filter;
  std::string queue_filter;
  std::string cursor;
  size_t limit = 50;
  std::string dead_queue;

  [[nodiscard]] ApiClient Client() const;
  [[nodiscard]] int Enqueue() const;
  [[nodiscard]] int Wait(ApiClient& client, const std::string& id) const;
  [[nodiscard]] int Status() const;
  [[nodiscard]] int Jobs() const;
  [[nodiscard]] int Retry() const;
  [[nodiscard]] int Cancel() const;
  [[nodiscard]] int Queues() const;
  [[nodiscard]] int Workers() const;
  [[nodiscard]] int Tail() const;
  [[nodiscard]] int Logs() const;
  void PrintEvent(const client::SseEvent& event) const;
};

ClientCommands::ClientCommands(CLI::App& app) : state_(std::make_unique<State>()) {
  State& s = *state_;
  s.enqueue_cmd = app.add_subcommand("enqueue", "Enqueue a job through the API (--wait: until it ends)");
  s.enqueue_cmd->add_option("TYPE", s.enqueue_options.type, "the job type")->required();
  s.enqueue_cmd->add_option("--args", s.args, "the job's args: JSON, @FILE, or @- for stdin")
      ->type_name("JSON");
  s.enqueue_cmd->add_option("--queue", s.queue, "queue (default: the server's, 'default')")
      ->type_name("NAME");
  s.enqueue_cmd->add_option("--delay", s.delay, "start no earlier than this from now: 10s, 5m")
      ->type_name("DURATION");
  s.enqueue_cmd->add_option("--timeout", s.timeout, "longest run of one attempt: 30s")->type_name("DURATION");
  s.enqueue_cmd->add_option("--max-attempts", s.max_attempts, "attempts before the job is dead")
      ->check(CLI::PositiveNumber);
  s.enqueue_cmd->add_option("--priority", s.priority,
                            "0 (default) to 9, higher first; orders its queue when amqp.queue_type is priority");
  s.enqueue_cmd->add_option("--idempotency-key", s.idempotency_key, "enqueue once per key")->type_name("KEY");
  s.enqueue_cmd->add_flag(
      "--wait", s.wait,
      "wait until the job ends: progress on a terminal, then the result; exit 0 succeeded, 4 dead, "
      "5 cancelled, 6 expired");
  AddConnectionFlags(s.enqueue_cmd, s.connection);

  s.status_cmd = app.add_subcommand("status", "Show a job: state, attempts, progress, result");
  s.status_cmd->add_option("ID", s.job_id, "the job's id")->required();
  AddConnectionFlags(s.status_cmd, s.connection);

  s.jobs_cmd = app.add_subcommand("jobs", "List jobs, newest first");
  s.jobs_cmd->add_option("--state", s.state_filter, "only jobs in this state (queued, running, dead, ...)");
  s.jobs_cmd->add_option("--type", s.type_filter, "only jobs of this type");
  s.jobs_cmd->add_option("--queue", s.queue_filter, "only jobs in this queue");
  s.jobs_cmd->add_option("--limit", s.limit, "at most this many jobs")
      ->capture_default_str()
      ->check(CLI::Range(1, 100000));
  s.jobs_cmd->add_option("--cursor", s.cursor,
                         "start after this cursor (next_cursor of a previous --json answer)");
  AddConnectionFlags(s.jobs_cmd, s.connection);

  s.retry_cmd = app.add_subcommand(
      "retry", "Run a dead, failed, cancelled or expired job again; --dead QUEUE: all dead jobs");
  s.retry_cmd->add_option("ID", s.job_id, "the job's id");
  s.retry_cmd->add_option("--dead", s.dead_queue, "retry every dead job of this queue")->type_name("QUEUE");
  AddConnectionFlags(s.retry_cmd, s.connection);

  s.cancel_cmd = app.add_subcommand("cancel", "Cancel a job that has not ended (a running one is stopped)");
  s.cancel_cmd->add_option("ID", s.job_id, "the job's id")->required();
  AddConnectionFlags(s.cancel_cmd, s.connection);

  s.queues_cmd = app.add_subcommand("queues", "The job queues: depth, consumers, rates");
  AddConnectionFlags(s.queues_cmd, s.connection);

  s.workers_cmd = app.add_subcommand("workers", "The workers and their heartbeats");
  AddConnectionFlags(s.workers_cmd, s.connection);

  s.tail_cmd = app.add_subcommand("tail", "Follow job changes live (GET /v1/events); reconnects and resumes");
  s.tail_cmd->add_option("--queue", s.queue_filter, "only jobs in this queue");
  s.tail_cmd->add_option("--type", s.type_filter, "only jobs of this type");
  s.tail_cmd->add_option("--job", s.job_filter, "only this job")->type_name("ID");
  s.tail_cmd->add_option("--count", s.count, "stop after this many events (default: follow until interrupted)");
  AddConnectionFlags(s.tail_cmd, s.connection);

  s.logs_cmd = app.add_subcommand("logs", "Print a job's own log lines (command stderr, JobContext::log)");
  s.logs_cmd->add_option("ID", s.job_id, "the job's id")->required();
  s.logs_cmd->add_option("--attempt", s.attempt, "only this attempt's lines")->check(CLI::PositiveNumber);
  s.logs_cmd->add_flag("--follow,-f", s.follow, "keep printing new lines until the job ends");
  AddConnectionFlags(s.logs_cmd, s.connection);
}

ClientCommands::~ClientCommands() = default;

std::optional<int> ClientCommands::Run() {
  State& s = *state_;
  s.style = DetectStyle();
  const std::array<std::pair<CLI::App*, int (State::*)() const>, 9> commands = {
      {{s.enqueue_cmd, &State::Enqueue},
       {s.status_cmd, &State::Status},
       {s.jobs_cmd, &State::Jobs},
       {s.retry_cmd, &State::Retry},
       {s.cancel_cmd, &State::Cancel},
       {s.queues_cmd, &State::Queues},
       {s.workers_cmd, &State::Workers},
       {s.tail_cmd, &State::Tail},
       {s.logs_cmd, &State::Logs}}};
  try {
    for (const auto& [command, run] : commands) {
      if (command->parsed()) {
        ResolveEnvironment(*command, s.connection);
        return (s.*run)();
      }
    }
  } catch (const UsageError& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return kExitUsage;
  } catch (const client::ApiError& e) {
    std::fprintf(stderr, "warren: %s: %s\n", e.Code().c_str(), e.what());
    return kExitError;
  } catch (const client::UnreachableError& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return kExitUnreachable;
  } catch (const client::ClientError& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return kExitError;
  } catch (const json::exception& e) {
    // JSON of another shape than the API's (a proxy's answer, another server on the port): a field
    // read as the wrong type.
    std::fprintf(stderr, "warren: the API answered something unexpected: %s\n", JsonErrorText(e).c_str());
    return kExitError;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "warren: %s\n", e.what());
    return kExitError;
  }
  return std::nullopt;
}

ApiClient ClientCommands::State::Client() const {
  client::HttpOptions options;
  options.token = connection.token;
  options.request_timeout = std::chrono::milliseconds(static_cast<int64_t>(connection.timeout * 1000));
  options.connect_timeout = std::min(options.connect_timeout, options.request_timeout);
  try {
    return {connection.url, options};
  } catch (const client::ClientError& e) {
    throw UsageError(fmt::format("--url {}", e.what()));
  }
}

int ClientCommands::State::Enqueue() const {
  EnqueueOptions options = enqueue_options;
  const auto set = [](std::optional<std::string>& field, const std::string& value) {
    if (!value.empty()) {
      field = value;
    }
  };
  if (enqueue_cmd->count("--args") > 0) {
    options.args = args;
  }
  set(options.queue, queue);
  set(options.delay, delay);
  set(options.timeout, timeout);
  set(options.idempotency_key, idempotency_key);
  if (max_attempts > 0) {
    options.max_attempts = max_attempts;
  }
  if (enqueue_cmd->count("--priority") > 0) {
    options.priority = priority;
  }
  const json spec = JobSpecJson(options, ReadStdin);
  ApiClient client = Client();
  const json job = client.Enqueue(spec);
  const std::string id = job.value("id", "");
  if (wait && (connection.json || !style.tty)) {
    return Wait(client, id);  // only the outcome: the final job (--json) or its result
  }
  if (connection.json) {
    PrintJson(job, style);
  } else if (style.tty) {
    const std::string state = job.value("state", "");
    Print(fmt::format("enqueued {} ({} on {}, {})\n", id, job.value("type", ""), job.value("queue", ""),
                      Paint(state, StateColor(state), style)));
  } else {
    Print(id + "\n");
  }
  return wait ? Wait(client, id) : kExitOk;
}

// Polls the job every 200 ms, backing off to 1 s, until it ends. Every poll has the request timeout.
int ClientCommands::State::Wait(ApiClient& client, const std::string& id) const {
  auto interval = std::chrono::milliseconds(200);
  const bool live = style.tty && !connection.json;
  json job;
  while (true) {
    job = client.GetJob(id);
    const std::string state = job.value("state", "");
    if (live) {
      const json progress = job.value("progress", json());
      std::optional<int> percent;
      std::string note;
      if (progress.is_object()) {
        percent = progress.value("percent", 0);
        note = progress.value("note", "");
      }
      Print("\r" + ProgressLine(state, percent, note, kProgressWidth, style) + "\033[K");
      std::fflush(stdout);
    }
    if (IsFinalState(state)) {
      break;
    }
    std::this_thread::sleep_for(interval);
    interval = std::min(interval * 3 / 2, std::chrono::milliseconds(1000));
  }
  if (live) {
    Print("\n");
  }
  const std::string state = job.value("state", "");
  const int code = ExitCodeForState(state);
  if (connection.json) {
    PrintJson(job, style);
  } else if (!job.value("result", json()).is_null()) {
    PrintJson(job["result"], style);
  }
  if (code != kExitOk) {
    const std::string error = job.value("error", json()).is_string() ? job["error"].get<std::string>() : "";
    std::fprintf(stderr, "warren: job %s ended %s%s\n", id.c_str(), state.c_str(),
                 error.empty() ? "" : (": " + TerminalSafe(error)).c_str());
  }
  return code;
}

int ClientCommands::State::Status() const {
  ApiClient client = Client();
  const json job = client.GetJob(job_id);
  if (connection.json) {
    PrintJson(job, style);
    return kExitOk;
  }
  const TimePoint now = SystemNow();
  const std::string state = job.value("state", "");
  std::vector<std::pair<std::string, std::string>> fields = {
      {"id", job.value("id", "")},
      {"type", job.value("type", "")},
      {"queue", job.value("queue", "")},
      {"state", Paint(state, StateColor(state), style)},
      {"attempts", Attempts(job)},
      {"progress", ProgressText(job)},
      {"created", ShowTime(job.value("created_at", json()), now, style)},
      {"started", ShowTime(job.value("started_at", json()), now, style)},
      {"finished", ShowTime(job.value("finished_at", json()), now, style)},
  };
  if (job.value("run_at", json()).is_string()) {
    fields.emplace_back("run at", ShowTime(job["run_at"], now, style));
  }
  if (job.value("error", json()).is_string()) {
    fields.emplace_back("error", TerminalSafe(job["error"].get<std::string>()));
  }
  if (!job.value("result", json()).is_null()) {
    fields.emplace_back("result", job["result"].dump(-1, ' ', false, json::error_handler_t::replace));
  }
  std::string out;
  for (const auto& [name, value] : fields) {
    out += style.tty ? fmt::format("{:<10}{}\n", name, value) : fmt::format("{}\t{}\n", name, value);
  }
  const json attempts = job.value("attempts", json::array());
  if (style.tty && attempts.is_array() && !attempts.empty()) {
    std::vector<Row> rows;
    for (const auto& a : attempts) {
      const std::string outcome = Text(a.value("outcome", json()));
      rows.push_back({{Text(a.value("number", json())), ""},
                      {Text(a.value("worker", json())), ""},
                      {ShowTime(a.value("started_at", json()), now, style), ""},
                      {ShowTime(a.value("finished_at", json()), now, style), ""},
                      {outcome, StateColor(outcome)},
                      {Text(a.value("error", json())), ""}});
    }
    out += "\n" + FormatTable({"#", "WORKER", "STARTED", "FINISHED", "OUTCOME", "ERROR"}, rows, style, {0});
  }
  Print(out);
  return kExitOk;
}

int ClientCommands::State::Jobs() const {
  ApiClient client = Client();
  client::JobFilter filter;
  const auto optional = [](const std::string& value) {
    return value.empty() ? std::nullopt : std::optional<std::string>(value);
  };
  filter.state = optional(state_filter);
  filter.type = optional(type_filter);
  filter.queue = optional(queue_filter);
  filter.cursor = optional(cursor);
  json jobs = json::array();
  json next = nullptr;
  while (jobs.size() < limit) {
    filter.limit = std::min(kMaxPage, limit - jobs.size());
    const json page = client.ListJobs(filter);
    for (const auto& job : page.value("jobs", json::array())) {
      jobs.push_back(job);
    }
    next = page.value("next_cursor", json());
    if (!next.is_string()) {
      break;
    }
    filter.cursor = next.get<std::string>();
  }
  if (connection.json) {
    PrintJson(json{{"jobs", jobs}, {"next_cursor", next}}, style);
    return kExitOk;
  }
  const TimePoint now = SystemNow();
  std::vector<Row> rows;
  for (const auto& job : jobs) {
    const std::string state = job.value("state", "");
    rows.push_back({{job.value("id", ""), ""},
                    {job.value("type", ""), ""},
                    {job.value("queue", ""), ""},
                    {state, StateColor(state)},
                    {Attempts(job), ""},
                    {ProgressText(job), ""},
                    {ShowTime(job.value("created_at", json()), now, style), ""}});
  }
  Print(FormatTable({"ID", "TYPE", "QUEUE", "STATE", "ATTEMPTS", "PROGRESS", "CREATED"}, rows, style));
  if (style.tty && next.is_string()) {
    std::fprintf(stderr, "more: warren jobs --cursor %s\n", next.get<std::string>().c_str());
  }
  return kExitOk;
}

int ClientCommands::State::Retry() const {
  if (job_id.empty() == dead_queue.empty()) {
    throw UsageError("retry: give a job ID or --dead QUEUE (one of them)");
  }
  ApiClient client = Client();
  if (!job_id.empty()) {
    const json job = client.Retry(job_id);
    if (connection.json) {
      PrintJson(job, style);
    } else {
      const std::string state = job.value("state", "");
      Print(fmt::format("retried {} (attempt {}, {})\n", job.value("id", ""), job.value("attempt", 0),
                        Paint(state, StateColor(state), style)));
    }
    return kExitOk;
  }
  json ids = json::array();
  for (int call = 0; call < kMaxRetryDeadCalls; ++call) {
    const json answer = client.RetryDead(dead_queue);
    for (const auto& retried : answer.value("ids", json::array())) {
      ids.push_back(retried);
    }
    if (!answer.value("more", false) || answer.value("retried", 0) == 0) {
      break;
    }
  }
  if (connection.json) {
    PrintJson(json{{"retried", ids.size()}, {"ids", ids}}, style);
  } else {
    Print(fmt::format("retried {} dead job{} of {}\n", ids.size(), ids.size() == 1 ? "" : "s", dead_queue));
  }
  return kExitOk;
}

// Pages through the lines; with --follow polls for more every second until the job has ended (one
// last read after the end, for lines that arrived with its outcome). --json: the API's document when
// not following, else one line object per output line (NDJSON), as they come.
int ClientCommands::State::Logs() const {
  ApiClient client = Client();
  std::string after;
  json collected = json::array();
  for (;;) {
    const json job = follow ? client.GetJob(job_id) : json();
    const bool ended = follow && IsTerminal(ParseJobState(job.value("state", "")).value_or(JobState::kQueued));
    for (;;) {
      const json page = client.Logs(job_id, after, attempt);
      for (const auto& line : page.value("lines", json::array())) {
        after = line.value("cursor", after);
        if (!connection.json) {
          Print(LogLineText(line, style));
        } else if (follow) {
          std::fputs((line.dump(-1, ' ', false, json::error_handler_t::replace) + "\n").c_str(), stdout);
        } else {
          collected.push_back(line);
        }
      }
      if (!page.value("next", json()).is_string()) {
        break;
      }
    }
    std::fflush(stdout);
    if (!follow || ended) {
      break;
    }
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }
  if (connection.json && !follow) {
    PrintJson(json{{"lines", std::move(collected)}, {"next", nullptr}}, style);
  }
  return kExitOk;
}

int ClientCommands::State::Cancel() const {
  ApiClient client = Client();
  const json job = client.Cancel(job_id);
  if (connection.json) {
    PrintJson(job, style);
  } else {
    const std::string state = job.value("state", "");
    Print(fmt::format("cancelled {} ({})\n", job.value("id", ""), Paint(state, StateColor(state), style)));
  }
  return kExitOk;
}

int ClientCommands::State::Queues() const {
  ApiClient client = Client();
  const json answer = client.Queues();
  if (connection.json) {
    PrintJson(answer, style);
    return kExitOk;
  }
  std::vector<Row> rows;
  for (const auto& q : answer.value("queues", json::array())) {
    const json rates = q.value("rates", json());
    const auto rate = [&rates](const char* name) {
      return rates.is_object() && rates.value(name, json()).is_number()
                 ? fmt::format("{:.1f}", rates[name].get<double>())
                 : std::string("-");
    };
    rows.push_back({{Text(q.value("name", json())), ""},
                    {Text(q.value("depth", json())), ""},
                    {Text(q.value("ready", json())), ""},
                    {Text(q.value("unacked", json())), ""},
                    {Text(q.value("consumers", json())), ""},
                    {rate("publish"), ""},
                    {rate("deliver"), ""},
                    {rate("ack"), ""}});
  }
  Print(FormatTable({"QUEUE", "DEPTH", "READY", "UNACKED", "CONSUMERS", "PUBLISH/S", "DELIVER/S", "ACK/S"},
                    rows, style, {1, 2, 3, 4, 5, 6, 7}));
  return kExitOk;
}

int ClientCommands::State::Workers() const {
  ApiClient client = Client();
  const json answer = client.Workers();
  if (connection.json) {
    PrintJson(answer, style);
    return kExitOk;
  }
  const TimePoint now = SystemNow();
  std::vector<Row> rows;
  for (const auto& w : answer.value("workers", json::array())) {
    const std::string state = w.value("state", "");
    std::vector<std::string> queue_names;
    for (const auto& q : w.value("queues", json::array())) {
      queue_names.push_back(Text(q));
    }
    rows.push_back({{Text(w.value("id", json())), ""},
                    {Text(w.value("host", json())), ""},
                    {Text(w.value("pid", json())), ""},
                    {state, StateColor(state)},
                    {fmt::format("{}", fmt::join(queue_names, ",")), ""},
                    {fmt::format("{}/{}", w.value("busy", 0), w.value("concurrency", 0)), ""},
                    {Text(w.value("jobs_done", json())), ""},
                    {ShowTime(w.value("last_seen", json()), now, style), ""}});
  }
  Print(FormatTable({"ID", "HOST", "PID", "STATE", "QUEUES", "BUSY", "DONE", "LAST SEEN"}, rows, style,
                    {2, 6}));
  return kExitOk;
}

// One line per event: NDJSON with --json; else time, event, job, type, queue, state and what the
// event adds (error, progress, worker), aligned and coloured on a terminal, tab-separated otherwise.
void ClientCommands::State::PrintEvent(const client::SseEvent& event) const {
  const json data = json::parse(event.data, nullptr, /*allow_exceptions=*/false);
  if (connection.json) {
    Print(json{{"id", event.id}, {"event", event.event}, {"data", data.is_discarded() ? json(event.data) : data}}
              .dump(-1, ' ', false, json::error_handler_t::replace) +
          "\n");
    std::fflush(stdout);
    return;
  }
  const auto field = [&data](const char* name) {
    return data.is_object() && data.contains(name) ? Text(data[name]) : std::string();
  };
  std::string detail = field("error");
  if (data.is_object() && data.contains("progress") && data["progress"].is_object()) {
    detail = fmt::format("{}% {}", data["progress"].value("percent", 0), data["progress"].value("note", ""));
  } else if (detail.empty() && event.event == "started") {
    detail = field("worker");
  } else if (event.event == "reset") {
    detail = field("reason");
  }
  std::string at = field("at");
  if (style.tty && at.size() >= 19) {
    at = at.substr(11, 8);  // the time of day: the date is today's
  }
  const std::string state = field("state");
  const std::string sep = style.tty ? "  " : "\t";
  detail = TerminalSafe(detail);  // an error or a note: the job's own text
  Print(fmt::format("{}{}{}{}{}{}{}{}{}{}{}{}{}\n", at, sep, Paint(style.tty ? fmt::format("{:<10}", event.event) : event.event, StateColor(state), style),
                    sep, field("job_id"), sep, field("type"), sep, field("queue"), sep, state, sep, detail));
  std::fflush(stdout);
}

int ClientCommands::State::Tail() const {
  ApiClient client = Client();
  const client::EventFilter filter{queue_filter, type_filter, job_filter};
  // Longer than the server's keep-alive comment interval (15 s): silence that long means a dead link.
  constexpr auto kIdle = std::chrono::seconds(45);
  std::string last_id;
  size_t seen = 0;
  bool connected = false;
  auto backoff = std::chrono::seconds(1);
  for (;;) {
    try {
      client.Events(filter, last_id, kIdle, [&](const client::SseEvent& event) {
        connected = true;
        backoff = std::chrono::seconds(1);
        last_id = event.id.empty() ? last_id : event.id;
        PrintEvent(event);
        return count == 0 || ++seen < count;
      });
      if (count != 0 && seen >= count) {
        return kExitOk;
      }
      connected = true;  // the server answered and then ended the stream (it is stopping)
      std::fprintf(stderr, "warren: the event stream ended; reconnecting in %llds\n",
                   static_cast<long long>(backoff.count()));
    } catch (const client::UnreachableError& e) {
      if (!connected) {
        throw;  // never reached the server: exit 3
      }
      std::fprintf(stderr, "warren: %s; reconnecting in %llds\n", e.what(), static_cast<long long>(backoff.count()));
    }
    std::this_thread::sleep_for(backoff);
    backoff = std::min(backoff * 2, std::chrono::seconds(10));
  }
}

}  // namespace warren::cli
