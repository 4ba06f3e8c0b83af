#include <algorithm>
#include <random>
#include <vector>

#include <gtest/gtest.h>

#include "core/job.hpp"

namespace warren {
namespace {

using nlohmann::json;
using std::chrono::seconds;

const std::string kId = "01a217ba-127b-7abc-8def-0123456789ab";
const TimePoint kT0 = ParseTime("2026-11-26T12:00:00Z").value();

TimePoint T(int s) { return kT0 + seconds(s); }

JobEvent Ev(EventKind kind, int attempt, int at, std::string worker = {}) {
  JobEvent e;
  e.job_id = kId;
  e.kind = kind;
  e.attempt = attempt;
  e.at = T(at);
  e.worker = std::move(worker);
  return e;
}

JobEvent Started(int attempt, int at, std::string worker = "w1") {
  return Ev(EventKind::kStarted, attempt, at, std::move(worker));
}
JobEvent Succeeded(int attempt, int at, json result = nullptr, std::string worker = "w1") {
  JobEvent e = Ev(EventKind::kSucceeded, attempt, at, std::move(worker));
  e.result = std::move(result);
  return e;
}
JobEvent Failing(EventKind kind, int attempt, int at, std::string error, std::string worker = "w1") {
  JobEvent e = Ev(kind, attempt, at, std::move(worker));
  e.error = std::move(error);
  return e;
}
JobEvent ProgressEv(int attempt, int at, int percent, std::string note = {}) {
  JobEvent e = Ev(EventKind::kProgress, attempt, at, "w1");
  e.percent = percent;
  e.note = std::move(note);
  return e;
}

JobRecord Fresh(std::optional<TimePoint> run_at = {}) {
  JobSpec spec;
  spec.type = "send_email";
  spec.run_at = run_at;
  return NewJobRecord(kId, spec, T(0));
}

JobRecord Apply(JobRecord record, const std::vector<JobEvent>& events) {
  for (const auto& e : events) {
    ApplyEvent(record, e);
  }
  return record;
}

// Applies `events` in every order; every result must equal the first.
JobRecord ApplyInEveryOrder(const JobRecord& start, std::vector<JobEvent> events) {
  std::vector<size_t> order(events.size());
  for (size_t i = 0; i < order.size(); ++i) {
    order[i] = i;
  }
  std::optional<JobRecord> first;
  do {
    JobRecord r = start;
    for (const size_t i : order) {
      ApplyEvent(r, events[i]);
    }
    if (!first) {
      first = r;
    } else if (r != *first) {
      ADD_FAILURE() << "order-dependent:\n" << ToJson(r).dump() << "\n" << ToJson(*first).dump();
      break;
    }
  } while (std::next_permutation(order.begin(), order.end()));
  return *first;
}

// --- names ---------------------------------------------------------------------------------------

TEST(JobStateNames, RoundTripAndTerminality) {
  for (const JobState s : {JobState::kScheduled, JobState::kQueued, JobState::kRunning, JobState::kSucceeded,
                           JobState::kFailed, JobState::kDead, JobState::kCancelled, JobState::kExpired}) {
    EXPECT_EQ(ParseJobState(ToString(s)), s);
  }
  EXPECT_EQ(ToString(JobState::kCancelled), "cancelled");
  EXPECT_EQ(ParseJobState("Queued"), std::nullopt);
  EXPECT_EQ(ParseJobState(""), std::nullopt);
  EXPECT_TRUE(IsTerminal(JobState::kSucceeded));
  EXPECT_TRUE(IsTerminal(JobState::kDead));
  EXPECT_TRUE(IsTerminal(JobState::kCancelled));
  EXPECT_TRUE(IsTerminal(JobState::kExpired));
  EXPECT_FALSE(IsTerminal(JobState::kScheduled));
  EXPECT_FALSE(IsTerminal(JobState::kQueued));
  EXPECT_FALSE(IsTerminal(JobState::kRunning));
  EXPECT_FALSE(IsTerminal(JobState::kFailed));

  for (const EventKind k :
       {EventKind::kStarted, EventKind::kProgress, EventKind::kSucceeded, EventKind::kFailed,
        EventKind::kRetrying, EventKind::kDead, EventKind::kCancelled, EventKind::kExpired}) {
    EXPECT_EQ(ParseEventKind(ToString(k)), k);
  }
  EXPECT_EQ(ToString(EventKind::kRetrying), "retrying");
  EXPECT_EQ(ParseEventKind("retry"), std::nullopt);
}

TEST(JobStateNew, ScheduledOnlyWhenRunAtIsLater) {
  EXPECT_EQ(Fresh().state, JobState::kQueued);
  EXPECT_EQ(Fresh(T(0)).state, JobState::kQueued);
  EXPECT_EQ(Fresh(T(-5)).state, JobState::kQueued);
  EXPECT_EQ(Fresh(T(1)).state, JobState::kScheduled);
  const JobRecord r = Fresh();
  EXPECT_EQ(r.id, kId);
  EXPECT_EQ(r.created_at, T(0));
  EXPECT_EQ(r.updated_at, T(0));
  EXPECT_EQ(r.attempt, 0);
  EXPECT_TRUE(r.attempts.empty());
}

// --- examples --------------------------------------------------------------------------------------

TEST(JobStateEvents, NormalSuccess) {
  JobRecord r = Fresh();
  ApplyEvent(r, Started(1, 1, "host-a:1"));
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_EQ(r.attempt, 1);
  ApplyEvent(r, ProgressEv(1, 2, 50, "half"));
  ApplyEvent(r, Succeeded(1, 3, {{"sent", true}}, "host-a:1"));

  EXPECT_EQ(r.state, JobState::kSucceeded);
  ASSERT_EQ(r.attempts.size(), 1U);
  const Attempt& a = r.attempts[0];
  EXPECT_EQ(a.number, 1);
  EXPECT_EQ(a.worker, "host-a:1");
  EXPECT_EQ(a.started_at, T(1));
  EXPECT_EQ(a.finished_at, T(3));
  EXPECT_EQ(a.outcome, "succeeded");
  EXPECT_EQ(a.error, "");
  EXPECT_EQ(r.result, json({{"sent", true}}));
  EXPECT_EQ(r.error, "");
  ASSERT_TRUE(r.progress);
  EXPECT_EQ(r.progress->percent, 50);
  EXPECT_EQ(r.progress->note, "half");
  EXPECT_EQ(r.started_at, T(1));
  EXPECT_EQ(r.finished_at, T(3));
  EXPECT_EQ(r.updated_at, T(3));
  EXPECT_EQ(r.created_at, T(0));
}

TEST(JobStateEvents, FailRetryThenSucceed) {
  JobRecord r = Fresh();
  ApplyEvent(r, Started(1, 1));
  ApplyEvent(r, Failing(EventKind::kRetrying, 1, 2, "smtp 451"));
  EXPECT_EQ(r.state, JobState::kFailed);  // failed, will retry
  EXPECT_EQ(r.error, "smtp 451");
  EXPECT_FALSE(r.finished_at);
  ApplyEvent(r, Started(2, 10, "w2"));
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_EQ(r.error, "smtp 451");  // the last error stays visible while the retry runs
  ApplyEvent(r, Succeeded(2, 11, "ok", "w2"));

  EXPECT_EQ(r.state, JobState::kSucceeded);
  EXPECT_EQ(r.attempt, 2);
  ASSERT_EQ(r.attempts.size(), 2U);
  EXPECT_EQ(r.attempts[0].outcome, "failed");
  EXPECT_EQ(r.attempts[0].error, "smtp 451");
  EXPECT_EQ(r.attempts[0].finished_at, T(2));
  EXPECT_EQ(r.attempts[1].outcome, "succeeded");
  EXPECT_EQ(r.attempts[1].worker, "w2");
  EXPECT_EQ(r.result, json("ok"));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.started_at, T(1));
  EXPECT_EQ(r.finished_at, T(11));
}

TEST(JobStateEvents, FailThreeTimesThenDead) {
  const std::vector<JobEvent> events = {Started(1, 1),
                                        Failing(EventKind::kFailed, 1, 2, "boom 1"),
                                        Failing(EventKind::kRetrying, 1, 2, "boom 1"),
                                        Started(2, 5),
                                        Failing(EventKind::kRetrying, 2, 6, "boom 2"),
                                        Started(3, 9),
                                        Failing(EventKind::kDead, 3, 10, "boom 3")};
  const JobRecord r = Apply(Fresh(), events);
  EXPECT_EQ(r.state, JobState::kDead);
  EXPECT_EQ(r.attempt, 3);
  ASSERT_EQ(r.attempts.size(), 3U);
  EXPECT_EQ(r.attempts[0].outcome, "failed");
  EXPECT_EQ(r.attempts[1].outcome, "failed");
  EXPECT_EQ(r.attempts[2].outcome, "dead");
  EXPECT_EQ(r.error, "boom 3");
  EXPECT_EQ(r.finished_at, T(10));
  EXPECT_FALSE(r.result);

  std::vector<JobEvent> reversed(events.rbegin(), events.rend());
  EXPECT_EQ(Apply(Fresh(), reversed), r);
}

TEST(JobStateEvents, CancelBeforeStart) {
  JobRecord r = Fresh();
  JobEvent cancel = Ev(EventKind::kCancelled, 0, 4);
  ApplyEvent(r, cancel);
  EXPECT_EQ(r.state, JobState::kCancelled);
  EXPECT_EQ(r.finished_at, T(4));
  EXPECT_EQ(r.attempt, 0);
  EXPECT_TRUE(r.attempts.empty());

  // Same from a scheduled job.
  JobRecord scheduled = Fresh(T(100));
  ApplyEvent(scheduled, cancel);
  EXPECT_EQ(scheduled.state, JobState::kCancelled);

  // A worker that had not heard of the cancel starts the job anyway: the record says so.
  ApplyEvent(r, Started(1, 5));
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_FALSE(r.finished_at);
  // ... and a worker that had heard reports the attempt cancelled.
  ApplyEvent(r, Ev(EventKind::kCancelled, 1, 6, "w1"));
  EXPECT_EQ(r.state, JobState::kCancelled);
  EXPECT_EQ(r.finished_at, T(6));
  EXPECT_EQ(r.attempts[0].outcome, "cancelled");
}

TEST(JobStateEvents, SuccessBeatsARacingCancel) {
  // The API cancelled attempt 1 while it ran; the worker finished it anyway.
  const JobRecord r = ApplyInEveryOrder(Fresh(), {Started(1, 1), Ev(EventKind::kCancelled, 1, 2),
                                                  Succeeded(1, 3, 42), Ev(EventKind::kCancelled, 0, 1)});
  EXPECT_EQ(r.state, JobState::kSucceeded);
  EXPECT_EQ(r.attempts[0].outcome, "succeeded");
  EXPECT_EQ(r.result, json(42));
  EXPECT_EQ(r.finished_at, T(3));
}

TEST(JobStateEvents, Expired) {
  JobRecord r = Fresh(T(10));
  ApplyEvent(r, Failing(EventKind::kExpired, 0, 20, "deadline passed"));
  EXPECT_EQ(r.state, JobState::kExpired);
  EXPECT_EQ(r.error, "deadline passed");
  EXPECT_EQ(r.finished_at, T(20));

  // Reported by the worker that received attempt 2 after the deadline.
  const JobRecord w = ApplyInEveryOrder(Fresh(), {Started(1, 1), Failing(EventKind::kRetrying, 1, 2, "boom"),
                                                  Ev(EventKind::kExpired, 2, 30, "w9")});
  EXPECT_EQ(w.state, JobState::kExpired);
  EXPECT_EQ(w.attempt, 2);
  ASSERT_EQ(w.attempts.size(), 2U);
  EXPECT_EQ(w.attempts[1].outcome, "expired");
  EXPECT_FALSE(w.attempts[1].started_at);
  EXPECT_EQ(w.attempts[1].worker, "w9");
  EXPECT_EQ(w.finished_at, T(30));
  EXPECT_EQ(w.error, "boom");
}

TEST(JobStateEvents, DuplicatesChangeNothing) {
  const std::vector<JobEvent> events = {Started(1, 1), ProgressEv(1, 2, 10),
                                        Failing(EventKind::kRetrying, 1, 3, "x"), Started(2, 4),
                                        Succeeded(2, 5, "done")};
  const JobRecord once = Apply(Fresh(), events);
  JobRecord twice = once;
  for (const auto& e : events) {
    ApplyEvent(twice, e);
  }
  EXPECT_EQ(twice, once);
  EXPECT_EQ(ToJson(twice), ToJson(once));
}

TEST(JobStateEvents, OutOfOrderSuccessBeforeStart) {
  JobRecord r = Fresh();
  ApplyEvent(r, Succeeded(1, 3, "ok", "w1"));
  EXPECT_EQ(r.state, JobState::kSucceeded);
  EXPECT_EQ(r.attempts[0].worker, "w1");  // from the success until the start arrives
  EXPECT_FALSE(r.started_at);
  ApplyEvent(r, Started(1, 1, "w1"));
  EXPECT_EQ(r, Apply(Fresh(), {Started(1, 1, "w1"), Succeeded(1, 3, "ok", "w1")}));
  EXPECT_EQ(r.started_at, T(1));
}

TEST(JobStateEvents, IgnoresOtherJobsAndMalformedEvents) {
  const JobRecord before = Apply(Fresh(), {Started(1, 1)});
  JobRecord r = before;
  JobEvent other = Succeeded(1, 9);
  other.job_id = "01a217ba-127b-7abc-8def-000000000000";
  ApplyEvent(r, other);
  ApplyEvent(r, Started(0, 9));                     // started needs an attempt
  ApplyEvent(r, Succeeded(0, 9));                   // so does succeeded
  ApplyEvent(r, Ev(EventKind::kCancelled, -1, 9));  // negative attempt
  EXPECT_EQ(r, before);                             // not even updated_at moved
}

TEST(JobStateEvents, TwoWorkersClaimingOneAttemptResolveDeterministically) {
  // A redelivery ran attempt 1 twice: the earliest start names the worker; success outranks failure.
  const JobRecord r = ApplyInEveryOrder(
      Fresh(), {Started(1, 2, "w-b"), Started(1, 2, "w-a"), Started(1, 3, "w-0"),
                Failing(EventKind::kRetrying, 1, 4, "lost lease", "w-b"), Succeeded(1, 6, "ok", "w-a")});
  EXPECT_EQ(r.attempts[0].worker, "w-a");
  EXPECT_EQ(r.attempts[0].started_at, T(2));
  EXPECT_EQ(r.attempts[0].outcome, "succeeded");
  EXPECT_EQ(r.attempts[0].finished_at, T(6));
  EXPECT_EQ(r.state, JobState::kSucceeded);
}

TEST(JobStateEvents, SuccessIsFinalAndTheFirstSuccessfulAttemptGivesTheResult) {
  // Attempt 1 succeeded on one worker while a duplicate of it failed and was retried as attempt 2.
  const JobRecord r =
      ApplyInEveryOrder(Fresh(), {Succeeded(1, 5, "first"), Failing(EventKind::kRetrying, 1, 4, "x"),
                                  Started(2, 8), Failing(EventKind::kDead, 2, 9, "y")});
  EXPECT_EQ(r.state, JobState::kSucceeded);
  EXPECT_EQ(r.result, json("first"));
  EXPECT_EQ(r.finished_at, T(5));
  EXPECT_EQ(r.error, "");
  EXPECT_EQ(r.attempts[1].outcome, "dead");  // the history still shows what happened

  const JobRecord two = ApplyInEveryOrder(Fresh(), {Succeeded(2, 9, "second"), Succeeded(1, 20, "first"),
                                                    Succeeded(1, 20, "a-tie"), Succeeded(1, 21, "later")});
  EXPECT_EQ(two.result, json("a-tie"));  // attempt 1, earliest at, then smallest text
  EXPECT_EQ(two.finished_at, T(20));
}

TEST(JobStateEvents, StageZeroPrecedence) {
  const JobRecord r = ApplyInEveryOrder(
      Fresh(),
      {Ev(EventKind::kExpired, 0, 1), Ev(EventKind::kCancelled, 0, 5), Ev(EventKind::kCancelled, 0, 3)});
  EXPECT_EQ(r.state, JobState::kCancelled);  // cancelled > expired
  EXPECT_EQ(r.finished_at, T(3));            // the earliest cancel
  const JobRecord d = ApplyInEveryOrder(
      Fresh(), {Ev(EventKind::kCancelled, 0, 1), Failing(EventKind::kDead, 0, 2, "unknown type")});
  EXPECT_EQ(d.state, JobState::kDead);
  EXPECT_EQ(d.error, "unknown type");
}

TEST(JobStateEvents, AStartOfALaterAttemptSupersedesAnEarlierTerminal) {
  // dead at attempt 1 then attempt 2 started: only happens after a retry, so the job runs again.
  const JobRecord r = ApplyInEveryOrder(Fresh(), {Failing(EventKind::kDead, 1, 2, "boom"), Started(2, 5)});
  EXPECT_EQ(r.state, JobState::kRunning);
  EXPECT_FALSE(r.finished_at);
  EXPECT_EQ(r.error, "boom");
}

TEST(JobStateEvents, AdminRetrySurvivesALateDuplicateOfTheOldDeadEvent) {
  const std::vector<JobEvent> history = {Started(1, 1), Failing(EventKind::kDead, 1, 2, "boom")};
  JobRecord r = Apply(Fresh(), history);
  ASSERT_EQ(r.state, JobState::kDead);
  // What the API's retry does: reserve the next attempt number and queue the job again.
  r.attempt = 2;
  r.state = JobState::kQueued;
  r.finished_at.reset();
  const JobRecord retried = r;
  for (const auto& e : history) {
    ApplyEvent(r, e);  // redelivered late
  }
  EXPECT_EQ(r.state, JobState::kQueued);
  EXPECT_EQ(r, retried);
  ApplyEvent(r, Started(2, 50));
  EXPECT_EQ(r.state, JobState::kRunning);
}

TEST(JobStateEvents, ProgressBelongsToTheLatestAttempt) {
  JobRecord r = Fresh();
  ApplyEvent(r, ProgressEv(1, 5, 80, "a"));
  ApplyEvent(r, ProgressEv(1, 3, 90, "older"));
  ASSERT_TRUE(r.progress);
  EXPECT_EQ(r.progress->percent, 80);  // the latest at wins, not the highest percent
  ApplyEvent(r, ProgressEv(1, 5, 85, "b"));
  EXPECT_EQ(r.progress->percent, 85);  // same at: higher percent
  ApplyEvent(r, ProgressEv(1, 9, 150, "clamped"));
  EXPECT_EQ(r.progress->percent, 100);
  EXPECT_EQ(r.state, JobState::kRunning);  // progress implies a running attempt

  ApplyEvent(r, Started(2, 20));
  EXPECT_FALSE(r.progress);  // a new attempt starts from scratch
  ApplyEvent(r, ProgressEv(1, 30, 99));
  EXPECT_FALSE(r.progress);  // a stale attempt's progress is dropped
  ApplyEvent(r, ProgressEv(2, 21, 10));
  ASSERT_TRUE(r.progress);
  EXPECT_EQ(r.progress->percent, 10);
}

TEST(JobStateEvents, CapsLargeResults) {
  JobRecord r = Fresh();
  const std::string big(kMaxResultBytes, 'x');  // serialized with quotes: 2 bytes over the cap
  ApplyEvent(r, Succeeded(1, 1, big));
  ASSERT_TRUE(r.result);
  EXPECT_EQ(*r.result, json({{"truncated", true}, {"bytes", kMaxResultBytes + 2}}));

  JobRecord fits = Fresh();
  ApplyEvent(fits, Succeeded(1, 1, std::string(kMaxResultBytes - 2, 'x')));
  EXPECT_TRUE(fits.result->is_string());

  JobRecord none = Fresh();
  ApplyEvent(none, Succeeded(1, 1));
  EXPECT_FALSE(none.result);  // a null result is no result
}

TEST(JobStateEvents, UpdatedAtNeverGoesBack) {
  JobRecord r = Fresh();
  ApplyEvent(r, Started(1, 10));
  ApplyEvent(r, ProgressEv(1, 5, 1));
  EXPECT_EQ(r.updated_at, T(10));
  JobRecord skewed = Fresh();
  ApplyEvent(skewed, Started(1, -30));  // a worker clock behind the API's
  EXPECT_EQ(skewed.updated_at, T(0));
  EXPECT_EQ(skewed.started_at, T(-30));
}

// --- convergence properties -------------------------------------------------------------------------

struct EventFactory {
  std::mt19937 rng;
  size_t attempts = 3;           // attempt numbers 1..attempts (0..attempts where 0 is allowed)
  size_t times = 5;              // distinct `at` values: few, so ties are common
  bool stage_zero_only = false;  // only dead/cancelled/expired with attempt 0
  explicit EventFactory(uint32_t seed, size_t max_attempt = 3, size_t distinct_times = 5)
      : rng(seed), attempts(max_attempt), times(distinct_times) {}

