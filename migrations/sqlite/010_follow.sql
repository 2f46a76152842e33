-- okta-token-watch schema, version 10: following each new token.

-- A follow-up: what happened to an alerted token later (its first use, a lifecycle event, the
-- digest of what it did), sent to every notifier as a reply to its alert. `key` makes each one
-- happen once whichever path saw its cause first ('first-use:<token>', 'lifecycle:<event uuid>',
-- 'digest:<token>').
CREATE TABLE followups (
  id          INTEGER PRIMARY KEY AUTOINCREMENT,
  alert_id    INTEGER NOT NULL REFERENCES alerts (id),
  kind        TEXT NOT NULL,
  key         TEXT NOT NULL UNIQUE,
  created_at  TEXT NOT NULL,
  payload     TEXT NOT NULL
);
CREATE INDEX followups_alert ON followups (alert_id);

-- The outbox, rebuilt: a delivery is of an alert, a summary or a follow-up (SQLite cannot change a
-- CHECK in place), and keeps the destination's receipt (Slack: channel and ts of the message) so
-- that follow-ups can reply in the alert's thread and update it.
CREATE TABLE deliveries_v10 (
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
  claimed_by      INTEGER,
  receipt         TEXT,
  CHECK ((alert_id IS NOT NULL) + (summary_id IS NOT NULL) + (followup_id IS NOT NULL) = 1)
);
INSERT INTO deliveries_v10 (id, alert_id, summary_id, notifier, status, attempts, created_at, next_attempt_at, last_attempt_at, sent_at, last_error, claimed_by)
  SELECT id, alert_id, summary_id, notifier, status, attempts, created_at, next_attempt_at, last_attempt_at, sent_at, last_error, claimed_by FROM deliveries;
DROP TABLE deliveries;
ALTER TABLE deliveries_v10 RENAME TO deliveries;
CREATE UNIQUE INDEX deliveries_alert_notifier ON deliveries (alert_id, notifier) WHERE alert_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_summary_notifier ON deliveries (summary_id, notifier) WHERE summary_id IS NOT NULL;
CREATE UNIQUE INDEX deliveries_followup_notifier ON deliveries (followup_id, notifier) WHERE followup_id IS NOT NULL;
CREATE INDEX deliveries_due ON deliveries (status, next_attempt_at);
