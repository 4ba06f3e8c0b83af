#include "cli/output.hpp"

#include <unistd.h>

#include <algorithm>
#include <cstdlib>

#include <fmt/format.h>

namespace warren::cli {
namespace {

constexpr std::string_view kGreen = "\033[32m";
constexpr std::string_view kRed = "\033[31m";
constexpr std::string_view kYellow = "\033[33m";
constexpr std::string_view kCyan = "\033[36m";
constexpr std::string_view kDim = "\033[2m";
constexpr std::string_view kBold = "\033[1m";
constexpr std::string_view kReset = "\033[0m";

// Display width: UTF-8 code points (continuation bytes do not count). Good enough for ids, names and
// notes; wide East Asian characters would be counted as one column.
size_t Width(std::string_view text) {
  return static_cast<size_t>(std::count_if(
      text.begin(), text.end(), [](char c) { return (static_cast<unsigned char>(c) & 0xC0U) != 0x80U; }));
}

std::string Flatten(std::string_view text) {
  std::string out = TerminalSafe(text);
  std::replace(out.begin(), out.end(), '\t', ' ');
  return out;
}

}  // namespace

std::string TerminalSafe(std::string_view text) {
  std::string out(text);
  for (char& c : out) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == '\x7f') {
      c = ' ';  // an escape sequence in a job's text must not drive the terminal
    }
  }
  return out;
}

Style DetectStyle() {
  Style style;
  style.tty = ::isatty(STDOUT_FILENO) == 1;
  const char* no_color = std::getenv("NO_COLOR");  // NOLINT(concurrency-mt-unsafe): read at start-up
  style.color = style.tty && (no_color == nullptr || *no_color == '\0');
  return style;
}

std::string LogLineText(const nlohmann::json& line, const Style& style) {
  const int attempt = line.value("attempt", 0);
  const std::string at = line.value("at", "");
  std::string text = TerminalSafe(line.value("line", ""));
  if (!style.tty) {
    for (char& c : text) {
      c = c == '\t' ? ' ' : c;
    }
    return fmt::format("{}\t{}\t{}\n", attempt, at, text);
  }
  const std::string clock = at.size() >= 23 ? at.substr(11, 12) : at;
  return fmt::format("{} {}\n", Paint(fmt::format("#{} {}", attempt, clock), kDim, style), text);
}

std::string_view StateColor(std::string_view state) {
  if (state == "succeeded") {
    return kGreen;
  }
  if (state == "dead" || state == "failed" || state == "gone") {
    return kRed;
  }
  if (state == "running" || state == "draining") {
    return kYellow;
  }
  if (state == "queued" || state == "scheduled") {
    return kCyan;
  }
  if (state == "cancelled" || state == "expired" || state == "stopped") {
    return kDim;
  }
  return "";
}

std::string Paint(std::string_view text, std::string_view color, const Style& style) {
  if (!style.color || color.empty()) {
    return std::string(text);
  }
  return fmt::format("{}{}{}", color, text, kReset);
}

std::string FormatTable(const std::vector<std::string>& header, const std::vector<Row>& rows,
                        const Style& style, const std::vector<size_t>& right) {
  std::string out;
  if (!style.tty) {
    std::vector<std::string> cells;
    cells.reserve(header.size());
    for (const auto& title : header) {
      cells.push_back(Flatten(title));
    }
    out += fmt::format("{}\n", fmt::join(cells, "\t"));
    for (const auto& row : rows) {
      cells.clear();
      for (const auto& cell : row) {
        cells.push_back(Flatten(cell.text));
      }
      out += fmt::format("{}\n", fmt::join(cells, "\t"));
    }
    return out;
  }
  std::vector<size_t> widths(header.size(), 0);
  for (size_t i = 0; i < header.size(); ++i) {
    widths[i] = Width(header[i]);
  }
  for (const auto& row : rows) {
    for (size_t i = 0; i < row.size() && i < widths.size(); ++i) {
      widths[i] = std::max(widths[i], Width(Flatten(row[i].text)));
    }
  }
  const auto line = [&](const std::vector<Cell>& cells, bool is_header) {
    std::string text;
    for (size_t i = 0; i < cells.size() && i < widths.size(); ++i) {
      const std::string flat = Flatten(cells[i].text);
      const std::string pad(widths[i] - Width(flat), ' ');
      const bool last = i + 1 == cells.size() || i + 1 == widths.size();
      const bool align_right = std::find(right.begin(), right.end(), i) != right.end();
      const std::string painted = Paint(flat, is_header ? kBold : cells[i].color, style);
      text += align_right ? pad + painted : painted + (last ? "" : pad);
      if (!last) {
        text += "  ";
      }
    }
    out += text + "\n";
  };
  std::vector<Cell> titles;
  titles.reserve(header.size());
  for (const auto& title : header) {
    titles.push_back({title, ""});
  }
  line(titles, true);
  for (const auto& row : rows) {
    line(row, false);
  }
  return out;
}

std::string Ago(TimePoint then, TimePoint now) {
  using std::chrono::duration_cast;
  const bool future = then > now;
  const auto seconds = duration_cast<std::chrono::seconds>(future ? then - now : now - then).count();
  std::string amount;
  if (seconds < 1) {
    return "just now";
  }
  if (seconds < 60) {
    amount = fmt::format("{}s", seconds);
  } else if (seconds < 3600) {
    amount = fmt::format("{}m", seconds / 60);
  } else if (seconds < 86400) {
    amount = fmt::format("{}h", seconds / 3600);
  } else {
    amount = fmt::format("{}d", seconds / 86400);
  }
  return future ? "in " + amount : amount + " ago";
}

std::string ShowTime(const nlohmann::json& value, TimePoint now, const Style& style) {
  if (!value.is_string()) {
    return "-";
  }
  auto text = value.get<std::string>();
  if (!style.tty) {
    return text;
  }
  const auto when = ParseTime(text);
  return when ? Ago(*when, now) : text;
}

std::string ProgressLine(std::string_view state, std::optional<int> percent, std::string_view note,
                         size_t width, const Style& style) {
  const int shown = std::clamp(percent.value_or(state == "succeeded" ? 100 : 0), 0, 100);
  const size_t filled = width * static_cast<size_t>(shown) / 100;
  std::string bar =
      fmt::format("[{}{}] {:>3}% {}", std::string(filled, '#'), std::string(width - filled, '.'), shown,
                  Paint(state, StateColor(state), style));
  if (!note.empty()) {
    bar += "  " + Flatten(note);
  }
  return bar;
}

}  // namespace warren::cli
