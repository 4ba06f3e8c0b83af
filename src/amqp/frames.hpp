// rabbitmq-c helpers shared by the connection, the publisher and the consumer. Internal to src/amqp:
// nothing outside this folder sees rabbitmq-c's types.
#pragma once

#include <string>

#include <amqp.h>
#include <amqp_framing.h>

namespace warren::amqp {

inline amqp_bytes_t Bytes(const std::string& s) { return amqp_bytes_t{s.size(), const_cast<char*>(s.data())}; }
inline std::string ToString(amqp_bytes_t b) { return std::string(static_cast<const char*>(b.bytes), b.len); }

// The next frame if one is available now (heartbeats due are sent meanwhile). False when none is;
// throws AmqpError when the connection is gone.
bool TryReadFrame(amqp_connection_state_t state, amqp_frame_t& frame);

// When `frame` is the broker closing the channel or the connection: answers close-ok and throws
// AmqpError naming the reply code and text. Any other frame returns.
void ThrowIfClosed(amqp_connection_state_t state, const amqp_frame_t& frame);

}  // namespace warren::amqp
