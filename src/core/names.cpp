#include "core/names.hpp"

#include <fmt/format.h>

namespace warren {

std::optional<std::string> InvalidQueueName(std::string_view name) {
  if (name.empty() || name.size() > kMaxNameLength) {
    return fmt::format("queue name must be 1 to {} characters", kMaxNameLength);
  }
  for (const char c : name) {
    const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '_' ||
                    c == '-' || c == '.' || c == ':';
    if (!ok) {
      return fmt::format("queue name '{}' may hold only letters, digits and _ - . :", name);
    }
  }
  if (name.starts_with("amq.")) {
    return fmt::format("queue name '{}' uses the prefix amq., which RabbitMQ reserves", name);
  }
  return std::nullopt;
}

}  // namespace warren
