#include "store/job_row.hpp"

#include <algorithm>
#include <array>
#include <stdexcept>

#include <fmt/format.h>

namespace warren::store {
namespace {

constexpr std::string_view kBase64UrlAlphabet =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

// Every state, for PruneRules. A state added to core's enum must be added here to be pruned.
constexpr std::array kAllStates = {JobState::kScheduled, JobState::kQueued, JobState::kRunning,
                                   JobState::kSucceeded, JobState::kFailed, JobState::kDead,
                                   JobState::kCancelled, JobState::kExpired};

int Base64UrlValue(char c) {
  const auto pos = kBase64UrlAlphabet.find(c);
  return pos == std::string_view::npos ? -1 : static_cast<int>(pos);
}

// Unpadded base64url (RFC 4648 §5).
std::string Base64UrlEncode(std::string_view bytes) {
  std::string out;
  out.reserve((bytes.size() * 4 + 2) / 3);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : bytes) {
    buffer = (buffer << 8U) | static_cast<unsigned char>(c);
    bits += 8;
    while (bits >= 6) {
      bits -= 6;
      out.push_back(kBase64UrlAlphabet[(buffer >> static_cast<unsigned>(bits)) & 0x3FU]);
    }
  }
  if (bits > 0) {
    out.push_back(kBase64UrlAlphabet[(buffer << static_cast<unsigned>(6 - bits)) & 0x3FU]);
  }
  return out;
}

std::optional<std::string> Base64UrlDecode(std::string_view text) {
  if (text.size() % 4 == 1) {
    return std::nullopt;  // no byte count encodes to this length
  }
  std::string out;
  out.reserve(text.size() * 3 / 4);
  uint32_t buffer = 0;
  int bits = 0;
  for (const char c : text) {
    const int value = Base64UrlValue(c);
    if (value < 0) {
      return std::nullopt;
    }
    buffer = (buffer << 6U) | static_cast<uint32_t>(value);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out.push_back(static_cast<char>((buffer >> static_cast<unsigned>(bits)) & 0xFFU));
    }
  }
  // Leftover bits must be zero, so that each byte string has exactly one encoding.
  if ((buffer & ((1U << static_cast<unsigned>(bits)) - 1U)) != 0) {
    return std::nullopt;
  }
  return out;
}

}  // namespace

int64_t ToMillis(TimePoint t) { return t.time_since_epoch().count(); }

std::string ToDocument(const JobRecord& record) {
  // Worker-reported text (errors, progress notes, command output) may not be valid UTF-8; a strict
  // dump would throw and lose the whole event batch, so invalid bytes become U+FFFD instead.
  return ToJsonText(record);
}

JobRow ToRow(const JobRecord& record) {
  if (!IsJobId(record.id)) {
    throw std::invalid_argument(fmt::format("job id '{}' is not a canonical UUID", record.id));
  }
  JobRow row;
  row.id = record.id;
  row.state = std::string(ToString(record.state));
  row.type = record.spec.type;
  row.queue = record.spec.queue;
  row.idempotency_key = record.spec.idempotency_key;
  row.created_at = ToMillis(record.created_at);
  row.updated_at = ToMillis(record.updated_at);
  if (record.finished_at) {
    // Retention's clock. A job that ended before its run_at (cancelled while scheduled) counts from
    // then: its message still waits in the delay tiers until run_at, and a worker started after the
    // cancel skips it only if the store still lists the cancel (the replay, decision 36).
    row.finished_at =
        ToMillis(std::max(*record.finished_at, record.spec.run_at.value_or(*record.finished_at)));
  }
  row.document = ToDocument(record);
  return row;
}

JobRecord RecordFromDocument(std::string_view document, std::string_view id_for_errors) {
  try {
    return JobRecordFromJson(nlohmann::json::parse(document));
  } catch (const nlohmann::json::exception& e) {
    throw StoreError(
        fmt::format("store: job {}: stored document is not valid JSON: {}", id_for_errors, e.what()));
  } catch (const std::invalid_argument& e) {
    throw StoreError(fmt::format("store: job {}: stored document is not a job: {}", id_for_errors, e.what()));
  }
}

std::optional<std::string> CheckListQuery(const ListQuery& query) {
  if (query.limit < 1 || query.limit > kMaxListLimit) {
    throw std::invalid_argument(fmt::format("limit must be 1..{}, got {}", kMaxListLimit, query.limit));
  }
  if (!query.cursor) {
    return std::nullopt;
  }
  return DecodeCursor(*query.cursor);
}

ListSql BuildListSql(const ListQuery& query, const std::optional<std::string>& below_id, char prefix) {
  ListSql out;
  std::string where;
  auto add = [&](std::string_view condition, const std::string& value) {
    out.params.push_back(value);
    where += where.empty() ? " WHERE " : " AND ";
    where += fmt::format("{} {}{}", condition, prefix, out.params.size());
  };
  if (query.state) {
    add("state =", std::string(ToString(*query.state)));
  }
  if (query.type) {
    add("type =", *query.type);
  }
  if (query.queue) {
    add("queue =", *query.queue);
  }
  if (below_id) {
    add("id <", *below_id);
  }
  out.limit_index = static_cast<int>(out.params.size()) + 1;
  out.limit = static_cast<int64_t>(query.limit) + 1;
  out.sql = fmt::format("SELECT id, document FROM jobs{} ORDER BY id DESC LIMIT {}{}", where, prefix,
                        out.limit_index);
  return out;
}

