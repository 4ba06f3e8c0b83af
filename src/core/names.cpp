#include "core/names.hpp"

#include <fmt/format.h>

namespace warren {

bool IsSafeNameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' || c == '-' ||
         c == '.' || c == ':';
}

namespace {

// The checks queue names and job types share; `what` names the kind in the message.
std::optional<std::string> InvalidSafeName(std::string_view what, std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return fmt::format("{} must be 1 to {} characters", what, kMaxNameLength);
  }
  for (const char c : name) {
    if (!IsSafeNameChar(c)) {
      return fmt::format("{} '{}' may hold only letters, digits and _ - . :", what, name);
    }
  }
  return std::nullopt;
}

}  // namespace

std::optional<std::string> InvalidQueueName(std::string_view name) {
  if (auto why = InvalidSafeName("queue name", name)) {
    return why;
  }
  if (name.starts_with("amq.")) {
    return fmt::format("queue name '{}' uses the prefix amq., which RabbitMQ reserves", name);
  }
  return std::nullopt;
}

std::optional<std::string> InvalidJobQueueName(std::string_view name) {
  if (auto why = InvalidQueueName(name)) {
    return why;
  }
  if (name.starts_with("warren.")) {
    return fmt::format("queue name '{}' uses the prefix warren., which Warren's own queues use", name);
  }
  return std::nullopt;
}

std::optional<std::string> InvalidTypeName(std::string_view name) {
  return InvalidSafeName("job type", name);
}

}  // namespace warren
