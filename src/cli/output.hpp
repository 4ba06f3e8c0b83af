// How the client commands print: aligned tables with state colours on a terminal, tab-separated
// values otherwise, a one-line progress bar, relative times. Pure (the caller detects the terminal).
#pragma once

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/job.hpp"

namespace warren::cli {

struct Style {
  bool tty = false;    // stdout is a terminal: aligned tables, progress bars
  bool color = false;  // ... and NO_COLOR is unset
};

// From isatty(stdout) and NO_COLOR.
Style DetectStyle();

// ANSI colour of a job or worker state ("" for none): succeeded/running(worker) green, dead/failed/gone
// red, running(job)/draining yellow, queued/scheduled cyan, cancelled/expired/stopped dim.
std::string_view StateColor(std::string_view state);
// `text` wrapped in `color` when the style has colours.
std::string Paint(std::string_view text, std::string_view color, const Style& style);

// `text` with its control characters but tab (escape sequences, bells, newlines) turned into spaces:
// what a job wrote (a log line, an error, a progress note) must not drive the terminal.
std::string TerminalSafe(std::string_view text);

// One line of GET /v1/jobs/{id}/logs as `warren logs` prints it: on a terminal "#ATTEMPT HH:MM:SS.mmm
// line" (the prefix dim when coloured); otherwise "ATTEMPT<TAB>AT<TAB>line". Ends in a newline; the
// line's own control characters are kept out of the terminal (shown as spaces).
std::string LogLineText(const nlohmann::json& line, const Style& style);

struct Cell {
  std::string text;
  std::string_view color;  // "" for none
};
using Row = std::vector<Cell>;

// A table: on a terminal, columns padded to their widest cell (two spaces apart, the header in bold
// when coloured, numbers right-aligned for the columns named in `right`); otherwise tab-separated
// lines, header first, tabs and control characters inside cells turned into spaces.
std::string FormatTable(const std::vector<std::string>& header, const std::vector<Row>& rows,
                        const Style& style, const std::vector<size_t>& right = {});

// "just now", "12s ago", "5m ago", "3h ago", "2d ago"; "in 40s" for a future time.
std::string Ago(TimePoint then, TimePoint now);
// A JSON time from the API shown relatively on a terminal, as given (RFC 3339) otherwise; "-" for null.
std::string ShowTime(const nlohmann::json& value, TimePoint now, const Style& style);

// One line for `enqueue --wait` on a terminal:  "[#########...........]  45% running  resizing".
// `width` is the bar's inner width; no colour codes unless the style has them.
std::string ProgressLine(std::string_view state, std::optional<int> percent, std::string_view note,
                         size_t width, const Style& style);

}  // namespace warren::cli