ListPage MakePage(std::vector<JobRecord> records, size_t limit) {
  ListPage page;
  if (records.size() > limit) {
    records.resize(limit);
    page.next_cursor = EncodeCursor(records.back().id);
  }
  page.jobs = std::move(records);
  return page;
}

std::string EncodeCursor(std::string_view last_id) { return Base64UrlEncode(last_id); }

std::string DecodeCursor(std::string_view cursor) {
  auto id = Base64UrlDecode(cursor);
  if (!id || !IsJobId(*id)) {
    throw std::invalid_argument("invalid cursor: pass next_cursor from a previous page unchanged");
  }
  return std::move(*id);
}

std::vector<PruneRule> PruneRules(const RetentionPolicy& policy, TimePoint now) {
  if (policy.batch == 0) {
    throw std::invalid_argument("retention batch must be at least 1");
  }
  PruneRule succeeded{{}, ToMillis(now - policy.succeeded)};
  PruneRule others{{}, ToMillis(now - policy.failed)};
  for (const JobState state : kAllStates) {
    if (!IsTerminal(state)) {
      continue;
    }
    auto& rule = state == JobState::kSucceeded ? succeeded : others;
    rule.states.emplace_back(ToString(state));
  }
  return {std::move(succeeded), std::move(others)};
}

EventsByJob GroupEventsByJob(const std::vector<JobEvent>& events) {
  EventsByJob by_job;
  for (const auto& event : events) {
    if (IsJobId(event.job_id)) {
      by_job[event.job_id].push_back(&event);
    }
  }
  return by_job;
}

bool ApplyAll(JobRecord& record, const std::vector<const JobEvent*>& events) {
  const JobRecord before = record;
  for (const JobEvent* event : events) {
    ApplyEvent(record, *event);
  }
  if (record == before) {
    return false;
  }
  // Fields can differ where the JSON form cannot (a null result reads back as none): compare that
  // form too, so a redelivered batch writes nothing.
  return ToJsonText(record) != ToJsonText(before);
}

namespace {

// Replaces every `?N` of `sql` with `<prefix>N`.
std::string WithPrefix(std::string sql, char prefix) {
  for (char& c : sql) {
    if (c == '?') {
      c = prefix;
    }
  }
  return sql;
}

constexpr size_t kMaxLogLimit = 1000;

}  // namespace

std::string InsertLogLineSql(char prefix) {
  return WithPrefix(
      "INSERT INTO job_logs (job_id, attempt, seq, at, line) SELECT CAST(?1 AS TEXT), CAST(?2 AS INTEGER), "
      "CAST(?3 AS BIGINT), CAST(?4 AS BIGINT), CAST(?5 AS TEXT) WHERE EXISTS (SELECT 1 FROM jobs WHERE id = ?1) "
      "ON CONFLICT (job_id, attempt, seq) DO NOTHING",
      prefix);
}

std::string DeleteTerminalJobSql(char prefix) {
  std::string states;
  for (const JobState state : kAllStates) {
    if (IsTerminal(state)) {
      states += fmt::format("{}'{}'", states.empty() ? "" : ", ", ToString(state));
    }
  }
  return WithPrefix(fmt::format("DELETE FROM jobs WHERE id = ?1 AND state IN ({})", states), prefix);
}

std::string JobExistsSql(char prefix) { return WithPrefix("SELECT 1 FROM jobs WHERE id = ?1", prefix); }

std::string CapLogSql(char prefix) {
  return WithPrefix(
      "DELETE FROM job_logs WHERE job_id = ?1 AND (attempt, seq) < (SELECT attempt, seq FROM job_logs "
      "WHERE job_id = ?1 ORDER BY attempt DESC, seq DESC LIMIT 1 OFFSET CAST(?2 AS BIGINT))",
      prefix);
}

std::string ListLogsSql(char prefix) {
  return WithPrefix(
      "SELECT attempt, seq, at, line FROM job_logs WHERE job_id = ?1 AND (CAST(?2 AS INTEGER) = 0 OR "
      "attempt = CAST(?2 AS INTEGER)) AND (attempt, seq) > (CAST(?3 AS INTEGER), CAST(?4 AS BIGINT)) "
      "ORDER BY attempt, seq LIMIT CAST(?5 AS BIGINT)",
      prefix);
}

EventsByJob GroupLogEventsByJob(const std::vector<JobEvent>& events) {
  EventsByJob by_job;
  for (const auto& event : events) {
    if (event.kind == EventKind::kLog && event.attempt >= 1 && IsJobId(event.job_id)) {
      by_job[event.job_id].push_back(&event);
    }
  }
  return by_job;
}

void CheckLogQuery(const LogQuery& query) {
  if (query.limit < 1 || query.limit > kMaxLogLimit) {
    throw std::invalid_argument(fmt::format("limit must be 1..{}, got {}", kMaxLogLimit, query.limit));
  }
}

LogPage MakeLogPage(std::vector<StoredLogLine> lines, size_t limit) {
  LogPage page;
  page.more = lines.size() > limit;
  if (page.more) {
    lines.resize(limit);
  }
  page.lines = std::move(lines);
  return page;
}

}  // namespace warren::store
