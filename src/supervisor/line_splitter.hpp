// Turns the chunks a pipe read returns into whole lines, so lines from several children interleave
// without ever being cut in the middle.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <string_view>

namespace warren::supervisor {

class LineSplitter {
 public:
  using LineHandler = std::function<void(std::string_view line)>;
  // A line longer than this is passed on in pieces of this size, so a child that never writes a
  // newline cannot make us buffer without bound.
  static constexpr size_t kMaxLine = size_t{64} * 1024;

  explicit LineSplitter(size_t max_line = kMaxLine) : max_line_(max_line) {}

  // Calls `handler` for every line completed by `chunk` (without the '\n'; a trailing '\r' is dropped).
  void Feed(std::string_view chunk, const LineHandler& handler);
  // End of input: passes on an unterminated last line, if any.
  void Finish(const LineHandler& handler);
  bool HasPartial() const { return !partial_.empty(); }

 private:
  static void Emit(std::string_view line, const LineHandler& handler);
  size_t max_line_;
  std::string partial_;
};

// "serve    | text": the name left-aligned in `width` columns, as docker compose and foreman do.
std::string PrefixLine(std::string_view name, std::string_view line, size_t width = 8);

}  // namespace warren::supervisor
