#include "api/scheduler.hpp"

#include <condition_variable>
#include <future>
#include <mutex>

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "core/thread_name.hpp"

namespace warren::api {

namespace {

// Whether the job a 200 answered with (enqueued by another scheduler) is surely published: it has left
// `queued`/`scheduled` (a worker or a cancel touched it), or it was created longer than `settle` ago.
bool SurelyPublished(const std::string& body, TimePoint now, Duration settle) {
  const auto job = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (!job.is_object()) {
    return false;
  }
  const auto state = job.value("state", std::string());
  if (!state.empty() && state != "queued" && state != "scheduled") {
    return true;
  }
  const auto created = ParseTime(job.value("created_at", std::string()));
  return created && now - *created >= settle;
}

}  // namespace

PeriodicScheduler::PeriodicScheduler(std::vector<PeriodicJob> jobs, store::Store& store, SubmitFn submit,
                                     ClockFn clock, Duration settle)
    : jobs_(std::move(jobs)),
      store_(store),
      submit_(std::move(submit)),
      clock_(std::move(clock)),
      settle_(settle) {}

PeriodicScheduler::~PeriodicScheduler() { Stop(); }

void PeriodicScheduler::Start(std::chrono::milliseconds interval) {
  if (jobs_.empty()) {
    return;
  }
  thread_ = std::jthread([this, interval](const std::stop_token& stop) {
    NameThisThread("scheduler");
    std::mutex mu;
    std::condition_variable_any cv;
    while (!stop.stop_requested()) {
      try {
        RunOnce();
      } catch (const std::exception& e) {
        spdlog::error("scheduler: {}", e.what());
      }
      std::unique_lock lock(mu);
      cv.wait_for(lock, stop, interval, [] { return false; });
    }
  });
}

void PeriodicScheduler::Stop() {
  thread_ = {};  // requests stop and joins
}

size_t PeriodicScheduler::RunOnce() {
  size_t enqueued = 0;
  for (const auto& job : jobs_) {
    std::optional<TimePoint> last;
    try {
      last = store_.LastPeriodicTick(job.name);
    } catch (const std::exception& e) {
      spdlog::warn("scheduler: {}: cannot read its last tick ({}); trying again shortly", job.name, e.what());
      continue;
    }
    for (const TimePoint tick : DueTicks(job, last, clock_())) {
      auto answer = std::make_shared<std::promise<Response>>();
      auto answered = answer->get_future();
      submit_(TickJobSpec(job, tick), Responder([answer](Response response) { answer->set_value(std::move(response)); }));
      const Response response = answered.get();
      if (response.status != 200 && response.status != 202) {
        // Not enqueued (broker or store down): this tick and the later ones wait for the next round,
        // where DueTicks offers them again under the job's missed-run policy.
        spdlog::warn("scheduler: {}: the tick of {} was not enqueued ({}): {}", job.name, FormatTime(tick),
                     response.status, response.body);
        break;
      }
      if (response.status == 200 && !SurelyPublished(response.body, clock_(), settle_)) {
        // Another scheduler's job, perhaps still waiting for its confirm: asked again next round.
        spdlog::debug("scheduler: {}: the tick of {} is being enqueued by another scheduler", job.name,
                      FormatTime(tick));
        break;
      }
      try {
        store_.RecordPeriodicTick(job.name, tick);
      } catch (const std::exception& e) {
        // The job is enqueued; its idempotency key keeps a second try from enqueueing it again.
        spdlog::warn("scheduler: {}: enqueued the tick of {} but could not record it: {}", job.name,
                     FormatTime(tick), e.what());
        break;
      }
      ++enqueued;
      spdlog::info("scheduler: {}: enqueued the tick of {} ({})", job.name, FormatTime(tick),
                   response.status == 202 ? "new job" : "already enqueued by another scheduler");
    }
  }
  return enqueued;
}

}  // namespace warren::api
