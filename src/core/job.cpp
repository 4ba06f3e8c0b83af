#include "core/job.hpp"

#include <array>
#include <utility>

namespace warren {
namespace {

constexpr std::array<std::pair<JobState, std::string_view>, 8> kStateNames = {{
    {JobState::kScheduled, "scheduled"},
    {JobState::kQueued, "queued"},
    {JobState::kRunning, "running"},
    {JobState::kSucceeded, "succeeded"},
    {JobState::kFailed, "failed"},
    {JobState::kDead, "dead"},
    {JobState::kCancelled, "cancelled"},
    {JobState::kExpired, "expired"},
}};

constexpr std::array<std::pair<EventKind, std::string_view>, 9> kKindNames = {{
    {EventKind::kStarted, "started"},
    {EventKind::kProgress, "progress"},
    {EventKind::kSucceeded, "succeeded"},
    {EventKind::kFailed, "failed"},
    {EventKind::kRetrying, "retrying"},
    {EventKind::kDead, "dead"},
    {EventKind::kCancelled, "cancelled"},
    {EventKind::kExpired, "expired"},
    {EventKind::kLog, "log"},
}};

template <typename Enum, size_t N>
std::string_view NameOf(const std::array<std::pair<Enum, std::string_view>, N>& names, Enum value) {
  for (const auto& [v, name] : names) {
    if (v == value) {
      return name;
    }
  }
  return "unknown";
}

template <typename Enum, size_t N>
std::optional<Enum> ValueOf(const std::array<std::pair<Enum, std::string_view>, N>& names,
                            std::string_view text) {
  for (const auto& [v, name] : names) {
    if (name == text) {
      return v;
    }
  }
  return std::nullopt;
}

}  // namespace

std::string_view ToString(JobState state) { return NameOf(kStateNames, state); }
std::optional<JobState> ParseJobState(std::string_view text) { return ValueOf(kStateNames, text); }

bool IsTerminal(JobState state) {
  switch (state) {
    case JobState::kSucceeded:
    case JobState::kDead:
    case JobState::kCancelled:
    case JobState::kExpired:
      return true;
    case JobState::kScheduled:
    case JobState::kQueued:
    case JobState::kRunning:
    case JobState::kFailed:
      return false;
  }
  return false;
}

std::string_view ToString(EventKind kind) { return NameOf(kKindNames, kind); }
std::optional<EventKind> ParseEventKind(std::string_view text) { return ValueOf(kKindNames, text); }

JobRecord NewJobRecord(std::string id, JobSpec spec, TimePoint now) {
  JobRecord record;
  record.id = std::move(id);
  record.state = spec.run_at && *spec.run_at > now ? JobState::kScheduled : JobState::kQueued;
  record.spec = std::move(spec);
  record.created_at = now;
  record.updated_at = now;
  return record;
}

}  // namespace warren
