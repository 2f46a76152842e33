-- okta-token-watch schema, version 1.
-- Timestamps are ISO 8601 UTC strings (they sort as text). The `schema_migrations` table that records
-- which files ran is created by the migrator itself, not here.

-- Every system.api_token.create event ever fetched, keyed by Okta's uuid: the dedupe set.
CREATE TABLE events (
  uuid          TEXT PRIMARY KEY,
  published     TEXT NOT NULL,
  event_type    TEXT NOT NULL,
  actor_id      TEXT,
  actor_login   TEXT,
  country       TEXT,
  as_number     INTEGER,
  token_id      TEXT,
  token_name    TEXT,
  outcome       TEXT,
  raw           TEXT NOT NULL,          -- the event as Okta sent it (JSON)
  source        TEXT NOT NULL,          -- poll | backfill
  first_seen_at TEXT NOT NULL,
  -- NULL: alerted (or not matching). Otherwise the exception or maintenance window that suppressed it.
  suppressed_by TEXT
);
CREATE INDEX events_actor_published ON events (actor_id, published);
CREATE INDEX events_published ON events (published);

-- One alert per alerted event.
CREATE TABLE alerts (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id    TEXT NOT NULL UNIQUE,     -- otw-<uuid>, stable across databases
  event_uuid  TEXT NOT NULL UNIQUE REFERENCES events (uuid),
  created_at  TEXT NOT NULL,
  source      TEXT NOT NULL,            -- poll | backfill
  tick_id     INTEGER REFERENCES ticks (id),
  summary_id  INTEGER REFERENCES summaries (id), -- set when sent only as part of a summary
  payload     TEXT NOT NULL             -- the Alert (JSON)
);

-- The alerts of one tick beyond MAX_ALERTS_PER_RUN, notified as one message.
CREATE TABLE summaries (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  tick_id     INTEGER REFERENCES ticks (id),
  created_at  TEXT NOT NULL,
  payload     TEXT NOT NULL             -- the AlertSummary (JSON)
);

-- The outbox: one row per (alert or summary, notifier).
CREATE TABLE deliveries (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id        INTEGER REFERENCES alerts (id),
  summary_id      INTEGER REFERENCES summaries (id),
  notifier        TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  next_attempt_at TEXT NOT NULL,
  last_attempt_at TEXT,
  sent_at         TEXT,
  last_error      TEXT,
  CHECK ((alert_id IS NULL) <> (summary_id IS NULL))
);
CREATE UNIQUE INDEX deliveries_alert_notifier ON deliveries (alert_id, notifier) WHERE alert_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_summary_notifier ON deliveries (summary_id, notifier) WHERE summary_id IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);

-- Where the live poller resumes: the last `next` URL Okta gave (one row).
CREATE TABLE cursor (
  id          INTEGER PRIMARY KEY CHECK (id = 1),
  next_url    TEXT NOT NULL,
  updated_at  TEXT NOT NULL
);

-- One row per tick, for status, health and the cursor fallback.
CREATE TABLE ticks (
  id            INTEGER PRIMARY KEY AUTOINCREMENT,
  kind          TEXT NOT NULL DEFAULT 'poll', -- poll | backfill
  started_at    TEXT NOT NULL,
  finished_at   TEXT,
  result        TEXT NOT NULL CHECK (result IN ('running', 'ok', 'failed')),
  pages         INTEGER NOT NULL DEFAULT 0,
  requests      INTEGER NOT NULL DEFAULT 0,
  events        INTEGER NOT NULL DEFAULT 0,
  new_events    INTEGER NOT NULL DEFAULT 0,
  new_alerts    INTEGER NOT NULL DEFAULT 0,
  suppressed    INTEGER NOT NULL DEFAULT 0,
  rate_limit_remaining INTEGER,
  error         TEXT
);
CREATE INDEX ticks_result_started ON ticks (result, started_at);