  size_t Pick(size_t n) { return std::uniform_int_distribution<size_t>(0, n - 1)(rng); }

  JobEvent Make() {
    static const std::vector<EventKind> kinds = {
        EventKind::kStarted,  EventKind::kProgress, EventKind::kSucceeded, EventKind::kFailed,
        EventKind::kRetrying, EventKind::kDead,     EventKind::kCancelled, EventKind::kExpired};
    static const std::vector<std::string> workers = {"", "w1", "w2"};
    static const std::vector<std::string> errors = {"", "e1", "e2"};
    static const std::vector<std::string> notes = {"", "a", "b"};
    static const std::vector<json> results = {nullptr, 1, "r", json({{"k", {1, 2}}}), json::array()};
    JobEvent e;
    e.job_id = kId;
    e.kind = stage_zero_only ? kinds[5 + Pick(3)] : kinds[Pick(kinds.size())];
    const bool needs_attempt = e.kind == EventKind::kStarted || e.kind == EventKind::kProgress ||
                               e.kind == EventKind::kSucceeded || e.kind == EventKind::kFailed ||
                               e.kind == EventKind::kRetrying;
    e.attempt = needs_attempt ? 1 + static_cast<int>(Pick(attempts)) : static_cast<int>(Pick(attempts + 1));
    if (stage_zero_only) {
      e.attempt = 0;
    }
    e.at = T(static_cast<int>(Pick(times)));
    e.worker = workers[Pick(workers.size())];
    if (e.kind == EventKind::kSucceeded) {
      e.result = results[Pick(results.size())];
    }
    if (e.kind != EventKind::kStarted && e.kind != EventKind::kProgress) {
      e.error = errors[Pick(errors.size())];
    }
    if (e.kind == EventKind::kProgress) {
      e.percent = static_cast<int>(Pick(4)) * 50;  // 0, 50, 100, 150 (clamped)
      e.note = notes[Pick(notes.size())];
    }
    return e;
  }

