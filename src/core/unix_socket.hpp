// One line out, one line back, over a Unix stream socket: the control channel of `warren up`, used by
// `warren scale`, `warren down` and serve's POST /v1/workers/scale. Blocking, bounded by a timeout.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <string_view>

#include "core/unique_fd.hpp"

namespace warren {

// Sends `line` and a newline, reads up to the first newline (or EOF). nullopt with *error set when the
// socket cannot be reached or does not answer in time.
std::optional<std::string> UnixRequest(const std::string& path, std::string_view line,
                                       std::chrono::milliseconds timeout, std::string* error);

// A listening socket at `path` (a stale file left by a dead process is replaced). Throws
// std::runtime_error with a one-line reason. Here and in UnixRequest a path longer than a socket
// address holds (107 bytes) works too: it is reached through its directory's descriptor.
UniqueFd ListenUnix(const std::string& path);

// Waits until `fd` is ready for `events` (POLLIN, POLLOUT) or the deadline passes; false then.
bool WaitFd(int fd, short events, std::chrono::steady_clock::time_point deadline);

// Reads one line from a connected client within `timeout`; nullopt on timeout, EOF or error.
std::optional<std::string> ReadLine(int fd, std::chrono::milliseconds timeout);
// Writes all of `text` within `timeout`; false when it could not.
bool WriteAll(int fd, std::string_view text, std::chrono::milliseconds timeout);

}  // namespace warren
