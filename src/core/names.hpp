// Names users choose (queues, job types) travel into AMQP, URLs and file names: keep them to a safe set.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warren {

inline constexpr size_t kMaxNameLength = 128;

// The safe set: ASCII letters, digits and `_ - . :` (queue names, job types, tags).
bool IsSafeNameChar(char c);

// Letters, digits and `_ - . :`, 1 to 128 characters, not starting with `amq.` (reserved by RabbitMQ).
// Returns why the name is invalid, or nullopt when it is fine.
std::optional<std::string> InvalidQueueName(std::string_view name);

// A queue jobs go to and workers consume: a queue name, not starting with `warren.` either, which
// Warren's own queues use (warren.dead, warren.unrouted, warren.events.recorder, the delay tiers …):
// a job sent into one of those would be read as something else, or declared with arguments it does
// not have. Filters and paths that only look jobs up keep InvalidQueueName.
std::optional<std::string> InvalidJobQueueName(std::string_view name);

// Job types: the same safe set and length as queue names, but `amq.` is allowed (a job type never
// becomes a queue name). Returns why the name is invalid, or nullopt when it is fine.
std::optional<std::string> InvalidTypeName(std::string_view name);

}  // namespace warren