  std::vector<JobEvent> MakeSet(size_t n) {
    std::vector<JobEvent> events;
    for (size_t i = 0; i < n; ++i) {
      events.push_back(Make());
    }
    return events;
  }

  // A random order of the set where each event appears 1..3 times.
  std::vector<JobEvent> Delivery(const std::vector<JobEvent>& set) {
    std::vector<JobEvent> out;
    for (const auto& e : set) {
      for (size_t copies = 1 + Pick(3); copies > 0; --copies) {
        out.push_back(e);
      }
    }
    std::shuffle(out.begin(), out.end(), rng);
    return out;
  }
};

std::vector<JobRecord> Starts() {
  JobRecord reserved = Fresh();  // an admin retry reserved attempt 2
  reserved.attempt = 2;
  return {Fresh(), Fresh(T(100)), reserved};
}

TEST(JobStateConvergence, EveryPermutationOfSmallSets) {
  EventFactory factory(12345, 2, 2);  // a narrow domain: events collide on attempt and time
  for (int trial = 0; trial < 400; ++trial) {
    // Mostly up to 5 events (120 orders); every tenth set has 6 (720 orders); every fourth holds
    // only attempt-0 terminal events (cancel/expire/dead before any start).
    factory.stage_zero_only = trial % 4 == 1;
    const auto events = factory.MakeSet(trial % 10 == 0 ? 6 : 1 + factory.Pick(5));
    for (const auto& start : Starts()) {
      ApplyInEveryOrder(start, events);
    }
    if (HasFailure()) {
      for (const auto& e : events) {
        ADD_FAILURE() << ToJson(e).dump();
      }
      return;
    }
  }
}

TEST(JobStateConvergence, RandomDeliveriesWithDuplicatesAndStoreRoundTrips) {
  EventFactory factory(777);
  for (int trial = 0; trial < 500; ++trial) {
    const auto events = factory.MakeSet(1 + factory.Pick(16));
    for (const auto& start : Starts()) {
      const JobRecord expected = Apply(start, events);
      const json expected_json = ToJson(expected);
      // The codec round-trips every record the merge produces.
      ASSERT_EQ(JobRecordFromJson(expected_json), expected) << expected_json.dump();
      for (int delivery = 0; delivery < 8; ++delivery) {
        const auto stream = factory.Delivery(events);
        // Half the deliveries pass through the store's JSON form at a random point, as the
        // recorder does between batches.
        const size_t cut = delivery % 2 == 0 ? stream.size() : factory.Pick(stream.size() + 1);
        JobRecord r = start;
        for (size_t i = 0; i < stream.size(); ++i) {
          if (i == cut) {
            r = JobRecordFromJson(json::parse(ToJson(r).dump()));
          }
          ApplyEvent(r, stream[i]);
        }
        if (r != expected) {
          std::string set;
          for (const auto& e : events) {
            set += ToJson(e).dump() + "\n";
          }
          FAIL() << "diverged\nexpected " << expected_json.dump() << "\ngot      " << ToJson(r).dump()
                 << "\nevents:\n"
                 << set;
        }
      }
    }
  }
}

TEST(JobStateConvergence, MergingIsIdempotentAndInvariantsHold) {
  EventFactory factory(99);
  for (int trial = 0; trial < 2000; ++trial) {
    const auto events = factory.MakeSet(1 + factory.Pick(12));
    const JobRecord r = Apply(Fresh(), events);
    EXPECT_EQ(Apply(r, events), r);
    EXPECT_TRUE(std::is_sorted(r.attempts.begin(), r.attempts.end(),
                               [](const Attempt& a, const Attempt& b) { return a.number < b.number; }));
    EXPECT_EQ(IsTerminal(r.state), r.finished_at.has_value()) << ToJson(r).dump();
    EXPECT_EQ(r.result.has_value() && r.state != JobState::kSucceeded, false) << ToJson(r).dump();
    if (!r.attempts.empty()) {
      EXPECT_EQ(r.attempt, r.attempts.back().number);
    }
    if (r.progress) {
      EXPECT_GE(r.progress->percent, 0);
      EXPECT_LE(r.progress->percent, 100);
    }
    for (const auto& e : events) {
      EXPECT_GE(r.updated_at, e.at);
    }
  }
}

}  // namespace
}  // namespace warren
