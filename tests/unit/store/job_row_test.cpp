#include "store/job_row.hpp"

#include <gtest/gtest.h>

namespace warren::store {
namespace {

constexpr TimePoint kT0{std::chrono::milliseconds(1'780'000'000'000)};

JobRecord NewJob() {
  JobSpec spec;
  spec.type = "email.send";
  return NewJobRecord(NewJobId(kT0), spec, kT0);
}

TEST(Cursor, RoundTripsAJobId) {
  const std::string id = NewJobId(kT0);
  const std::string cursor = EncodeCursor(id);
  EXPECT_NE(cursor, id);
  EXPECT_EQ(cursor.find_first_not_of("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"),
            std::string::npos)
      << "URL-safe without escaping";
  EXPECT_EQ(DecodeCursor(cursor), id);
}

TEST(Cursor, RejectsWhatEncodeCursorCannotProduce) {
  const std::string good = EncodeCursor(NewJobId(kT0));
  for (const std::string& bad : {std::string(), std::string("!!!!"), good + "=", good.substr(1), good + "A",
                                 EncodeCursor("not-a-job-id"), EncodeCursor(std::string(36, '-')),
                                 good.substr(0, good.size() - 1) + "/"}) {
    EXPECT_THROW(DecodeCursor(bad), std::invalid_argument) << "'" << bad << "'";
  }
  // Leftover bits must be zero: "AB" and "AA" would otherwise both decode to one zero byte.
  EXPECT_THROW(DecodeCursor("AB"), std::invalid_argument);
}

TEST(CheckListQuery, LimitAndCursor) {
  ListQuery query;
  EXPECT_FALSE(CheckListQuery(query));
  query.limit = 0;
  EXPECT_THROW(CheckListQuery(query), std::invalid_argument);
  query.limit = kMaxListLimit + 1;
  EXPECT_THROW(CheckListQuery(query), std::invalid_argument);
  query.limit = kMaxListLimit;
  const std::string id = NewJobId(kT0);
  query.cursor = EncodeCursor(id);
  EXPECT_EQ(CheckListQuery(query), id);
}

TEST(BuildListSql, OnlyTheFiltersThatAreSet) {
  ListQuery query;
  query.limit = 10;
  auto sql = BuildListSql(query, std::nullopt, '?');
  EXPECT_EQ(sql.sql, "SELECT id, document FROM jobs ORDER BY id DESC LIMIT ?1");
  EXPECT_TRUE(sql.params.empty());
  EXPECT_EQ(sql.limit_index, 1);
  EXPECT_EQ(sql.limit, 11) << "one extra row says whether another page exists";

  query.state = JobState::kRunning;
  query.queue = "reports";
  sql = BuildListSql(query, std::string("0190-below"), '$');
  EXPECT_EQ(
      sql.sql,
      "SELECT id, document FROM jobs WHERE state = $1 AND queue = $2 AND id < $3 ORDER BY id DESC LIMIT $4");
  EXPECT_EQ(sql.params, (std::vector<std::string>{"running", "reports", "0190-below"}));
  EXPECT_EQ(sql.limit_index, 4);
}

TEST(MakePage, CursorOnlyWhenMoreRowsExist) {
  std::vector<JobRecord> rows = {NewJob(), NewJob(), NewJob()};
  auto page = MakePage(rows, 3);
  EXPECT_EQ(page.jobs.size(), 3U);
  EXPECT_FALSE(page.next_cursor);
  page = MakePage(rows, 2);
  ASSERT_EQ(page.jobs.size(), 2U);
  ASSERT_TRUE(page.next_cursor);
  EXPECT_EQ(DecodeCursor(*page.next_cursor), rows[1].id);
}

TEST(PruneRules, SucceededByOnePolicyOtherTerminalStatesByTheOther) {
  RetentionPolicy policy;
  policy.succeeded = std::chrono::hours(2);
  policy.failed = std::chrono::hours(48);
  const auto rules = PruneRules(policy, kT0);
  ASSERT_EQ(rules.size(), 2U);
  EXPECT_EQ(rules[0].states, std::vector<std::string>{"succeeded"});
  EXPECT_EQ(rules[0].cutoff, ToMillis(kT0) - 2 * 3600 * 1000);
  EXPECT_EQ(rules[1].states, (std::vector<std::string>{"dead", "cancelled", "expired"}));
  EXPECT_EQ(rules[1].cutoff, ToMillis(kT0) - 48 * 3600 * 1000);
  policy.batch = 0;
  EXPECT_THROW(PruneRules(policy, kT0), std::invalid_argument);
}

TEST(GroupEventsByJob, SortedByIdAndMalformedIdsDropped) {
  const std::string a = NewJobId(kT0);
  const std::string b = NewJobId(kT0);
  std::vector<JobEvent> events(4);
  events[0].job_id = b;
  events[1].job_id = a;
  events[2].job_id = "'); DROP TABLE jobs; --";
  events[3].job_id = b;
  const auto grouped = GroupEventsByJob(events);
  ASSERT_EQ(grouped.size(), 2U);
  EXPECT_EQ(grouped.begin()->first, a);
  EXPECT_EQ(grouped.at(b).size(), 2U);
}

TEST(ApplyAll, ReportsWhetherTheRecordChanged) {
  JobRecord record = NewJob();
  JobEvent started;
  started.job_id = record.id;
  started.kind = EventKind::kStarted;
  started.attempt = 1;
  started.at = kT0 + std::chrono::seconds(1);
  EXPECT_TRUE(ApplyAll(record, {&started}));
  EXPECT_FALSE(ApplyAll(record, {&started})) << "a duplicate changes nothing";
}

TEST(ToRow, ProjectsTheIndexedColumns) {
  JobRecord record = NewJob();
  record.spec.queue = "reports";
  record.spec.idempotency_key = "k";
  record.state = JobState::kSucceeded;
  record.finished_at = kT0 + std::chrono::seconds(5);
  const JobRow row = ToRow(record);
  EXPECT_EQ(row.id, record.id);
  EXPECT_EQ(row.state, "succeeded");
  EXPECT_EQ(row.type, "email.send");
  EXPECT_EQ(row.queue, "reports");
  EXPECT_EQ(row.idempotency_key, "k");
  EXPECT_EQ(row.created_at, ToMillis(kT0));
  EXPECT_EQ(row.finished_at, ToMillis(kT0) + 5000);
  EXPECT_EQ(ToJson(RecordFromDocument(row.document)), ToJson(record));

  record.id = "job-1";
  EXPECT_THROW(ToRow(record), std::invalid_argument);
}

TEST(ToDocument, InvalidUtf8FromWorkersDoesNotThrow) {
  JobRecord record = NewJob();
  record.error = "bad byte: \xff";
  std::string document;
  ASSERT_NO_THROW(document = ToDocument(record));
  EXPECT_NE(RecordFromDocument(document).error.find("\xEF\xBF\xBD"), std::string::npos) << "U+FFFD";
}

TEST(RecordFromDocument, CorruptDocumentIsAStoreError) {
  EXPECT_THROW(RecordFromDocument("{not json", "id-1"), StoreError);
  EXPECT_THROW(RecordFromDocument("{\"id\": 5}", "id-1"), StoreError);
}

}  // namespace
}  // namespace warren::store
