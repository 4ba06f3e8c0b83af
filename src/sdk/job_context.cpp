#include <exception>
#include <stdexcept>

#include <fmt/format.h>

#include "sdk/access.hpp"

namespace warren {

const std::string& JobContext::id() const { return impl_.job().id; }
const std::string& JobContext::type() const { return impl_.job().type; }
const std::string& JobContext::queue() const { return impl_.job().queue; }
const nlohmann::json& JobContext::args() const { return impl_.args(); }
int JobContext::attempt() const { return impl_.attempt(); }
int JobContext::max_attempts() const { return impl_.job().max_attempts; }

std::optional<JobContext::Clock::time_point> JobContext::deadline() const {
  if (const auto d = impl_.deadline()) {
    // The clock counts nanoseconds, which end in 2262; a deadline such as 9999-12-31 ("never") must
    // not wrap into the past.
    if (*d >= std::chrono::time_point_cast<std::chrono::milliseconds>(Clock::time_point::max())) {
      return Clock::time_point::max();
    }
    return std::chrono::time_point_cast<Clock::duration>(*d);
  }
  return std::nullopt;
}

std::stop_token JobContext::stop_token() const { return impl_.stop_token(); }
bool JobContext::cancelled() const { return impl_.stop_requested(); }
bool JobContext::sleep_for_ms(std::chrono::milliseconds d) const { return impl_.SleepFor(d); }
void JobContext::progress(int percent, const std::string& note) const { impl_.Progress(percent, note); }
void JobContext::log(std::string_view line) const { impl_.Log(line); }

namespace sdk {

worker::Handler Adapt(Handler fn) {
  return [fn = std::move(fn)](worker::JobContext& impl) -> worker::HandlerResult {
    JobContext job = Access::Context(impl);
    try {
      return worker::HandlerResult::Success(fn(job));
    } catch (const FatalError& e) {
      return worker::HandlerResult::Fatal(e.what());
    } catch (const std::exception& e) {
      return worker::HandlerResult::Failure(e.what());
    } catch (...) {
      return worker::HandlerResult::Failure("the handler threw a non-standard exception");
    }
  };
}

QueueType QueueTypeOf(bool quorum_queues, bool priority_queues, std::string_view options) {
  if (quorum_queues && priority_queues) {
    throw std::invalid_argument(fmt::format(
        "{}: quorum_queues and priority_queues exclude each other (RabbitMQ 3.10's quorum queues have no "
        "priorities)",
        options));
  }
  if (quorum_queues) {
    return QueueType::kQuorum;
  }
  return priority_queues ? QueueType::kPriority : QueueType::kClassic;
}

}  // namespace sdk
}  // namespace warren
