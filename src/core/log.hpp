// Process-wide logging: spdlog to stderr, text or JSON lines. Program output (the demo handlers'
// lines) goes to stdout through Output() so it is never mixed into a half-written log line.
#pragma once

#include <string>
#include <string_view>

#include <spdlog/spdlog.h>

namespace warren {

void SetupLogging(const std::string& level, const std::string& format, const std::string& component);

// Writes one whole line to stdout and flushes it (thread-safe).
void Output(std::string_view line);

// A URL fit for a log line: its password, if any, replaced by ***.
std::string RedactedUrl(const std::string& url);

// JSON string escaping for log lines and hand-built JSON.
std::string JsonEscape(std::string_view text);

}  // namespace warren
