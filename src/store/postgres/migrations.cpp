#include "store/postgres/migrations.hpp"

namespace warren::store::postgres {

const std::vector<Migration>& Migrations() {
  // The same shape as the SQLite schema: a JSON document plus the columns queries need.
  // `document` is text, not jsonb: the store must give back exactly what core's codec wrote, and
  // jsonb rejects "\u0000" in strings that JSON (and job args) allow. Times are bigint milliseconds,
  // like SQLite's.
  static const std::vector<Migration> migrations = {
      {1, "jobs", R"sql(
CREATE TABLE jobs (
  id              text COLLATE "C" NOT NULL PRIMARY KEY,  -- UUIDv7: "C" sorts bytewise = creation order
  state           text NOT NULL,
  type            text NOT NULL,
  queue           text NOT NULL,
  idempotency_key text UNIQUE,       -- NULLs are distinct: jobs without a key never clash
  created_at      bigint NOT NULL,   -- milliseconds since the Unix epoch, UTC
  updated_at      bigint NOT NULL,   -- the record's; ReplaceJob compares `revision` (5)
  finished_at     bigint,            -- set once terminal: retention's clock
  document        text NOT NULL      -- the whole record as JSON
);
-- GET /v1/jobs?state=|type=|queue= newest first: equality on the filter, then id descending.
CREATE INDEX jobs_state_id ON jobs (state, id);
CREATE INDEX jobs_type_id ON jobs (type, id);
CREATE INDEX jobs_queue_id ON jobs (queue, id);
-- Retention: terminal jobs by state and age. Partial, so jobs still in flight are not in it.
CREATE INDEX jobs_state_finished ON jobs (state, finished_at) WHERE finished_at IS NOT NULL;
)sql"},
      {2, "periodic_ticks", R"sql(
CREATE TABLE periodic_ticks (
  name      text NOT NULL PRIMARY KEY,  -- [[periodic]] name
  last_tick bigint NOT NULL             -- milliseconds since the Unix epoch, UTC
);
)sql"},
      {3, "publish_outbox", R"sql(
-- Jobs inserted but not yet confirmed by RabbitMQ (Store::MarkPublished).
CREATE TABLE unpublished (
  id    text NOT NULL PRIMARY KEY,  -- jobs.id
  since bigint NOT NULL             -- milliseconds since the Unix epoch, UTC: when it was inserted
);
CREATE INDEX unpublished_since ON unpublished (since);
)sql"},
      {4, "job_logs", R"sql(
-- Lines of a job's own log (Store::AppendLogs), capped per job; they go with their job.
CREATE TABLE job_logs (
  job_id  text COLLATE "C" NOT NULL REFERENCES jobs (id) ON DELETE CASCADE,
  attempt integer NOT NULL,
  seq     bigint NOT NULL,   -- 1, 2, ... per attempt, from the worker
  at      bigint NOT NULL,   -- milliseconds since the Unix epoch, UTC
  line    text NOT NULL,
  PRIMARY KEY (job_id, attempt, seq)
);
)sql"},
      {5, "job_revision", R"sql(
-- Incremented by every change to a job's row: the compare-and-set token of ReplaceJob (updated_at
-- was, but a late event can change a record without moving it).
ALTER TABLE jobs ADD COLUMN revision bigint NOT NULL DEFAULT 0;
)sql"},
  };
  return migrations;
}

}  // namespace warren::store::postgres
