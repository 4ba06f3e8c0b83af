// ApplyEvent: the job lifecycle as a convergent merge.
//
// Delivery is at-least-once and unordered, so ApplyEvent is a join: the record after a set of events
// is the same for every order and every number of repeats, and it can be stored (ToJson) between any
// two events. Every rule below is a max/min over a total order or a function of such values.
//
// Ignored events: another job id; attempt < 0; started/progress/succeeded/failed/retrying with
// attempt 0 (they belong to an attempt). Ignored events change nothing, not even updated_at.
//
// Stages. An event's attempt number is its stage; dead/cancelled/expired may come with attempt 0
// (before any start: the API stamps the record's current `attempt`). record.attempt = the highest
// stage seen (max). The highest stage decides the state, except that success is final.
//
// Per attempt (events with attempt >= 1 merge into attempts[number], kept sorted by number):
//  - started_at/worker: the started event with the smallest (at, worker). Until a started event
//    arrives, worker = the smallest non-empty worker of the attempt's other events.
//  - outcome/finished_at/error: the "finishing" event (succeeded, failed, retrying, dead, cancelled,
//    expired) with the highest rank, then the earliest `at`, then the smallest error. Ranks:
//    succeeded > dead > cancelled > expired > failed (= retrying; also "timeout", "crashed") > running.
//    A succeeded event's error is ignored. With no finishing event the outcome is "running".
//
// The job (derived from the merged attempts after every event):
//  1. Some attempt succeeded -> kSucceeded. The lowest-numbered successful attempt (the first success
//     in causal order: attempt n+1 exists only because n was reported failed) gives finished_at;
//     result = the capped result of that attempt's succeeded event with the smallest (at, result
//     text); error = "". A cancel that raced a success therefore loses: the work was done.
//  2. Else, when attempts[record.attempt] exists: its outcome maps to the state (running -> kRunning,
//     failed -> kFailed "will retry", dead/cancelled/expired -> the same terminal state);
//     finished_at = that attempt's finished_at when terminal, else null; error = the error of the
//     highest-numbered attempt that has one ("the last error").
//  3. Else (stage 0, or a retry the API reserved by raising record.attempt with state queued and no
//     attempts entry yet): state/finished_at/error are facts kept in the record. Stage-0 terminal
//     events (attempt 0) merge into them while record.attempt == 0: dead > cancelled > expired, then
//     the earliest `at`, then the smallest error. A cancel before any start thus wins over
//     queued/scheduled, and an attempt that starts anyway (a worker that had not heard) is reported
//     truthfully as running.
//  Stale events (attempt < record.attempt) still merge into their attempt's history and can make the
//  job succeeded (rule 1) but cannot otherwise change the state: an admin retry survives a late
//  duplicate of the old attempt's dead event.
//
// Other fields: started_at = min of started events' at; updated_at = max(updated_at, at); progress =
// of the progress events of attempt == record.attempt, the largest (at, percent, note), percent
// clamped to 0..100 (a higher attempt clears older progress); result capped at kMaxResultBytes
// serialized, else {"truncated":true,"bytes":N}, and a null result is stored as no result.
#include <algorithm>
#include <tuple>

#include "core/job.hpp"

