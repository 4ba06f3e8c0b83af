#include "supervisor/line_splitter.hpp"

#include <algorithm>

namespace warren::supervisor {

void LineSplitter::Emit(std::string_view line, const LineHandler& handler) {
  if (!line.empty() && line.back() == '\r') {
    line.remove_suffix(1);
  }
  handler(line);
}

void LineSplitter::Feed(std::string_view chunk, const LineHandler& handler) {
  while (!chunk.empty()) {
    const size_t newline = chunk.find('\n');
    if (newline == std::string_view::npos) {
      partial_.append(chunk);
      while (partial_.size() >= max_line_) {
        Emit(std::string_view(partial_).substr(0, max_line_), handler);
        partial_.erase(0, max_line_);
      }
      return;
    }
    if (partial_.empty()) {
      Emit(chunk.substr(0, newline), handler);
    } else {
      partial_.append(chunk.substr(0, newline));
      Emit(partial_, handler);
      partial_.clear();
    }
    chunk.remove_prefix(newline + 1);
  }
}

void LineSplitter::Finish(const LineHandler& handler) {
  if (!partial_.empty()) {
    Emit(partial_, handler);
    partial_.clear();
  }
}

std::string PrefixLine(std::string_view name, std::string_view line, size_t width) {
  std::string out;
  out.reserve(std::max(width, name.size()) + 3 + line.size());
  out.append(name);
  if (name.size() < width) {
    out.append(width - name.size(), ' ');
  }
  out.append(" | ");
  out.append(line);
  return out;
}

}  // namespace warren::supervisor
