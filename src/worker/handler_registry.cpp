#include "worker/handler_registry.hpp"

#include <algorithm>
#include <condition_variable>
#include <mutex>

namespace warren::worker {

bool JobContext::SleepFor(Duration d) const {
  std::mutex mu;
  std::condition_variable_any cv;
  std::unique_lock lock(mu);
  std::stop_token token = stop_;
  cv.wait_for(lock, token, d, [] { return false; });
  return !token.stop_requested();
}

void JobContext::Progress(int percent, const std::string& note) const {
  if (hooks_.progress) {
    hooks_.progress(std::clamp(percent, 0, 100), note);
  }
}

void JobContext::Log(std::string_view line) const {
  if (hooks_.log) {
    hooks_.log(line);
  }
}

void JobContext::Print(std::string_view line) const {
  if (hooks_.print) {
    hooks_.print(line);
  }
}

void HandlerRegistry::Register(std::string type, Handler handler) {
  handlers_.insert_or_assign(std::move(type), std::move(handler));
}

void HandlerRegistry::SetSeedFallback(Handler handler) { seed_fallback_ = std::move(handler); }

const Handler* HandlerRegistry::Find(const Job& job) const {
  if (auto it = handlers_.find(job.type); it != handlers_.end()) {
    return &it->second;
  }
  if (job.seed_style && seed_fallback_) {
    return &*seed_fallback_;
  }
  return nullptr;
}

std::vector<std::string> HandlerRegistry::Types() const {
  std::vector<std::string> out;
  out.reserve(handlers_.size());
  for (const auto& [type, handler] : handlers_) {
    out.push_back(type);
  }
  return out;
}

}  // namespace warren::worker
