// The live event stream's pure parts: the hub's filters, resume and reset; the change feed's batches
// and wire form; the query of GET /v1/events.
#include <gtest/gtest.h>

#include "amqp/topology.hpp"
#include "api/change_feed.hpp"
#include "api/event_hub.hpp"
#include "api/request_validation.hpp"

namespace warren::api {
namespace {

using nlohmann::json;
using namespace std::chrono_literals;

JobChange Change(const std::string& kind, const std::string& id, const std::string& queue = "default",
                 const std::string& type = "t") {
  return JobChange{kind, json{{"job_id", id}, {"queue", queue}, {"type", type}, {"state", "queued"}}};
}

// A stream that keeps what it was sent.
struct Collector {
  std::vector<std::string> frames;
  bool open = true;
  EventHub::Sink Sink() {
    return [this](const std::string& frame) {
      if (!open) {
        return false;
      }
      frames.push_back(frame);
      return true;
    };
  }
  // The event names, in order, of the frames that are events (not comments).
  std::vector<std::string> Events() const {
    std::vector<std::string> out;
    for (const auto& f : frames) {
      const auto at = f.find("event: ");
      if (at != std::string::npos) {
        out.push_back(f.substr(at + 7, f.find('\n', at) - at - 7));
      }
    }
    return out;
  }
  std::string LastId() const {
    for (auto it = frames.rbegin(); it != frames.rend(); ++it) {
      if (it->rfind("id: ", 0) == 0) {
        return it->substr(4, it->find('\n') - 4);
      }
    }
    return {};
  }
};

TEST(EventHub, FramesAreServerSentEvents) {
  EXPECT_EQ(FormatSseEvent("5-1", "enqueued", R"({"a":1})"), "id: 5-1\nevent: enqueued\ndata: {\"a\":1}\n\n");
}

TEST(EventHub, StreamsGetOnlyWhatTheirFilterMatches) {
  EventHub hub(100, 7);
  Collector all;
  Collector emails;
  Collector one;
  hub.Subscribe({}, std::nullopt, all.Sink());
  hub.Subscribe({"", "email", ""}, std::nullopt, emails.Sink());
  hub.Subscribe({"q2", "", "job-b"}, std::nullopt, one.Sink());
  hub.Publish({Change("enqueued", "job-a", "q1", "email"), Change("started", "job-b", "q2", "resize"),
               Change("succeeded", "job-b", "q1", "resize")});
  EXPECT_EQ(all.Events(), (std::vector<std::string>{"enqueued", "started", "succeeded"}));
  EXPECT_EQ(emails.Events(), (std::vector<std::string>{"enqueued"}));
  EXPECT_EQ(one.Events(), (std::vector<std::string>{"started"}));
  EXPECT_EQ(all.frames.front().rfind(": connected", 0), 0U) << "a stream opens with a comment";
}

TEST(EventHub, ResumeReplaysWhatWasMissedAndNothingElse) {
  EventHub hub(100, 7);
  Collector first;
  hub.Subscribe({}, std::nullopt, first.Sink());
  hub.Publish({Change("enqueued", "a"), Change("started", "a")});
  const std::string seen = first.LastId();
  EXPECT_EQ(seen, "7-2");
  first.open = false;  // the client drops
  hub.Publish({Change("succeeded", "a"), Change("enqueued", "b")});
  EXPECT_EQ(hub.Subscribers(), 0U) << "a closed stream is forgotten when it refuses a frame";

  Collector again;
  hub.Subscribe({}, seen, again.Sink());
  EXPECT_EQ(again.Events(), (std::vector<std::string>{"succeeded", "enqueued"}));
  hub.Publish({Change("started", "b")});
  EXPECT_EQ(again.Events().back(), "started");
}

TEST(EventHub, AnIdItCannotResumeFromGetsAResetFirst) {
  EventHub hub(2, 7);
  hub.Publish({Change("enqueued", "a"), Change("enqueued", "b"), Change("enqueued", "c")});
  for (const std::string id : {"9-1", "7-0", "7-99", "garbage", "7-", "-3"}) {
    Collector c;
    hub.Subscribe({}, id, c.Sink());
    EXPECT_EQ(c.Events(), std::vector<std::string>{"reset"}) << id;
  }
  // 7-1 is still resumable: the buffer holds 2 and 3.
  Collector ok;
  hub.Subscribe({}, "7-1", ok.Sink());
  EXPECT_EQ(ok.Events(), (std::vector<std::string>{"enqueued", "enqueued"}));
}

// A stream's connection holds at most its backlog: a replay bigger than that would cut every reconnect
// before a byte went out, and the client would retry with the same id for ever.
TEST(EventHub, AResumeTooBigToReplayGetsAResetInstead) {
  EventHub hub(10'000, 7, /*replay_budget=*/4096);
  for (int i = 0; i < 100; ++i) {
    hub.Publish({Change("enqueued", "job-" + std::to_string(i))});
  }
  Collector far_behind;
  hub.Subscribe({}, "7-0", far_behind.Sink());
  EXPECT_EQ(far_behind.Events(), std::vector<std::string>{"reset"});
  EXPECT_EQ(far_behind.LastId(), "7-100") << "the newest id, to go on from";
  hub.Publish({Change("started", "job-99")});
  EXPECT_EQ(far_behind.Events().back(), "started") << "and the stream goes on";

  Collector near;
  hub.Subscribe({}, "7-95", near.Sink());
  EXPECT_EQ(near.Events().size(), 6U) << "a small replay is sent as before (7-96 to 7-101)";
  EXPECT_EQ(near.Events().front(), "enqueued");
  Collector filtered;
  hub.Subscribe({"", "", "job-3"}, "7-0", filtered.Sink());
  EXPECT_EQ(filtered.Events(), std::vector<std::string>{"enqueued"}) << "only the matching frames count";
}

TEST(ChangeFeed, AChangeWhoseKindIsNotAnEventNameIsDropped) {
  const auto changes =
      DecodeChanges(R"([{"kind":"succeeded\nid: 1-1\ndata: {}","data":{"job_id":"a"}},{"kind":"","data":{}},)"
                    R"({"kind":"succeeded","data":{"job_id":"b"}}])");
  ASSERT_EQ(changes.size(), 1U);
  EXPECT_EQ(changes[0].JobId(), "b");
}

TEST(EventHub, KeepAliveDropsStreamsThatAreGone) {
  EventHub hub;
  Collector alive;
  Collector gone;
  hub.Subscribe({}, std::nullopt, alive.Sink());
  hub.Subscribe({}, std::nullopt, gone.Sink());
  gone.open = false;
  hub.KeepAlive();
  EXPECT_EQ(hub.Subscribers(), 1U);
  EXPECT_EQ(alive.frames.back(), ": keep-alive\n\n");
}

TEST(ChangeFeed, ChangesRoundTripAndMalformedEntriesAreSkipped) {
  const std::vector<JobChange> changes{Change("enqueued", "a"), Change("dead", "b")};
  const auto decoded = DecodeChanges(EncodeChanges(changes).dump());
  ASSERT_EQ(decoded.size(), 2U);
  EXPECT_EQ(decoded[1].kind, "dead");
  EXPECT_EQ(decoded[1].JobId(), "b");
  EXPECT_EQ(DecodeChanges(R"([{"kind":1},{"kind":"x","data":{}},"no"])").size(), 1U);
  EXPECT_THROW(DecodeChanges("{}"), std::invalid_argument);
  EXPECT_THROW(DecodeChanges("not json"), std::invalid_argument);
}

TEST(ChangeFeed, ARecordedEventShowsTheStateItLeft) {
  JobRecord record;
  record.id = "id-1";
  record.spec.queue = "q";
  record.spec.type = "t";
  record.state = JobState::kFailed;
  record.attempt = 2;
  JobEvent event;
  event.job_id = "id-1";
  event.kind = EventKind::kRetrying;
  event.attempt = 2;
  event.worker = "w1";
  event.error = "boom";
  const auto change = ChangeOf(event, record);
  EXPECT_EQ(change.kind, "retrying");
  EXPECT_EQ(change.data["state"], "failed");
  EXPECT_EQ(change.data["error"], "boom");
  EXPECT_EQ(change.data["worker"], "w1");
  EXPECT_EQ(ChangeOf("deleted", record).data["job_id"], "id-1");
}

TEST(ChangeFeed, BatchesChangesIntoFewMessages) {
  std::mutex mu;
  std::vector<amqp::OutgoingMessage> sent;
  {
    ChangeFeed feed(
        [&](amqp::OutgoingMessage m) {
          std::lock_guard lock(mu);
          sent.push_back(std::move(m));
        },
        10min, 3);
    for (int i = 0; i < 7; ++i) {
      feed.Add(Change("enqueued", std::to_string(i)));
    }
  }  // Stop publishes the rest
  size_t total = 0;
  for (const auto& m : sent) {
    EXPECT_EQ(m.exchange, amqp::kChangesExchange);
    EXPECT_FALSE(m.persistent);
    total += DecodeChanges(m.body).size();
  }
  EXPECT_EQ(total, 7U);
  EXPECT_LE(sent.size(), 3U);
}

TEST(EventQuery, FiltersAndResumeIdAreValidated) {
  auto ok = ParseEventQuery("queue=emails&type=send.mail&job=01a21980-1bba-77e1-a1b6-373c6b9dd81d", "");
  ASSERT_TRUE(std::holds_alternative<EventQuery>(ok));
  EXPECT_EQ(std::get<EventQuery>(ok).filter.queue, "emails");
  EXPECT_FALSE(std::get<EventQuery>(ok).last_event_id);

  auto header_wins = ParseEventQuery("last_event_id=1-1", "1-5");
  EXPECT_EQ(*std::get<EventQuery>(header_wins).last_event_id, "1-5");
  EXPECT_EQ(*std::get<EventQuery>(ParseEventQuery("last_event_id=1-1", "")).last_event_id, "1-1");

  for (const char* bad : {"queue=has%20space", "job=nope", "what=1", "queue=a&queue=b", "type=%ZZ"}) {
    auto r = ParseEventQuery(bad, "");
    ASSERT_TRUE(std::holds_alternative<Response>(r)) << bad;
    EXPECT_EQ(std::get<Response>(r).status, 400) << bad;
  }
}

}  // namespace
}  // namespace warren::api
