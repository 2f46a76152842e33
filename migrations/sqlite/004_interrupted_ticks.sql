-- okta-token-watch schema, version 4.
-- The time through which the live poller has read everything: set only by a tick that reached the
-- first empty page, in that page's transaction. A rejected cursor restarts from here minus
-- LOOKBACK; an interrupted tick, or a page's commit time, says nothing about how far reading got.
CREATE TABLE poll_progress (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  caught_up_through TEXT NOT NULL,
  updated_at        TEXT NOT NULL
);

-- A tick stopped by SIGTERM/SIGINT before it caught up is recorded as 'interrupted', apart from
-- 'ok' and 'failed'. SQLite cannot change a CHECK constraint in place, so the table is rebuilt with
-- the same ids; alerts and summaries keep pointing at them (checked when the transaction commits).
PRAGMA defer_foreign_keys = ON;
CREATE TEMP TABLE ticks_before_004 AS SELECT * FROM ticks;
DROP TABLE ticks;
CREATE TABLE ticks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT NOT NULL DEFAULT 'poll', -- poll | backfill
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  result        TEXT NOT NULL CHECK (result IN ('running', 'ok', 'failed', 'interrupted')),
  pages         INTEGER NOT NULL DEFAULT 0,
  requests      INTEGER NOT NULL DEFAULT 0,
  events        INTEGER NOT NULL DEFAULT 0,
  new_events    INTEGER NOT NULL DEFAULT 0,
  new_alerts    INTEGER NOT NULL DEFAULT 0,
  suppressed    INTEGER NOT NULL DEFAULT 0,
  rate_limit_remaining INTEGER,
  error         TEXT,
  pid           INTEGER
);
-- Re-inserting the same ids resolves the references the DROP left dangling before the commit.
INSERT INTO ticks (id, kind, started_at, finished_at, result, pages, requests, events, new_events, new_alerts, suppressed, rate_limit_remaining, error, pid)
  SELECT id, kind, started_at, finished_at, result, pages, requests, events, new_events, new_alerts, suppressed, rate_limit_remaining, error, pid FROM ticks_before_004;
DROP TABLE ticks_before_004;
CREATE INDEX ticks_result_started ON ticks (result, started_at);
