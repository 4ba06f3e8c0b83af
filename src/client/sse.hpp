// Server-Sent Events as a client reads them (the WHATWG event-stream format): bytes in any pieces,
// events out. Pure, for `warren tail`.
#pragma once

#include <functional>
#include <string>
#include <string_view>

namespace warren::client {

struct SseEvent {
  std::string id;     // the last `id:` seen (it carries over to later events, as the format says)
  std::string event;  // "message" when the server named none
  std::string data;   // the `data:` lines joined with '\n'
};

class SseDecoder {
 public:
  using EventFn = std::function<void(const SseEvent&)>;
  // Feeds a piece of the body; calls `on_event` for each event it completes. Lines may end in \n, \r\n
  // or \r, and may be split anywhere between pieces. Comments (":...") and unknown fields are skipped.
  void Feed(std::string_view data, const EventFn& on_event);
  [[nodiscard]] const std::string& LastEventId() const { return last_id_; }

 private:
  void Line(std::string_view line, const EventFn& on_event);

  std::string partial_;  // an unfinished line
  bool after_cr_ = false;
  std::string last_id_;
  std::string event_;
  std::string data_;
  bool has_data_ = false;
};

}  // namespace warren::client
