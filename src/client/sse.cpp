#include "client/sse.hpp"

namespace warren::client {

void SseDecoder::Feed(std::string_view data, const EventFn& on_event) {
  for (const char c : data) {
    if (after_cr_ && c == '\n') {
      after_cr_ = false;  // the \n of a \r\n: the line already ended
      continue;
    }
    after_cr_ = false;
    if (c == '\r' || c == '\n') {
      after_cr_ = c == '\r';
      Line(partial_, on_event);
      partial_.clear();
    } else if (partial_.size() < 1024 * 1024) {  // a runaway line is cut, not buffered without bound
      partial_ += c;
    }
  }
}

void SseDecoder::Line(std::string_view line, const EventFn& on_event) {
  if (line.empty()) {
    if (has_data_) {
      on_event(SseEvent{last_id_, event_.empty() ? "message" : event_, data_});
    }
    event_.clear();
    data_.clear();
    has_data_ = false;
    return;
  }
  if (line.front() == ':') {
    return;  // a comment: the server's keep-alive
  }
  const auto colon = line.find(':');
  const std::string_view field = line.substr(0, colon);
  std::string_view value = colon == std::string_view::npos ? std::string_view() : line.substr(colon + 1);
  if (!value.empty() && value.front() == ' ') {
    value.remove_prefix(1);
  }
  if (field == "data") {
    if (has_data_) {
      data_ += '\n';
    }
    data_ += value;
    has_data_ = true;
  } else if (field == "event") {
    event_ = value;
  } else if (field == "id" && value.find('\0') == std::string_view::npos) {
    last_id_ = value;
  }
}

}  // namespace warren::client
