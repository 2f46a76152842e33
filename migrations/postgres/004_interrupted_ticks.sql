-- okta-token-watch schema, version 4, for PostgreSQL: how far the live poller has read, and the
-- 'interrupted' tick result. PostgreSQL changes the CHECK in place (SQLite rebuilt the table).
CREATE TABLE poll_progress (
  id                INTEGER PRIMARY KEY CHECK (id = 1),
  caught_up_through TEXT NOT NULL,
  updated_at        TEXT NOT NULL
);

ALTER TABLE ticks DROP CONSTRAINT ticks_result_check;
ALTER TABLE ticks ADD CONSTRAINT ticks_result_check CHECK (result IN ('running', 'ok', 'failed', 'interrupted'));