namespace warren {
namespace {

using nlohmann::json;

constexpr int kRankRunning = 1;

int OutcomeRank(std::string_view outcome) {
  if (outcome == "succeeded") {
    return 6;
  }
  if (outcome == "dead") {
    return 5;
  }
  if (outcome == "cancelled") {
    return 4;
  }
  if (outcome == "expired") {
    return 3;
  }
  if (outcome == "failed" || outcome == "timeout" || outcome == "crashed") {
    return 2;
  }
  if (outcome == "running") {
    return kRankRunning;
  }
  return 0;  // unknown text from a stored record: below everything an event can bring
}

// The attempt outcome a finishing event reports; empty for started/progress.
std::string_view OutcomeOf(EventKind kind) {
  switch (kind) {
    case EventKind::kSucceeded:
      return "succeeded";
    case EventKind::kFailed:
    case EventKind::kRetrying:
      return "failed";
    case EventKind::kDead:
      return "dead";
    case EventKind::kCancelled:
      return "cancelled";
    case EventKind::kExpired:
      return "expired";
    case EventKind::kStarted:
    case EventKind::kProgress:
    case EventKind::kLog:
      return {};
  }
  return {};
}

JobState StateOfOutcome(std::string_view outcome) {
  if (outcome == "dead") {
    return JobState::kDead;
  }
  if (outcome == "cancelled") {
    return JobState::kCancelled;
  }
  if (outcome == "expired") {
    return JobState::kExpired;
  }
  if (outcome == "succeeded") {
    return JobState::kSucceeded;
  }
  if (OutcomeRank(outcome) == 2) {
    return JobState::kFailed;
  }
  return JobState::kRunning;
}

// Stage-0 precedence; 0 for states that are not stage-0 terminal facts.
int StageZeroRank(JobState state) {
  switch (state) {
    case JobState::kDead:
      return 3;
    case JobState::kCancelled:
      return 2;
    case JobState::kExpired:
      return 1;
    default:
      return 0;
  }
}

bool NeedsAttempt(EventKind kind) {
  return kind == EventKind::kStarted || kind == EventKind::kProgress || kind == EventKind::kSucceeded ||
         kind == EventKind::kFailed || kind == EventKind::kRetrying || kind == EventKind::kLog;
}

std::string Dump(const json& value) { return value.dump(-1, ' ', false, json::error_handler_t::replace); }

json CapResult(const json& result) {
  const size_t bytes = Dump(result).size();
  if (bytes > kMaxResultBytes) {
    return json{{"truncated", true}, {"bytes", bytes}};
  }
  return result;
}

constexpr TimePoint kLatest = TimePoint::max();

Attempt& FindOrAddAttempt(std::vector<Attempt>& attempts, int number) {
  const auto it =
      std::find_if(attempts.begin(), attempts.end(), [&](const Attempt& a) { return a.number >= number; });
  if (it != attempts.end() && it->number == number) {
    return *it;
  }
  Attempt fresh;
  fresh.number = number;
  fresh.outcome = "running";
  return *attempts.insert(it, std::move(fresh));
}

const Attempt* FindAttempt(const std::vector<Attempt>& attempts, int number) {
  const auto it =
      std::find_if(attempts.begin(), attempts.end(), [&](const Attempt& a) { return a.number == number; });
  return it == attempts.end() ? nullptr : &*it;
}

const Attempt* FirstSuccess(const std::vector<Attempt>& attempts) {
  const Attempt* first = nullptr;
  for (const auto& a : attempts) {
    if (a.outcome == "succeeded" && (first == nullptr || a.number < first->number)) {
      first = &a;
    }
  }
  return first;
}

void MergeIntoAttempt(Attempt& attempt, const JobEvent& event) {
  if (event.kind == EventKind::kStarted) {
    if (!attempt.started_at ||
        std::tie(event.at, event.worker) < std::tie(*attempt.started_at, attempt.worker)) {
      attempt.started_at = event.at;
      attempt.worker = event.worker;
    }
  } else if (!attempt.started_at && !event.worker.empty() &&
             (attempt.worker.empty() || event.worker < attempt.worker)) {
    attempt.worker = event.worker;
  }
  const std::string_view outcome = OutcomeOf(event.kind);
  if (outcome.empty()) {
    return;
  }
  static const std::string kNoError;
  const std::string& error = event.kind == EventKind::kSucceeded ? kNoError : event.error;
  const int rank = OutcomeRank(outcome);
  const int current = OutcomeRank(attempt.outcome);
  const TimePoint current_at = attempt.finished_at.value_or(kLatest);
  const bool better =
      rank > current || (rank == current && std::tie(event.at, error) < std::tie(current_at, attempt.error));
  if (better) {
    attempt.outcome = std::string(outcome);
    attempt.finished_at = event.at;
    attempt.error = error;
  }
}

// Keeps record.result the result of the first successful attempt's best succeeded event. Runs
// before the event is merged into its attempt, while the attempt still shows the current winner.
void MergeResult(JobRecord& record, const JobEvent& event) {
  const Attempt* first = FirstSuccess(record.attempts);
  json capped = CapResult(event.result);
  bool take = first == nullptr || event.attempt < first->number;
  if (first != nullptr && event.attempt == first->number) {
    const TimePoint current_at = first->finished_at.value_or(kLatest);
    const std::string current = Dump(record.result.value_or(json(nullptr)));
    take = event.at < current_at || (event.at == current_at && Dump(capped) < current);
  }
  if (take) {
    record.result = capped.is_null() ? std::nullopt : std::optional<json>(std::move(capped));
  }
}

// Stage-0 terminal facts (rule 3), while no attempt has been seen.
void MergeStageZero(JobRecord& record, const JobEvent& event) {
  const JobState state = event.kind == EventKind::kDead        ? JobState::kDead
                         : event.kind == EventKind::kCancelled ? JobState::kCancelled
                                                               : JobState::kExpired;
  if (record.state == JobState::kSucceeded) {
    return;  // not produced by ApplyEvent at attempt 0; success is final anyway
  }
  const int rank = StageZeroRank(state);
  const int current = StageZeroRank(record.state);
  const TimePoint current_at = current == 0 ? kLatest : record.finished_at.value_or(kLatest);
  const bool better = rank > current || (rank == current && std::tie(event.at, event.error) <
                                                                std::tie(current_at, record.error));
  if (better) {
    record.state = state;
    record.finished_at = event.at;
    record.error = event.error;
  }
}

void MergeProgress(JobRecord& record, const JobEvent& event) {
  Progress candidate;
  candidate.percent = std::clamp(event.percent, 0, 100);
  candidate.note = event.note;
  candidate.at = event.at;
  if (!record.progress ||
      std::tie(candidate.at, candidate.percent, candidate.note) >
          std::tie(record.progress->at, record.progress->percent, record.progress->note)) {
    record.progress = std::move(candidate);
  }
}

// Rules 1 and 2: state, finished_at and error as functions of the merged attempts.
void Derive(JobRecord& record) {
  if (const Attempt* success = FirstSuccess(record.attempts)) {
    record.state = JobState::kSucceeded;
    record.finished_at = success->finished_at;
    record.error.clear();
    return;
  }
  const Attempt* latest = record.attempt >= 1 ? FindAttempt(record.attempts, record.attempt) : nullptr;
  if (latest == nullptr) {
    return;  // rule 3: the stored facts stand
  }
  record.state = StateOfOutcome(latest->outcome);
  record.finished_at = IsTerminal(record.state) ? latest->finished_at : std::nullopt;
  record.error.clear();
  for (auto it = record.attempts.rbegin(); it != record.attempts.rend(); ++it) {
    if (!it->error.empty()) {
      record.error = it->error;
      break;
    }
  }
}

}  // namespace

void ApplyEvent(JobRecord& record, const JobEvent& event) {
  if (event.kind == EventKind::kLog) {
    return;  // log lines are stored beside the record (Store::AppendLogs), never in it
  }
  if (event.job_id != record.id || event.attempt < 0 || (event.attempt == 0 && NeedsAttempt(event.kind))) {
    return;
  }
  record.updated_at = std::max(record.updated_at, event.at);

  if (event.attempt == 0) {
    if (record.attempt == 0) {
      MergeStageZero(record, event);
    }
    return;  // stage 0 never touches attempts, progress or started_at
  }

  if (event.kind == EventKind::kSucceeded) {
    MergeResult(record, event);
  }
  MergeIntoAttempt(FindOrAddAttempt(record.attempts, event.attempt), event);
  if (event.kind == EventKind::kStarted && (!record.started_at || event.at < *record.started_at)) {
    record.started_at = event.at;
  }
  if (event.attempt > record.attempt) {
    record.attempt = event.attempt;
    record.progress.reset();  // progress belongs to the highest attempt
  }
  if (event.kind == EventKind::kProgress && event.attempt == record.attempt) {
    MergeProgress(record, event);
  }
  Derive(record);
}

}  // namespace warren
