// Names users choose (queues, job types) travel into AMQP, URLs and file names: keep them to a safe set.
#pragma once

#include <optional>
#include <string>
#include <string_view>

namespace warren {

inline constexpr size_t kMaxNameLength = 128;

// Letters, digits and `_ - . :`, 1 to 128 characters, not starting with `amq.` (reserved by RabbitMQ).
// Returns why the name is invalid, or nullopt when it is fine.
std::optional<std::string> InvalidQueueName(std::string_view name);

}  // namespace warren
