-- okta-token-watch schema, version 14: many orgs in one database, and delivery claims that mean
-- something across hosts.
--
-- Every per-org row carries the org it belongs to (`org`, the name from ORGS_FILE; 'default' in a
-- single-org installation and for every row written before this version). Event uuids stay the
-- primary key of events: Okta's uuids are global, and "a uuid alerts once" holds across orgs.
-- Follow-ups and deliveries belong to an org through their alert (or summary).

ALTER TABLE events ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE alerts ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE summaries ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE ticks ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE token_watches ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE token_activity ADD COLUMN org TEXT NOT NULL DEFAULT 'default';
ALTER TABLE response_actions ADD COLUMN org TEXT NOT NULL DEFAULT 'default';

-- History facts are per org: each index leads with it.
DROP INDEX events_actor_published;
DROP INDEX events_login_published;
DROP INDEX events_published;
DROP INDEX events_first_seen;
CREATE INDEX events_actor_published ON events (org, actor_id, published);
CREATE INDEX events_login_published ON events (org, actor_login COLLATE NOCASE, published);
CREATE INDEX events_published ON events (org, published);
CREATE INDEX events_first_seen ON events (org, first_seen_at);
CREATE INDEX alerts_org ON alerts (org, id);
CREATE INDEX ticks_org_kind ON ticks (org, kind, id);
DROP INDEX token_watches_open;
CREATE INDEX token_watches_open ON token_watches (org, closed_at, token_id);

-- The singletons (one row, id = 1) become one row per org.
CREATE TABLE cursor_v14 (
  next_url    TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  org         TEXT NOT NULL DEFAULT 'default' PRIMARY KEY
);
INSERT INTO cursor_v14 (next_url, updated_at, org) SELECT next_url, updated_at, 'default' FROM cursor;
DROP TABLE cursor;
ALTER TABLE cursor_v14 RENAME TO cursor;

CREATE TABLE poll_progress_v14 (
  caught_up_through    TEXT NOT NULL,
  updated_at           TEXT NOT NULL,
  okta_clock_offset_ms INTEGER,
  org                  TEXT NOT NULL DEFAULT 'default' PRIMARY KEY
);
INSERT INTO poll_progress_v14 (caught_up_through, updated_at, okta_clock_offset_ms, org)
  SELECT caught_up_through, updated_at, okta_clock_offset_ms, 'default' FROM poll_progress;
DROP TABLE poll_progress;
ALTER TABLE poll_progress_v14 RENAME TO poll_progress;

CREATE TABLE registered_event_hook_v14 (
  hook_id        TEXT NOT NULL,
  uri            TEXT NOT NULL,
  registered_at  TEXT NOT NULL,
  org            TEXT NOT NULL DEFAULT 'default' PRIMARY KEY
);
INSERT INTO registered_event_hook_v14 (hook_id, uri, registered_at, org) SELECT hook_id, uri, registered_at, 'default' FROM registered_event_hook;
DROP TABLE registered_event_hook;
ALTER TABLE registered_event_hook_v14 RENAME TO registered_event_hook;

-- Keyed by org too: each org has its own push receipts and its own follow groups.
CREATE TABLE source_receipts_v14 (
  source            TEXT NOT NULL,
  last_received_at  TEXT NOT NULL,
  batches           INTEGER NOT NULL DEFAULT 0,
  events            INTEGER NOT NULL DEFAULT 0,
  updated_at        TEXT NOT NULL,
  org               TEXT NOT NULL DEFAULT 'default',
  PRIMARY KEY (org, source)
);
INSERT INTO source_receipts_v14 (source, last_received_at, batches, events, updated_at, org)
  SELECT source, last_received_at, batches, events, updated_at, 'default' FROM source_receipts;
DROP TABLE source_receipts;
ALTER TABLE source_receipts_v14 RENAME TO source_receipts;

CREATE TABLE follow_cursors_v14 (
  group_key   TEXT NOT NULL,
  next_url    TEXT NOT NULL,
  updated_at  TEXT NOT NULL,
  org         TEXT NOT NULL DEFAULT 'default',
  PRIMARY KEY (org, group_key)
);
INSERT INTO follow_cursors_v14 (group_key, next_url, updated_at, org) SELECT group_key, next_url, updated_at, 'default' FROM follow_cursors;
DROP TABLE follow_cursors;
ALTER TABLE follow_cursors_v14 RENAME TO follow_cursors;

-- A claim names the replica that holds it (`<hostname>:<pid>:<random hex>`), not a bare pid: a pid
-- means nothing on another host. The outbox is rebuilt because SQLite cannot change a column's
-- type in place; a claim of an older version keeps its pid as text (read as this host's).
CREATE TABLE deliveries_v14 (
  id              INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id        INTEGER REFERENCES alerts (id),
  summary_id      INTEGER REFERENCES summaries (id),
  followup_id     INTEGER REFERENCES followups (id),
  notifier        TEXT NOT NULL,
  status          TEXT NOT NULL CHECK (status IN ('pending', 'sent', 'failed')),
  attempts        INTEGER NOT NULL DEFAULT 0,
  created_at      TEXT NOT NULL,
  next_attempt_at TEXT NOT NULL,
  last_attempt_at TEXT,
  sent_at         TEXT,
  last_error      TEXT,
  claimed_by      TEXT,
  receipt         TEXT,
  CHECK ((alert_id IS NOT NULL) + (summary_id IS NOT NULL) + (followup_id IS NOT NULL) = 1)
);
INSERT INTO deliveries_v14 (id, alert_id, summary_id, followup_id, notifier, status, attempts, created_at, next_attempt_at, last_attempt_at, sent_at, last_error, claimed_by, receipt)
  SELECT id, alert_id, summary_id, followup_id, notifier, status, attempts, created_at, next_attempt_at, last_attempt_at, sent_at, last_error, CAST(claimed_by AS TEXT), receipt FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v14 RENAME TO deliveries;
CREATE UNIQUE INDEX deliveries_alert_notifier ON deliveries (alert_id, notifier) WHERE alert_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_summary_notifier ON deliveries (summary_id, notifier) WHERE summary_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_followup_notifier ON deliveries (followup_id, notifier) WHERE followup_id IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
