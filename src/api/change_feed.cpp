#include "api/change_feed.hpp"

#include <algorithm>

#include <spdlog/spdlog.h>

#include "amqp/topology.hpp"
#include "core/thread_name.hpp"

namespace warren::api {
namespace {

using nlohmann::json;

// What every change shows: which job, where it is now.
json Base(const JobRecord& record) {
  return json{{"job_id", record.id},       {"queue", record.spec.queue},
              {"type", record.spec.type},  {"state", ToString(record.state)},
              {"attempt", record.attempt}, {"updated_at", FormatTime(record.updated_at)}};
}

}  // namespace

JobChange ChangeOf(std::string_view kind, const JobRecord& record) {
  JobChange change{std::string(kind), Base(record)};
  change.data["at"] = FormatTime(record.updated_at);
  return change;
}

JobChange ChangeOf(const JobEvent& event, const JobRecord& record) {
  JobChange change{std::string(ToString(event.kind)), Base(record)};
  change.data["at"] = FormatTime(event.at);
  change.data["event_attempt"] = event.attempt;
  if (!event.worker.empty()) {
    change.data["worker"] = event.worker;
  }
  if (!event.error.empty()) {
    change.data["error"] = event.error;
  }
  if (event.kind == EventKind::kProgress) {
    change.data["progress"] = json{{"percent", event.percent}, {"note", event.note}};
  }
  return change;
}

json EncodeChanges(const std::vector<JobChange>& changes) {
  json out = json::array();
  for (const auto& change : changes) {
    out.push_back(json{{"kind", change.kind}, {"data", change.data}});
  }
  return out;
}

namespace {

// An event name as Warren writes them (`enqueued`, `succeeded`, ...). Anything else (a newline above
// all) would go into every stream's `event:` line and could forge `id:` and `data:` lines there.
bool IsEventName(const std::string& kind) {
  return !kind.empty() && kind.size() <= 32 &&
         std::all_of(kind.begin(), kind.end(), [](char c) { return (c >= 'a' && c <= 'z') || c == '_'; });
}

}  // namespace

std::vector<JobChange> DecodeChanges(const std::string& body) {
  const auto parsed = json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!parsed.is_array()) {
    throw std::invalid_argument("a changes message must be a JSON array");
  }
  std::vector<JobChange> out;
  out.reserve(parsed.size());
  for (const auto& entry : parsed) {
    if (entry.is_object() && entry.contains("kind") && entry["kind"].is_string() &&
        IsEventName(entry["kind"].get_ref<const std::string&>()) && entry.contains("data") &&
        entry["data"].is_object()) {
      out.push_back(JobChange{entry["kind"].get<std::string>(), entry["data"]});
    }
  }
  return out;
}

ChangeFeed::ChangeFeed(PublishFn publish, std::chrono::milliseconds interval, size_t max_batch)
    : publish_(std::move(publish)), interval_(interval), max_batch_(std::max<size_t>(max_batch, 1)) {
  thread_ = std::thread([this] {
    NameThisThread("change-feed");
    Loop();
  });
}

ChangeFeed::~ChangeFeed() { Stop(); }

void ChangeFeed::Add(JobChange change) {
  bool full = false;
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    pending_.push_back(std::move(change));
    full = pending_.size() >= max_batch_;
  }
  if (full) {
    cv_.notify_one();
  }
}

void ChangeFeed::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) {
      return;
    }
    stopping_ = true;
  }
  cv_.notify_one();
  thread_.join();
}

void ChangeFeed::Loop() {
  for (;;) {
    std::vector<JobChange> batch;
    bool stop = false;
    {
      std::unique_lock lock(mu_);
      cv_.wait_for(lock, interval_, [this] { return stopping_ || pending_.size() >= max_batch_; });
      stop = stopping_;
      const size_t n = std::min(pending_.size(), max_batch_);
      batch.assign(std::make_move_iterator(pending_.begin()), std::make_move_iterator(pending_.begin() + n));
      pending_.erase(pending_.begin(), pending_.begin() + n);
    }
    if (!batch.empty()) {
      try {
        publish_(amqp::EncodeChangesMessage(EncodeChanges(batch)));
      } catch (const std::exception& e) {
        spdlog::warn("change feed: {} changes not published: {}", batch.size(), e.what());
      }
    }
    if (stop) {
      std::lock_guard lock(mu_);
      if (pending_.empty()) {
        return;
      }
    }
  }
}

}  // namespace warren::api
