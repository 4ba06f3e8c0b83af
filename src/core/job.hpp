// The job model: what a client asks for (JobSpec), what Warren records (JobRecord), and the lifecycle
// events workers report (JobEvent). Pure data and pure functions: no I/O, no clock reads.
#pragma once

#include <chrono>
#include <cstdint>
#include <mutex>
#include <optional>
#include <random>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/duration.hpp"
#include "core/queue_type.hpp"

namespace warren {

// Milliseconds since the Unix epoch, UTC. Serialized as RFC 3339 with milliseconds ("...T12:00:00.000Z").
using TimePoint = std::chrono::time_point<std::chrono::system_clock, std::chrono::milliseconds>;

enum class JobState {
  kScheduled,  // waiting for run_at / delay
  kQueued,     // in RabbitMQ, waiting for a worker
  kRunning,    // a worker started an attempt
  kSucceeded,  // terminal
  kFailed,     // an attempt failed; it will be retried
  kDead,       // terminal: out of attempts, or unrunnable (unknown type)
  kCancelled,  // terminal
  kExpired,    // terminal: its deadline passed before it started
};
std::string_view ToString(JobState state);
std::optional<JobState> ParseJobState(std::string_view text);
bool IsTerminal(JobState state);

// Limits applied when validating a JobSpec. Defaults are the server's defaults.
struct JobLimits {
  size_t max_args_bytes = 512 * 1024;  // serialized args
  size_t max_json_depth = 32;
  size_t max_tags = 20;
  size_t max_tag_length = 64;
  size_t max_idempotency_key_length = 255;
  int max_priority = kJobPriorityLevels;  // 0 (default) .. max_priority; higher first on priority queues
  int max_attempts_limit = 100;
  int default_max_attempts = 3;
  size_t max_result_bytes = 256 * 1024;
};

// ApplyEvent has no limits parameter, so it caps results with this constant (the default of
// JobLimits::max_result_bytes): a larger serialized result is stored as {"truncated":true,"bytes":N}.
inline constexpr size_t kMaxResultBytes = 256 * 1024;

// A validated job request.
struct JobSpec {
  std::string type;  // safe name, 1..128: letters, digits, _ - . :
  std::string queue = "default";
  nlohmann::json args;  // any JSON value; null when absent
  int priority = 0;
  int max_attempts = 3;
  std::optional<Duration> timeout;
  std::optional<TimePoint> deadline;  // do not start after this
  std::optional<TimePoint> run_at;    // from run_at, or now + delay
  std::optional<std::string> idempotency_key;
  std::vector<std::string> tags;

  friend bool operator==(const JobSpec&, const JobSpec&) = default;
};

struct Attempt {
  int number = 0;  // 1-based
  std::string worker;
  std::optional<TimePoint> started_at;
  std::optional<TimePoint> finished_at;
  // What ApplyEvent writes: "running" (started, no outcome yet), "succeeded", "failed" (from a failed
  // or retrying event), "dead", "cancelled", "expired". "timeout" and "crashed" are read and ranked
  // as "failed". See job_state.cpp for how duplicate and conflicting reports are merged.
  std::string outcome;
  std::string error;

  friend bool operator==(const Attempt&, const Attempt&) = default;
};

struct Progress {
  int percent = 0;  // 0..100
  std::string note;
  std::optional<TimePoint> at;

  friend bool operator==(const Progress&, const Progress&) = default;
};

struct JobRecord {
  std::string id;  // UUIDv7, lower-case hex with dashes
  JobSpec spec;
  JobState state = JobState::kQueued;
  // The highest attempt number any event reported (or an admin retry reserved, see job_state.cpp);
  // 0 before the first. `progress` always belongs to this attempt.
  int attempt = 0;
  std::vector<Attempt> attempts;
  std::optional<nlohmann::json> result;
  std::string error;  // the last error
  std::optional<Progress> progress;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> started_at;   // first attempt's start
  std::optional<TimePoint> finished_at;  // when it reached a terminal state

  friend bool operator==(const JobRecord&, const JobRecord&) = default;
};

// kLog carries lines of a job's own log (stderr of a command, JobContext::log): it rides the same
// exchange and batches as the lifecycle events, but changes no record (ApplyEvent ignores it).
enum class EventKind { kStarted, kProgress, kSucceeded, kFailed, kRetrying, kDead, kCancelled, kExpired, kLog };
std::string_view ToString(EventKind kind);
std::optional<EventKind> ParseEventKind(std::string_view text);

// One line of a job's own log. `seq` counts the lines of an attempt from 1, so a redelivered log
// event stores nothing twice and lines read back in the order the job wrote them.
struct LogLine {
  int64_t seq = 0;
  TimePoint at{};
  std::string text;

