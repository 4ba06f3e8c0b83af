// Loopback port checks: is a port free before we start a listener on it, does a listener answer.
#pragma once

#include <chrono>

namespace warren::supervisor {

// True when 127.0.0.1:port cannot be bound (someone listens there). SO_REUSEADDR as servers use it,
// so sockets lingering in TIME_WAIT do not count.
bool PortInUse(unsigned short port);
// True when a TCP connection to 127.0.0.1:port is accepted within `timeout`.
bool TcpConnects(unsigned short port, std::chrono::milliseconds timeout);
// True when an epmd on 127.0.0.1:port answers a NAMES request. A bare connect-and-close would do, but
// epmd logs every such probe as "got partial packet only".
bool EpmdAnswers(unsigned short port, std::chrono::milliseconds timeout);

}  // namespace warren::supervisor
