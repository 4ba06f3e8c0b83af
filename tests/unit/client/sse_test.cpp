// The event-stream decoder of `warren tail`: events from pieces split anywhere.
#include "client/sse.hpp"

#include <gtest/gtest.h>

#include <vector>

#include "client/api_client.hpp"

namespace warren::client {
namespace {

std::vector<SseEvent> Decode(const std::vector<std::string>& pieces, SseDecoder& decoder) {
  std::vector<SseEvent> out;
  for (const auto& piece : pieces) {
    decoder.Feed(piece, [&](const SseEvent& e) { out.push_back(e); });
  }
  return out;
}

TEST(SseDecoder, EventsFromPiecesSplitAnywhere) {
  const std::string stream =
      ": connected\nretry: 2000\n\nid: 7-1\nevent: enqueued\ndata: {\"a\":1}\n\n: keep-alive\n\n"
      "id: 7-2\r\nevent: started\r\ndata: x\r\ndata: y\r\n\r\ndata: plain\n\n";
  for (size_t cut = 1; cut < stream.size(); ++cut) {
    SseDecoder decoder;
    const auto events = Decode({stream.substr(0, cut), stream.substr(cut)}, decoder);
    ASSERT_EQ(events.size(), 3U) << cut;
    EXPECT_EQ(events[0].id, "7-1");
    EXPECT_EQ(events[0].event, "enqueued");
    EXPECT_EQ(events[0].data, "{\"a\":1}");
    EXPECT_EQ(events[1].event, "started");
    EXPECT_EQ(events[1].data, "x\ny") << "data lines join with newlines";
    EXPECT_EQ(events[2].event, "message") << "no event field: the default name";
    EXPECT_EQ(events[2].id, "7-2") << "the last id carries over";
    EXPECT_EQ(decoder.LastEventId(), "7-2");
  }
}

TEST(SseDecoder, AnUnfinishedEventIsNotDispatched) {
  SseDecoder decoder;
  EXPECT_TRUE(Decode({"id: 1\nevent: x\ndata: half"}, decoder).empty());
  EXPECT_EQ(Decode({"\n\n"}, decoder).size(), 1U);
}

TEST(EventQuery, FiltersAndResumePointAreEncoded) {
  EXPECT_EQ(EventQuery({}, ""), "");
  EXPECT_EQ(EventQuery({"q 1", "", "id"}, "5-3"), "?queue=q%201&job=id&last_event_id=5-3");
}

}  // namespace
}  // namespace warren::client
