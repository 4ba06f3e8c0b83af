#include "worker/handler_registry.hpp"

namespace warren::worker {

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
