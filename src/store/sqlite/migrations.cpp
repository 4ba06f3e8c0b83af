#include "store/sqlite/migrations.hpp"

namespace warren::store::sqlite {

const std::vector<Migration>& Migrations() {
  // The record itself is one JSON document (core's ToJson); only what a query filters, sorts or
  // constrains on is projected into columns. STRICT: a value of the wrong type is an error, not
  // silently stored (SQLite >= 3.37; Debian 12 has 3.40).
  static const std::vector<Migration> migrations = {
      {1, "jobs", R"sql(
CREATE TABLE jobs (
  id              TEXT NOT NULL PRIMARY KEY,  -- UUIDv7, lower-case: text order is creation order
  state           TEXT NOT NULL,
  type            TEXT NOT NULL,
  queue           TEXT NOT NULL,
  idempotency_key TEXT UNIQUE,                -- NULLs are distinct: jobs without a key never clash
  created_at      INTEGER NOT NULL,           -- milliseconds since the Unix epoch, UTC
  updated_at      INTEGER NOT NULL,           -- the record's; ReplaceJob compares `revision` (5)
  finished_at     INTEGER,                    -- set once terminal: retention's clock
  document        TEXT NOT NULL               -- the whole record as JSON
) STRICT;
-- GET /v1/jobs?state=|type=|queue= newest first: equality on the filter, then id descending, so a page
-- is one index range scan however many jobs match. With several filters SQLite picks one index and
-- checks the others on the rows it visits.
CREATE INDEX jobs_state_id ON jobs (state, id);
CREATE INDEX jobs_type_id ON jobs (type, id);
CREATE INDEX jobs_queue_id ON jobs (queue, id);
-- Retention: terminal jobs by state and age. Partial, so jobs still in flight are not in it.
CREATE INDEX jobs_state_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
)sql"},
      {2, "periodic_ticks", R"sql(
CREATE TABLE periodic_ticks (
  name      TEXT NOT NULL PRIMARY KEY,  -- [[periodic]] name
  last_tick INTEGER NOT NULL            -- milliseconds since the Unix epoch, UTC
) STRICT;
)sql"},
      {3, "publish_outbox", R"sql(
-- Jobs inserted but not yet confirmed by RabbitMQ (Store::MarkPublished).
CREATE TABLE unpublished (
  id    TEXT NOT NULL PRIMARY KEY,  -- jobs.id
  since INTEGER NOT NULL            -- milliseconds since the Unix epoch, UTC: when it was inserted
) STRICT;
CREATE INDEX unpublished_since ON unpublished (since);
)sql"},
      {4, "job_logs", R"sql(
-- Lines of a job's own log (Store::AppendLogs), capped per job; they go with their job.
CREATE TABLE job_logs (
  job_id  TEXT NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt INTEGER NOT NULL,
  seq     INTEGER NOT NULL,  -- 1, 2, ... per attempt, from the worker
  at      INTEGER NOT NULL,  -- milliseconds since the Unix epoch, UTC
  line    TEXT NOT NULL,
  PRIMARY KEY (job_id, attempt, seq)
) STRICT, WITHOUT ROWID;
)sql"},
      {5, "job_revision", R"sql(
-- Incremented by every change to a job's row: the compare-and-set token of ReplaceJob (updated_at
-- was, but a late event can change a record without moving it).
ALTER TABLE jobs ADD COLUMN revision INTEGER NOT NULL DEFAULT 0;
)sql"},
  };
  return migrations;
}

}  // namespace warren::store::sqlite