  friend bool operator==(const LogLine&, const LogLine&) = default;
};

// A lifecycle event, as workers publish it to `warren.events`. Delivery is at-least-once and in any
// order: ApplyEvent must converge on the same record for any permutation and duplication of a set.
struct JobEvent {
  std::string job_id;
  EventKind kind = EventKind::kStarted;
  int attempt = 0;  // the attempt the event belongs to (0 for cancel/expire before any start)
  TimePoint at{};
  std::string worker;
  nlohmann::json result;  // kSucceeded
  std::string error;      // kFailed, kRetrying, kDead
  int percent = 0;        // kProgress
  std::string note;       // kProgress
  std::vector<LogLine> lines;  // kLog
  // The job's first message came from `serve`, which stores its record: a recorder that finds no record
  // yet waits for it (the insert may still be committing, decision 77) rather than drop the event.
  bool stored = false;

  friend bool operator==(const JobEvent&, const JobEvent&) = default;
};

// --- time, ids --------------------------------------------------------------------------------
TimePoint SystemNow();  // the system clock at the millisecond precision job records keep
std::string FormatTime(TimePoint t);  // RFC 3339, UTC, milliseconds: 2026-11-26T12:00:00.000Z
std::optional<TimePoint> ParseTime(std::string_view);  // RFC 3339 with any offset; nullopt when invalid
std::string NewJobId(TimePoint now);  // UUIDv7: sortable by creation time, monotonic per process
bool IsJobId(std::string_view text);  // canonical lower-case UUID text
// The creation time (48-bit millisecond timestamp) of a UUIDv7 job id; nullopt for other text.
std::optional<TimePoint> JobIdTime(std::string_view id);

// The generator behind NewJobId, for tests that need their own monotonic state or a fixed seed.
// Thread-safe. Ids are strictly ascending per generator: within one millisecond, or when `now` goes
// back, the 74 random bits count up from the last id under the last timestamp (RFC 9562 §6.2).
class JobIdGenerator {
 public:
  JobIdGenerator();                        // seeded from std::random_device
  explicit JobIdGenerator(uint64_t seed);  // deterministic
  std::string Next(TimePoint now);

 private:
  std::mutex mutex_;
  std::mt19937_64 rng_;   // guarded by mutex_
  bool started_ = false;  // guarded by mutex_
  uint64_t last_ms_ = 0;  // guarded by mutex_
  uint64_t rand_a_ = 0;   // guarded by mutex_; 12 bits
  uint64_t rand_b_ = 0;   // guarded by mutex_; 62 bits
};

// --- validation -------------------------------------------------------------------------------
struct FieldError {
  std::string code;     // machine-readable: "invalid_field", "missing_field", "too_large", ...
  std::string message;  // one line naming the field and the reason
};
// Validates a POST /v1/jobs body (an object). `now` resolves `delay` into run_at.
// The Idempotency-Key header, when given, is passed as `header_idempotency_key` and wins over the field.
std::variant<JobSpec, FieldError> ParseJobSpec(const nlohmann::json& body, const JobLimits& limits,
                                               TimePoint now,
                                               const std::optional<std::string>& header_idempotency_key = {});

// --- lifecycle ----------------------------------------------------------------------------------
// A new record: kScheduled when spec.run_at is after now, else kQueued.
JobRecord NewJobRecord(std::string id, JobSpec spec, TimePoint now);
// Applies one event. Pure and convergent: any order, any number of repeats of a set of events gives
// the same record. Events for another job id are ignored.
void ApplyEvent(JobRecord& record, const JobEvent& event);

// --- JSON codec ---------------------------------------------------------------------------------
// Compact JSON text with invalid UTF-8 replaced (U+FFFD). Text that jobs produce (log lines, errors,
// results, a foreign message's id) is not checked, and nlohmann's plain dump() throws on it.
std::string DumpJson(const nlohmann::json& value);
// The public representation (the HTTP API's job object) and the store's; round-trips exactly.
nlohmann::json ToJson(const JobRecord& record);
// The same as ToJson(record).dump() (compact, invalid UTF-8 replaced), written without building the
// json object first: the form the store keeps and the API answers with.
std::string ToJsonText(const JobRecord& record);
JobRecord JobRecordFromJson(const nlohmann::json& json);  // throws std::invalid_argument
nlohmann::json ToJson(const JobEvent& event);
JobEvent JobEventFromJson(const nlohmann::json& json);  // throws std::invalid_argument

}  // namespace warren
