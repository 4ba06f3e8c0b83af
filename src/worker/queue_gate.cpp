#include "worker/queue_gate.hpp"

#include <condition_variable>
#include <mutex>

#include "amqp/queue_inspector.hpp"

namespace warren::worker {
namespace {

int PriorityOf(const std::map<std::string, int>& priorities, const std::string& queue) {
  const auto it = priorities.find(queue);
  return it == priorities.end() ? 0 : it->second;
}

}  // namespace

std::optional<std::set<std::string>> PausedQueues(const std::vector<std::string>& queues,
                                                  const std::map<std::string, int>& priorities,
                                                  const ReadyCount& ready) {
  std::map<int, std::vector<std::string>, std::greater<>> levels;  // highest first
  for (const auto& q : queues) {
    levels[PriorityOf(priorities, q)].push_back(q);
  }
  std::set<std::string> paused;
  bool blocked = false;  // a higher level has ready messages: everything below waits
  for (const auto& [priority, members] : levels) {
    if (blocked) {
      paused.insert(members.begin(), members.end());
      continue;
    }
    if (priority == levels.rbegin()->first) {
      break;  // the lowest level: its own count decides nothing
    }
    for (const auto& q : members) {
      const auto count = ready(q);
      if (!count) {
        return std::nullopt;
      }
      if (*count > 0) {
        blocked = true;
        break;
      }
    }
  }
  return paused;
}

bool HasPriorityLevels(const std::vector<std::string>& queues, const std::map<std::string, int>& priorities) {
  std::set<int> levels;
  for (const auto& q : queues) {
    levels.insert(PriorityOf(priorities, q));
  }
  return levels.size() > 1;
}

std::vector<std::string> QueueGate::InitialPaused(const std::vector<std::string>& queues,
                                                  const std::map<std::string, int>& priorities) {
  const auto paused = PausedQueues(queues, priorities, [](const std::string&) { return uint64_t{1}; });
  return paused ? std::vector<std::string>(paused->begin(), paused->end()) : std::vector<std::string>{};
}

QueueGate::QueueGate(amqp::ConnectionOptions connection, std::vector<std::string> queues,
                     std::map<std::string, int> priorities, amqp::Consumer& consumer,
                     std::chrono::milliseconds interval)
    : connection_(std::move(connection)),
      queues_(std::move(queues)),
      priorities_(std::move(priorities)),
      consumer_(consumer),
      interval_(interval),
      thread_([this](const std::stop_token& stop) { Loop(stop); }) {}

QueueGate::~QueueGate() = default;  // the jthread asks the loop to stop and joins it

void QueueGate::Loop(const std::stop_token& stop) {
  amqp::ConnectionOptions options = connection_;
  options.name += " priorities";
  amqp::QueueInspector inspector(options);
  std::mutex mu;
  std::condition_variable_any cv;
  while (!stop.stop_requested()) {
    const auto paused = PausedQueues(queues_, priorities_, [&inspector](const std::string& queue) {
      const auto counts = inspector.Inspect(queue);
      return counts ? std::optional<uint64_t>(counts->ready) : std::nullopt;
    });
    if (paused) {
      consumer_.SetPaused(*paused);  // a no-op when nothing changed; the consumer logs what it pauses
    }
    std::unique_lock lock(mu);
    cv.wait_for(lock, stop, interval_, [] { return false; });
  }
}

}  // namespace warren::worker
